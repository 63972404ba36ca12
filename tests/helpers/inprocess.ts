// Runs a task's handler in this process the way the worker does, without
// racing the shared stack's Deno worker: the task is inserted (or re-queued)
// and leased in one transaction, so no other worker can ever claim it.
import { PermanentTaskError } from "../../functions/_shared/errors.ts";
import { createLogger, flushLogs } from "../../functions/_shared/logger.ts";
import { completeTasks, failTask } from "../../functions/_shared/queue.ts";
import { taskList } from "./task-types.ts";
import type { TaskRow } from "../../functions/_shared/task-types.ts";
import { sql } from "./stack.ts";

export async function leaseNew(type: string, payload: object, opts: { max_attempts?: number; dedupe_key?: string } = {}): Promise<TaskRow> {
  return await sql().begin(async (tx) => {
    const [{ id }] = await tx`select (r.task).id from orchestrator.enqueue(${type}, ${tx.json(payload as never)},
      ${tx.json({ source: "test", max_attempts: opts.max_attempts ?? 5, ...(opts.dedupe_key ? { dedupe_key: opts.dedupe_key } : {}) })}) r`;
    const [row] = await tx<TaskRow[]>`
      update orchestrator.tasks set status = 'running', attempts = attempts + 1, locked_by = 'test-in-process',
        locked_until = now() + interval '10 minutes', lease_token = gen_random_uuid(), started_at = now(), updated_at = now()
      where id = ${id} returning *`;
    return row;
  });
}

/** A task the worker gave back to the queue (a retry): lease it again before anyone else can. */
export async function leaseAgain(id: number): Promise<TaskRow> {
  const [row] = await sql()<TaskRow[]>`
    update orchestrator.tasks set status = 'running', attempts = attempts + 1, locked_by = 'test-in-process', run_at = now(),
      locked_until = now() + interval '10 minutes', lease_token = gen_random_uuid(), started_at = now(), updated_at = now()
    where id = ${id} and status = 'queued' returning *`;
  if (!row) throw new Error(`task ${id} is not queued`);
  return row;
}

/** Leases every queued task of a type matching the payload filter, in one statement (before Deno sees them). */
export async function leaseQueued(type: string, where: Record<string, unknown>): Promise<TaskRow[]> {
  return await sql()<TaskRow[]>`
    update orchestrator.tasks set status = 'running', attempts = attempts + 1, locked_by = 'test-in-process', run_at = now(),
      locked_until = now() + interval '10 minutes', lease_token = gen_random_uuid(), started_at = now(), updated_at = now()
    where type = ${type} and status = 'queued' and payload @> ${sql().json(where as never)} returning *`;
}

export interface Outcome {
  id: number;
  status: string;
  result: any;
  last_error: string | null;
  attempts: number;
  error?: unknown;
}

export async function runLeased(task: TaskRow): Promise<Outcome> {
  const def = taskList[task.type];
  if (!def) throw new Error(`no handler for task type "${task.type}" in this process`);
  const log = createLogger({ component: "test-worker", taskId: task.id });
  let error: unknown;
  try {
    const result = await def.handle(def.payload.parse(task.payload), { task, log, signal: new AbortController().signal });
    await completeTasks([{ id: task.id, token: task.lease_token!, result: JSON.parse(JSON.stringify(result ?? null)) }]);
  } catch (err) {
    error = err;
    const e = err as Error;
    await failTask(task.id, task.lease_token!, `${e.name}: ${e.message}`, !(err instanceof PermanentTaskError));
  }
  await flushLogs();
  const [row] = await sql()<Outcome[]>`select id, status::text as status, result, last_error, attempts from orchestrator.tasks where id = ${task.id}`;
  return { ...row, error };
}

export async function runTask(type: string, payload: object, opts: { max_attempts?: number; dedupe_key?: string } = {}): Promise<Outcome> {
  return await runLeased(await leaseNew(type, payload, opts));
}

/** Sets env vars for this test file, restoring them afterwards. */
export function withEnv(vars: Record<string, string | undefined>): () => void {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
