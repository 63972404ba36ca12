// The queue service: the SQL contract (orchestrator.enqueue/claim/complete/…)
// seen from TypeScript. Every state change goes through those SQL functions.
import { db } from "./db.ts";
import { badRequest, conflict, notFound, validationError } from "./errors.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { knownTaskTypes, taskSpec } from "./task-catalog.ts";
import type { CreateTaskInput, ListTasksQuery } from "./schemas.ts";
import { CLAIMED_COLUMNS, type ClaimedTask, type TaskRow } from "./task-types.ts";
import { currentTrace } from "./trace.ts";
import {
  bigintArrayLiteral, boolLiteral, intLiteral, jsonbLiteral, numericLiteral, textArrayLiteral, textLiteral, uuidArrayLiteral,
} from "./sql-literal.ts";

/** A task as the API shows it: the lease token is a capability and never leaves the database layer. */
export function publicTask(row: TaskRow) {
  const { lease_token: _token, backoff_base_seconds, ...rest } = row;
  return { ...rest, backoff_base_seconds: Number(backoff_base_seconds) };
}
export type PublicTask = ReturnType<typeof publicTask>;

/** Checks that a type is registered and its payload fits the type's schema. */
export function validateTaskPayload(type: string, payload: unknown): Record<string, unknown> {
  const def = taskSpec(type);
  if (!def) {
    throw badRequest(`Unknown task type "${type}". Known types: ${knownTaskTypes().join(", ")}.`, {
      issues: [{ path: "type", code: "unknown_task_type", message: `no handler is registered for "${type}"` }],
    });
  }
  const parsed = def.payload.safeParse(payload ?? {});
  if (!parsed.success) throw validationError(parsed.error, `payload for task type "${type}"`);
  return payload as Record<string, unknown>;
}

export async function enqueueTask(input: CreateTaskInput, source = "api"): Promise<{ task: PublicTask; created: boolean }> {
  const payload = validateTaskPayload(input.type, input.payload);
  const sql = db();
  const opts = {
    source,
    priority: input.priority,
    run_at: input.run_at,
    dedupe_key: input.dedupe_key,
    max_attempts: input.max_attempts,
    backoff_base_seconds: input.backoff_base_seconds,
    concurrency: input.concurrency,
    rate: input.rate,
    debounce: input.debounce,
    throttle: input.throttle,
    group: input.group,
    cancel_on: input.cancel_on,
  };
  // Under a trace (a request, a running task), the task takes its trace id: set_config names it for this
  // statement's transaction, and the lateral call's options depend on it, so it is set before enqueue
  // inserts (enqueue ignores the extra option). One round trip, where a transaction would take four.
  const trace = currentTrace()?.traceId ?? null;
  const [row] = await sql<(TaskRow & { created: boolean })[]>`
    select (r.task).*, orchestrator.task_wait_reason(r.task) as wait_reason, r.created
    from (select set_config('orchestrator.trace_id', coalesce(${trace}::text, ''), true) as trace_id) t
    cross join lateral orchestrator.enqueue(${input.type}, ${sql.json(payload as never)},
      ${sql.json(JSON.parse(JSON.stringify(opts)))}::jsonb || jsonb_build_object('trace_id', t.trace_id)) r`
    .catch(flowOptionError);
  const { created, ...task } = row;
  return { task: publicTask(task as TaskRow), created };
}

/**
 * The queue's SQL checks what zod cannot (a key placeholder the payload has no value for) and names
 * the field first: "concurrency.key: {{payload.x}} has no value…". That becomes a 400 with the path.
 */
function flowOptionError(err: unknown): never {
  const message = (err as { message?: string })?.message ?? "";
  const path = (err as { code?: string })?.code === "22023" && message.match(/^((?:concurrency|rate|debounce|throttle|group|cancel_on)(?:\.[a-z_]+)?)\b/)?.[1];
  if (path) throw badRequest(`Invalid flow control: ${message}`, { issues: [{ path, code: "invalid_flow_control", message }] });
  throw err;
}

export async function getTask(id: number): Promise<PublicTask> {
  const [row] = await db()<TaskRow[]>`select t.*, orchestrator.task_wait_reason(t) as wait_reason from orchestrator.tasks t where id = ${id}`;
  if (!row) throw notFound(`Task ${id} does not exist (it may have been pruned).`);
  return publicTask(row);
}

export async function listTasks(q: ListTasksQuery): Promise<{ tasks: PublicTask[]; next_cursor: string | null }> {
  const sql = db();
  const after = decodeCursor(q.cursor);
  const rows = await sql<TaskRow[]>`
    select t.*, orchestrator.task_wait_reason(t) as wait_reason from orchestrator.tasks t
    where true
      ${q.status ? sql`and status = any(${q.status}::orchestrator.task_status[])` : sql``}
      ${q.type ? sql`and type = ${q.type}` : sql``}
      ${q.since ? sql`and created_at >= ${q.since}` : sql``}
      ${q.until ? sql`and created_at < ${q.until}` : sql``}
      ${after ? sql`and id < ${after}` : sql``}
    order by id desc
    limit ${q.limit + 1}`;
  const page = rows.slice(0, q.limit);
  return {
    tasks: page.map(publicTask),
    next_cursor: rows.length > q.limit ? encodeCursor(page[page.length - 1].id) : null,
  };
}

export async function cancelTask(id: number): Promise<PublicTask> {
  const [row] = await db()<TaskRow[]>`select * from orchestrator.cancel(${id})`;
  if (row) return publicTask(row);
  const current = await getTask(id);
  throw conflict(`Task ${id} is ${current.status}; only queued or running tasks can be cancelled.`, { status: current.status });
}

export async function retryTask(id: number): Promise<PublicTask> {
  let row: TaskRow | undefined;
  try {
    [row] = await db()<TaskRow[]>`select * from orchestrator.retry(${id})`;
  } catch (err) {
    if ((err as { code?: string }).code === "23505") {
      throw conflict(`Task ${id} cannot be retried: another queued or running task holds its dedupe_key.`);
    }
    throw err;
  }
  if (row) return publicTask(row);
  const current = await getTask(id);
  throw conflict(`Task ${id} is ${current.status}; only dead or cancelled tasks can be retried.`, { status: current.status });
}

/** Statements whose text holds their values are never named prepared statements (one per text would pile up). */
const UNPREPARED = { prepare: false } as const;

export async function claimTasks(
  worker: string,
  max: number,
  leaseSeconds: number,
  types: string[],
  typeLeases: Record<string, number> = {},
  /** The claimer's isolate runs no suspect now: the claim may take one (orchestrator.tasks.suspect). */
  takeSuspect = false,
): Promise<ClaimedTask[]> {
  // The claim commits asynchronously (no wait for the WAL flush: ~2 ms per claim on a
  // disk that fsyncs in 2 ms). Safe because a claim lost in a crash only leaves the
  // task queued: another worker runs it, and this worker's complete/fail is refused
  // as stale. Completions and enqueues stay synchronous. claim() sets it for this
  // statement's own (implicit) transaction only (p_commit_async, the last argument).
  // Values as literals (sql-literal.ts): one round trip through a transaction pooler, not two.
  return await db().unsafe<ClaimedTask[]>(
    `select ${CLAIMED_COLUMNS.join(", ")} from orchestrator.claim(${textLiteral(worker)}, ${intLiteral(max)}, ${numericLiteral(leaseSeconds)},
      ${textArrayLiteral(types)}, ${jsonbLiteral(JSON.stringify(typeLeases))}, ${boolLiteral(takeSuspect)}, true)`,
    [],
    UNPREPARED,
  );
}

/**
 * Finishes many tasks in one statement; returns the ids whose lease was still valid. Each result is given as
 * a value (`result`) or as its JSON text already made (`resultJson`: the worker's, see storableResult).
 */
export async function completeTasks(done: ({ id: number; token: string } & ({ result: unknown } | { resultJson: string }))[]): Promise<Set<number>> {
  if (done.length === 0) return new Set();
  // Results travel as one jsonb array (postgres.js has no jsonb[] parameter type), unpacked in order. The
  // array's text is joined here from each result's JSON: no object is built only to be stringified again.
  // Values as literals (sql-literal.ts): one round trip through a transaction pooler, not two.
  const results = `[${done.map((d) => ("resultJson" in d ? d.resultJson : JSON.stringify(d.result ?? null) ?? "null")).join(",")}]`;
  const rows = await db().unsafe<{ id: number }[]>(
    `select complete_many as id from orchestrator.complete_many(
      ${bigintArrayLiteral(done.map((d) => d.id))}, ${uuidArrayLiteral(done.map((d) => d.token))},
      (select array_agg(e order by i) from jsonb_array_elements(${jsonbLiteral(results)}) with ordinality as r(e, i)))`,
    [],
    UNPREPARED,
  );
  return new Set(rows.map((r) => r.id));
}

export async function failTask(id: number, token: string, error: string, retryable: boolean): Promise<"queued" | "dead" | "stale"> {
  const [{ status }] = await db()<{ status: "queued" | "dead" | "stale" }[]>`
    select orchestrator.fail(${id}, ${token}::uuid, ${error}, ${retryable}) as status`;
  return status;
}

/** Fails many tasks in one statement (each through orchestrator.fail); returns each task's new status. */
export async function failTasks(
  failed: { id: number; token: string; error: string; retryable: boolean }[],
): Promise<Map<number, "queued" | "dead" | "stale">> {
  if (failed.length === 0) return new Map();
  const rows = await db()<{ id: number; status: "queued" | "dead" | "stale" }[]>`
    select id, status from orchestrator.fail_many(
      ${failed.map((f) => f.id)}::bigint[], ${failed.map((f) => f.token)}::uuid[],
      ${failed.map((f) => f.error)}::text[],
      -- postgres.js has no boolean[] parameter type: text, cast here.
      ${failed.map((f) => String(f.retryable))}::text[]::boolean[])`;
  return new Map(rows.map((r) => [r.id, r.status]));
}

/** Renews the leases of claimed tasks; returns the new expiry of each task still held (missing = lease lost). */
export async function extendLeases(
  held: { id: number; token: string }[],
  leaseSeconds: number,
  typeLeases: Record<string, number> = {},
): Promise<Map<number, Date>> {
  if (held.length === 0) return new Map();
  const sql = db();
  const rows = await sql<{ id: number; locked_until: Date }[]>`
    select id, locked_until from orchestrator.extend_leases(
      ${held.map((h) => h.id)}::bigint[], ${held.map((h) => h.token)}::uuid[], ${sql.json(typeLeases)}, ${leaseSeconds})`;
  return new Map(rows.map((r) => [r.id, r.locked_until]));
}

/** Puts claimed tasks that never started back in the queue (their attempt is not counted). */
export async function releaseTasks(held: { id: number; token: string }[]): Promise<number[]> {
  if (held.length === 0) return [];
  const rows = await db()<{ id: number }[]>`
    select release_tasks as id from orchestrator.release_tasks(${held.map((h) => h.id)}::bigint[], ${held.map((h) => h.token)}::uuid[])`;
  return rows.map((r) => r.id);
}

export async function reapExpiredLeases(): Promise<number> {
  const [{ reaped }] = await db()<{ reaped: number }[]>`select orchestrator.reap() as reaped`;
  return reaped;
}

/** Seconds until the next queued task of these types becomes runnable, if any. */
export async function secondsUntilNextTask(types: string[]): Promise<number | undefined> {
  const [row] = await db()<{ wait: number | null }[]>`
    select extract(epoch from min(run_at) - now())::float8 as wait
    from orchestrator.tasks where status = 'queued' and parked_on is null and type = any(${types}::text[])`;
  return row?.wait ?? undefined;
}

/** Starts or renews this isolate's presence as a listening worker (no wake-ups are sent meanwhile). */
export async function renewPresence(isolate: string, seconds: number): Promise<void> {
  await db()`select orchestrator.presence_renew(${isolate}, ${seconds})`;
}

/** Ends it, and wakes a worker if a task is runnable (an insert may have counted on this one); whether one was woken. */
export async function endPresence(isolate: string, reason: string): Promise<boolean> {
  const [{ woken }] = await db()<{ woken: boolean }[]>`select orchestrator.presence_end(${isolate}, ${reason}) as woken`;
  return woken;
}

/**
 * Hands what a stopping isolate leaves (tasks of these types runnable now) to another worker: a NOTIFY when
 * another isolate's worker listens, else a wake-up. 'notified', 'woken' or 'none' (nothing runnable).
 */
export async function handOff(isolate: string, types: string[], reason: string): Promise<"notified" | "woken" | "none"> {
  const [{ how }] = await db()<{ how: "notified" | "woken" | "none" }[]>`
    select orchestrator.hand_off(${isolate}, ${types}::text[], ${reason}) as how`;
  return how;
}

/** Wakes the successor of this retired isolate, unless another isolate's worker listens already; whether one was woken. */
export async function wakeSuccessor(isolate: string): Promise<boolean> {
  const [{ woken }] = await db()<{ woken: boolean }[]>`select orchestrator.wake_successor(${isolate}) as woken`;
  return woken;
}
