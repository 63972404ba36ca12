// The task catalog: every task type this deployment knows, with its description, payload schema and
// timeout. A leaf module (zod and payload schemas only): the API, rules, workflows and the Notion
// setup validate against it without loading any handler. The handlers are a separate map
// (functions/task-worker/task-list.ts) that only the task-worker function imports and hands to the
// worker, as graphile-worker's run({ taskList }) does.
import { z } from "zod";
import { env, envInt } from "./env.ts";
import { generateSopSchema } from "./sops/schema.ts";
import type { TaskSpec } from "./task-types.ts";
import { WORKFLOW_NAME } from "./workflows/names.ts";

/** A spec, its payload and result schemas kept in its type (workflows/builder.ts reads them). */
const spec = <S extends z.ZodType, R extends z.ZodType | undefined = undefined>(s: TaskSpec<S> & { result?: R }): TaskSpec<S> & { result: R } =>
  s as TaskSpec<S> & { result: R };

const positiveId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

const chatMessage = z.strictObject({
  role: z.enum(["system", "user", "assistant"]),
  content: z.string().max(200_000),
});

/** A JSON Schema zod can turn into a validator; checked when the task is enqueued. */
const jsonSchemaObject = z.record(z.string(), z.unknown()).superRefine((schema, ctx) => {
  try {
    z.fromJSONSchema(schema as never);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: `not a JSON Schema this service can check: ${(err as Error).message}` });
  }
  if (JSON.stringify(schema).length > 50_000) ctx.addIssue({ code: "custom", message: "the schema is over 50,000 characters" });
});

export const aiRunPayload = z.strictObject({
  prompt: z.string().min(1).max(200_000).optional(),
  messages: z.array(chatMessage).min(1).max(200).optional(),
  system: z.string().min(1).max(50_000).optional(),
  model: z.string().min(1).max(200).optional(),
  max_tokens: z.number().int().min(1).max(1_000_000).optional(),
  temperature: z.number().min(0).max(2).optional(),
  response_schema: jsonSchemaObject.optional(),
}).refine((p) => (p.prompt === undefined) !== (p.messages === undefined), {
  message: "give exactly one of `prompt` (a string) or `messages` (a chat history)",
  path: ["prompt"],
});
export type AiRunPayload = z.infer<typeof aiRunPayload>;

const notionEntity = z.enum(["task", "ticket", "sop", "digest"]);
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** {entity, key} ("sop" keys are slugs, "digest" keys UTC days, others ids); {kind, id} is accepted too (an SOP version id). */
export const notionPushPayload = z.union([
  z.strictObject({ entity: notionEntity, key: z.string().min(1).max(200) })
    .refine((p) => p.entity !== "digest" || DAY.test(p.key), { path: ["key"], message: "a digest key is its UTC day, YYYY-MM-DD" }),
  z.strictObject({ kind: z.enum(["task", "ticket", "sop"]), id: positiveId }),
]);

const retentionDays = z.number().int().min(1).max(36500).optional();

export const CHAOS_MODES = [
  "ok", "sleep", "burn_cpu", "alloc", "throw", "throw_permanent", "throw_string", "hang",
  "garbage_bigint", "garbage_cycle", "garbage_function", "garbage_huge", "flaky",
] as const;

/** Every timeout at most MAX_TASK_TIMEOUT_MS (task-types.ts): the Free plan's isolate lives 150 s. */
const catalog = {
  "ticket.open": spec({
    description: "Opens the ticket for an event's fingerprint, or counts the event on the ticket already open (a resolved one reopens).",
    payload: z.strictObject({
      event_id: z.number().int().positive(),
      /** Defaults to "[source] message". */
      title: z.string().trim().min(1).max(500).optional(),
      /** Defaults from the level: fatal -> urgent, error -> high, else normal. */
      priority: z.enum(["low", "normal", "high", "urgent"]).optional(),
    }),
    timeoutMs: 30_000,
  }),
  noop: spec({
    description: "Does nothing and succeeds; `delay_ms` waits first, `echo` is returned as the result.",
    payload: z.strictObject({
      delay_ms: z.number().int().min(0).max(600_000).optional(),
      echo: z.unknown().optional(),
    }),
    timeoutMs: 10_000,
    result: z.object({ ok: z.literal(true), echo: z.unknown().optional() }),
  }),
  "notion.push": spec({
    description: "Creates or updates the Notion page of a task, ticket, SOP or daily digest (never a duplicate page).",
    payload: notionPushPayload,
    timeoutMs: 70_000, // was 180 s
  }),
  "notion.pull": spec({
    description: "Applies human edits from Notion: the whole data source since the watermark, or one page ({page_id}).",
    payload: z.strictObject({ page_id: z.string().min(1).max(100).optional() }),
    timeoutMs: 70_000, // was 150 s; the pull stops itself at its budget and resumes from the watermark
  }),
  "webhook.deliver": spec({
    description: "POSTs one outbound webhook delivery, signed (HMAC-SHA256 over timestamp.body); retried with backoff.",
    payload: z.strictObject({ delivery_id: positiveId }),
    timeoutMs: 20_000,
  }),
  "maintenance.reap": spec({
    description: "Returns tasks whose lease expired to the queue (or to dead at their last attempt).",
    payload: z.strictObject({}),
    timeoutMs: 30_000,
  }),
  "maintenance.prune": spec({
    description:
      "Deletes finished tasks, logs, schedule runs, finished workflow runs, routed events, pg_cron run history and pg_net responses past their " +
      "retention (orchestrator.settings retention.*; defaults 14, 30, 30, 30, 30, 7 days and 6 hours). Payload fields override the settings for one run.",
    payload: z.strictObject({
      tasks_days: retentionDays,
      logs_days: retentionDays,
      schedule_runs_days: retentionDays,
      workflow_runs_days: retentionDays,
      cron_runs_days: retentionDays,
      events_days: retentionDays,
      http_responses_hours: z.number().int().min(1).max(876_000).optional(),
    }),
    timeoutMs: 60_000, // was 120 s
  }),
  "ai.run": spec({
    description: "Runs one OpenAI-compatible chat completion; `response_schema` asks for JSON and checks it. Result: { text | json, usage, model }.",
    payload: aiRunPayload,
    timeoutMs: 70_000, // was 180 s
  }),
  "sop.generate": spec({
    description: "Writes the next version of an SOP (AI provider, or the template without one) from a ticket, events and tasks; stores it in orchestrator.sops.",
    payload: generateSopSchema,
    timeoutMs: 70_000, // was 240 s
  }),
  "maintenance.digest": spec({
    description: "Yesterday's digest (tasks by type and status, top failing types, top open tickets): logged, returned, kept, and sent to digest.daily webhook subscribers and to Notion where the sync is enabled.",
    payload: z.strictObject({
      /** The UTC day to digest (default: yesterday). */
      day: z.iso.date().optional(),
      /** false: log and return only. */
      send: z.boolean().optional().default(true),
      top_n: z.number().int().min(1).max(50).optional(),
    }),
    timeoutMs: 60_000,
  }),
  "workflow.start": spec({
    description: "Starts a workflow run: {workflow, input, dedupe_key?}. Lets event rules and triggers start workflows.",
    payload: z.strictObject({
      workflow: z.string().regex(WORKFLOW_NAME, "not a workflow name"),
      input: z.record(z.string(), z.unknown()).optional().default({}),
      dedupe_key: z.string().min(1).max(200).optional(),
    }),
    timeoutMs: 30_000,
  }),
  "workflow.wake": spec({
    description: "Wakes a waiting workflow step: a sleep's end, a wait's timeout, or an event that may match it (20261202001300_workflow_graphs.sql).",
    payload: z.strictObject({
      run_id: positiveId,
      step_index: z.number().int().min(0).max(199),
      reason: z.enum(["sleep", "timeout", "event"]),
    }),
    timeoutMs: 30_000,
  }),
  "incident.gather": spec({
    description: "incident-sop step 1: checks the ticket, collects its events, and prepares the sop.generate and notion.push inputs.",
    payload: z.strictObject({
      ticket_id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
      topic: z.string().trim().min(1).max(500).optional(),
      audience: z.string().trim().min(1).max(200).optional(),
    }),
    timeoutMs: 30_000,
    result: z.object({
      ticket: z.object({ id: z.number(), title: z.string(), status: z.string().nullable(), priority: z.string().nullable(), source: z.string().nullable() }),
      event_ids: z.array(z.number()),
      sop_request: z.record(z.string(), z.unknown()).nullable(),
      notion_request: z.record(z.string(), z.unknown()).nullable(),
    }),
  }),
  "incident.evidence": spec({
    description: "incident-sop: one app's warnings and errors around a ticket's time (KniSoci or Candyland), as event ids and text for sop.generate's context.",
    payload: z.strictObject({
      ticket_id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
      app: z.enum(["knisoci", "candyland"]),
    }),
    timeoutMs: 30_000,
    result: z.object({ app: z.enum(["knisoci", "candyland"]), event_ids: z.array(z.number()), count: z.number(), text: z.string() }),
  }),
  notify: spec({
    description: "Writes a notification to the logs and sends it to webhook subscribers of its event (where outbound webhooks exist).",
    payload: z.strictObject({
      event: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,99}$/, "an event name is lowercase words joined by . _ -"),
      subject: z.string().min(1).max(500),
      message: z.string().max(20_000).optional(),
      data: z.record(z.string(), z.unknown()).optional().default({}),
    }),
    timeoutMs: 30_000,
  }),
};

/**
 * test.chaos (tasks/test-chaos.ts): only with ORCHESTRATOR_TEST_TASKS=1 (the fault suite's stacks); never in a
 * deployment, where POST /tasks answers 400 "Unknown task type".
 */
export const testChaosSpec = spec({
  description: "Test only (ORCHESTRATOR_TEST_TASKS=1): misbehaves as `mode` says, for the fault suite.",
  payload: z.strictObject({
    mode: z.enum(CHAOS_MODES),
    ms: z.number().int().min(0).max(600_000).optional(),
    /** alloc: how many MB to hold. */
    mb: z.number().int().min(1).max(4_096).optional(),
    succeed_on_attempt: z.number().int().min(1).max(100).optional(),
    /** The producer's sequence number, so a test can find its own tasks. */
    seq: z.number().int().optional(),
  }),
  // `hang` and long `sleep`s end here; a fault that sleeps past the plan's wall clock raises it.
  timeoutMs: envInt("TEST_CHAOS_TIMEOUT_MS", 2_000),
});

export type TaskCatalog = typeof catalog;
export type CatalogTaskName = keyof TaskCatalog;

/** The catalog as this deployment has it (test.chaos added only with ORCHESTRATOR_TEST_TASKS=1). */
export const taskCatalog: Readonly<Record<string, TaskSpec>> = {
  ...catalog,
  ...(env("ORCHESTRATOR_TEST_TASKS") === "1" ? { "test.chaos": testChaosSpec } : {}),
};

/** One catalog entry with its payload type, for the handler modules. */
export const catalogSpec = <N extends CatalogTaskName>(name: N): TaskCatalog[N] => catalog[name];

export function taskSpec(name: string): TaskSpec | undefined {
  return Object.hasOwn(taskCatalog, name) ? taskCatalog[name] : undefined;
}

export const knownTaskTypes = (): string[] => Object.keys(taskCatalog);
