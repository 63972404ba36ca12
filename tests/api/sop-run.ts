// Runs one task in this process the way the worker does, without racing the
// stack's Deno worker for it: the task is inserted and leased in one
// transaction, so no other worker can ever claim it.
import { PermanentTaskError } from "../../functions/_shared/errors.ts";
import { createLogger } from "../../functions/_shared/logger.ts";
import { completeTasks, failTask } from "../../functions/_shared/queue.ts";
import { taskType } from "../../functions/_shared/registry.ts";
import type { TaskRow } from "../../functions/_shared/task-types.ts";
import { sql } from "../helpers/stack.ts";

export async function leasedTask(type: string, payload: object, opts: { max_attempts?: number } = {}): Promise<TaskRow> {
  return await sql().begin(async (tx) => {
    const [{ id }] = await tx`select (r.task).id from orchestrator.enqueue(${type}, ${tx.json(payload as never)}, ${tx.json({ source: "test", max_attempts: opts.max_attempts ?? 5 })}) r`;
    const [row] = await tx<TaskRow[]>`
      update orchestrator.tasks set status = 'running', attempts = attempts + 1, locked_by = 'test-in-process',
        locked_until = now() + interval '10 minutes', lease_token = gen_random_uuid(), started_at = now(), updated_at = now()
      where id = ${id} returning *`;
    return row;
  });
}

export interface Outcome {
  status: string;
  result: any;
  last_error: string | null;
  attempts: number;
  error?: unknown;
}

/** Validates the payload, runs the handler, and completes or fails the task through the SQL contract. */
export async function runLeased(task: TaskRow): Promise<Outcome> {
  const def = taskType(task.type)!;
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
  const [row] = await sql()<Outcome[]>`select status::text as status, result, last_error, attempts from orchestrator.tasks where id = ${task.id}`;
  return { ...row, error };
}

export async function runInProcess(type: string, payload: object, opts: { max_attempts?: number } = {}): Promise<Outcome & { id: number }> {
  const task = await leasedTask(type, payload, opts);
  return { id: task.id, ...(await runLeased(task)) };
}
