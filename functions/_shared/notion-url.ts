// The Notion page of a synced row, as the API shows it: `notion_url`, https://www.notion.so/<page id>
// (Notion redirects it to the page under its title), from orchestrator.notion_pages once the sync has
// pushed the row; null before that, and always when the sync is off. Read-only: the sync itself is
// functions/_shared/notion/.
import type { Sql } from "./db.ts";

export type NotionEntity = "task" | "ticket" | "sop" | "digest";

export const notionPageUrl = (pageId: string): string => `https://www.notion.so/${pageId.replace(/-/g, "")}`;

/** The pages of these rows (by row key: a ticket's id, an SOP's slug), keyed by row key. */
export async function notionUrls(sql: Sql, entity: NotionEntity, keys: (string | number)[]): Promise<Map<string, string>> {
  if (!keys.length) return new Map();
  const rows = await sql<{ row_key: string; page_id: string }[]>`
    select row_key, page_id from orchestrator.notion_pages
    where entity = ${entity} and row_key = any(${keys.map(String)}::text[]) and page_id is not null`;
  return new Map(rows.map((r) => [r.row_key, notionPageUrl(r.page_id)]));
}

/** Adds notion_url to each row (null where the row has no page yet). */
export async function withNotionUrls<R>(sql: Sql, entity: NotionEntity, rows: R[], key: (row: R) => string | number): Promise<(R & { notion_url: string | null })[]> {
  const urls = await notionUrls(sql, entity, rows.map(key));
  return rows.map((r) => ({ ...r, notion_url: urls.get(String(key(r))) ?? null }));
}
