// What the /notion endpoints do: enable/disable the sync, status, and Notion's
// integration webhooks (verification handshake, signature check, targeted pulls).
import { verifyWebhookSignature } from "@notionhq/client";
import { z } from "zod";
import { db, tableExists } from "../db.ts";
import { notionSettings } from "../env.ts";
import { AppError, badRequest, PermanentTaskError, unauthorized } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { readRawBody as readBoundedBody } from "../http.ts";
import { normaliseId, notionContext } from "./context.ts";

const TASK_TYPE = /^[a-z][a-z0-9_.:-]{0,63}$/;

export const enableSchema = z.strictObject({
  /** Task types whose tasks appear in Notion (replaces the list when given). */
  track_task_types: z.array(z.string().regex(TASK_TYPE, "not a task type").refine((t) => !/^(notion|webhook)\./.test(t), "the sync's own task types cannot be tracked")).max(100).optional(),
  /** Push every existing ticket and SOP (and recent tracked tasks and the last week's digests) now. */
  backfill: z.boolean().optional().default(false),
});
export type EnableInput = z.infer<typeof enableSchema>;

function configuredDatabaseId(): string {
  const id = notionSettings.databaseId;
  if (!notionSettings.apiKey || !id) {
    throw new AppError(409, "notion_not_configured",
      `Notion sync is not configured: set ${[!notionSettings.apiKey && "NOTION_API_KEY", !id && "NOTION_DATABASE_ID"].filter(Boolean).join(" and ")} as function secrets first.`);
  }
  return normaliseId(id);
}

/** Validates the configuration against Notion (now), then turns the sync on. */
export async function enableSync(input: EnableInput, log: Logger) {
  const databaseId = configuredDatabaseId();
  let ctx;
  try {
    ctx = await notionContext(log, { revalidate: true });
  } catch (err) {
    if (err instanceof PermanentTaskError) throw new AppError(422, "notion_config_invalid", err.message);
    throw new AppError(502, "notion_unreachable", (err as Error).message);
  }
  const sql = db();
  const attached = await sql.begin(async (tx) => {
    await tx`update orchestrator.sync_state set enabled = true, updated_at = now() where database_id = ${databaseId}`;
    if (input.track_task_types) {
      await tx`delete from orchestrator.notion_tracked_task_types where type <> all(${input.track_task_types}::text[])`;
      if (input.track_task_types.length) {
        await tx`insert into orchestrator.notion_tracked_task_types (type) select unnest(${input.track_task_types}::text[]) on conflict do nothing`;
      }
    }
    const [{ done }] = await tx<{ done: string[] }[]>`select orchestrator.sync_attach_known_tables() as done`;
    return done;
  });
  let backfilled = 0;
  if (input.backfill) backfilled = await backfill();
  const [{ pull }] = await sql<{ pull: number | null }[]>`select orchestrator.notion_cron_tick() as pull`;
  const tracked = (await sql<{ type: string }[]>`select type from orchestrator.notion_tracked_task_types order by type`).map((r) => r.type);
  log.info(`Notion sync enabled for database ${databaseId}`, { data_source_id: ctx.dataSourceId, tracked_task_types: tracked, backfilled });
  return {
    enabled: true,
    database_id: databaseId,
    data_source_id: ctx.dataSourceId,
    properties: ctx.mapping,
    tracked_task_types: tracked,
    attached_tables: attached,
    backfill_pushes_enqueued: backfilled,
    pull_task_id: pull,
  };
}

async function backfill(): Promise<number> {
  const sql = db();
  let n = 0;
  const [{ tasks }] = await sql<{ tasks: number }[]>`
    select orchestrator.notion_enqueue_pushes('task', coalesce(array_agg(id::text), '{}')) as tasks
    from orchestrator.tasks
    where type in (select type from orchestrator.notion_tracked_task_types)
      and (status in ('queued', 'running') or finished_at > now() - interval '7 days')`;
  n += tasks;
  for (const [entity, table, key] of [["ticket", "orchestrator.tickets", "id"], ["sop", "orchestrator.sops", "slug"]] as const) {
    if (!(await tableExists(sql, table))) continue;
    const [{ c }] = await sql.unsafe<{ c: number }[]>(
      `select orchestrator.notion_enqueue_pushes($1, coalesce(array_agg(distinct ${key}::text), '{}')) as c from ${table}`, [entity]);
    n += c;
  }
  if (await tableExists(sql, "orchestrator.digests")) {
    const [{ digests }] = await sql<{ digests: number }[]>`
      select orchestrator.notion_enqueue_pushes('digest', coalesce(array_agg(day::text), '{}')) as digests
      from orchestrator.digests where day >= current_date - 7`;
    n += digests;
  }
  return n;
}

export async function disableSync(log: Logger) {
  const databaseId = configuredDatabaseId();
  const rows = await db()`update orchestrator.sync_state set enabled = false, updated_at = now() where database_id = ${databaseId} returning 1`;
  log.info(`Notion sync disabled for database ${databaseId}`);
  return { enabled: false, database_id: databaseId, changed: rows.length > 0 };
}

export async function requestPull(pageId: string | undefined, source: string) {
  configuredDatabaseId();
  const sql = db();
  const payload = pageId ? { page_id: normaliseId(pageId) } : {};
  const key = pageId ? `notion.pull:page:${normaliseId(pageId)}` : "notion.pull:manual";
  const [row] = await sql<{ id: number; created: boolean }[]>`
    select (r.task).id, r.created from orchestrator.enqueue('notion.pull', ${sql.json(payload)},
      ${sql.json({ dedupe_key: key, source, max_attempts: 3 })}) r`;
  return { task_id: row.id, created: row.created };
}

/** GET /notion/status: configuration, last push/pull, watermark, pages mapped, errors in the last hour. */
export async function syncStatus() {
  const sql = db();
  const configured = !!notionSettings.apiKey && !!notionSettings.databaseId;
  const databaseId = notionSettings.databaseId ? normaliseId(notionSettings.databaseId) : null;
  const [state] = databaseId
    ? await sql`
        select enabled, data_source_id, bot_user_id is not null as bot_known, properties, config_error, config_checked_at,
               watermark, last_pull_at, last_pull_status, last_pull_error, last_pull_stats, webhook_token_received_at,
               pull_locked_until > now() as pull_running
        from orchestrator.sync_state where database_id = ${databaseId}`
    : [];
  const [pages] = await sql`
    select count(*) filter (where page_id is not null)::int as mapped,
           count(*) filter (where page_id is null)::int as pending,
           count(*) filter (where last_error is not null)::int as with_errors,
           max(pushed_at) as last_push_at
    from orchestrator.notion_pages where ${databaseId}::text is null or database_id = ${databaseId} or database_id is null`;
  const [lastPushError] = await sql`
    select orchestrator_id, last_error, last_error_at from orchestrator.notion_pages
    where last_error is not null and (${databaseId}::text is null or database_id = ${databaseId})
    order by last_error_at desc nulls last limit 1`;
  const [queue] = await sql`
    select count(*) filter (where type = 'notion.push' and status = 'queued')::int as push_queued,
           count(*) filter (where type = 'notion.push' and status = 'running')::int as push_running,
           count(*) filter (where type = 'notion.pull' and status in ('queued', 'running'))::int as pull_pending,
           count(*) filter (where status = 'dead' and finished_at > now() - interval '1 hour')::int as dead_last_hour
    from orchestrator.tasks where type in ('notion.push', 'notion.pull')
      and (status in ('queued', 'running') or finished_at > now() - interval '1 hour')`;
  const recentErrors = await sql<{ at: Date; level: string; message: string; task_id: number | null }[]>`
    select at, level::text, message, task_id from orchestrator.logs
    where at > now() - interval '1 hour' and level >= 'error' and component = 'notion-sync'
    order by id desc limit 10`;
  const [{ errors }] = await sql<{ errors: number }[]>`
    select count(*)::int as errors from orchestrator.logs
    where at > now() - interval '1 hour' and level >= 'error' and component = 'notion-sync'`;
  const deadTasks = await sql<{ id: number; type: string; last_error: string | null; finished_at: Date }[]>`
    select id, type, last_error, finished_at from orchestrator.tasks
    where type in ('notion.push', 'notion.pull') and status = 'dead' and finished_at > now() - interval '1 hour'
    order by finished_at desc limit 5`;
  const [{ conflicts }] = await sql<{ conflicts: number }[]>`
    select count(*)::int as conflicts from orchestrator.logs
    where at > now() - interval '1 hour' and component = 'notion-sync' and message like 'sync conflict on %'`;
  const tracked = (await sql<{ type: string }[]>`select type from orchestrator.notion_tracked_task_types order by type`).map((r) => r.type);
  const s = state as Record<string, unknown> | undefined;
  const problems = [
    !notionSettings.apiKey && "NOTION_API_KEY is not set",
    !notionSettings.databaseId && "NOTION_DATABASE_ID is not set",
    s?.config_error as string | undefined,
  ].filter(Boolean) as string[];
  return {
    configured,
    enabled: !!s?.enabled,
    ok: configured && !!s?.enabled && !s?.config_error && s?.last_pull_status !== "error" && errors === 0 && deadTasks.length === 0,
    problems,
    database_id: databaseId,
    data_source_id: s?.data_source_id ?? null,
    properties: s?.properties ?? null,
    config_checked_at: s?.config_checked_at ?? null,
    webhook: { secret_set: !!notionSettings.webhookSecret, verification_token_received_at: s?.webhook_token_received_at ?? null },
    tracked_task_types: tracked,
    last_push: { at: pages.last_push_at ?? null, error: lastPushError ?? null },
    last_pull: {
      at: s?.last_pull_at ?? null, status: s?.last_pull_status ?? null, error: s?.last_pull_error ?? null,
      stats: s?.last_pull_stats ?? null, running: !!s?.pull_running,
    },
    watermark: s?.watermark ?? null,
    pages_mapped: pages.mapped,
    pages_pending: pages.pending,
    queue,
    last_hour: {
      errors,
      conflicts,
      dead_tasks: deadTasks,
      recent_errors: recentErrors,
    },
  };
}

// ---- Notion integration webhooks ---------------------------------------------------

const webhookEventSchema = z.object({
  id: z.string().optional(),
  type: z.string().min(1).max(100),
  timestamp: z.string().optional(),
  entity: z.object({ id: z.string().min(1).max(100), type: z.string().min(1).max(50) }).optional(),
  authors: z.array(z.object({ id: z.string(), type: z.string().optional() })).optional(),
  data: z.record(z.string(), z.unknown()).optional(),
}).passthrough();

/** The verification token arrives once, unsigned; it is kept in Vault for the operator to copy into Notion. */
async function storeVerificationToken(token: string, log: Logger): Promise<void> {
  const databaseId = notionSettings.databaseId ? normaliseId(notionSettings.databaseId) : null;
  try {
    await db()`select orchestrator.store_notion_verification_token(${token}, ${databaseId})`;
  } catch (err) {
    log.error(`could not store the Notion verification token in Vault: ${(err as Error).message}`);
    throw err;
  }
}

export interface WebhookOutcome {
  status: number;
  body: Record<string, unknown>;
}

export async function handleNotionWebhook(raw: Uint8Array, signature: string | null, log: Logger): Promise<WebhookOutcome> {
  const text = new TextDecoder().decode(raw);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw badRequest(`Body is not valid JSON: ${(err as Error).message}`);
  }
  const slog = log.child({ component: "notion-sync" });
  // 1. The verification handshake: {"verification_token": "..."} once, when the subscription is created.
  const token = (body as { verification_token?: unknown })?.verification_token;
  if (typeof token === "string" && Object.keys(body as object).length === 1) {
    if (token.length < 8 || token.length > 500) throw badRequest("verification_token has an unexpected length");
    await storeVerificationToken(token, slog);
    slog.info("Notion webhook verification token received and stored in Vault as notion_webhook_verification_token");
    return { status: 200, body: { verification: "received", next: "Copy the token from Vault (notion_webhook_verification_token) into Notion's Verify dialog and set NOTION_WEBHOOK_SECRET to it." } };
  }
  // 2. Events: signed with the verification token.
  const secret = notionSettings.webhookSecret;
  if (!secret) {
    slog.error("Notion webhook event rejected: NOTION_WEBHOOK_SECRET is not set, so its signature cannot be checked");
    throw new AppError(503, "webhook_not_configured", "NOTION_WEBHOOK_SECRET is not set: events cannot be verified. Set it to the verification token.");
  }
  if (!signature) throw unauthorized("Missing X-Notion-Signature header.");
  const valid = await verifyWebhookSignature({ body: raw, signature, verificationToken: secret });
  if (!valid) {
    slog.warn("Notion webhook event rejected: bad X-Notion-Signature");
    throw unauthorized("Invalid X-Notion-Signature: the body was not signed with this integration's verification token.");
  }
  const parsed = webhookEventSchema.safeParse(body);
  if (!parsed.success) throw badRequest(`Not a Notion webhook event: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const event = parsed.data;
  const sql = db();
  const databaseId = notionSettings.databaseId ? normaliseId(notionSettings.databaseId) : undefined;
  const [state] = databaseId
    ? await sql<{ bot_user_id: string | null; enabled: boolean }[]>`select bot_user_id, enabled from orchestrator.sync_state where database_id = ${databaseId}`
    : [];
  if (event.type.startsWith("data_source.") || event.type.startsWith("database.")) {
    // A schema change: validate the mapping again before the next sync.
    if (event.type.endsWith("schema_updated") && databaseId) {
      await sql`update orchestrator.sync_state set config_checked_at = null, updated_at = now() where database_id = ${databaseId}`;
    }
    return { status: 200, body: { accepted: true, action: "schema check scheduled", event: event.type } };
  }
  if (!event.type.startsWith("page.") || event.entity?.type !== "page") {
    return { status: 200, body: { accepted: true, action: "ignored", event: event.type } };
  }
  if (!state?.enabled) return { status: 200, body: { accepted: true, action: "ignored (sync disabled)", event: event.type } };
  const authors = event.authors ?? [];
  if (state.bot_user_id && authors.length > 0 && authors.every((a) => a.id === state.bot_user_id)) {
    return { status: 200, body: { accepted: true, action: "ignored (our own edit)", event: event.type } };
  }
  const { task_id, created } = await requestPull(event.entity.id, "notion-webhook");
  slog.info(`Notion ${event.type} for page ${event.entity.id}: targeted pull ${created ? "enqueued" : "already queued"}`, { task_id });
  // Notion expects a 200 for every delivery it should not retry.
  return { status: 200, body: { accepted: true, action: "pull enqueued", task_id, event: event.type } };
}

/** The raw body (signatures are over the exact bytes), at most maxBytes. */
export function readRawBody(req: Request, maxBytes = 256 * 1024): Promise<Uint8Array> {
  return readBoundedBody(req, maxBytes);
}
