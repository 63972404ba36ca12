// Gathers what an SOP is written from: the linked ticket, its events, the
// tasks and their logs. Bounded in size, secrets masked, and tolerant of a
// schema without tickets/events (they arrive with the events issue): their
// tables and link columns are detected at run time, never assumed.
import type { Sql } from "../db.ts";
import { redact, redactString } from "../redact.ts";
import type { GenerateSopInput } from "./schema.ts";

export interface SopTicket {
  id: number;
  title: string;
  status?: string;
  priority?: string;
  source?: string;
  fingerprint?: string;
  occurrences?: number;
  first_seen?: string;
  last_seen?: string;
  description?: string;
}

export interface SopEvent {
  id: number;
  source: string;
  type: string;
  level: string;
  message: string;
  fingerprint?: string;
  occurred_at?: string;
  payload?: string;
}

export interface SopLogLine {
  at: string;
  level: string;
  message: string;
}

export interface SopTask {
  id: number;
  type: string;
  status: string;
  attempts: number;
  max_attempts: number;
  last_error?: string;
  created_at: string;
  finished_at?: string;
  payload?: string;
  logs: SopLogLine[];
}

export interface SopContext {
  topic: string;
  audience?: string;
  context?: string;
  ticket?: SopTicket;
  events: SopEvent[];
  tasks: SopTask[];
  /** Requested ids that do not exist (pruned, or never did). */
  missing: { ticket_id?: number; event_ids: number[]; task_ids: number[] };
  /** How much was left out to stay within the bounds. */
  omitted: { events: number; tasks: number; logs: number };
}

export const LIMITS = {
  events: 50,
  tasks: 20,
  logsPerTask: 15,
  field: 500,
  context: 8000,
  /** The whole context as JSON, for prompts. */
  totalChars: 40_000,
};

export const clip = (s: string, n: number) => (s.length > n ? s.slice(0, n - 1) + "…" : s);
const str = (v: unknown, n = LIMITS.field): string | undefined =>
  v === null || v === undefined || v === "" ? undefined : clip(redactString(typeof v === "string" ? v : JSON.stringify(redact(v))), n);
const iso = (v: unknown): string | undefined => (v instanceof Date ? v.toISOString() : typeof v === "string" && v ? v : undefined);
const num = (v: unknown): number | undefined => (v === null || v === undefined || !Number.isFinite(Number(v)) ? undefined : Number(v));

async function relationExists(sql: Sql, name: string): Promise<boolean> {
  const [{ ok }] = await sql<{ ok: boolean }[]>`select to_regclass(${name}) is not null as ok`;
  return ok;
}

async function columns(sql: Sql, table: string): Promise<Set<string>> {
  const rows = await sql<{ column_name: string }[]>`
    select column_name from information_schema.columns where table_schema = 'orchestrator' and table_name = ${table}`;
  return new Set(rows.map((r) => r.column_name));
}

const idList = (v: unknown): number[] =>
  Array.isArray(v) ? v.map(Number).filter((n) => Number.isSafeInteger(n) && n > 0) : [];

function toTicket(row: Record<string, unknown>): SopTicket {
  return {
    id: Number(row.id),
    title: str(row.title ?? row.name ?? row.summary, 300) ?? `Ticket ${row.id}`,
    status: str(row.status, 50),
    priority: str(row.priority, 50),
    source: str(row.source, 100),
    fingerprint: str(row.fingerprint, 200),
    occurrences: num(row.occurrences),
    first_seen: iso(row.first_seen),
    last_seen: iso(row.last_seen),
    description: str(row.description ?? row.body ?? row.details, 2000),
  };
}

function toEvent(row: Record<string, unknown>): SopEvent {
  return {
    id: Number(row.id),
    source: str(row.source, 100) ?? "unknown",
    type: str(row.type, 200) ?? "event",
    level: str(row.level, 20) ?? "info",
    message: str(row.message) ?? "",
    fingerprint: str(row.fingerprint, 200),
    occurred_at: iso(row.occurred_at ?? row.received_at),
    payload: str(row.payload, 300),
  };
}

/** Reads everything the request links to. Never throws for ids that do not exist: they are listed in `missing`. */
export async function gatherSopContext(input: GenerateSopInput, sql: Sql): Promise<SopContext> {
  const ctx: SopContext = {
    topic: input.topic,
    audience: input.audience,
    context: input.context ? clip(redactString(input.context), LIMITS.context) : undefined,
    events: [],
    tasks: [],
    missing: { event_ids: [], task_ids: [] },
    omitted: { events: 0, tasks: 0, logs: 0 },
  };
  const eventIds = new Set(input.event_ids ?? []);
  const taskIds = new Set(input.task_ids ?? []);
  const hasTickets = await relationExists(sql, "orchestrator.tickets");
  const hasEvents = await relationExists(sql, "orchestrator.events");
  let ticketFingerprint: string | undefined;

  // The ticket, and what it links to.
  if (input.ticket_id !== undefined) {
    const rows = hasTickets
      ? await sql<{ row: Record<string, unknown> }[]>`select to_jsonb(t) as row from orchestrator.tickets t where t.id::text = ${String(input.ticket_id)}`
      : [];
    if (rows.length === 0) {
      ctx.missing.ticket_id = input.ticket_id;
    } else {
      const row = rows[0].row;
      ctx.ticket = toTicket(row);
      ticketFingerprint = ctx.ticket.fingerprint;
      for (const id of idList(row.event_ids)) eventIds.add(id);
      for (const id of idList(row.task_ids)) taskIds.add(id);
      for (const [link, col, target] of [["ticket_events", "event_id", eventIds], ["ticket_tasks", "task_id", taskIds]] as const) {
        if (await relationExists(sql, `orchestrator.${link}`) && (await columns(sql, link)).has(col)) {
          const linked = await sql.unsafe<{ id: number }[]>(
            `select ${col}::bigint as id from orchestrator.${link} where ticket_id::text = $1 order by ${col} desc limit 200`,
            [String(input.ticket_id)],
          );
          for (const r of linked) target.add(Number(r.id));
        }
      }
      if (hasEvents) {
        const eventCols = await columns(sql, "events");
        if (eventCols.has("ticket_id")) {
          const linked = await sql<{ id: number }[]>`
            select id::bigint as id from orchestrator.events where ticket_id::text = ${String(input.ticket_id)} order by id desc limit ${LIMITS.events}`;
          for (const r of linked) eventIds.add(Number(r.id));
        } else if (ticketFingerprint && eventCols.has("fingerprint")) {
          const linked = await sql<{ id: number }[]>`
            select id::bigint as id from orchestrator.events where fingerprint = ${ticketFingerprint} order by id desc limit ${LIMITS.events}`;
          for (const r of linked) eventIds.add(Number(r.id));
        }
      }
      // Tasks whose payload names the ticket (but not SOP generations: this one, or earlier ones).
      const viaPayload = await sql<{ id: number }[]>`
        select id from orchestrator.tasks
        where payload ->> 'ticket_id' = ${String(input.ticket_id)} and type <> 'sop.generate'
        order by id desc limit ${LIMITS.tasks}`;
      for (const r of viaPayload) taskIds.add(r.id);
    }
  }

  // Events: the newest ones when there are more than the bound.
  if (eventIds.size > 0) {
    const wanted = [...eventIds].sort((a, b) => b - a);
    if (hasEvents) {
      const rows = await sql<{ row: Record<string, unknown> }[]>`
        select to_jsonb(e) as row from orchestrator.events e where e.id::text = any(${wanted.map(String)}::text[])`;
      const found = rows.map((r) => toEvent(r.row)).sort((a, b) => a.id - b.id);
      const foundIds = new Set(found.map((e) => e.id));
      ctx.missing.event_ids = (input.event_ids ?? []).filter((id) => !foundIds.has(id));
      ctx.omitted.events = Math.max(0, found.length - LIMITS.events);
      ctx.events = found.slice(-LIMITS.events);
    } else {
      ctx.missing.event_ids = [...(input.event_ids ?? [])];
    }
  }

  // Tasks and their logs (warnings and errors first, then the newest lines).
  if (taskIds.size > 0) {
    const wanted = [...taskIds].sort((a, b) => b - a);
    const rows = await sql<Record<string, unknown>[]>`
      select id, type, status::text as status, attempts, max_attempts, last_error, created_at, finished_at, payload
      from orchestrator.tasks where id = any(${wanted}::bigint[]) order by id`;
    const foundIds = new Set(rows.map((r) => Number(r.id)));
    ctx.missing.task_ids = (input.task_ids ?? []).filter((id) => !foundIds.has(id));
    ctx.omitted.tasks = Math.max(0, rows.length - LIMITS.tasks);
    const kept = rows.slice(-LIMITS.tasks);
    const keptIds = kept.map((r) => Number(r.id));
    const logs = keptIds.length
      ? await sql<{ task_id: number; at: Date; level: string; message: string; total: number }[]>`
        select t.id as task_id, l.at, l.level, l.message, l.total
        from unnest(${keptIds}::bigint[]) as t(id)
        cross join lateral (
          select x.id, x.at, x.level::text as level, x.message,
                 (select count(*)::int from orchestrator.logs c where c.task_id = t.id) as total
          from orchestrator.logs x
          where x.task_id = t.id
          order by (x.level >= 'warn') desc, x.id desc
          limit ${LIMITS.logsPerTask}
        ) l
        order by t.id, l.id`
      : [];
    ctx.tasks = kept.map((r) => {
      const own = logs.filter((l) => l.task_id === Number(r.id));
      if (own.length) ctx.omitted.logs += Math.max(0, own[0].total - own.length);
      return {
        id: Number(r.id),
        type: String(r.type),
        status: String(r.status),
        attempts: Number(r.attempts),
        max_attempts: Number(r.max_attempts),
        last_error: str(r.last_error),
        created_at: iso(r.created_at)!,
        finished_at: iso(r.finished_at),
        payload: r.payload && Object.keys(r.payload as object).length ? str(r.payload, 300) : undefined,
        logs: own.map((l) => ({ at: iso(l.at)!, level: l.level, message: str(l.message, 300) ?? "" })),
      };
    });
  }
  return fitToBudget(ctx, LIMITS.totalChars);
}

/** Trims the context until its JSON fits `maxChars`: fewer log lines, then fewer events and tasks, then a shorter free text. */
export function fitToBudget(ctx: SopContext, maxChars: number): SopContext {
  const size = () => JSON.stringify(ctx).length;
  while (size() > maxChars) {
    const busiest = ctx.tasks.reduce<SopTask | undefined>((m, t) => (t.logs.length > (m?.logs.length ?? 0) ? t : m), undefined);
    if (busiest && busiest.logs.length > 3) {
      const drop = Math.ceil(busiest.logs.length / 2);
      busiest.logs = busiest.logs.slice(drop);
      ctx.omitted.logs += drop;
    } else if (ctx.events.length > 5) {
      const drop = Math.ceil(ctx.events.length / 2);
      ctx.events = ctx.events.slice(drop);
      ctx.omitted.events += drop;
    } else if (ctx.tasks.length > 3) {
      const drop = Math.ceil(ctx.tasks.length / 2);
      ctx.omitted.logs += ctx.tasks.slice(0, drop).reduce((n, t) => n + t.logs.length, 0);
      ctx.tasks = ctx.tasks.slice(drop);
      ctx.omitted.tasks += drop;
    } else if (ctx.context && ctx.context.length > 500) {
      ctx.context = clip(ctx.context, Math.floor(ctx.context.length / 2));
    } else {
      break; // what is left is already small: bounded by the per-field limits
    }
  }
  return ctx;
}
