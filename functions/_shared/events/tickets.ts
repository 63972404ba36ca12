// The tickets service: human work items. Tickets from errors are opened by the
// ticket.open task (orchestrator.open_ticket) and grow by occurrences in the
// database; here: list, read, create by hand, and change status/priority/title.
import { type AnySql, db, traced } from "../db.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { conflict, notFound } from "../errors.ts";
import { withNotionUrls } from "../notion-url.ts";
import type { z } from "zod";
import type { Ticket, TicketDetail, ticketPageSchema } from "./responses.ts";
import type { CreateTicketInput, ListTicketsQuery, PatchTicketInput } from "./schemas.ts";

/** A ticket row as stored; the API adds notion_url (responses.ts). */
export type TicketRow = Omit<Ticket, "notion_url">;

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => "\\" + c);
const cols = (sql: AnySql) => sql`
  id, title, description, status::text as status, priority::text as priority, source, fingerprint, occurrences,
  first_seen, last_seen, first_event_id, last_event_id, task_id, reopened_count, reopened_at, resolved_at, closed_at,
  created_at, updated_at, trace_id`;

export async function listTickets(q: ListTicketsQuery): Promise<z.infer<typeof ticketPageSchema>> {
  const sql = db();
  const after = decodeCursor(q.cursor);
  const rows = await sql<TicketRow[]>`
    select ${cols(sql)} from orchestrator.tickets
    where true
      ${q.status ? sql`and status = any(${q.status}::orchestrator.ticket_status[])` : sql``}
      ${q.priority ? sql`and priority = any(${q.priority}::orchestrator.ticket_priority[])` : sql``}
      ${q.source ? sql`and source = ${q.source}` : sql``}
      ${q.fingerprint ? sql`and fingerprint = ${q.fingerprint}` : sql``}
      ${q.q ? sql`and title ilike ${"%" + likeEscape(q.q) + "%"}` : sql``}
      ${after ? sql`and id < ${after}` : sql``}
    order by id desc
    limit ${q.limit + 1}`;
  const page = rows.slice(0, q.limit);
  return {
    tickets: await withNotionUrls(sql, "ticket", page, (t) => t.id),
    next_cursor: rows.length > q.limit ? encodeCursor(page[page.length - 1].id) : null,
  };
}

export async function getTicket(id: number): Promise<TicketDetail> {
  const sql = db();
  const [ticket] = await sql<TicketRow[]>`select ${cols(sql)} from orchestrator.tickets where id = ${id}`;
  if (!ticket) throw notFound(`Ticket ${id} does not exist.`);
  const [events, tasks] = await Promise.all([
    sql<TicketDetail["recent_events"]>`
      select id, source, type, level::text as level, message, occurred_at
      from orchestrator.events where ticket_id = ${id} order by id desc limit 20`,
    ticket.task_id
      ? sql<NonNullable<TicketDetail["task"]>[]>`select id, type, status::text as status, attempts, last_error, finished_at from orchestrator.tasks where id = ${ticket.task_id}`
      : Promise.resolve([]),
  ]);
  const [withUrl] = await withNotionUrls(sql, "ticket", [ticket], (t) => t.id);
  return { ...withUrl, recent_events: [...events], task: tasks[0] ?? null };
}

export async function createTicket(input: CreateTicketInput): Promise<Ticket> {
  // Under the request's trace: the ticket and its Notion push and webhook deliveries take its trace id.
  const [row] = await traced((sql) => sql<TicketRow[]>`
    insert into orchestrator.tickets (title, description, priority, source)
    values (${input.title}, ${input.description ?? null}, ${input.priority}::orchestrator.ticket_priority, ${input.source})
    returning ${cols(sql)}`);
  return { ...row, notion_url: null }; // a new ticket has no page until the sync pushes it
}

export async function patchTicket(id: number, patch: PatchTicketInput): Promise<Ticket> {
  const sql = db();
  try {
    const [row] = await traced((tx) => tx<TicketRow[]>`
      update orchestrator.tickets t set
        title = coalesce(${patch.title ?? null}, t.title),
        description = ${patch.description === undefined ? tx`t.description` : tx`${patch.description}`},
        priority = coalesce(${patch.priority ?? null}::orchestrator.ticket_priority, t.priority),
        status = coalesce(${patch.status ?? null}::orchestrator.ticket_status, t.status),
        resolved_at = ${patch.status === undefined || patch.status === "closed" ? tx`t.resolved_at`
          : patch.status === "resolved" ? tx`coalesce(t.resolved_at, now())` : tx`null`},
        closed_at = ${patch.status === undefined ? tx`t.closed_at` : patch.status === "closed" ? tx`coalesce(t.closed_at, now())` : tx`null`},
        updated_at = now()
      where id = ${id}
      returning ${cols(tx)}`);
    if (!row) throw notFound(`Ticket ${id} does not exist.`);
    return (await withNotionUrls(sql, "ticket", [row], (t) => t.id))[0];
  } catch (err) {
    if ((err as { code?: string }).code === "23505") {
      throw conflict(`Ticket ${id} cannot be reopened: another ticket that is not closed already tracks the same fingerprint.`);
    }
    throw err;
  }
}
