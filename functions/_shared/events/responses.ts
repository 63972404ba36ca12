// The answers of /tickets and /rules as zod schemas (see ../responses.ts): tickets.ts and rules.ts are
// typed by them, the dashboard reads them with `import type`. Zod only.
import { z } from "zod";
import { timestamp } from "../responses.ts";

/**
 * notion_url: the ticket's page in Notion once the sync has pushed it (https://www.notion.so/<page id>),
 * else null. The one field a client reads for the link (../notion-url.ts).
 */
export const ticketSchema = z.object({
  id: z.number(),
  title: z.string(),
  description: z.string().nullable(),
  status: z.string(),
  priority: z.string(),
  source: z.string(),
  fingerprint: z.string().nullable(),
  occurrences: z.number(),
  first_seen: timestamp,
  last_seen: timestamp,
  first_event_id: z.number().nullable(),
  last_event_id: z.number().nullable(),
  task_id: z.number().nullable(),
  reopened_count: z.number(),
  reopened_at: timestamp.nullable(),
  resolved_at: timestamp.nullable(),
  closed_at: timestamp.nullable(),
  created_at: timestamp,
  updated_at: timestamp,
  /** The W3C trace it was opened under (the request's, or the event's that opened it). */
  trace_id: z.string().nullable(),
  notion_url: z.string().nullable(),
});
export type Ticket = z.infer<typeof ticketSchema>;

/** GET /tickets. */
export const ticketPageSchema = z.object({ tickets: z.array(ticketSchema), next_cursor: z.string().nullable() });

/** GET /tickets/:id: the ticket, its 20 latest events, and the task that opened it. */
export const ticketDetailSchema = ticketSchema.extend({
  recent_events: z.array(z.object({
    id: z.number(),
    source: z.string(),
    type: z.string(),
    level: z.string(),
    message: z.string(),
    occurred_at: timestamp,
  })),
  task: z.object({
    id: z.number(),
    type: z.string(),
    status: z.string(),
    attempts: z.number(),
    last_error: z.string().nullable(),
    finished_at: timestamp.nullable(),
  }).nullable(),
});
export type TicketDetail = z.infer<typeof ticketDetailSchema>;

export const ruleSchema = z.object({
  id: z.number(),
  name: z.string(),
  description: z.string().nullable(),
  enabled: z.boolean(),
  source: z.string().nullable(),
  type: z.string(),
  min_level: z.string().nullable(),
  match: z.record(z.string(), z.unknown()),
  task_type: z.string(),
  payload_template: z.record(z.string(), z.unknown()),
  priority: z.number(),
  dedupe_key: z.string().nullable(),
  max_attempts: z.number().nullable(),
  created_at: timestamp,
  updated_at: timestamp,
});
export type Rule = z.infer<typeof ruleSchema>;

/** GET /rules: every rule at once (no pages). */
export const ruleListSchema = z.object({ rules: z.array(ruleSchema) });
