// The answers of the core API (tasks, logs, health and its capabilities) as zod schemas: one definition
// of each shape. The services are typed by them (z.infer: what the service builds, a Date for a timestamp),
// so `deno check` and `tsc` hold the server to them; the dashboard reads the same schemas with
// `import type` (Json<…>: the JSON on the wire, an ISO string for a timestamp). Nothing parses a response
// at run time. Zod only: the dashboard's type check reads this file and all it imports.
// The other families keep theirs next to their service: events/responses.ts (tickets, rules),
// schedules/responses.ts, sops/responses.ts, workflows/responses.ts.
import { z } from "zod";

/** A timestamp: a Date where the service builds it, its ISO string in the JSON (Date.prototype.toJSON). */
export const timestamp = z.codec(z.iso.datetime({ offset: true }), z.date(), {
  decode: (iso) => new Date(iso),
  encode: (date) => date.toISOString(),
});

/** What a client receives for a response schema: its JSON shape (timestamps as ISO strings). */
export type Json<S extends z.ZodType> = z.input<S>;

const jsonObject = z.record(z.string(), z.unknown());

// ------------------------------------------------------------------ tasks (functions/_shared/queue.ts)

export const TASK_STATUSES = ["queued", "running", "succeeded", "dead", "cancelled"] as const;

/** A task as the API shows it (publicTask(): the lease token never leaves the database layer). */
export const waitReasonSchema = z.object({
  kind: z.enum(["concurrency", "type_concurrency", "rate", "debounce", "throttle", "run_at"]),
  message: z.string(),
  key: z.string().optional(),
  type: z.string().optional(),
  limit: z.number().optional(),
  running: z.number().optional(),
  /** When the wait ends (ISO 8601), for rate, debounce, throttle and run_at. */
  until: z.string().optional(),
});
export type WaitReason = z.infer<typeof waitReasonSchema>;

export const taskSchema = z.object({
  id: z.number(),
  type: z.string(),
  payload: jsonObject,
  status: z.enum(TASK_STATUSES),
  priority: z.number(),
  run_at: timestamp,
  attempts: z.number(),
  max_attempts: z.number(),
  backoff_base_seconds: z.number(),
  dedupe_key: z.string().nullable(),
  locked_by: z.string().nullable(),
  locked_until: timestamp.nullable(),
  /** It was running in an isolate that was terminated. */
  suspect: z.boolean(),
  last_error: z.string().nullable(),
  result: z.unknown(),
  source: z.string(),
  parent_id: z.number().nullable(),
  /** The W3C trace it belongs to: its logs carry it (GET /logs?trace_id=…), and its outbound calls send it as traceparent. */
  trace_id: z.string().nullable(),
  created_at: timestamp,
  updated_at: timestamp,
  started_at: timestamp.nullable(),
  finished_at: timestamp.nullable(),
  // Flow control, as resolved at enqueue (keys rendered from the payload, the type's defaults applied).
  concurrency_key: z.string().nullable(),
  concurrency_limit: z.number().nullable(),
  type_concurrency_limit: z.number().nullable(),
  rate_key: z.string().nullable(),
  group_key: z.string(),
  debounce_key: z.string().nullable(),
  cancel_on: z.object({ source: z.string(), type: z.string(), match: jsonObject }).nullable(),
  parked_on: z.string().nullable(),
  /** Why a queued task is not running yet; null when it can start now (or is not queued). */
  wait_reason: waitReasonSchema.nullable().optional(),
});
export type Task = z.infer<typeof taskSchema>;

/** GET /tasks: newest first; next_cursor is the next (older) page, null on the last. */
export const taskPageSchema = z.object({ tasks: z.array(taskSchema), next_cursor: z.string().nullable() });
export type TaskPage = z.infer<typeof taskPageSchema>;

// ------------------------------------------------------------------ logs (functions/_shared/logs.ts)

export const logEntrySchema = z.object({
  id: z.number(),
  at: timestamp,
  level: z.string(),
  component: z.string(),
  message: z.string(),
  context: jsonObject,
  task_id: z.number().nullable(),
  request_id: z.string().nullable(),
  trace_id: z.string().nullable(),
});
export type LogEntry = z.infer<typeof logEntrySchema>;

/** GET /logs (format=json). */
export const logPageSchema = z.object({ logs: z.array(logEntrySchema), next_cursor: z.string().nullable() });
export type LogPage = z.infer<typeof logPageSchema>;

// ------------------------------------------------------------------ health (functions/_shared/health.ts)

/** The AI_* settings as the functions see them (ai/config.ts). No secret: the key is only said to be set. */
export const aiConfigReportSchema = z.object({
  /** Some provider setting (AI_BASE_URL, AI_API_KEY, AI_MODEL) is set: the operator means to use a provider. */
  configured: z.boolean(),
  /** Configured with nothing missing or invalid: SOPs are written by the model, ai.run can run. */
  usable: z.boolean(),
  /** The chat-completions base URL (AI_BASE_URL, or OpenAI's when only AI_API_KEY is set), without credentials or query. */
  base_url: z.string().optional(),
  /** AI_MODEL, or the model the caller supplies (an ai.run payload's `model`). */
  model: z.string().optional(),
  api_key_set: z.boolean(),
  response_format: z.string(),
  /** Each names what is missing or wrong and what to set. Empty when usable, and when no provider is configured. */
  problems: z.array(z.string()),
});

/** How the pg_net wake-ups fared in the last hour (wakeups.ts). */
export const wakeupReportSchema = z.object({
  /** Wake-ups task-worker refused (401/403) in the last hour: the key in Vault is not one it accepts. */
  refused_last_hour: z.number(),
  /** Every failed wake-up in the last hour (refused, 5xx, timed out, no connection). */
  failed_last_hour: z.number(),
  last_refused_at: z.string().nullable(),
  last_refused_status: z.number().nullable(),
  /** What to do, when something was refused; null when all is well. */
  problem: z.string().nullable(),
});

export const localProcessSchema = z.object({
  name: z.string(),
  pid: z.number().nullable(),
  /** running | restarting (died; the supervisor brings it back) | stopped | failed (the supervisor gave up) */
  state: z.string(),
  restarts: z.number(),
  last_exit: z.string().nullable(),
  last_exit_at: z.string().nullable(),
  since: z.string(),
  gave_up: z.string().nullable(),
});

export const edgeReportSchema = z.object({
  /** Workers gone, by reason (EventLoopCompleted, EarlyDrop, WallClockTime, CPUTime, Memory, TerminationRequested). */
  terminations: z.record(z.string(), z.number()),
  /** Workers retired (no new requests), by reason (CPUTime: soft limit; WallClockTime: half the wall clock). */
  retirements: z.record(z.string(), z.number()),
});

/** GET /health with the service key (without it: {status} only). */
export const healthReportSchema = z.object({
  status: z.enum(["ok", "degraded"]),
  version: z.string(),
  db: z.object({ ok: z.boolean(), latency_ms: z.number().nullable(), error: z.string().optional() }),
  /** Tasks by status, and oldest_queued_age_s; null where the database did not answer. */
  queue: z.record(z.string(), z.number().nullable()),
  cron: z.array(z.object({ job: z.string(), schedule: z.string(), last_run: z.string().nullable(), last_status: z.string().nullable() })),
  /** The local stack's supervised processes (only the local stack has them). */
  local_stack: z.object({ processes: z.array(localProcessSchema) }).optional(),
  /** The local Edge runtime's user workers (scripts/edge/): terminations by shutdown reason. */
  edge: edgeReportSchema.optional(),
  /** A recent refusal (401/403) leaves the report degraded. */
  wakeups: wakeupReportSchema.optional(),
  ai: aiConfigReportSchema,
});
export type HealthReport = z.infer<typeof healthReportSchema>;

// ------------------------------------------------------------------ capabilities (functions/_shared/capabilities.ts)

/** The endpoint families this version serves (each a function under /functions/v1; they deploy together). */
export const API_FAMILIES = [
  "health", "tasks", "logs", "task-worker", "events", "rules", "tickets", "sops", "schedules", "workflows", "notion", "sync", "webhooks", "metrics", "openapi",
] as const;

/** GET /health/capabilities (service key): what this deployment serves and which integrations are configured. Holds no secret. */
export const capabilitiesSchema = z.object({
  version: z.string(),
  apis: z.array(z.enum(API_FAMILIES)),
  integrations: z.object({
    /** NOTION_API_KEY and NOTION_DATABASE_ID are both set (GET /notion/status says whether the sync is enabled and healthy). */
    notion: z.object({ configured: z.boolean() }),
    /** An AI provider is set (AI_*), and whether it can be used; without one the template writes SOPs. */
    ai: z.object({ configured: z.boolean(), usable: z.boolean() }),
    /** Outbound webhooks: configured when at least one subscription is active. */
    webhooks: z.object({ configured: z.boolean(), active_subscriptions: z.number() }),
  }),
});
export type Capabilities = z.infer<typeof capabilitiesSchema>;

/** GET /health/capabilities takes no query parameter: an unknown one is a 400, not silently ignored. */
export const capabilitiesQuery = z.strictObject({});
