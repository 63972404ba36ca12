// The sync engine.
//
// push(entity, key): row -> page. Creates the page once (the Orchestrator ID on
// the page is the idempotency key: a push that crashed between pages.create and
// storing the page id finds its page again instead of making a second one),
// then updates only the properties that changed; an SOP's Markdown becomes the
// page body, appended in batches of at most 100 blocks, replaced when a new
// version lands. One push per row at a time (a lease on the mapping row).
//
// pull(): data source -> rows, for pages edited since the watermark minus one
// minute (Notion rounds last_edited_time to the minute), ascending, paginated,
// the watermark saved after every page of results so a failure resumes where it
// stopped. Pages last edited by our own bot are skipped (no echo loops).
// Conflicts are decided per field: the later edit wins and the loser is logged
// with both timestamps.
import { db, type Sql } from "../db.ts";
import { PermanentTaskError } from "../errors.ts";
import { ADAPTERS, type PullField, type RowValues } from "./entities.ts";
import { describeNotionError } from "./client.ts";
import { invalidateNotionConfig, type NotionContext } from "./context.ts";
import { batchBlocks, markdownToBlocks } from "./markdown.ts";
import {
  buildProperties,
  type Entity,
  NotionConfigError,
  type PageValues,
  parseOrchestratorId,
  PRIORITY_NAMES,
  priorityFromNotion,
  readPage,
  SOP_REQUESTED_STATUS,
  statusFromNotion,
  TYPE_NAMES,
} from "./mapping.ts";

/** A push holds its row this long at most (a crashed worker's lease expires). */
const ROW_LEASE_SECONDS = 120;
/** Notion reports last_edited_time rounded down to the minute. */
const NOTION_TIME_RESOLUTION_MS = 60_000;

interface MappingRow {
  entity: Entity;
  row_key: string;
  orchestrator_id: string;
  page_id: string | null;
  synced: Record<string, unknown>;
  field_times: Record<string, string>;
  body_hash: string | null;
  create_attempted_at: Date | null;
  lock_token: string | null;
}

export interface NotionPage {
  object: "page";
  id: string;
  url?: string;
  created_time: string;
  last_edited_time: string;
  created_by?: { id: string };
  last_edited_by?: { id: string };
  in_trash?: boolean;
  archived?: boolean;
  properties: Record<string, { type: string; [k: string]: unknown }>;
}

/** Test seam: runs right after pages.create answered and before the page id is stored. */
export const hooks: { afterPageCreate?: (pageId: string) => void | Promise<void> } = {};

async function sha256(text: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Rethrows a Notion failure as the task outcome it deserves. */
async function notionFailure(ctx: NotionContext, err: unknown, what: string): Promise<never> {
  if (err instanceof PermanentTaskError) throw err;
  if (err instanceof NotionConfigError) throw new PermanentTaskError(err.message);
  const f = describeNotionError(err);
  if (f.config) {
    await invalidateNotionConfig(ctx.databaseId);
    throw new PermanentTaskError(`${what}: ${f.message}`);
  }
  if (!f.retryable) throw new PermanentTaskError(`${what}: ${f.message}`);
  throw new Error(`${what}: ${f.message}`);
}

// ---- values ---------------------------------------------------------------------

function pageValuesFor(ctx: NotionContext, entity: Entity, key: string, v: RowValues): PageValues {
  const statusName = ctx.statusNames[entity][v.status] ?? v.status;
  const statusProp = ctx.mapping.status;
  if (statusProp?.type === "status" && statusProp.options && !statusProp.options.includes(statusName)) {
    throw new NotionConfigError(
      `Notion status option "${statusName}" (for ${entity} status "${v.status}") does not exist on property "${statusProp.name}" ` +
        `(options: ${statusProp.options.join(", ") || "none"}). Add it in Notion, or map it with NOTION_STATUS_MAP.`,
    );
  }
  return {
    title: v.title,
    status: statusName,
    type: TYPE_NAMES[entity],
    priority: v.priority ? PRIORITY_NAMES[v.priority] ?? null : null,
    orchestrator_id: `${entity}:${key}`,
    updated: v.updated,
    link: v.link,
  };
}

/** The values a person can change, in our terms, as the page shows them. */
function domainFromPage(ctx: NotionContext, entity: Entity, values: PageValues): Partial<Record<PullField, string>> {
  const out: Partial<Record<PullField, string>> = {};
  if (values.title !== undefined) out.title = values.title;
  const status = statusFromNotion(ctx.statusNames[entity], values.status);
  if (status !== undefined) out.status = status;
  const priority = priorityFromNotion(values.priority);
  if (priority !== undefined) out.priority = priority;
  return out;
}

function syncedOf(v: RowValues): Record<string, unknown> {
  return { title: v.title, status: v.status, priority: v.priority, ...(v.meta?.version !== undefined ? { version: v.meta.version } : {}) };
}

// ---- mapping rows -----------------------------------------------------------------

async function lockRow(sql: Sql, ctx: NotionContext, entity: Entity, key: string): Promise<MappingRow | undefined> {
  const [row] = await sql<MappingRow[]>`
    insert into orchestrator.notion_pages as p (entity, row_key, database_id, lock_token, locked_until)
    values (${entity}, ${key}, ${ctx.databaseId}, gen_random_uuid(), now() + make_interval(secs => ${ROW_LEASE_SECONDS}))
    on conflict (entity, row_key) do update
      set lock_token = gen_random_uuid(), locked_until = now() + make_interval(secs => ${ROW_LEASE_SECONDS}), updated_at = now()
      where p.lock_token is null or p.locked_until < now()
    returning entity, row_key, orchestrator_id, page_id, synced, field_times, body_hash, create_attempted_at, lock_token`;
  return row;
}

async function unlockRow(sql: Sql, row: MappingRow, error?: string): Promise<void> {
  await sql`
    update orchestrator.notion_pages
       set lock_token = null, locked_until = null, updated_at = now(),
           last_error = ${error ?? null}, last_error_at = ${error ? sql`now()` : sql`last_error_at`}
     where entity = ${row.entity} and row_key = ${row.row_key} and lock_token = ${row.lock_token}`;
}

async function findPageByOrchestratorId(ctx: NotionContext, orchestratorId: string): Promise<NotionPage | undefined> {
  const prop = ctx.mapping.orchestrator_id!;
  const res = await ctx.api.client.dataSources.query({
    data_source_id: ctx.dataSourceId,
    filter: { property: prop.name, rich_text: { equals: orchestratorId } } as never,
    page_size: 10,
  });
  const pages = (res.results as unknown as NotionPage[]).filter((p) => p.object === "page" && !p.in_trash && !p.archived);
  return pages.sort((a, b) => a.created_time.localeCompare(b.created_time))[0];
}

async function appendBody(ctx: NotionContext, pageId: string, batches: ReturnType<typeof batchBlocks>): Promise<number> {
  let calls = 0;
  for (const batch of batches) {
    await ctx.api.client.blocks.children.append({ block_id: pageId, children: batch as never });
    calls++;
  }
  return calls;
}

// ---- push ---------------------------------------------------------------------------

export interface PushResult {
  entity: Entity;
  key: string;
  page_id?: string;
  action: "created" | "updated" | "unchanged" | "adopted" | "skipped";
  reason?: string;
  properties?: string[];
  body_blocks?: number;
  body_requests?: number;
  notion_requests: number;
}

export async function pushRow(ctx: NotionContext, entity: Entity, key: string): Promise<PushResult> {
  const sql = db();
  const adapter = ADAPTERS[entity];
  const startRequests = ctx.api.stats.requests;
  const done = (r: Omit<PushResult, "entity" | "key" | "notion_requests">): PushResult =>
    ({ entity, key, ...r, notion_requests: ctx.api.stats.requests - startRequests });

  const values = await adapter.load(sql, key, ctx.publicBaseUrl);
  if (!values) return done({ action: "skipped", reason: `${entity} ${key} does not exist (deleted or pruned)` });

  const row = await lockRow(sql, ctx, entity, key);
  if (!row) throw new Error(`another push of ${entity}:${key} is in progress; this one will retry`);
  try {
    const desired = pageValuesFor(ctx, entity, key, values);
    const synced = syncedOf(values);
    const bodyHash = values.body !== undefined ? await sha256(values.body) : null;
    let pageId = row.page_id;
    let action: PushResult["action"] = "updated";

    if (!pageId && entity === "sop") pageId = await adoptRequestPage(sql, ctx, key, values);
    if (!pageId && row.create_attempted_at) {
      // An earlier attempt may have created the page and died before storing its id.
      const found = await findPageByOrchestratorId(ctx, row.orchestrator_id).catch((e) => notionFailure(ctx, e, "looking up the page"));
      if (found) {
        pageId = found.id;
        action = "adopted";
        await sql`update orchestrator.notion_pages set page_id = ${pageId}, updated_at = now() where entity = ${entity} and row_key = ${key}`;
        ctx.log.warn(`found the page of ${row.orchestrator_id} created by an interrupted push; using it (no duplicate)`, { page_id: pageId });
      }
    }

    if (!pageId) {
      await sql`update orchestrator.notion_pages set create_attempted_at = now() where entity = ${entity} and row_key = ${key}`;
      const batches = values.body !== undefined ? batchBlocks(markdownToBlocks(values.body)) : [];
      const page = await ctx.api.client.pages.create({
        parent: { type: "data_source_id", data_source_id: ctx.dataSourceId },
        properties: buildProperties(ctx.mapping, desired) as never,
        ...(batches.length ? { children: batches[0] as never } : {}),
      }).catch((e) => notionFailure(ctx, e, `creating the page of ${row.orchestrator_id}`)) as unknown as NotionPage;
      await hooks.afterPageCreate?.(page.id);
      await sql`
        update orchestrator.notion_pages set page_id = ${page.id}, notion_edited_at = ${page.last_edited_time}, updated_at = now()
        where entity = ${entity} and row_key = ${key}`;
      const calls = await appendBody(ctx, page.id, batches.slice(1)).catch((e) => notionFailure(ctx, e, "appending the page body"));
      await sql`
        update orchestrator.notion_pages
           set synced = ${sql.json(synced as never)}, body_hash = ${bodyHash}, pushed_at = now(),
               create_attempted_at = null, last_error = null, updated_at = now()
         where entity = ${entity} and row_key = ${key}`;
      ctx.log.info(`created the Notion page of ${row.orchestrator_id}`, { page_id: page.id, body_requests: batches.length });
      return done({
        action: "created", page_id: page.id, properties: Object.keys(buildProperties(ctx.mapping, desired)),
        body_blocks: batches.reduce((n, b) => n + b.length, 0), body_requests: batches.length ? 1 + calls : 0,
      });
    }

    // Update: only what changed since the last agreed values (or everything after an adoption).
    const changed = (["title", "status", "priority"] as const).filter((f) => action === "adopted" || row.synced[f] !== synced[f]);
    const bodyChanged = bodyHash !== null && bodyHash !== row.body_hash;
    const versionChanged = synced.version !== undefined && row.synced.version !== synced.version;
    if (!changed.length && !bodyChanged && !versionChanged) {
      await sql`update orchestrator.notion_pages set pushed_at = coalesce(pushed_at, now()), last_error = null where entity = ${entity} and row_key = ${key}`;
      return done({ action: "unchanged", page_id: pageId });
    }
    const sent: PageValues = { updated: desired.updated, link: desired.link, type: desired.type, orchestrator_id: desired.orchestrator_id };
    for (const f of changed) (sent as Record<string, unknown>)[f] = desired[f];
    if (versionChanged) sent.title = desired.title;
    const page = await ctx.api.client.pages.update({ page_id: pageId, properties: buildProperties(ctx.mapping, sent) as never })
      .catch((e) => notionFailure(ctx, e, `updating the page of ${row.orchestrator_id}`)) as unknown as NotionPage;
    let bodyRequests = 0;
    let bodyBlocks = 0;
    if (bodyChanged) {
      // A new version replaces the body: erase, then append in batches. body_hash is only
      // stored once the whole body is in, so an interrupted rewrite starts over on retry.
      const batches = batchBlocks(markdownToBlocks(values.body!));
      await ctx.api.client.pages.update({ page_id: pageId, erase_content: true } as never)
        .catch((e) => notionFailure(ctx, e, "erasing the old page body"));
      bodyRequests = 1 + await appendBody(ctx, pageId, batches).catch((e) => notionFailure(ctx, e, "appending the page body"));
      bodyBlocks = batches.reduce((n, b) => n + b.length, 0);
    }
    await sql`
      update orchestrator.notion_pages
         set synced = ${sql.json({ ...row.synced, ...synced } as never)}, body_hash = coalesce(${bodyHash}, body_hash),
             pushed_at = now(), notion_edited_at = ${page.last_edited_time}, create_attempted_at = null,
             last_error = null, updated_at = now()
       where entity = ${entity} and row_key = ${key}`;
    // Human edits made before ours are in the page we got back: fields we did not send.
    const untouched = ADAPTERS[entity].pullFields.filter((f) => !(changed as readonly string[]).includes(f));
    if (untouched.length && page?.properties) {
      await applyPage(ctx, page, { force: true, onlyFields: untouched, lockedBy: row.lock_token ?? undefined });
    }
    ctx.log.info(`updated the Notion page of ${row.orchestrator_id}`, { page_id: pageId, properties: Object.keys(buildProperties(ctx.mapping, sent)), body_requests: bodyRequests });
    return done({ action, page_id: pageId, properties: Object.keys(buildProperties(ctx.mapping, sent)), body_blocks: bodyBlocks, body_requests: bodyRequests });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    await unlockRow(sql, row, message).catch(() => {});
    if (err instanceof NotionConfigError) throw new PermanentTaskError(err.message);
    throw err;
  } finally {
    await unlockRow(sql, row).catch(() => {});
  }
}

/** The dedupe key of the sop.generate task a "SOP request" page started: it ties the task to that page. */
const sopRequestKey = (pageId: string) => `notion.sop-request:${pageId}`;

/**
 * An SOP written for a "SOP request" page takes that page over instead of making a new one.
 * Only such a page: a task whose page the sync created (a tracked sop.generate) keeps it, and
 * the SOP gets its own. One entity, one page.
 */
async function adoptRequestPage(sql: Sql, ctx: NotionContext, slug: string, values: RowValues): Promise<string | null> {
  const taskId = values.meta?.source_task_id;
  if (typeof taskId !== "number") return null;
  // One transaction: the page is never mapped to neither row (a crash in between would mean a second page).
  const req = await sql.begin(async (tx) => {
    const [r] = await tx<{ page_id: string }[]>`
      delete from orchestrator.notion_pages p using orchestrator.tasks t
      where p.entity = 'task' and p.row_key = ${String(taskId)} and p.page_id is not null
        and t.id = ${taskId} and t.dedupe_key = ${sopRequestKey("")} || p.page_id
      returning p.page_id`;
    if (r) await tx`update orchestrator.notion_pages set page_id = ${r.page_id}, updated_at = now() where entity = 'sop' and row_key = ${slug}`;
    return r;
  });
  if (!req) return null;
  ctx.log.info(`SOP ${slug} takes over the Notion page that requested it`, { page_id: req.page_id, task_id: taskId });
  return req.page_id;
}

// ---- pull: one page ----------------------------------------------------------------

export interface ApplyOutcome {
  page_id: string;
  outcome: "own_edit" | "unlinked" | "unchanged" | "applied" | "conflict" | "sop_requested" | "skipped";
  orchestrator_id?: string;
  applied?: string[];
  conflicts?: { field: string; winner: "notion" | "local" }[];
  task_id?: number;
  reason?: string;
}

function same(a: unknown, b: unknown): boolean {
  return (a ?? null) === (b ?? null);
}

/**
 * Applies one page's human edits to its row. force: also when our bot edited it
 * last (used right after our own update, for fields we did not send).
 */
export async function applyPage(
  ctx: NotionContext,
  page: NotionPage,
  opts: { force?: boolean; onlyFields?: PullField[]; lockedBy?: string } = {},
): Promise<ApplyOutcome> {
  const sql = db();
  if (!opts.force && page.last_edited_by?.id === ctx.botUserId) return { page_id: page.id, outcome: "own_edit" };
  if (page.in_trash || page.archived) return { page_id: page.id, outcome: "skipped", reason: "page is in the trash" };
  const values = readPage(ctx.mapping, page);
  let [mapping] = await sql<MappingRow[]>`
    select entity, row_key, orchestrator_id, page_id, synced, field_times, body_hash, create_attempted_at, lock_token
    from orchestrator.notion_pages where page_id = ${page.id}`;
  if (!mapping) {
    const parsed = parseOrchestratorId(values.orchestrator_id);
    if (!parsed) {
      if (isSopRequest(ctx, values)) return await requestSop(ctx, page, values);
      return { page_id: page.id, outcome: "unlinked" };
    }
    // The page names its row, but we never stored the page id (e.g. a crash after create): link it.
    [mapping] = await sql<MappingRow[]>`
      insert into orchestrator.notion_pages as p (entity, row_key, database_id, page_id)
      values (${parsed.entity}, ${parsed.key}, ${ctx.databaseId}, ${page.id})
      on conflict (entity, row_key) do update set page_id = coalesce(p.page_id, excluded.page_id), updated_at = now()
      returning entity, row_key, orchestrator_id, page_id, synced, field_times, body_hash, create_attempted_at, lock_token`;
    if (mapping.page_id !== page.id) {
      return { page_id: page.id, outcome: "skipped", orchestrator_id: mapping.orchestrator_id, reason: `a duplicate: ${mapping.orchestrator_id} is page ${mapping.page_id}` };
    }
  }
  const adapter = ADAPTERS[mapping.entity];
  const fields = adapter.pullFields.filter((f) => !opts.onlyFields || opts.onlyFields.includes(f));
  if (!fields.length) return { page_id: page.id, outcome: "unchanged", orchestrator_id: mapping.orchestrator_id };
  const local = await adapter.load(sql, mapping.row_key, ctx.publicBaseUrl);
  if (!local) return { page_id: page.id, outcome: "skipped", orchestrator_id: mapping.orchestrator_id, reason: "the row no longer exists" };

  const notion = domainFromPage(ctx, mapping.entity, values);
  const notionAt = new Date(page.last_edited_time);
  const changes: Partial<Record<PullField, string>> = {};
  const agreed: Record<string, unknown> = {};
  const conflicts: ApplyOutcome["conflicts"] = [];
  let pushBack = false;
  for (const f of fields) {
    const n = notion[f];
    if (n === undefined) continue;
    const s = mapping.synced[f];
    const l = (local as unknown as Record<string, unknown>)[f];
    if (same(n, s)) continue; // Notion did not change it
    if (same(n, l)) {
      agreed[f] = n; // both sides already agree
      continue;
    }
    if (s === undefined || same(l, s)) {
      changes[f] = n; // only Notion changed it
      continue;
    }
    // Both changed since they last agreed: the later edit wins. Notion's time is
    // rounded down to the minute, so a local change within that minute counts as earlier.
    const localAt = mapping.field_times[f] ? new Date(mapping.field_times[f]) : local.updated ? new Date(local.updated) : new Date(0);
    const notionWins = localAt.getTime() < notionAt.getTime() + NOTION_TIME_RESOLUTION_MS;
    conflicts.push({ field: f, winner: notionWins ? "notion" : "local" });
    ctx.log.warn(`sync conflict on ${mapping.orchestrator_id}.${f}: kept the ${notionWins ? "Notion" : "local"} value, dropped the ${notionWins ? "local" : "Notion"} one`, {
      orchestrator_id: mapping.orchestrator_id, page_id: page.id, field: f,
      kept: notionWins ? n : l, dropped: notionWins ? l : n,
      kept_side: notionWins ? "notion" : "local",
      notion_value: n, notion_edited_at: notionAt.toISOString(),
      local_value: l, local_changed_at: localAt.toISOString(),
    });
    if (notionWins) changes[f] = n;
    else pushBack = true;
  }

  let applied: PullField[] = [];
  if (Object.keys(changes).length || Object.keys(agreed).length) {
    await sql.begin(async (tx) => {
      // Our own write must not enqueue a push of what Notion just told us.
      await tx`select set_config('orchestrator.sync_origin', 'notion', true)`;
      const res = Object.keys(changes).length ? await adapter.apply(tx, mapping.row_key, changes) : { applied: [], refused: [] };
      applied = res.applied;
      for (const r of res.refused) {
        pushBack = true;
        ctx.log.warn(`Notion edit of ${mapping.orchestrator_id}.${r.field} not applied: ${r.reason}; the page will show the local value again`, {
          orchestrator_id: mapping.orchestrator_id, page_id: page.id, field: r.field, notion_value: changes[r.field],
          notion_edited_at: notionAt.toISOString(), local_value: (local as unknown as Record<string, unknown>)[r.field],
        });
      }
      const newSynced: Record<string, unknown> = { ...agreed };
      const times: Record<string, string> = {};
      for (const f of applied) {
        newSynced[f] = changes[f];
        times[f] = notionAt.toISOString();
      }
      await tx`
        update orchestrator.notion_pages
           set synced = synced || ${tx.json(newSynced as never)}, field_times = field_times || ${tx.json(times as never)},
               pulled_at = now(), notion_edited_at = ${page.last_edited_time}, updated_at = now()
         where entity = ${mapping.entity} and row_key = ${mapping.row_key}`;
    });
    if (applied.length) {
      ctx.log.info(`applied Notion edits to ${mapping.orchestrator_id}: ${applied.join(", ")}`, {
        orchestrator_id: mapping.orchestrator_id, page_id: page.id, changes: Object.fromEntries(applied.map((f) => [f, changes[f]])),
        notion_edited_at: notionAt.toISOString(),
      });
    }
  } else {
    await sql`update orchestrator.notion_pages set pulled_at = now(), notion_edited_at = ${page.last_edited_time} where page_id = ${page.id}`;
  }
  if (pushBack && !opts.lockedBy) {
    await sql`select orchestrator.notion_enqueue_pushes(${mapping.entity}, ${[mapping.row_key]}::text[])`;
  }
  return {
    page_id: page.id,
    orchestrator_id: mapping.orchestrator_id,
    outcome: conflicts.length ? "conflict" : applied.length ? "applied" : "unchanged",
    applied,
    ...(conflicts.length ? { conflicts } : {}),
  };
}

function isSopRequest(ctx: NotionContext, values: PageValues): boolean {
  return (values.type ?? "").toLowerCase() === TYPE_NAMES.sop_request.toLowerCase() &&
    (values.status ?? "").toLowerCase() === SOP_REQUESTED_STATUS.toLowerCase() &&
    !!values.title?.trim() && !!ctx.mapping.type;
}

/** A person asked for an SOP in Notion: enqueue sop.generate once and link the page to it. */
async function requestSop(ctx: NotionContext, page: NotionPage, values: PageValues): Promise<ApplyOutcome> {
  const sql = db();
  const payload = {
    topic: values.title!.trim().slice(0, 500),
    context: `Requested in Notion${page.url ? ` (${page.url})` : ""} on ${page.created_time}.`,
    notion: true,
  };
  const [task] = await sql<{ id: number; created: boolean }[]>`
    select (r.task).id, r.created from orchestrator.enqueue('sop.generate', ${sql.json(payload)},
      ${sql.json({ dedupe_key: sopRequestKey(page.id), source: "notion" })}) r`;
  const [linked] = await sql<{ row_key: string }[]>`
    insert into orchestrator.notion_pages (entity, row_key, database_id, page_id, synced, pulled_at, notion_edited_at)
    values ('task', ${String(task.id)}, ${ctx.databaseId}, ${page.id}, ${sql.json({ status: "queued" })}, now(), ${page.last_edited_time})
    on conflict do nothing
    returning row_key`;
  if (!linked) return { page_id: page.id, outcome: "unchanged", reason: "SOP already requested for this page", task_id: task.id };
  // Mark the page as taken: its Orchestrator ID now names the task.
  await ctx.api.client.pages.update({
    page_id: page.id,
    properties: buildProperties(ctx.mapping, { orchestrator_id: `task:${task.id}` }) as never,
  }).catch((e) => notionFailure(ctx, e, "linking the SOP request page"));
  ctx.log.info(`SOP requested in Notion: "${payload.topic}" -> sop.generate task ${task.id}`, { page_id: page.id, task_id: task.id });
  return { page_id: page.id, outcome: "sop_requested", task_id: task.id, orchestrator_id: `task:${task.id}` };
}

// ---- pull: the data source -------------------------------------------------------------

export interface PullStats {
  pages_seen: number;
  applied: number;
  conflicts: number;
  own_edits: number;
  unlinked: number;
  unchanged: number;
  sop_requests: number;
  errors: number;
  queries: number;
  watermark: string | null;
  skipped?: string;
  partial?: boolean;
}

/** Longer than notion.pull's timeout (150 s): a crashed pull blocks the next one for at most this long. */
const PULL_LEASE_SECONDS = 170;

export async function pullDataSource(ctx: NotionContext, opts: { budgetMs?: number; signal?: AbortSignal } = {}): Promise<PullStats> {
  const sql = db();
  const [lock] = await sql<{ token: string; watermark: Date | null }[]>`
    insert into orchestrator.sync_state as s (database_id, pull_lock_token, pull_locked_until)
    values (${ctx.databaseId}, gen_random_uuid(), now() + make_interval(secs => ${PULL_LEASE_SECONDS}))
    on conflict (database_id) do update
      set pull_lock_token = gen_random_uuid(), pull_locked_until = now() + make_interval(secs => ${PULL_LEASE_SECONDS})
      where s.pull_lock_token is null or s.pull_locked_until < now()
    returning pull_lock_token as token, watermark`;
  const stats: PullStats = {
    pages_seen: 0, applied: 0, conflicts: 0, own_edits: 0, unlinked: 0, unchanged: 0, sop_requests: 0, errors: 0, queries: 0,
    watermark: null,
  };
  if (!lock) return { ...stats, skipped: "another pull of this database is running" };

  const started = Date.now();
  const budget = opts.budgetMs ?? 100_000;
  let watermark = lock.watermark;
  stats.watermark = watermark?.toISOString() ?? null;
  const since = watermark ? new Date(watermark.getTime() - NOTION_TIME_RESOLUTION_MS) : undefined;
  let cursor: string | undefined;
  let failure: unknown;
  try {
    do {
      const res = await ctx.api.client.dataSources.query({
        data_source_id: ctx.dataSourceId,
        ...(since ? { filter: { timestamp: "last_edited_time", last_edited_time: { on_or_after: since.toISOString() } } as never } : {}),
        sorts: [{ timestamp: "last_edited_time", direction: "ascending" }],
        page_size: 100,
        ...(cursor ? { start_cursor: cursor } : {}),
      }).catch((e) => notionFailure(ctx, e, "querying the data source"));
      stats.queries++;
      for (const p of res.results as unknown as NotionPage[]) {
        if (p.object !== "page") continue;
        stats.pages_seen++;
        try {
          const out = await applyPage(ctx, p);
          if (out.outcome === "own_edit") stats.own_edits++;
          else if (out.outcome === "unlinked") stats.unlinked++;
          else if (out.outcome === "applied") stats.applied++;
          else if (out.outcome === "conflict") stats.conflicts++;
          else if (out.outcome === "sop_requested") stats.sop_requests++;
          else stats.unchanged++;
        } catch (err) {
          // A Notion or connection failure stops the pull (it resumes from the watermark);
          // a page our database refuses (data or constraint errors) is logged and counted,
          // and the pull goes on.
          const code = (err as { code?: unknown }).code;
          if (!(typeof code === "string" && /^(22|23)/.test(code))) throw err;
          stats.errors++;
          ctx.log.error(`could not apply Notion page ${p.id}: ${(err as Error).message}`, { page_id: p.id, last_edited_time: p.last_edited_time });
        }
        const t = new Date(p.last_edited_time);
        if (!watermark || t > watermark) watermark = t;
      }
      await sql`update orchestrator.sync_state set watermark = ${watermark}, updated_at = now() where database_id = ${ctx.databaseId}`;
      cursor = res.has_more ? res.next_cursor ?? undefined : undefined;
      if (cursor && (Date.now() - started > budget || opts.signal?.aborted)) {
        stats.partial = true;
        break;
      }
    } while (cursor);
  } catch (err) {
    failure = err;
  }
  stats.watermark = watermark?.toISOString() ?? null;
  const error = failure ? (failure as Error).message : stats.errors ? `${stats.errors} page(s) could not be applied; see the logs` : null;
  await sql`
    update orchestrator.sync_state
       set pull_lock_token = null, pull_locked_until = null, last_pull_at = now(),
           last_pull_status = ${failure || stats.errors ? "error" : "ok"}, last_pull_error = ${error},
           last_pull_stats = ${sql.json(stats as never)}, watermark = ${watermark}, updated_at = now()
     where database_id = ${ctx.databaseId} and pull_lock_token = ${lock.token}`;
  if (failure) throw failure;
  if (stats.partial) {
    // Out of time with more to read: the next pull continues right away.
    await sql`select orchestrator.enqueue('notion.pull', '{}'::jsonb, ${sql.json({ dedupe_key: "notion.pull:continue", source: "notion-sync" })})`;
  }
  return stats;
}

/** A targeted pull of one page (webhook events). */
export async function pullPage(ctx: NotionContext, pageId: string): Promise<ApplyOutcome> {
  const page = await ctx.api.client.pages.retrieve({ page_id: pageId })
    .catch((e) => {
      const f = describeNotionError(e);
      if (f.status === 404) throw new PermanentTaskError(`Notion page ${pageId} is not visible to the integration (404): deleted, or not in the synced database`);
      return notionFailure(ctx, e, `reading page ${pageId}`);
    }) as unknown as NotionPage;
  const parent = (page as unknown as { parent?: { data_source_id?: string; database_id?: string } }).parent;
  if (parent?.data_source_id && parent.data_source_id !== ctx.dataSourceId) {
    return { page_id: pageId, outcome: "skipped", reason: "the page belongs to another data source" };
  }
  return await applyPage(ctx, page);
}
