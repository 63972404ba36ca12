// The events service: storing events sent over HTTP (through
// orchestrator.record_events, so the rules run in the same transaction as the
// insert), mapping Supabase database-webhook payloads to events, and reading events.
import { db } from "../db.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { AppError, badRequest, notFound, payloadTooLarge, validationError } from "../errors.ts";
import { parseWith } from "../http.ts";
import {
  EVENT_TYPE,
  eventBatchSchema,
  eventInputSchema,
  MAX_BATCH,
  SOURCE,
  webhookBodySchema,
  webhookQuery,
  type EventInput,
  type ListEventsQuery,
  type WebhookBody,
  type WebhookQuery,
} from "./schemas.ts";
import type { SenderAuth } from "./signature.ts";

export interface EventRow {
  id: number;
  source: string;
  type: string;
  level: string;
  message: string | null;
  payload: Record<string, unknown>;
  fingerprint: string;
  occurred_at: Date;
  received_at: Date;
  via: string;
  external_id: string | null;
  processed_at: Date | null;
  route_error: string | null;
  matched_rules: string[];
  tasks_created: number;
  wants_ticket: boolean;
  ticket_id: number | null;
}

export interface IngestResult {
  received: number;
  stored: number;
  duplicates: number;
  events: { id: number; source: string; type: string; level: string; fingerprint: string; external_id: string | null }[];
}

/** A parsed POST /events body -> the events it holds: one object, an array, or {"events": [...]}. */
export function eventsFromBody(body: unknown): EventInput[] {
  if (body === undefined) throw badRequest("Body is empty: send one event, an array of events, or {\"events\": [...]}.");
  const batch = Array.isArray(body)
    ? body
    : body && typeof body === "object" && "events" in body && Object.keys(body).length === 1
    ? (body as { events: unknown }).events
    : undefined;
  if (batch === undefined) return [parseWith(eventInputSchema, body, "event")];
  if (Array.isArray(batch) && batch.length > MAX_BATCH) {
    throw new AppError(413, "batch_too_large", `A batch holds at most ${MAX_BATCH} events; this one has ${batch.length}. Split it.`);
  }
  const parsed = eventBatchSchema.safeParse(batch);
  if (!parsed.success) throw validationError(parsed.error, "events");
  return parsed.data;
}

/**
 * Stores events in one statement (all or nothing). A signed request's signature
 * is recorded in the same transaction: a replay finds it and is refused with a
 * 409, and a request that failed to store can be sent again.
 */
export async function ingestEvents(events: EventInput[], via: "api" | "webhook", auth: SenderAuth): Promise<IngestResult> {
  if (events.length > MAX_BATCH) throw payloadTooLarge(`At most ${MAX_BATCH} events per request.`);
  const sql = db();
  const rows = await sql.begin(async (tx) => {
    if (auth.kind === "signature") {
      const fresh = await tx`
        insert into orchestrator.event_replay_guard (signature) values (${auth.replayKey})
        on conflict do nothing returning 1`;
      if (fresh.length === 0) {
        throw new AppError(409, "replayed", "This signed request was received before; replays are refused. Sign each request anew (new timestamp).");
      }
    }
    return await tx<IngestResult["events"]>`
      select id, source, type, level::text as level, fingerprint, external_id
      from orchestrator.record_events(${sql.json(events as never)}, ${via})`;
  });
  return { received: events.length, stored: rows.length, duplicates: events.length - rows.length, events: [...rows] };
}

const str = (v: unknown) => (typeof v === "string" && v.trim() !== "" ? v : undefined);
/** pino-style numeric levels (10 trace … 60 fatal). */
const NUMERIC_LEVELS: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };

function levelOf(record: Record<string, unknown> | null): string | undefined {
  if (!record) return undefined;
  for (const key of ["level", "severity", "log_level", "loglevel"]) {
    const v = record[key];
    if (typeof v === "number" && NUMERIC_LEVELS[v]) return NUMERIC_LEVELS[v];
    if (str(v)) return String(v).slice(0, 20);
  }
  return undefined;
}

function slug(value: string, re: RegExp, fallback: string): string {
  const s = value.toLowerCase().replace(/[^a-z0-9_.-]+/g, "_").replace(/^[^a-z0-9]+/, "").slice(0, 64);
  return re.test(s) ? s : fallback;
}

/** A Supabase database-webhook payload -> one event. */
export function webhookToEvent(body: WebhookBody, q: WebhookQuery = {}): EventInput {
  const row = body.record ?? body.old_record ?? null;
  const op = body.type.toLowerCase();
  const occurred = [row?.created_at, row?.inserted_at, row?.occurred_at, row?.at]
    .map((v) => (typeof v === "string" && !Number.isNaN(Date.parse(v)) ? new Date(v).toISOString() : undefined))
    .find((v) => v !== undefined);
  const message = str(row?.message) ?? str(row?.msg);
  return {
    source: q.source ?? slug(body.schema, SOURCE, "webhook"),
    type: q.type ?? slug(`${body.table}.${op}`, EVENT_TYPE, `row.${op}`),
    level: q.level ?? levelOf(row),
    message: message?.slice(0, 10_000),
    payload: { schema: body.schema, table: body.table, op: body.type, record: body.record, old_record: body.old_record ?? null },
    occurred_at: occurred,
  };
}

export function parseWebhook(body: unknown, query: Record<string, string>): EventInput {
  const parsed = parseWith(webhookBodySchema, body, "webhook payload");
  return webhookToEvent(parsed, parseWith(webhookQuery, query, "query"));
}

export async function listEvents(q: ListEventsQuery): Promise<{ events: EventRow[]; next_cursor: string | null }> {
  const sql = db();
  const after = decodeCursor(q.cursor);
  const typeLike = q.type && /[*?]/.test(q.type)
    ? q.type.replace(/[\\%_]/g, (c) => "\\" + c).replace(/\*/g, "%").replace(/\?/g, "_")
    : undefined;
  const rows = await sql<EventRow[]>`
    select id, source, type, level::text as level, message, payload, fingerprint, occurred_at, received_at, via,
           external_id, processed_at, route_error, matched_rules, tasks_created, wants_ticket, ticket_id
    from orchestrator.events
    where true
      ${q.source ? sql`and source = ${q.source}` : sql``}
      ${q.type ? (typeLike ? sql`and type like ${typeLike}` : sql`and type = ${q.type}`) : sql``}
      ${q.level ? sql`and level >= ${q.level}::orchestrator.log_level` : sql``}
      ${q.since ? sql`and occurred_at >= ${q.since}` : sql``}
      ${q.until ? sql`and occurred_at < ${q.until}` : sql``}
      ${q.fingerprint ? sql`and fingerprint = ${q.fingerprint}` : sql``}
      ${q.ticket_id ? sql`and ticket_id = ${q.ticket_id}` : sql``}
      ${after ? sql`and id < ${after}` : sql``}
    order by id desc
    limit ${q.limit + 1}`;
  const page = rows.slice(0, q.limit);
  return { events: page, next_cursor: rows.length > q.limit ? encodeCursor(page[page.length - 1].id) : null };
}

export async function getEvent(id: number): Promise<EventRow> {
  const [row] = await db()<EventRow[]>`
    select id, source, type, level::text as level, message, payload, fingerprint, occurred_at, received_at, via,
           external_id, processed_at, route_error, matched_rules, tasks_created, wants_ticket, ticket_id
    from orchestrator.events where id = ${id}`;
  if (!row) throw notFound(`Event ${id} does not exist (it may have been pruned).`);
  return row;
}

export interface WatcherRow {
  table_name: string;
  source: string;
  event_type: string;
  columns: string[];
  secret_columns: string[];
  options: Record<string, unknown>;
  active: boolean;
}

export async function listWatchers(): Promise<{ watchers: WatcherRow[] }> {
  const rows = await db()<WatcherRow[]>`select * from orchestrator.watcher_status order by table_name`;
  return { watchers: [...rows] };
}
