// The tickets service: human work items. Tickets from errors are opened by the
// ticket.open task (orchestrator.open_ticket) and grow by occurrences in the
// database; here: list, read, create by hand, and change status/priority/title.
import { db } from "../db.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { conflict, notFound } from "../errors.ts";
import type { CreateTicketInput, ListTicketsQuery, PatchTicketInput } from "./schemas.ts";

export interface TicketRow {
  id: number;
  title: string;
  description: string | null;
  status: string;
  priority: string;
  source: string;
  fingerprint: string | null;
  occurrences: number;
  first_seen: Date;
  last_seen: Date;
  first_event_id: number | null;
  last_event_id: number | null;
  task_id: number | null;
  reopened_count: number;
  reopened_at: Date | null;
  resolved_at: Date | null;
  closed_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => "\\" + c);
const cols = (sql: ReturnType<typeof db>) => sql`
  id, title, description, status::text as status, priority::text as priority, source, fingerprint, occurrences,
  first_seen, last_seen, first_event_id, last_event_id, task_id, reopened_count, reopened_at, resolved_at, closed_at,
  created_at, updated_at`;

export async function listTickets(q: ListTicketsQuery): Promise<{ tickets: TicketRow[]; next_cursor: string | null }> {
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
  return { tickets: page, next_cursor: rows.length > q.limit ? encodeCursor(page[page.length - 1].id) : null };
}

export async function getTicket(id: number) {
  const sql = db();
  const [ticket] = await sql<TicketRow[]>`select ${cols(sql)} from orchestrator.tickets where id = ${id}`;
  if (!ticket) throw notFound(`Ticket ${id} does not exist.`);
  const [events, tasks] = await Promise.all([
    sql`
      select id, source, type, level::text as level, message, occurred_at
      from orchestrator.events where ticket_id = ${id} order by id desc limit 20`,
    ticket.task_id
      ? sql`select id, type, status::text as status, attempts, last_error, finished_at from orchestrator.tasks where id = ${ticket.task_id}`
      : Promise.resolve([]),
  ]);
  return { ...ticket, recent_events: [...events], task: tasks[0] ?? null };
}

export async function createTicket(input: CreateTicketInput): Promise<TicketRow> {
  const sql = db();
  const [row] = await sql<TicketRow[]>`
    insert into orchestrator.tickets (title, description, priority, source)
    values (${input.title}, ${input.description ?? null}, ${input.priority}::orchestrator.ticket_priority, ${input.source})
    returning ${cols(sql)}`;
  return row;
}

export async function patchTicket(id: number, patch: PatchTicketInput): Promise<TicketRow> {
  const sql = db();
  try {
    const [row] = await sql<TicketRow[]>`
      update orchestrator.tickets t set
        title = coalesce(${patch.title ?? null}, t.title),
        description = ${patch.description === undefined ? sql`t.description` : sql`${patch.description}`},
        priority = coalesce(${patch.priority ?? null}::orchestrator.ticket_priority, t.priority),
        status = coalesce(${patch.status ?? null}::orchestrator.ticket_status, t.status),
        resolved_at = ${patch.status === undefined || patch.status === "closed" ? sql`t.resolved_at`
          : patch.status === "resolved" ? sql`coalesce(t.resolved_at, now())` : sql`null`},
        closed_at = ${patch.status === undefined ? sql`t.closed_at` : patch.status === "closed" ? sql`coalesce(t.closed_at, now())` : sql`null`},
        updated_at = now()
      where id = ${id}
      returning ${cols(sql)}`;
    if (!row) throw notFound(`Ticket ${id} does not exist.`);
    return row;
  } catch (err) {
    if ((err as { code?: string }).code === "23505") {
      throw conflict(`Ticket ${id} cannot be reopened: another ticket that is not closed already tracks the same fingerprint.`);
    }
    throw err;
  }
}
