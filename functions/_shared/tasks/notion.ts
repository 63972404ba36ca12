// notion.push and notion.pull task types. Without NOTION_API_KEY (or
// NOTION_DATABASE_ID) both fail at once, non-retryable, saying so.
import { db } from "../db.ts";
import { PermanentTaskError } from "../errors.ts";
import { notionContext } from "../notion/context.ts";
import { normaliseId } from "../notion/context.ts";
import { pullDataSource, pullPage, pushRow } from "../notion/sync.ts";
import { catalogSpec } from "../task-catalog.ts";
import { defineTaskType, type TaskContext } from "../task-types.ts";


async function logged<T>(ctx: TaskContext, what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    const log = ctx.log.child({ component: "notion-sync" });
    const last = ctx.task.attempts >= ctx.task.max_attempts;
    const message = `${what} failed${err instanceof PermanentTaskError ? " (not retryable)" : last ? " (last attempt)" : "; will retry"}: ${(err as Error).message}`;
    if (err instanceof PermanentTaskError || last) log.error(message, { attempt: ctx.task.attempts });
    else log.warn(message, { attempt: ctx.task.attempts });
    throw err;
  }
}

export const notionPush = defineTaskType({
  ...catalogSpec("notion.push"),
  async handle(payload, ctx) {
    return await logged(ctx, "notion.push", async () => {
      const notion = await notionContext(ctx.log, { signal: ctx.signal });
      let ent: "task" | "ticket" | "sop" | "digest";
      let key: string;
      if ("entity" in payload) {
        ent = payload.entity;
        key = payload.key;
      } else if (payload.kind === "sop") {
        const [sop] = await db()<{ slug: string }[]>`select slug from orchestrator.sops where id = ${payload.id}`;
        if (!sop) return { entity: "sop", action: "skipped", reason: `SOP ${payload.id} does not exist` };
        ent = "sop";
        key = sop.slug;
      } else {
        ent = payload.kind;
        key = String(payload.id);
      }
      const result = await pushRow(notion, ent, key);
      return { ...result, rate: { waited_ms: notion.api.stats.waitedMs, throttled: notion.api.stats.throttled } };
    });
  },
});

export const notionPull = defineTaskType({
  ...catalogSpec("notion.pull"),
  async handle(payload, ctx) {
    return await logged(ctx, "notion.pull", async () => {
      const notion = await notionContext(ctx.log, { signal: ctx.signal });
      if (payload.page_id) return await pullPage(notion, normaliseId(payload.page_id));
      return await pullDataSource(notion, { budgetMs: 50_000, signal: ctx.signal });
    });
  },
});
