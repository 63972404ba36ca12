// Request schemas for the queue and logs API (zod): one definition, used by the
// functions and the tests.
import { z } from "zod";
import { LEVELS } from "./logger.ts";
import { isTraceId } from "./trace.ts";

const TASK_TYPE = /^[a-z][a-z0-9_.:-]{0,63}$/;
const STATUSES = ["queued", "running", "succeeded", "dead", "cancelled"] as const;

export const taskStatusSchema = z.enum(STATUSES);

// Flow control (issue 17; the truth is in SQL: migrations/20261203001000_flow_control.sql). A key is
// text, or text with {{payload.path}} placeholders read from the task's payload at enqueue.
const flowKey = z.string().min(1).max(200);
const seconds = z.number().min(0.001, "at least 0.001 s").max(86_400, "at most a day (86400 s)");
export const flowControlSchema = {
  /** At most `limit` tasks of this key run at once; the others wait (queued), they are not failed. */
  concurrency: z.strictObject({ key: flowKey, limit: z.number().int().min(1).max(10_000) }).optional(),
  /** A token bucket shared by every worker: `limit` starts per `period_seconds`, up to `burst` at once. */
  rate: z.strictObject({
    key: flowKey,
    limit: z.number().int().min(1).max(100_000),
    period_seconds: seconds,
    burst: z.number().int().min(1).max(100_000).optional(),
  }).optional(),
  /** One queued task per key: a later enqueue replaces its payload and restarts the quiet window. */
  debounce: z.strictObject({ key: flowKey, seconds }).optional(),
  /** At most one run per key per window: extra enqueues are dropped (answered with the window's task) or coalesced. */
  throttle: z.strictObject({ key: flowKey, seconds, mode: z.enum(["drop", "coalesce"]).optional() }).optional(),
  /** Fairness: the claim takes round-robin across groups (e.g. the source app). */
  group: z.string().min(1).max(100).optional(),
  /** A matching event (same source and type, its payload containing `match`) cancels this task. */
  cancel_on: z.strictObject({
    source: z.string().min(1).max(64),
    type: z.string().min(1).max(100),
    match: z.record(z.string(), z.unknown()).optional(),
  }).optional(),
};

export const createTaskSchema = z.strictObject({
  type: z.string().regex(TASK_TYPE, "a task type is a lowercase letter then up to 63 of a-z 0-9 _ . : -"),
  payload: z.record(z.string(), z.unknown()).optional().default({}),
  priority: z.number().int().min(-1000).max(1000).optional(),
  run_at: z.iso.datetime({ offset: true }).optional(),
  dedupe_key: z.string().min(1).max(200).optional(),
  max_attempts: z.number().int().min(1).max(100).optional(),
  backoff_base_seconds: z.number().min(0).max(3600).optional(),
  ...flowControlSchema,
}).refine((t) => !(t.debounce && t.throttle), { path: ["throttle"], message: "debounce and throttle: choose one" })
  .refine((t) => !(t.dedupe_key && (t.debounce || t.throttle)), { path: ["dedupe_key"], message: "dedupe_key cannot be combined with debounce or throttle" });
export type CreateTaskInput = z.infer<typeof createTaskSchema>;

const isoDate = z.iso.datetime({ offset: true });
const limit = z.coerce.number().int().min(1).max(100).default(50);
const cursor = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, "not a cursor returned by this API").optional();

export const listTasksQuery = z.strictObject({
  status: z.string().optional().transform((s, ctx) => {
    if (!s) return undefined;
    const list = s.split(",").map((x) => x.trim());
    const bad = list.filter((x) => !(STATUSES as readonly string[]).includes(x));
    if (bad.length) {
      ctx.addIssue({ code: "custom", message: `unknown status ${bad.join(", ")}; use ${STATUSES.join(", ")}` });
      return z.NEVER;
    }
    return list as (typeof STATUSES)[number][];
  }),
  type: z.string().regex(TASK_TYPE, "not a task type").optional(),
  since: isoDate.optional(),
  until: isoDate.optional(),
  limit,
  cursor,
});
export type ListTasksQuery = z.infer<typeof listTasksQuery>;

export const taskIdParam = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const listLogsQuery = z.strictObject({
  level: z.enum(LEVELS).optional(),
  component: z.string().min(1).max(100).optional(),
  task_id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
  request_id: z.string().min(1).max(100).optional(),
  trace_id: z.string().refine(isTraceId, "a trace id is 32 lowercase hex digits, not all zeros (the second field of a traceparent)").optional(),
  since: isoDate.optional(),
  until: isoDate.optional(),
  q: z.string().min(1).max(200).optional(),
  format: z.enum(["json", "ndjson", "md"]).default("json"),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor,
});
export type ListLogsQuery = z.infer<typeof listLogsQuery>;

export const workerRunSchema = z.strictObject({
  reason: z.string().max(100).optional(),
  background: z.boolean().optional(),
  budget_ms: z.number().int().min(100).max(400_000).optional(),
  max_tasks: z.number().int().min(1).max(100_000).optional(),
  types: z.array(z.string().regex(TASK_TYPE)).min(1).max(100).optional(),
});
export type WorkerRunInput = z.infer<typeof workerRunSchema>;
