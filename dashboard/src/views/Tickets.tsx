// Tickets: human work items (opened from error events, or by hand), with their events and Notion page.
import type { Ticket, TicketDetail as TicketDetailRow, TicketPage } from "../api-types.ts";
import { DetailResource, NotionLink, ResourcePage, TaskLink } from "../components/resource.tsx";
import { Badge, cell, Empty, Field, Fields, Table } from "../components/ui.tsx";
import { href, navigate, type Route } from "../router.ts";

export function Tickets({ route }: { route: Route }) {
  const selected = route.parts[1];
  return (
    <ResourcePage<TicketPage, Ticket> title="Tickets" path="/tickets" route={route}
      detail={(
        <DetailResource<TicketDetailRow> key={selected} path={`/tickets/${encodeURIComponent(selected)}`} label={`Ticket #${selected}`}
          onClose={() => navigate("/tickets", route.query)}>
          {(t) => <TicketDetail t={t} />}
        </DetailResource>
      )}
      rows={(b) => b.tickets}
      next={(b) => b.next_cursor}
      rowKey={(t) => t.id}
      filters={[
        { key: "status", label: "Status", options: ["open", "in_progress", "resolved", "closed"] },
        { key: "priority", label: "Priority", options: ["urgent", "high", "normal", "low"] },
      ]}
      empty="No tickets. Error events from the watched apps open tickets."
      columns={[
        { key: "id", label: "id", render: (t) => <a href={href(`/tickets/${t.id}`, route.query)}>#{t.id}</a> },
        { key: "title", label: "title", render: (t) => cell(t.title) },
        { key: "status", label: "status", render: (t) => <Badge value={t.status} /> },
        { key: "priority", label: "priority", optional: true, render: (t) => <Badge value={t.priority} /> },
        { key: "source", label: "source", optional: true },
        { key: "occurrences", label: "seen", render: (t) => <span title="occurrences">{cell(t.occurrences)}×</span> },
        { key: "first_seen", label: "first seen", optional: true },
        { key: "last_seen", label: "last seen" },
        { key: "notion_url", label: "Notion", optional: true, render: (t) => <NotionLink url={t.notion_url} /> },
      ]}
    />
  );
}

function TicketDetail({ t }: { t: TicketDetailRow }) {
  return (
    <>
      <p class="ticket-title"><strong>{t.title}</strong></p>
      <dl class="fields">
        <Field label="status"><Badge value={t.status} /></Field>
        <Field label="priority"><Badge value={t.priority} /></Field>
        <Field label="occurrences">{cell(t.occurrences)}</Field>
        <Field label="first seen">{cell(t.first_seen)}</Field>
        <Field label="last seen">{cell(t.last_seen)}</Field>
        <Field label="source">{cell(t.source)}</Field>
        <Field label="Notion"><NotionLink url={t.notion_url} /></Field>
        {t.task_id != null && (
          <Field label="task">
            <TaskLink id={t.task_id} /> {t.task && <Badge value={t.task.status} />}
          </Field>
        )}
      </dl>
      {t.description && (
        <section class="sub">
          <h3>Description</h3>
          <pre class="json">{t.description}</pre>
        </section>
      )}
      <section class="sub">
        <h3>Recent events</h3>
        {t.recent_events.length === 0 ? <Empty>No events linked.</Empty> : (
          <Table
            rows={t.recent_events}
            rowKey={(e) => e.id}
            columns={[
              { key: "occurred_at", label: "when" },
              { key: "level", label: "level", render: (e) => <Badge value={e.level} /> },
              { key: "message", label: "message" },
            ]}
          />
        )}
      </section>
      <details class="sub">
        <summary>All fields</summary>
        <Fields value={t} skip={["recent_events", "task", "description", "title"]} />
      </details>
    </>
  );
}
