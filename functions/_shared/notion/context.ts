// Resolving the Notion configuration once and remembering it: the database id
// -> its data source (databases.retrieve -> data_sources), the integration's
// bot user (users.me, to recognise our own edits), and the property mapping
// validated against dataSources.retrieve. Kept in sync_state (shared by every
// worker, shown by /notion/status) and in memory for a few minutes.
import { db } from "../db.ts";
import { notionSettings } from "../env.ts";
import { PermanentTaskError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { createNotionClient, describeNotionError, type NotionApi } from "./client.ts";
import {
  type Entity,
  NotionConfigError,
  type ResolvedMapping,
  statusNames,
  validateMapping,
  wantedMapping,
} from "./mapping.ts";

/** The configuration cannot work until someone fixes it: not retryable, with each problem on its own. */
export class NotionConfigInvalid extends PermanentTaskError {
  readonly problems: string[];
  constructor(message: string, problems: string[]) {
    super(message);
    this.name = "NotionConfigInvalid";
    this.problems = problems;
  }
}

/** How long a validated configuration is trusted before dataSources.retrieve runs again. */
const CONFIG_TTL_MS = 10 * 60_000;

export interface NotionContext {
  api: NotionApi;
  databaseId: string;
  dataSourceId: string;
  botUserId: string;
  mapping: ResolvedMapping;
  statusNames: Record<Entity, Record<string, string>>;
  publicBaseUrl?: string;
  log: Logger;
}

interface Resolved {
  dataSourceId: string;
  botUserId: string;
  mapping: ResolvedMapping;
  checkedAt: number;
}
const memory = new Map<string, Resolved>();
/** One resolution at a time per configuration, however many tasks start together. */
const inflight = new Map<string, Promise<Resolved>>();

/** The env the sync needs, or a non-retryable error saying what is missing. */
export function notionEnv(): { apiKey: string; databaseId: string } {
  const apiKey = notionSettings.apiKey;
  const databaseId = notionSettings.databaseId;
  if (!apiKey) {
    throw new PermanentTaskError(
      "Notion sync is not configured: NOTION_API_KEY is not set. Set NOTION_API_KEY and NOTION_DATABASE_ID (function secrets), then POST /notion/enable.",
    );
  }
  if (!databaseId) {
    throw new PermanentTaskError("Notion sync is not configured: NOTION_DATABASE_ID is not set (the id of the Notion database to sync with).");
  }
  return { apiKey, databaseId: normaliseId(databaseId) };
}

/** Notion ids are UUIDs with or without dashes, or the tail of a notion.so URL. */
export function normaliseId(id: string): string {
  const hex = /([0-9a-f]{32})(?:[?#].*)?$/i.exec(id.replace(/-/g, ""))?.[1];
  if (!hex) return id.trim();
  const h = hex.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export async function recordConfigError(databaseId: string, message: string | null): Promise<void> {
  await db()`
    insert into orchestrator.sync_state (database_id, config_error, config_checked_at)
    values (${databaseId}, ${message}, now())
    on conflict (database_id) do update
      set config_error = excluded.config_error, config_checked_at = now(), updated_at = now()`;
}

/** Forget the validated configuration (a schema change, a validation error from Notion). */
export async function invalidateNotionConfig(databaseId: string): Promise<void> {
  for (const k of memory.keys()) if (k.startsWith(`${databaseId}|`)) memory.delete(k);
  await db()`update orchestrator.sync_state set config_checked_at = null, updated_at = now() where database_id = ${databaseId}`;
}

/** The entities whose pages get pushed: tasks only while some task type is tracked. */
async function pushedEntities(trackedTaskTypes?: readonly string[]): Promise<Entity[]> {
  const tracked = trackedTaskTypes ??
    (await db()<{ type: string }[]>`select type from orchestrator.notion_tracked_task_types limit 1`).map((r) => r.type);
  return ["ticket", "sop", "digest", ...(tracked.length ? ["task" as const] : [])];
}

async function resolve(api: NotionApi, databaseId: string, log: Logger, trackedTaskTypes?: readonly string[]): Promise<Resolved> {
  const wanted = wantedMapping(notionSettings.propertyMap);
  // Validates NOTION_STATUS_MAP, and that every status we push exists as an option (else every push would die on it).
  const statusCheck = { names: statusNames(notionSettings.statusMap), entities: await pushedEntities(trackedTaskTypes) };
  const me = await api.client.users.me({});
  const database = await api.client.databases.retrieve({ database_id: databaseId }) as { object: string; data_sources?: { id: string; name?: string }[] };
  const sources = database.data_sources ?? [];
  if (!sources.length) {
    throw new NotionConfigError(`Notion database ${databaseId} has no data source the integration can see (databases.retrieve returned none).`);
  }
  if (sources.length > 1) {
    log.warn(`Notion database ${databaseId} has ${sources.length} data sources; syncing with the first, "${sources[0].name ?? sources[0].id}"`);
  }
  const dataSource = await api.client.dataSources.retrieve({ data_source_id: sources[0].id }) as never;
  const mapping = validateMapping(dataSource, wanted, statusCheck);
  return { dataSourceId: sources[0].id, botUserId: me.id, mapping, checkedAt: Date.now() };
}

/**
 * The ready-to-use context. Throws PermanentTaskError for a configuration
 * problem (recorded in sync_state.config_error and logged), or a plain Error
 * when Notion could not be reached (retryable).
 */
export async function notionContext(
  log: Logger,
  opts: { signal?: AbortSignal; revalidate?: boolean; /** The tracked task types about to be set (enable). */ trackedTaskTypes?: readonly string[] } = {},
): Promise<NotionContext> {
  const { apiKey, databaseId } = notionEnv();
  const slog = log.child({ component: "notion-sync" });
  const api = await createNotionClient({
    apiKey,
    baseUrl: notionSettings.apiBaseUrl,
    ratePerSecond: notionSettings.ratePerSecond,
    log: slog,
    signal: opts.signal,
  });
  const cacheKey = `${databaseId}|${api.bucket}`;
  let resolved = opts.revalidate ? undefined : memory.get(cacheKey);
  if (resolved && Date.now() - resolved.checkedAt > CONFIG_TTL_MS) resolved = undefined;
  if (!resolved && !opts.revalidate) {
    const [row] = await db()<{ data_source_id: string | null; bot_user_id: string | null; properties: ResolvedMapping | null; config_error: string | null; age_ms: number | null }[]>`
      select data_source_id, bot_user_id, properties, config_error,
             extract(epoch from now() - config_checked_at)::float8 * 1000 as age_ms
      from orchestrator.sync_state where database_id = ${databaseId}`;
    if (row?.data_source_id && row.bot_user_id && row.properties && !row.config_error && row.age_ms !== null && row.age_ms < CONFIG_TTL_MS) {
      resolved = { dataSourceId: row.data_source_id, botUserId: row.bot_user_id, mapping: row.properties, checkedAt: Date.now() - row.age_ms };
    }
  }
  if (!resolved) {
    // A revalidation (enable) checks against its own tracked types: it never joins a resolution already under way.
    let pending = opts.revalidate ? undefined : inflight.get(cacheKey);
    if (!pending) {
      pending = resolveAndStore(api, databaseId, slog, opts.trackedTaskTypes);
      if (!opts.revalidate) {
        inflight.set(cacheKey, pending);
        pending.finally(() => inflight.delete(cacheKey)).catch(() => {});
      }
    }
    resolved = await pending;
  }
  memory.set(cacheKey, resolved);
  return {
    api,
    databaseId,
    dataSourceId: resolved.dataSourceId,
    botUserId: resolved.botUserId,
    mapping: resolved.mapping,
    statusNames: statusNames(notionSettings.statusMap),
    publicBaseUrl: notionSettings.publicBaseUrl,
    log: slog,
  };
}

async function resolveAndStore(api: NotionApi, databaseId: string, slog: Logger, trackedTaskTypes?: readonly string[]): Promise<Resolved> {
  let resolved: Resolved;
  try {
    resolved = await resolve(api, databaseId, slog, trackedTaskTypes);
  } catch (err) {
    const failure = err instanceof NotionConfigError ? { message: err.message, config: true, retryable: false } : describeNotionError(err);
    if (failure.config || !failure.retryable) {
      await recordConfigError(databaseId, failure.message);
      slog.error(`Notion configuration error: ${failure.message}`, { database_id: databaseId });
      throw new NotionConfigInvalid(failure.message, err instanceof NotionConfigError ? err.problems : [failure.message]);
    }
    throw new Error(failure.message);
  }
  await db()`
      insert into orchestrator.sync_state (database_id, data_source_id, bot_user_id, properties, config_error, config_checked_at)
      values (${databaseId}, ${resolved.dataSourceId}, ${resolved.botUserId}, ${db().json(resolved.mapping as never)}, null, now())
      on conflict (database_id) do update
        set data_source_id = excluded.data_source_id, bot_user_id = excluded.bot_user_id, properties = excluded.properties,
            config_error = null, config_checked_at = now(), updated_at = now()`;
  slog.info(`Notion configuration validated: database ${databaseId} -> data source ${resolved.dataSourceId}`, {
    properties: Object.fromEntries(Object.entries(resolved.mapping).map(([f, m]) => [f, `${m!.name} (${m!.type})`])),
  });
  return resolved;
}
