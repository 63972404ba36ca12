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
  timeoutMs: number;
  handle(payload: z.infer<S>, ctx: TaskContext): Promise<unknown>;
}

export function defineTaskType<S extends z.ZodType>(t: TaskType<S>): TaskType<S> {
  return t;
}
