// The task worker: claims batches and runs their handlers until the queue is
// drained or the time budget is spent. Many invocations at once are safe: each
// claim takes distinct rows (SKIP LOCKED) and only a lease holder can finish a task.
import { pooledMap } from "deno-std/async/pool.js";
import { PermanentTaskError } from "./errors.ts";
import { settings } from "./env.ts";
import { flushLogs, type Logger } from "./logger.ts";
import { claimTasks, completeTasks, failTask, reapExpiredLeases, secondsUntilNextTask } from "./queue.ts";
import { knownTaskTypes, taskType } from "./registry.ts";
import type { TaskRow } from "./task-types.ts";

export interface WorkerOptions {
  workerId: string;
  log: Logger;
  budgetMs?: number;
  batchSize?: number;
  concurrency?: number;
  maxTasks?: number;
  types?: string[];
}

export interface WorkerStats {
  claimed: number;
  succeeded: number;
  failed: number;
  retried: number;
  dead: number;
  /** Finished by this worker after its lease was lost: the outcome was discarded. */
  stale: number;
  reaped: number;
  duration_ms: number;
}

type Outcome =
  | { task: TaskRow; ok: true; result: unknown; ms: number }
  | { task: TaskRow; ok: false; error: string; retryable: boolean; ms: number };

export class TaskTimeoutError extends Error {
  constructor(ms: number) {
    super(`handler timed out after ${ms} ms`);
    this.name = "TaskTimeoutError";
  }
}

/** A lease outlives the handler's timeout by this much, so a live worker always finishes before it expires. */
const LEASE_MARGIN_S = 15;

/** A JSON-safe copy of a handler's result, or an error when it cannot be stored. */
function storableResult(value: unknown): unknown {
  if (value === undefined) return null;
  const text = JSON.stringify(value); // throws on cycles and BigInt
  if (text === undefined) throw new PermanentTaskError("handler returned a value that is not JSON");
  if (text.length > 1_000_000) throw new PermanentTaskError(`handler result is ${text.length} bytes; the limit is 1 MB`);
  return JSON.parse(text);
}

async function runHandler(task: TaskRow, log: Logger): Promise<Outcome> {
  const started = Date.now();
  const def = taskType(task.type);
  const taskLog = log.child({ taskId: task.id });
  if (!def) {
    return { task, ok: false, retryable: false, error: `no handler registered for task type "${task.type}"`, ms: 0 };
  }
  const parsed = def.payload.safeParse(task.payload);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "payload"}: ${i.message}`).join("; ");
    return { task, ok: false, retryable: false, error: `payload does not match the "${task.type}" schema: ${issues}`, ms: 0 };
  }
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new TaskTimeoutError(def.timeoutMs);
      controller.abort(err);
      reject(err);
    }, def.timeoutMs);
  });
  try {
    const value = await Promise.race([def.handle(parsed.data, { task, log: taskLog, signal: controller.signal }), timeout]);
    return { task, ok: true, result: storableResult(value), ms: Date.now() - started };
  } catch (err) {
    const error = err instanceof Error ? `${err.name}: ${err.message}` : `non-error thrown: ${String(err)}`;
    return { task, ok: false, error, retryable: !(err instanceof PermanentTaskError), ms: Date.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

export async function runWorker(opts: WorkerOptions): Promise<WorkerStats> {
  const started = Date.now();
  const budgetMs = opts.budgetMs ?? settings.workerBudgetMs;
  const deadline = started + budgetMs;
  const batchSize = opts.batchSize ?? settings.workerBatchSize;
  const concurrency = Math.max(1, opts.concurrency ?? settings.workerConcurrency);
  const maxTasks = opts.maxTasks ?? Infinity;
  const known = knownTaskTypes();
  const types = opts.types ? opts.types.filter((t) => known.includes(t)) : known;
  const typeLeases = Object.fromEntries(types.map((t) => [t, Math.ceil(taskType(t)!.timeoutMs / 1000) + LEASE_MARGIN_S]));
  const leaseSeconds = Math.max(...Object.values(typeLeases), 1);
  const log = opts.log.child({ component: "task-worker" });
  const stats: WorkerStats = { claimed: 0, succeeded: 0, failed: 0, retried: 0, dead: 0, stale: 0, reaped: 0, duration_ms: 0 };
  if (types.length === 0) return stats;

  stats.reaped = await reapExpiredLeases();
  if (stats.reaped > 0) log.warn(`reaped ${stats.reaped} tasks whose lease expired`, { reaped: stats.reaped });

  while (Date.now() < deadline && stats.claimed < maxTasks) {
    const batch = await claimTasks(opts.workerId, Math.min(batchSize, maxTasks - stats.claimed), leaseSeconds, types, typeLeases);
    if (batch.length === 0) {
      const wait = await secondsUntilNextTask(types);
      const waitMs = wait === undefined ? Infinity : Math.max(wait * 1000, 20);
      if (waitMs > settings.workerIdleWaitMs || Date.now() + waitMs >= deadline) break;
      await new Promise((r) => setTimeout(r, waitMs));
      continue;
    }
    stats.claimed += batch.length;
    const outcomes = await Array.fromAsync(pooledMap(concurrency, batch, (task: TaskRow) => runHandler(task, log)));

    const succeeded = outcomes.filter((o) => o.ok);
    const finished = await completeTasks(succeeded.map((o) => ({ id: o.task.id, token: o.task.lease_token!, result: o.result })));
    for (const o of succeeded) {
      if (finished.has(o.task.id)) {
        stats.succeeded++;
        log.child({ taskId: o.task.id }).info(`task ${o.task.type} succeeded`, { attempt: o.task.attempts, duration_ms: o.ms });
      } else {
        stats.stale++;
        log.child({ taskId: o.task.id }).warn(`task ${o.task.type} finished after losing its lease; result discarded`, { attempt: o.task.attempts });
      }
    }
    for (const o of outcomes) {
      if (o.ok) continue;
      const status = await failTask(o.task.id, o.task.lease_token!, o.error, o.retryable);
      const taskLog = log.child({ taskId: o.task.id });
      const ctx = { attempt: o.task.attempts, max_attempts: o.task.max_attempts, error: o.error, duration_ms: o.ms };
      if (status === "stale") {
        stats.stale++;
        taskLog.warn(`task ${o.task.type} failed after losing its lease; outcome discarded`, ctx);
        continue;
      }
      stats.failed++;
      if (status === "queued") {
        stats.retried++;
        taskLog.warn(`task ${o.task.type} failed; retry scheduled`, ctx);
      } else {
        stats.dead++;
        taskLog.error(`task ${o.task.type} failed for good${o.retryable ? " (attempts exhausted)" : ""}`, ctx);
      }
    }
    await flushLogs();
  }
  stats.duration_ms = Date.now() - started;
  if (stats.claimed > 0) log.info(`worker ${opts.workerId} done`, { ...stats });
  return stats;
}
