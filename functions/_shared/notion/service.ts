// What the /notion endpoints do: enable (validate everything first, then turn
// the sync on, optionally re-pushing what died), disable, pull, and the status
// report. The public webhook lives in webhook.ts and verification.ts.
import { z } from "zod";
import { db } from "../db.ts";
import { notionSettings } from "../env.ts";
import { AppError, PermanentTaskError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { knownTaskTypes } from "../task-catalog.ts";
import { NotionConfigInvalid, normaliseId, notionContext } from "./context.ts";

const TASK_TYPE = /^[a-z][a-z0-9_.:-]{0,63}$/;
const ENABLE_PATH = "/functions/v1/notion/enable";

export const enableSchema = z.strictObject({
  /** Task types whose tasks appear in Notion (replaces the list when given). */
  track_task_types: z.array(z.string().regex(TASK_TYPE, "not a task type").refine((t) => !/^(notion|webhook)\./.test(t), "the sync's own task types cannot be tracked")).max(100).optional(),
  /** Push every existing ticket and SOP (and recent tracked tasks and the last week's digests) now. */
  backfill: z.boolean().optional().default(false),
  /** Queue the dead notion.push tasks again (one per row, coalesced with pushes already queued). */
  repush_dead: z.boolean().optional().default(false),
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

/**
 * A tracked type must be one this deployment runs, or one that has tasks here (a type
 * another worker owns): anything else is a typo that would silently track nothing.
 */
async function unknownTaskTypeProblems(types: readonly string[]): Promise<string[]> {
  const registered = new Set(knownTaskTypes());
  const candidates = types.filter((t) => !registered.has(t));
  if (!candidates.length) return [];
  const seen = new Set((await db()<{ type: string }[]>`
    select distinct type from orchestrator.tasks where type = any(${candidates}::text[])`).map((r) => r.type));
  return candidates.filter((t) => !seen.has(t)).map((t) =>
    `track_task_types: "${t}" is not a task type: none is registered under that name and no task of that type exists ` +
    `(registered: ${[...registered].filter((r) => !/^(notion|webhook)\./.test(r)).sort().join(", ")}).`);
}

/** Validates the request and the configuration against Notion (now), then turns the sync on. */
export async function enableSync(input: EnableInput, log: Logger) {
  const databaseId = configuredDatabaseId();
  const problems = input.track_task_types ? await unknownTaskTypeProblems(input.track_task_types) : [];
  let ctx;
  try {
    ctx = await notionContext(log, { revalidate: true, trackedTaskTypes: input.track_task_types });
  } catch (err) {
    if (err instanceof NotionConfigInvalid) problems.push(...err.problems);
    else if (err instanceof PermanentTaskError) problems.push(err.message);
    else if (!problems.length) throw new AppError(502, "notion_unreachable", `${(err as Error).message}. Nothing was enabled; try again.`);
    else problems.push(`Notion could not be reached to check the database: ${(err as Error).message}`);
  }
  if (problems.length || !ctx) {
    throw new AppError(400, "notion_config_invalid",
      `Nothing was enabled: ${problems.length} problem(s) to fix first: ${problems.map((p, i) => `(${i + 1}) ${p}`).join(" ")} ` +
        `Then call POST ${ENABLE_PATH} again (with {"repush_dead": true} to push again what died of it).`,
      { problems });
  }
  const sql = db();
  await sql.begin(async (tx) => {
    await tx`update orchestrator.sync_state set enabled = true, enabled_at = now(), updated_at = now() where database_id = ${databaseId}`;
    if (input.track_task_types) {
      await tx`delete from orchestrator.notion_tracked_task_types where type <> all(${input.track_task_types}::text[])`;
      if (input.track_task_types.length) {
        await tx`insert into orchestrator.notion_tracked_task_types (type) select unnest(${input.track_task_types}::text[]) on conflict do nothing`;
      }
    }
  });
  let backfilled = 0;
  if (input.backfill) backfilled = await backfill();
  const repush = input.repush_dead ? await repushDead(log) : null;
  const [{ pull }] = await sql<{ pull: number | null }[]>`select orchestrator.notion_cron_tick() as pull`;
  const tracked = (await sql<{ type: string }[]>`select type from orchestrator.notion_tracked_task_types order by type`).map((r) => r.type);
  log.info(`Notion sync enabled for database ${databaseId}`, { data_source_id: ctx.dataSourceId, tracked_task_types: tracked, backfilled, repush });
  return {
    enabled: true,
    database_id: databaseId,
    data_source_id: ctx.dataSourceId,
    properties: ctx.mapping,
    tracked_task_types: tracked,
    backfill_pushes_enqueued: backfilled,
    ...(repush ? { repush } : {}),
    pull_task_id: pull,
  };
}

/** Dead notion.push tasks queued again: one per row; a row with a push already queued is covered by it. */
async function repushDead(log: Logger): Promise<{ requeued: number; coalesced: number; task_ids: number[] }> {
  const [r] = await db()<{ requeued: number; coalesced: number; task_ids: number[] }[]>`
    select requeued, coalesced, task_ids from orchestrator.notion_repush_dead()`;
  log.child({ component: "notion-sync" }).info(`re-pushing dead notion.push tasks: ${r.requeued} queued again, ${r.coalesced} covered by another push`, r);
  return { requeued: r.requeued, coalesced: r.coalesced, task_ids: r.task_ids.map(Number) };
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
    const [{ c }] = await sql.unsafe<{ c: number }[]>(
      `select orchestrator.notion_enqueue_pushes($1, coalesce(array_agg(distinct ${key}::text), '{}')) as c from ${table}`, [entity]);
    n += c;
  }
  const [{ digests }] = await sql<{ digests: number }[]>`
    select orchestrator.notion_enqueue_pushes('digest', coalesce(array_agg(day::text), '{}')) as digests
    from orchestrator.digests where day >= current_date - 7`;
  n += digests;
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
               pull_locked_until > now() as pull_running, enabled_at
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
  // "ok" is judged on what happened since the sync was last enabled (at most an hour back):
  // re-enabling a fixed configuration clears what the broken one left behind.
  const [since] = await sql<{ at: Date; errors: number; dead: number }[]>`
    with w as (select greatest(now() - interval '1 hour', coalesce(${(state as { enabled_at?: Date } | undefined)?.enabled_at ?? null}::timestamptz, '-infinity')) as at)
    select w.at,
           (select count(*)::int from orchestrator.logs l where l.at > w.at and l.level >= 'error' and l.component = 'notion-sync') as errors,
           (select count(*)::int from orchestrator.tasks t where t.type in ('notion.push', 'notion.pull') and t.status = 'dead' and t.finished_at > w.at) as dead
    from w`;
  const [verification] = await sql<{ window_open_until: Date | null; token_stored: boolean; token_received_at: Date | null }[]>`
    select window_open_until, token_stored, token_received_at from orchestrator.notion_verification_state()`;
  const s = state as Record<string, unknown> | undefined;
  const sinceAt = since.at.toISOString();
  const problems = [
    !notionSettings.apiKey && "NOTION_API_KEY is not set",
    !notionSettings.databaseId && "NOTION_DATABASE_ID is not set",
    configured && !s?.enabled && `The sync is not enabled: POST ${ENABLE_PATH} checks the configuration against Notion and turns it on.`,
    s?.config_error as string | undefined,
    s?.last_pull_status === "error" && `The last pull failed: ${s.last_pull_error ?? "see the logs"}.`,
    since.errors > 0 && `${since.errors} error(s) logged by the Notion sync since ${sinceAt} (see last_hour.recent_errors).`,
    since.dead > 0 && `${since.dead} Notion task(s) died since ${sinceAt}` +
      (deadTasks[0]?.last_error ? `, the latest (task ${deadTasks[0].id}) of: ${deadTasks[0].last_error}` : "") +
      ` (see last_hour.dead_tasks). Once the cause is fixed, POST ${ENABLE_PATH} {"repush_dead": true} pushes the dead ones again.`,
  ].filter(Boolean) as string[];
  return {
    configured,
    enabled: !!s?.enabled,
    // ok exactly when there is nothing to fix: every reason it is false is in problems.
    ok: problems.length === 0,
    problems,
    problems_since: sinceAt,
    database_id: databaseId,
    data_source_id: s?.data_source_id ?? null,
    properties: s?.properties ?? null,
    config_checked_at: s?.config_checked_at ?? null,
    enabled_at: s?.enabled_at ?? null,
    webhook: {
      secret_set: !!notionSettings.webhookSecret,
      verification_token_stored: verification?.token_stored ?? false,
      verification_token_received_at: verification?.token_received_at ?? s?.webhook_token_received_at ?? null,
      verification_window_open_until: verification?.window_open_until ?? null,
    },
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
