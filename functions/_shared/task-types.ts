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
  /** The W3C trace the task belongs to (trace.ts): what its handler logs, writes and sends carries it. */
  trace_id: string | null;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  // Flow control (migrations/20261203001000_flow_control.sql), as resolved at enqueue.
  concurrency_key: string | null;
  concurrency_limit: number | null;
  type_concurrency_limit: number | null;
  rate_key: string | null;
  group_key: string;
  debounce_key: string | null;
  cancel_on: { source: string; type: string; match: Record<string, unknown> } | null;
  /** "key:<concurrency_key>" or "type:<type>" while it waits for room under that limit. */
  parked_on: string | null;
  /** Why a queued task is not running yet (orchestrator.task_wait_reason); null when it can start now. */
  wait_reason?: WaitReason | null;
}

export interface WaitReason {
  kind: "concurrency" | "type_concurrency" | "rate" | "debounce" | "throttle" | "run_at";
  message: string;
  key?: string;
  type?: string;
  limit?: number;
  running?: number;
  until?: string;
}

/**
 * A task as a worker claims it: what the worker and the handlers use. Not the whole row: a claim of a
 * thousand tasks parses every column of every row, and the timestamps, result and bookkeeping columns
 * cost the worker CPU (its isolate's budget) for nothing.
 */
export type ClaimedTask = Pick<TaskRow,
  "id" | "type" | "payload" | "status" | "priority" | "attempts" | "max_attempts" | "locked_until" | "lease_token" | "suspect"
  | "last_error" | "source" | "parent_id" | "group_key" | "trace_id">;

/** The columns of ClaimedTask, in the order a claim returns them. */
export const CLAIMED_COLUMNS = [
  "id", "type", "payload", "status", "priority", "attempts", "max_attempts", "locked_until", "lease_token", "suspect", "last_error",
  "source", "parent_id", "group_key", "trace_id",
] as const satisfies readonly (keyof ClaimedTask)[];

export interface TaskContext {
  task: ClaimedTask;
  log: Logger;
  /** Aborted when the task's timeout passes: long handlers should stop. */
  signal: AbortSignal;
}

/** A task type as the catalog knows it (task-catalog.ts): what it is, what it takes, how long it may run. */
export interface TaskSpec<S extends z.ZodType = z.ZodType> {
  description: string;
  payload: S;
  /**
   * At most MAX_TASK_TIMEOUT_MS: half the Free plan's wall clock (the isolate retires there) less the
   * worker's headroom. A handler that starts in a live isolate then always ends before it is terminated,
   * and one that would not fit is left for a fresh isolate (worker.ts).
   */
  timeoutMs: number;
  /**
   * The shape of what the handler returns, where a task type declares it: workflows written in
   * TypeScript (workflows/builder.ts) read a step's result typed from it. Documentation and types only:
   * the worker stores what the handler returns.
   */
  result?: z.ZodType;
}

/** A task type the worker can run: its spec and its handler. */
export interface TaskType<S extends z.ZodType = z.ZodType> extends TaskSpec<S> {
  handle(payload: z.infer<S>, ctx: TaskContext): Promise<unknown>;
}

/** What a worker runs, by task type name (functions/task-worker/task-list.ts; tests pass their own). */
export type TaskList = Record<string, TaskType>;

/** The longest handler timeout that fits the Free plan: 150 s wall clock / 2 - 5 s headroom. */
export const MAX_TASK_TIMEOUT_MS = 70_000;

export function defineTaskType<S extends z.ZodType>(t: TaskType<S>): TaskType<S> {
  return t;
}
