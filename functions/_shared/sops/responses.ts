// The answers of /sops as zod schemas (see ../responses.ts): service.ts is typed by them, the dashboard
// reads them with `import type`. Zod only.
import { z } from "zod";
import { timestamp } from "../responses.ts";
import { sopContentSchema } from "./schema.ts";

/** A version without its content (GET /sops lists these). notion_url: its Notion page once synced, else null. */
export const sopSummarySchema = z.object({
  id: z.number(),
  slug: z.string(),
  version: z.number(),
  title: z.string(),
  topic: z.string(),
  audience: z.string().nullable(),
  generator: z.string(),
  source_task_id: z.number().nullable(),
  ticket_ids: z.array(z.number()),
  event_ids: z.array(z.number()),
  task_ids: z.array(z.number()),
  /** The model's token counts, when a model wrote it. */
  usage: z.unknown(),
  created_at: timestamp,
  notion_url: z.string().nullable(),
});

/** GET /sops: newest first. */
export const sopPageSchema = z.object({ sops: z.array(sopSummarySchema), next_cursor: z.string().nullable() });
export type SopPage = z.infer<typeof sopPageSchema>;

/** GET /sops/:slug (format=json): one version, with its structured content and its Markdown. */
export const sopSchema = sopSummarySchema.extend({ content: sopContentSchema, body_md: z.string() });
export type Sop = z.infer<typeof sopSchema>;
