// sop.generate, the work itself: gather -> write (AI provider, or the template
// when it is not usable: writer.ts) -> validate -> render Markdown -> store the next version ->
// hand it to Notion sync when that is configured and available.
import type { Sql } from "../db.ts";
import { env } from "../env.ts";
import { gatherSopContext } from "./context.ts";
import { renderSopMarkdown } from "./markdown.ts";
import { type GenerateSopInput, slugify } from "./schema.ts";
import { insertSop } from "./store.ts";
import { writeSop, type WriterDeps } from "./writer.ts";

export interface NotionOutcome {
  status: "enqueued" | "not_available" | "skipped";
  task_id?: number;
  reason?: string;
}

/** The writer's inputs (ai, aiConfig, attempt, log, signal: see writer.ts), and where to store. */
export interface GenerateDeps extends WriterDeps {
  sql: Sql;
  taskId?: number;
  /** Looks a task type up in the catalog (task-catalog.ts; tests pass their own). */
  taskType?: (name: string) => { payload: { safeParse(v: unknown): { success: boolean; error?: { issues: { message: string }[] } } } } | undefined;
}

export function notionConfigured(): boolean {
  return !!env("NOTION_API_KEY") && !!env("NOTION_DATABASE_ID");
}

async function requestNotionSync(input: GenerateSopInput, sopId: number, slug: string, deps: GenerateDeps): Promise<NotionOutcome> {
  if (input.notion === false) return { status: "skipped", reason: "notion: false in the request" };
  if (!notionConfigured()) {
    return input.notion
      ? { status: "not_available", reason: "Notion sync is not configured (set NOTION_API_KEY and NOTION_DATABASE_ID)" }
      : { status: "skipped", reason: "Notion sync is not configured" };
  }
  const def = deps.taskType?.("notion.push");
  if (!def) return { status: "not_available", reason: "this deployment has no notion.push task type registered" };
  const payload = { kind: "sop", id: sopId };
  const checked = def.payload.safeParse(payload);
  if (!checked.success) {
    return { status: "not_available", reason: `notion.push does not take SOPs: ${checked.error?.issues.map((i) => i.message).join("; ")}` };
  }
  // The same dedupe key as the Notion sync's own triggers use for an SOP slug: a push
  // already queued for this slug (say, by the insert trigger) covers this version too.
  const opts = { source: "sop.generate", dedupe_key: `notion.push:sop:${slug}`, ...(deps.taskId ? { parent_id: deps.taskId } : {}) };
  const [row] = await deps.sql<{ id: number; created: boolean }[]>`
    select (r.task).id, r.created from orchestrator.enqueue('notion.push', ${deps.sql.json(payload)}, ${deps.sql.json(opts)}) r`;
  return { status: "enqueued", task_id: row.id, ...(row.created ? {} : { reason: "a push for this SOP was already queued" }) };
}

export async function generateSop(input: GenerateSopInput, deps: GenerateDeps) {
  const ctx = await gatherSopContext(input, deps.sql);
  const sources = {
    ticket_ids: ctx.ticket ? [ctx.ticket.id] : [],
    event_ids: ctx.events.map((e) => e.id),
    task_ids: ctx.tasks.map((t) => t.id),
  };
  const missing = ctx.missing.ticket_id !== undefined || ctx.missing.event_ids.length || ctx.missing.task_ids.length;
  if (missing) deps.log.warn("some linked records do not exist; writing the SOP without them", { missing: ctx.missing });

  const { content, generator, usage, ai_fallback } = await writeSop(ctx, deps);

  const slug = input.slug ?? slugify(input.topic);
  const body_md = renderSopMarkdown(content, { slug, generator });
  const { sop, created } = await insertSop(deps.sql, {
    slug,
    content,
    body_md,
    generator,
    topic: input.topic,
    audience: input.audience,
    source_task_id: deps.taskId,
    ...sources,
    usage,
  });
  if (created) deps.log.info(`SOP ${sop.slug} version ${sop.version} stored`, { sop_id: sop.id, generator: sop.generator, steps: content.steps.length });
  else deps.log.info(`SOP ${sop.slug} version ${sop.version} was already stored by this task`, { sop_id: sop.id });

  const notion = await requestNotionSync(input, sop.id, sop.slug, deps);
  if (notion.status === "not_available") deps.log.warn(`Notion sync not available: ${notion.reason}`, { sop_id: sop.id });

  return {
    sop: { id: sop.id, slug: sop.slug, version: sop.version, title: sop.title },
    created,
    generator: sop.generator,
    ...(sop.usage ? { usage: sop.usage } : {}),
    sources,
    ...(ai_fallback ? { ai_fallback } : {}),
    ...(missing ? { missing: ctx.missing } : {}),
    omitted: ctx.omitted,
    notion,
  };
}
