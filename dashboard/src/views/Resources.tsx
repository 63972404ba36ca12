// Views over APIs built alongside the dashboard (tickets, SOPs, schedules,
// workflows, rules). Each is shown only when its API answers; they read the
// fields they know and show any others as they come, so a field added later
// still appears.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { call, nextCursorOf, rowsOf } from "../api.ts";
import { Badge, cell, Empty, ErrorBox, Field, Fields, Json, Loading, Pager, Table, When, type Column } from "../components/ui.tsx";
import { useApp } from "../context.ts";
import { useLoad } from "../hooks.ts";
import { renderMarkdown } from "../markdown.ts";
import { href, navigate, type Route } from "../router.ts";

type Row = Record<string, unknown>;

/** Some APIs wrap one object: { ticket: {...} }. */
function unwrap(body: unknown, name: string): Row {
  if (body && typeof body === "object" && !Array.isArray(body)) {
    const obj = body as Row;
    const inner = obj[name];
    if (inner && typeof inner === "object" && !Array.isArray(inner)) return { ...(inner as Row), ...Object.fromEntries(Object.entries(obj).filter(([k]) => k !== name)) };
    return obj;
  }
  return { value: body };
}

const first = (row: Row, keys: string[]): unknown => {
  for (const k of keys) if (row[k] !== undefined && row[k] !== null && row[k] !== "") return row[k];
  return undefined;
};

function pickColumns(rows: Row[], preferred: Column<Row>[], max = 7): Column<Row>[] {
  const present = (k: string) => rows.some((r) => r[k] !== undefined);
  const cols = preferred.filter((c) => c.render || present(c.key));
  if (cols.length >= 3) return cols;
  const extra = [...new Set(rows.flatMap((r) => Object.keys(r)))]
    .filter((k) => !cols.some((c) => c.key === k))
    .filter((k) => rows.some((r) => r[k] === null || typeof r[k] !== "object"))
    .slice(0, max - cols.length)
    .map((k) => ({ key: k, label: k.replace(/_/g, " ") }));
  return [...cols, ...extra];
}

function notionUrl(row: Row): string | undefined {
  const direct = first(row, ["notion_url", "notion_link", "notion_page_url", "url"]);
  if (typeof direct === "string" && /^https:\/\/([a-z0-9-]+\.)?notion\.(so|site)\//.test(direct)) return direct;
  const pageId = first(row, ["notion_page_id", "page_id"]);
  if (typeof pageId === "string" && /^[0-9a-f-]{32,36}$/i.test(pageId)) return `https://www.notion.so/${pageId.replace(/-/g, "")}`;
  const notion = row.notion;
  if (notion && typeof notion === "object") return notionUrl(notion as Row);
  return undefined;
}

function NotionLink({ row }: { row: Row }) {
  const url = notionUrl(row);
  return url ? <a href={url} target="_blank" rel="noopener noreferrer">Notion ↗</a> : <span class="muted">—</span>;
}

function useList(path: string, query: Record<string, string | undefined>, cursor: string | null, name: string, paged: boolean, everyMs = 10_000) {
  const { session } = useApp();
  const key = `${path}?${JSON.stringify(query)}&cursor=${cursor ?? ""}`;
  return useLoad(async (signal) => {
    const body = await call(session, path, { query: paged ? { ...query, cursor, limit: 50 } : query, signal });
    return { rows: rowsOf<Row>(body, name), next: paged ? nextCursorOf(body) : null, body };
  }, key, cursor ? undefined : everyMs);
}

function ListBlock({ title, path, name, route, columns, rowKey, filters, empty, baseQuery, paged = true, after }: {
  title: string;
  /** The API takes limit and cursor (others list everything at once and reject unknown parameters). */
  paged?: boolean;
  /** Extra content from the same response (e.g. the system cron jobs next to the schedules). */
  after?: (body: unknown) => ComponentChildren;
  /** Fixed query parameters (e.g. latest=true). */
  baseQuery?: Record<string, string>;
  path: string;
  name: string;
  route: Route;
  columns: Column<Row>[];
  rowKey: (r: Row) => string | number;
  filters?: { key: string; label: string; options: string[] }[];
  empty: string;
}) {
  const query: Record<string, string | undefined> = {};
  for (const f of filters ?? []) query[f.key] = route.query.get(f.key) ?? undefined;
  const [cursors, setCursors] = useState<(string | null)[]>([]);
  const cursor = cursors.length ? cursors[cursors.length - 1] : null;
  const list = useList(path, { ...baseQuery, ...query }, cursor, name, paged);
  const rows = list.data?.rows ?? [];
  return (
    <>
      {filters && (
        <form class="filters" aria-label={`Filter ${title.toLowerCase()}`} onSubmit={(e) => e.preventDefault()}>
          {filters.map((f) => (
            <label>
              {f.label}
              <select
                value={query[f.key] ?? ""}
                onChange={(e) => {
                  setCursors([]);
                  navigate(`/${route.parts[0]}`, { ...query, [f.key]: e.currentTarget.value || undefined });
                }}
              >
                <option value="">any</option>
                {f.options.map((o) => <option value={o}>{o.replace(/_/g, " ")}</option>)}
              </select>
            </label>
          ))}
        </form>
      )}
      {list.error !== undefined && <ErrorBox error={list.error} onRetry={list.reload} title={`Could not list ${title.toLowerCase()}`} />}
      {!list.data && list.loading && <Loading what={`Loading ${title.toLowerCase()}`} />}
      {list.data && rows.length === 0 && <Empty>{empty}</Empty>}
      {rows.length > 0 && <Table<Row> rows={rows} columns={pickColumns(rows, columns)} rowKey={rowKey} caption={title} selected={route.parts[1]} />}
      {list.data && after?.(list.data.body)}
      {list.data && (cursor || list.data.next) && (
        <Pager
          label={`${title} pages`}
          hasPrev={!!cursor}
          hasNext={!!list.data.next}
          onFirst={() => setCursors([])}
          onNext={() => setCursors((c) => [...c, list.data!.next])}
          onPrev={() => setCursors((c) => c.slice(0, -1))}
        />
      )}
    </>
  );
}

function Detail({ path, name, onClose, title, children }: {
  path: string;
  name: string;
  onClose: () => void;
  title: string;
  children?: (row: Row) => ComponentChildren;
}) {
  const { session } = useApp();
  const item = useLoad(async (signal) => unwrap(await call(session, path, { signal }), name), path, 15_000);
  return (
    <aside class="detail-pane card" aria-label={title} onKeyDown={(e) => e.key === "Escape" && onClose()}>
      <div class="card-head">
        <h2>{title}</h2>
        <button type="button" class="btn small" onClick={onClose} aria-label="Close details">✕ Close</button>
      </div>
      {item.error !== undefined && <ErrorBox error={item.error} onRetry={item.reload} />}
      {!item.data && item.loading && <Loading />}
      {item.data && (children ? children(item.data) : <Fields value={item.data} />)}
    </aside>
  );
}

/** A resource's page: its list, and the selected row's detail beside it. */
function SplitView({ title, open, wide, detail, children }: { title: string; open: boolean; wide?: boolean; detail: ComponentChildren; children: ComponentChildren }) {
  return (
    <div class={`view split${wide ? " wide-detail" : ""}${open ? " has-detail" : ""}`}>
      <div class="list-pane">
        <header class="view-head"><h1>{title}</h1></header>
        {children}
      </div>
      {detail}
    </div>
  );
}

const idOf = (r: Row) => String(first(r, ["id", "slug", "name"]) ?? JSON.stringify(r).slice(0, 40));
const TaskLink = ({ id }: { id: unknown }) => (typeof id === "number" || (typeof id === "string" && /^\d+$/.test(id)) ? <a href={href(`/tasks/${id}`)}>#{String(id)}</a> : <>{cell(id)}</>);

// ---------------------------------------------------------------- tickets
export function Tickets({ route }: { route: Route }) {
  const selected = route.parts[1];
  const back = () => navigate("/tickets", route.query);
  return (
    <SplitView title="Tickets" open={!!selected}
      detail={selected && (
        <Detail key={selected} path={`/tickets/${encodeURIComponent(selected)}`} name="ticket" title={`Ticket #${selected}`} onClose={back}>
          {(t) => <TicketDetail t={t} />}
        </Detail>
      )}>
      <ListBlock
        title="Tickets"
        path="/tickets"
        name="tickets"
        route={route}
        rowKey={idOf}
        filters={[
          { key: "status", label: "Status", options: ["open", "in_progress", "resolved", "closed"] },
          { key: "priority", label: "Priority", options: ["urgent", "high", "normal", "low"] },
        ]}
        empty="No tickets. Error events from the watched apps open tickets."
        columns={[
          { key: "id", label: "id", render: (r) => <a href={href(`/tickets/${idOf(r)}`, route.query)}>#{idOf(r)}</a> },
          { key: "title", label: "title", render: (r) => cell(r.title) },
          { key: "status", label: "status", render: (r) => <Badge value={r.status as string} /> },
          { key: "priority", label: "priority", optional: true, render: (r) => <Badge value={r.priority as string} /> },
          { key: "source", label: "source", optional: true },
          { key: "occurrences", label: "seen" , render: (r) => <span title="occurrences">{cell(r.occurrences)}×</span> },
          { key: "first_seen", label: "first seen", optional: true },
          { key: "last_seen", label: "last seen" },
          { key: "notion", label: "Notion", optional: true, render: (r) => <NotionLink row={r} /> },
        ]}
      />
    </SplitView>
  );
}

function TicketDetail({ t }: { t: Row }) {
  const events = Array.isArray(t.recent_events) ? (t.recent_events as Row[]) : undefined;
  const task = t.task && typeof t.task === "object" ? (t.task as Row) : undefined;
  return (
    <>
      <p class="ticket-title"><strong>{String(t.title ?? "")}</strong></p>
      <dl class="fields">
        <Field label="status"><Badge value={t.status as string} /></Field>
        <Field label="priority"><Badge value={t.priority as string} /></Field>
        <Field label="occurrences">{cell(t.occurrences)}</Field>
        <Field label="first seen">{cell(t.first_seen)}</Field>
        <Field label="last seen">{cell(t.last_seen)}</Field>
        <Field label="source">{cell(t.source)}</Field>
        <Field label="Notion"><NotionLink row={t} /></Field>
        {t.task_id != null && (
          <Field label="task">
            <TaskLink id={t.task_id} /> {task && <Badge value={task.status as string} />}
          </Field>
        )}
      </dl>
      {typeof t.description === "string" && t.description && (
        <section class="sub">
          <h3>Description</h3>
          <pre class="json">{t.description}</pre>
        </section>
      )}
      {events && (
        <section class="sub">
          <h3>Recent events</h3>
          {events.length === 0 ? <Empty>No events linked.</Empty> : (
            <Table<Row>
              rows={events}
              rowKey={idOf}
              columns={[
                { key: "occurred_at", label: "when" },
                { key: "level", label: "level", render: (e) => <Badge value={e.level as string} /> },
                { key: "message", label: "message" },
              ]}
            />
          )}
        </section>
      )}
      <details class="sub">
        <summary>All fields</summary>
        <Fields value={t} skip={["recent_events", "task", "description", "title"]} />
      </details>
    </>
  );
}

// ---------------------------------------------------------------- SOPs
export function Sops({ route }: { route: Route }) {
  const selected = route.parts[1];
  return (
    <SplitView title="SOPs" open={!!selected} wide
      detail={selected && <SopDetail key={selected} slug={selected} version={route.query.get("version")} />}>
      <ListBlock
        title="SOPs"
        path="/sops"
        name="sops"
        route={route}
        rowKey={(r) => String(first(r, ["slug", "id"]))}
        baseQuery={{ latest: "true" }}
        empty="No SOPs yet. POST /functions/v1/tasks/generate-sop writes one."
        columns={[
          { key: "slug", label: "slug", render: (r) => <a href={href(`/sops/${String(r.slug)}`)}>{String(r.slug)}</a> },
          { key: "title", label: "title" },
          { key: "version", label: "version" },
          { key: "generator", label: "generator", optional: true },
          { key: "created_at", label: "written", optional: true },
        ]}
      />
    </SplitView>
  );
}

function SopDetail({ slug, version }: { slug: string; version: string | null }) {
  const { session } = useApp();
  const sop = useLoad(
    async (signal) => unwrap(await call(session, `/sops/${encodeURIComponent(slug)}`, { query: { version: version ?? undefined, format: "json" }, signal }), "sop"),
    `sop:${slug}:${version ?? ""}`,
  );
  const latest = useLoad(async (signal) => unwrap(await call(session, `/sops/${encodeURIComponent(slug)}`, { query: { format: "json" }, signal }), "sop"), `sop:${slug}:latest`);
  const s = sop.data;
  const md = s ? first(s, ["body_md", "markdown", "body", "md"]) : undefined;
  const versions = latest.data ? Number(latest.data.version) || 0 : 0;
  return (
    <aside class="detail-pane card" aria-label={`SOP ${slug}`} onKeyDown={(e) => e.key === "Escape" && navigate("/sops")}>
      <div class="card-head">
        <h2>{s ? String(s.title ?? slug) : slug}</h2>
        <button type="button" class="btn small" onClick={() => navigate("/sops")} aria-label="Close the SOP">✕ Close</button>
      </div>
      {sop.error !== undefined && <ErrorBox error={sop.error} onRetry={sop.reload} title="Could not load the SOP" />}
      {!s && sop.loading && <Loading what="Loading the SOP" />}
      {s && (
        <>
          <div class="sop-meta">
            {versions > 0 && (
              <label>
                Version{" "}
                <select value={String(s.version ?? "")} onChange={(e) => navigate(`/sops/${slug}`, { version: e.currentTarget.value })}>
                  {Array.from({ length: versions }, (_, i) => versions - i).map((v) => (
                    <option value={String(v)}>v{v}{v === versions ? " (latest)" : ""}</option>
                  ))}
                </select>
              </label>
            )}
            <span class="muted small">
              {String(s.generator ?? "")} {s.created_at ? <>· {cell(s.created_at)}</> : null}
            </span>
            {s.source_task_id != null && <span class="small">from task <TaskLink id={s.source_task_id} /></span>}
          </div>
          {typeof md === "string" ? (
            <article class="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(md) }} />
          ) : (
            <Fields value={s} />
          )}
        </>
      )}
    </aside>
  );
}

// ---------------------------------------------------------------- schedules
export function Schedules({ route }: { route: Route }) {
  const selected = route.parts[1];
  return (
    <SplitView title="Schedules" open={!!selected}
      detail={selected && <ScheduleDetail key={selected} name={selected} />}>
      <ListBlock
        title="Schedules"
        path="/schedules"
        name="schedules"
        route={route}
        rowKey={idOf}
        paged={false}
        empty="No schedules. POST /functions/v1/schedules creates one."
        columns={[
          { key: "name", label: "name", render: (r) => <a href={href(`/schedules/${encodeURIComponent(String(first(r, ["name", "id"])))}`)}>{String(first(r, ["name", "id"]))}</a> },
          { key: "cron", label: "cron", render: (r) => <code>{String(first(r, ["cron", "schedule", "expression"]) ?? "—")}</code> },
          { key: "task_type", label: "task type", optional: true, render: (r) => <code>{String(first(r, ["task_type", "type"]) ?? "—")}</code> },
          { key: "enabled", label: "enabled", render: (r) => <Badge value={r.enabled === false ? "disabled" : "enabled"} /> },
          { key: "last_run", label: "last run", render: (r) => <LastRun run={r.last_run} /> },
          { key: "next_runs", label: "next", optional: true, render: (r) => (Array.isArray(r.next_runs) && r.next_runs.length ? <When iso={String(r.next_runs[0])} future /> : <span class="muted">—</span>) },
        ]}
        after={(body) => <SystemJobs body={body} />}
      />
    </SplitView>
  );
}

function LastRun({ run }: { run: unknown }) {
  if (!run || typeof run !== "object") return <>{cell(run)}</>;
  const r = run as Row;
  return (
    <span>
      {cell(first(r, ["tick", "at", "start_time"]))} {r.task_status ? <Badge value={String(r.task_status)} /> : null}{" "}
      {r.task_id != null && <TaskLink id={r.task_id} />}
    </span>
  );
}

function SystemJobs({ body }: { body: unknown }) {
  const jobs = body && typeof body === "object" && Array.isArray((body as Row).system_jobs) ? ((body as Row).system_jobs as Row[]) : [];
  if (!jobs.length) return null;
  return (
    <section class="card">
      <h2>System cron jobs</h2>
      <Table<Row>
        rows={jobs}
        rowKey={(j) => String(j.job)}
        columns={[
          { key: "job", label: "job", render: (j) => <code>{String(j.job)}</code> },
          { key: "schedule", label: "schedule", render: (j) => <code>{String(j.schedule)}</code> },
          { key: "last_run", label: "last run" },
          { key: "last_status", label: "status", render: (j) => <Badge value={(j.last_status as string) ?? "never run"} kind={(j.last_status as string) ?? "never"} /> },
        ]}
      />
    </section>
  );
}

function ScheduleDetail({ name }: { name: string }) {
  const { session } = useApp();
  const runs = useLoad(
    async (signal) => (await call<Row>(session, `/schedules/${encodeURIComponent(name)}/runs`, { signal })) ?? {},
    `schedule-runs:${name}`,
    10_000,
  );
  const rows = runs.data ? rowsOf<Row>(runs.data, "runs") : [];
  return (
    <Detail path={`/schedules/${encodeURIComponent(name)}`} name="schedule" title={`Schedule ${name}`} onClose={() => navigate("/schedules")}>
      {(s) => (
        <>
          <dl class="fields">
            <Field label="cron"><code>{String(s.cron ?? "—")}</code></Field>
            <Field label="task type"><code>{String(s.task_type ?? "—")}</code></Field>
            <Field label="enabled"><Badge value={s.enabled === false ? "disabled" : "enabled"} /></Field>
            {typeof s.description === "string" && s.description && <Field label="description">{s.description}</Field>}
            <Field label="last run"><LastRun run={s.last_run} /></Field>
            {Array.isArray(s.next_runs) && s.next_runs.length > 0 && (
              <Field label="next runs">{(s.next_runs as string[]).map((n) => <div><When iso={n} future /></div>)}</Field>
            )}
          </dl>
          <section class="sub">
            <h3>Payload</h3>
            <Json value={s.payload} label="payload" />
          </section>
          <section class="sub">
            <h3>Recent runs</h3>
            {runs.error !== undefined && <ErrorBox error={runs.error} onRetry={runs.reload} title="Could not list runs" />}
            {!runs.data && runs.loading && <Loading what="Loading runs" />}
            {runs.data && rows.length === 0 && <Empty>No runs yet.</Empty>}
            {rows.length > 0 && (
              <Table<Row>
                rows={rows}
                rowKey={idOf}
                columns={[
                  { key: "tick", label: "tick", render: (r) => cell(first(r, ["tick", "created_at"])) },
                  { key: "trigger", label: "trigger", optional: true },
                  { key: "task_id", label: "task", render: (r) => <TaskLink id={r.task_id} /> },
                  { key: "status", label: "status", render: (r) => <Badge value={(r.task as Row | null)?.status as string ?? (r.status as string)} /> },
                  { key: "duplicates", label: "dupes", optional: true },
                ]}
              />
            )}
          </section>
          <details class="sub">
            <summary>All fields</summary>
            <Fields value={s} skip={["payload", "next_runs", "last_run"]} />
          </details>
        </>
      )}
    </Detail>
  );
}

// ---------------------------------------------------------------- workflows
export function Workflows({ route }: { route: Route }) {
  const [, name, sub, runId] = route.parts;
  return (
    <SplitView title="Workflows" open={!!name}
      detail={name && sub === "runs" && runId ? (
        <Detail key={`${name}/${runId}`} path={`/workflows/${encodeURIComponent(name)}/runs/${encodeURIComponent(runId)}`} name="run" title={`Run #${runId} of ${name}`}
          onClose={() => navigate(`/workflows/${name}`)}>
          {(r) => <RunDetail run={r} />}
        </Detail>
      ) : name ? (
        <WorkflowRuns key={name} name={name} />
      ) : null}>
      <ListBlock
        title="Workflows"
        path="/workflows"
        name="workflows"
        route={route}
        rowKey={idOf}
        paged={false}
        empty="No workflows defined."
        columns={[
          { key: "name", label: "name", render: (r) => <a href={href(`/workflows/${encodeURIComponent(String(first(r, ["name", "id"])))}`)}>{String(first(r, ["name", "id"]))}</a> },
          { key: "description", label: "description", optional: true },
          { key: "steps", label: "steps", render: (r) => (Array.isArray(r.steps) ? (r.steps as Row[]).map((s) => String(s.name ?? s.type)).join(" → ") : cell(r.steps)) },
          { key: "runs", label: "runs", render: (r) => <RunCounts runs={r.runs} /> },
          { key: "enabled", label: "enabled", optional: true, render: (r) => <Badge value={r.enabled === false ? "disabled" : r.runnable === false ? "not runnable" : "enabled"} kind={r.enabled === false || r.runnable === false ? "disabled" : "enabled"} /> },
        ]}
      />
    </SplitView>
  );
}

function RunCounts({ runs }: { runs: unknown }) {
  if (!runs || typeof runs !== "object" || Array.isArray(runs)) return <>{cell(runs)}</>;
  const entries = Object.entries(runs as Record<string, number>);
  if (!entries.length) return <span class="muted">none</span>;
  return <span class="run-counts">{entries.map(([status, n]) => <Badge value={`${n} ${status}`} kind={status} />)}</span>;
}

function RunDetail({ run }: { run: Row }) {
  const steps = Array.isArray(run.steps) ? (run.steps as Row[]) : [];
  return (
    <>
      <dl class="fields">
        <Field label="status"><Badge value={run.status as string} /></Field>
        <Field label="started">{cell(run.created_at)}</Field>
        <Field label="finished">{cell(run.finished_at)}</Field>
        <Field label="source">{cell(run.source)}</Field>
        {run.failed_step != null && <Field label="failed step">{cell(run.failed_step)}</Field>}
      </dl>
      {typeof run.error === "string" && run.error && <pre class="error-pre">{run.error}</pre>}
      <section class="sub">
        <h3>Steps</h3>
        {steps.length === 0 ? <Empty>No steps started yet.</Empty> : (
          <Table<Row>
            rows={steps}
            rowKey={(s) => String(first(s, ["index", "name"]))}
            columns={[
              { key: "index", label: "#", render: (s) => (typeof s.index === "number" ? s.index + 1 : cell(s.index)) },
              { key: "name", label: "step", render: (s) => <code>{String(first(s, ["name", "type"]) ?? "—")}</code> },
              { key: "status", label: "status", render: (s) => <Badge value={s.status as string} /> },
              { key: "task_id", label: "task", render: (s) => <TaskLink id={s.task_id} /> },
              { key: "error", label: "error", render: (s) => <span class="error-text">{cell(first(s, ["error"]) ?? (s.task as Row | null)?.last_error)}</span> },
            ]}
          />
        )}
      </section>
      <section class="sub">
        <h3>Input</h3>
        <Json value={run.input} label="input" />
      </section>
      {run.output != null && (
        <section class="sub">
          <h3>Output</h3>
          <Json value={run.output} label="output" />
        </section>
      )}
    </>
  );
}

function WorkflowRuns({ name }: { name: string }) {
  const { session } = useApp();
  const runs = useLoad(async (signal) => rowsOf<Row>(await call(session, `/workflows/${encodeURIComponent(name)}/runs`, { query: { limit: 50 }, signal }), "runs"), `runs:${name}`, 5_000);
  return (
    <aside class="detail-pane card" aria-label={`Runs of ${name}`} onKeyDown={(e) => e.key === "Escape" && navigate("/workflows")}>
      <div class="card-head">
        <h2>Runs of {name}</h2>
        <button type="button" class="btn small" onClick={() => navigate("/workflows")} aria-label="Close runs">✕ Close</button>
      </div>
      {runs.error !== undefined && <ErrorBox error={runs.error} onRetry={runs.reload} title="Could not list runs" />}
      {!runs.data && runs.loading && <Loading what="Loading runs" />}
      {runs.data && runs.data.length === 0 && <Empty>No runs yet. POST /functions/v1/workflows/{name}/runs starts one.</Empty>}
      {runs.data && runs.data.length > 0 && (
        <Table<Row>
          rows={runs.data}
          rowKey={idOf}
          caption={`Runs of ${name}`}
          columns={[
            { key: "id", label: "run", render: (r) => <a href={href(`/workflows/${encodeURIComponent(name)}/runs/${idOf(r)}`)}>#{idOf(r)}</a> },
            { key: "status", label: "status", render: (r) => <Badge value={r.status as string} /> },
            { key: "created_at", label: "started" },
            { key: "finished_at", label: "finished", optional: true },
            { key: "error", label: "error", optional: true, render: (r) => <span class="error-text">{cell(r.error)}</span> },
          ]}
        />
      )}
    </aside>
  );
}

// ---------------------------------------------------------------- rules
export function Rules({ route }: { route: Route }) {
  const selected = route.parts[1];
  return (
    <SplitView title="Rules" open={!!selected}
      detail={selected && <Detail key={selected} path={`/rules/${encodeURIComponent(selected)}`} name="rule" title={`Rule ${selected}`} onClose={() => navigate("/rules")} />}>
      <ListBlock
        title="Rules"
        path="/rules"
        name="rules"
        route={route}
        rowKey={idOf}
        paged={false}
        filters={[{ key: "enabled", label: "Enabled", options: ["true", "false"] }]}
        empty="No event rules."
        columns={[
          { key: "name", label: "name", render: (r) => <a href={href(`/rules/${encodeURIComponent(idOf(r))}`)}>{String(first(r, ["name", "id"]))}</a> },
          { key: "enabled", label: "enabled", render: (r) => <Badge value={r.enabled === false ? "disabled" : "enabled"} /> },
          { key: "source", label: "source", optional: true },
          { key: "type", label: "event type", render: (r) => <code>{String(first(r, ["type", "event_type", "type_glob"]) ?? "*")}</code> },
          { key: "min_level", label: "min level", optional: true },
          { key: "task_type", label: "task type", render: (r) => <code>{String(first(r, ["task_type"]) ?? "—")}</code> },
        ]}
      />
    </SplitView>
  );
}
