// What a task type is: its payload schema (checked when enqueued over the API
// and again before the handler runs), its timeout, and its handler.
import type { z } from "zod";
import type { Logger } from "./logger.ts";

export interface TaskRow {
  id: number;
  type: string;
  payload: Record<string, unknown>;
  status: "queued" | "running" | "succeeded" | "dead" | "cancelled";
  priority: number;
  run_at: Date;
  attempts: number;
  max_attempts: number;
  backoff_base_seconds: string;
  dedupe_key: string | null;
  locked_by: string | null;
  locked_until: Date | null;
  lease_token: string | null;
  /** It was running in an isolate that was terminated: an isolate runs at most one suspect at a time. */
  suspect: boolean;
  last_error: string | null;
  result: unknown;
  source: string;
  parent_id: number | null;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface TaskContext {
  task: TaskRow;
  log: Logger;
  /** Aborted when the task's timeout passes: long handlers should stop. */
  signal: AbortSignal;
}

export interface TaskType<S extends z.ZodType = z.ZodType> {
  description: string;
  payload: S;
  /**
   * At most MAX_TASK_TIMEOUT_MS: half the Free plan's wall clock (the isolate retires there) less the
   * worker's headroom. A handler that starts in a live isolate then always ends before it is terminated,
   * and one that would not fit is left for a fresh isolate (worker.ts).
   */
  timeoutMs: number;
  handle(payload: z.infer<S>, ctx: TaskContext): Promise<unknown>;
}

/** The longest handler timeout that fits the Free plan: 150 s wall clock / 2 - 5 s headroom. */
export const MAX_TASK_TIMEOUT_MS = 70_000;

export function defineTaskType<S extends z.ZodType>(t: TaskType<S>): TaskType<S> {
  return t;
}
