// Request schemas for /events, /rules and /tickets (zod): one definition, used by
// the functions and the tests.
import { z } from "zod";
import { templateIssues } from "./template.ts";

export const LEVELS = ["debug", "info", "warn", "error", "fatal"] as const;
/** Level words senders may use; orchestrator.to_level maps them (warning -> warn, critical -> fatal…). */
export const LEVEL_WORDS = [
  ...LEVELS, "trace", "verbose", "information", "notice", "log", "warning", "err", "critical", "crit", "alert", "emerg", "emergency", "panic",
] as const;
export const TICKET_STATUSES = ["open", "in_progress", "resolved", "closed"] as const;
export const TICKET_PRIORITIES = ["low", "normal", "high", "urgent"] as const;

export const SOURCE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
export const EVENT_TYPE = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$/;
const TASK_TYPE = /^[a-z][a-z0-9_.:-]{0,63}$/;
export const MAX_BATCH = 500;
export const MAX_EVENT_PAYLOAD_BYTES = 64 * 1024;
const MAX_DEPTH = 20;

function depth(value: unknown, d = 0): number {
  if (d > MAX_DEPTH || value === null || typeof value !== "object") return d;
  let max = d;
  for (const v of Object.values(value as Record<string, unknown>)) max = Math.max(max, depth(v, d + 1));
  return max;
}

const jsonObject = z.record(z.string(), z.unknown());
const eventPayload = jsonObject
  .refine((p) => new TextEncoder().encode(JSON.stringify(p)).byteLength <= MAX_EVENT_PAYLOAD_BYTES, {
    message: `payload is over ${MAX_EVENT_PAYLOAD_BYTES / 1024} KiB`,
  })
  .refine((p) => depth(p) <= MAX_DEPTH, { message: `payload is nested deeper than ${MAX_DEPTH} levels` });
const levelWord = z.string().refine((s) => (LEVEL_WORDS as readonly string[]).includes(s.trim().toLowerCase()), {
  message: `unknown level; use ${LEVELS.join(", ")} (or warning, critical, …)`,
});
const isoDate = z.iso.datetime({ offset: true });

export const sourceSchema = z.string().regex(SOURCE, "a source is 1-64 of a-z 0-9 _ . - (lowercase), starting with a letter or digit");
export const eventTypeSchema = z.string().regex(EVENT_TYPE, "an event type is 1-100 of letters, digits, _ . : / -");

export const eventInputSchema = z.strictObject({
  source: sourceSchema,
  type: eventTypeSchema,
  level: levelWord.optional(),
  message: z.string().max(10_000).nullable().optional(),
  payload: eventPayload.optional(),
  occurred_at: isoDate.optional(),
  /** The sender's id for this event: sending it again is harmless (it is stored once per source). */
  id: z.string().min(1).max(200).optional(),
});
export type EventInput = z.infer<typeof eventInputSchema>;

export const eventBatchSchema = z.array(eventInputSchema).min(1, "a batch holds at least one event").max(MAX_BATCH);

/** Supabase database webhook payload (dashboard "Database Webhooks"). Extra keys are ignored. */
export const webhookBodySchema = z.object({
  type: z.enum(["INSERT", "UPDATE", "DELETE"]),
  table: z.string().min(1).max(63),
  schema: z.string().min(1).max(63),
  record: jsonObject.nullable(),
  old_record: jsonObject.nullable().optional(),
});
export type WebhookBody = z.infer<typeof webhookBodySchema>;

export const webhookQuery = z.strictObject({
  source: sourceSchema.optional(),
  type: eventTypeSchema.optional(),
  level: levelWord.optional(),
});
export type WebhookQuery = z.infer<typeof webhookQuery>;

const limit = (max: number, def: number) => z.coerce.number().int().min(1).max(max).default(def);
const cursor = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, "not a cursor returned by this API").optional();
const positiveId = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);
export const idParam = positiveId;

export const listEventsQuery = z.strictObject({
  source: sourceSchema.optional(),
  /** Exact, or a glob with * and ?. */
  type: z.string().regex(/^[A-Za-z0-9_.:/*?-]{1,100}$/, "an event type or a glob (* and ?)").optional(),
  /** This level and above. */
  level: z.enum(LEVELS).optional(),
  since: isoDate.optional(),
  until: isoDate.optional(),
  fingerprint: z.string().regex(/^[0-9a-f]{32}$/, "a fingerprint is 32 hex characters").optional(),
  ticket_id: positiveId.optional(),
  limit: limit(500, 50),
  cursor,
});
export type ListEventsQuery = z.infer<typeof listEventsQuery>;

// ---------------------------------------------------------------- rules

const glob = (re: RegExp, what: string) => z.string().regex(re, what);
const ruleFields = {
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,79}$/, "a rule name is 1-80 of letters, digits, space, _ . : -"),
  description: z.string().max(2000).nullable(),
  enabled: z.boolean(),
  source: glob(/^[a-z0-9*?][a-z0-9_.*?-]{0,63}$/, "a source or a glob of one (* and ?), lowercase").nullable(),
  type: glob(/^[A-Za-z0-9_.:/*?-]{1,100}$/, "an event type or a glob of one (* and ?)"),
  min_level: z.enum(LEVELS).nullable(),
  match: jsonObject,
  task_type: z.string().regex(TASK_TYPE, "a task type is a lowercase letter then up to 63 of a-z 0-9 _ . : -"),
  payload_template: jsonObject,
  priority: z.number().int().min(-1000).max(1000),
  dedupe_key: z.string().min(1).max(200).nullable(),
  max_attempts: z.number().int().min(1).max(100).nullable(),
};

function checkTemplates(rule: { payload_template?: unknown; dedupe_key?: string | null }, ctx: z.RefinementCtx): void {
  for (const issue of templateIssues(rule.payload_template ?? {}, ["payload_template"])) {
    ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
  }
  if (rule.dedupe_key) {
    for (const issue of templateIssues(rule.dedupe_key, ["dedupe_key"])) ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
  }
}

export const createRuleSchema = z.strictObject({
  name: ruleFields.name,
  description: ruleFields.description.optional(),
  enabled: ruleFields.enabled.default(true),
  source: ruleFields.source.default(null),
  type: ruleFields.type.default("*"),
  min_level: ruleFields.min_level.default(null),
  match: ruleFields.match.default({}),
  task_type: ruleFields.task_type,
  payload_template: ruleFields.payload_template.default({}),
  priority: ruleFields.priority.default(0),
  dedupe_key: ruleFields.dedupe_key.default(null),
  max_attempts: ruleFields.max_attempts.default(null),
}).superRefine(checkTemplates);
export type CreateRuleInput = z.infer<typeof createRuleSchema>;

export const patchRuleSchema = z.strictObject({
  name: ruleFields.name.optional(),
  description: ruleFields.description.optional(),
  enabled: ruleFields.enabled.optional(),
  source: ruleFields.source.optional(),
  type: ruleFields.type.optional(),
  min_level: ruleFields.min_level.optional(),
  match: ruleFields.match.optional(),
  task_type: ruleFields.task_type.optional(),
  payload_template: ruleFields.payload_template.optional(),
  priority: ruleFields.priority.optional(),
  dedupe_key: ruleFields.dedupe_key.optional(),
  max_attempts: ruleFields.max_attempts.optional(),
}).superRefine((rule, ctx) => {
  if (Object.keys(rule).length === 0) ctx.addIssue({ code: "custom", message: "nothing to change: send at least one field" });
  checkTemplates(rule, ctx);
});
export type PatchRuleInput = z.infer<typeof patchRuleSchema>;

export const listRulesQuery = z.strictObject({
  enabled: z.enum(["true", "false"]).transform((v) => v === "true").optional(),
  task_type: z.string().regex(TASK_TYPE).optional(),
});
export type ListRulesQuery = z.infer<typeof listRulesQuery>;

// ---------------------------------------------------------------- tickets

const commaList = <T extends readonly string[]>(values: T, what: string) =>
  z.string().optional().transform((s, ctx) => {
    if (!s) return undefined;
    const list = s.split(",").map((x) => x.trim());
    const bad = list.filter((x) => !(values as readonly string[]).includes(x));
    if (bad.length) {
      ctx.addIssue({ code: "custom", message: `unknown ${what} ${bad.join(", ")}; use ${values.join(", ")}` });
      return z.NEVER;
    }
    return list as T[number][];
  });

export const listTicketsQuery = z.strictObject({
  status: commaList(TICKET_STATUSES, "status"),
  priority: commaList(TICKET_PRIORITIES, "priority"),
  source: z.string().min(1).max(100).optional(),
  fingerprint: z.string().regex(/^[0-9a-f]{32}$/, "a fingerprint is 32 hex characters").optional(),
  q: z.string().min(1).max(200).optional(),
  limit: limit(100, 50),
  cursor,
});
export type ListTicketsQuery = z.infer<typeof listTicketsQuery>;

export const createTicketSchema = z.strictObject({
  title: z.string().trim().min(1).max(500),
  description: z.string().max(20_000).nullable().optional(),
  priority: z.enum(TICKET_PRIORITIES).default("normal"),
  source: z.string().min(1).max(100).default("api"),
});
export type CreateTicketInput = z.infer<typeof createTicketSchema>;

export const patchTicketSchema = z.strictObject({
  title: z.string().trim().min(1).max(500).optional(),
  description: z.string().max(20_000).nullable().optional(),
  status: z.enum(TICKET_STATUSES).optional(),
  priority: z.enum(TICKET_PRIORITIES).optional(),
}).refine((p) => Object.keys(p).length > 0, { message: "nothing to change: send title, description, status or priority" });
export type PatchTicketInput = z.infer<typeof patchTicketSchema>;

/** POST /events' body as eventsFromBody() reads it: one event, an array of them, or {events: [...]} (for the OpenAPI document). */
export const eventsBodySchema = z.union([eventInputSchema, eventBatchSchema, z.strictObject({ events: eventBatchSchema })]);
