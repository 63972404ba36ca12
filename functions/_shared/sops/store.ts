// orchestrator.sops from TypeScript: store a version, list, read.
import type { Sql } from "../db.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { notFound } from "../errors.ts";
import type { Usage } from "../ai/client.ts";
import type { ListSopsQuery, SopContent } from "./schema.ts";

export interface SopRow {
  id: number;
  slug: string;
  version: number;
  title: string;
  topic: string;
  audience: string | null;
  content: SopContent;
  body_md: string;
  generator: string;
  source_task_id: number | null;
  ticket_ids: number[];
  event_ids: number[];
  task_ids: number[];
  usage: Usage | null;
  created_at: Date;
}
export type SopSummary = Omit<SopRow, "content" | "body_md">;

export interface NewSop {
  slug: string;
  content: SopContent;
  body_md: string;
  generator: string;
  topic: string;
  audience?: string;
  source_task_id?: number;
  ticket_ids: number[];
  event_ids: number[];
  task_ids: number[];
  usage?: Usage;
}

const SUMMARY = ["id", "slug", "version", "title", "topic", "audience", "generator", "source_task_id", "ticket_ids", "event_ids", "task_ids", "usage", "created_at"];

/** Adds the next version of the slug (or returns the version this task already wrote). */
export async function insertSop(sql: Sql, s: NewSop): Promise<{ sop: SopRow; created: boolean }> {
  const meta = {
    topic: s.topic,
    audience: s.audience ?? null,
    source_task_id: s.source_task_id ?? null,
    ticket_ids: s.ticket_ids,
    event_ids: s.event_ids,
    task_ids: s.task_ids,
    usage: s.usage ?? null,
  };
  const [row] = await sql<(SopRow & { created: boolean })[]>`
    select (r.sop).*, r.created
    from orchestrator.sop_insert(${s.slug}, ${s.content.title}, ${sql.json(s.content as never)}, ${s.body_md}, ${s.generator}, ${sql.json(meta as never)}) r`;
  const { created, ...sop } = row;
  return { sop: sop as SopRow, created };
}

export async function getSop(sql: Sql, slug: string, version?: number): Promise<SopRow> {
  const [row] = await sql<SopRow[]>`
    select * from orchestrator.sops
    where slug = ${slug} ${version ? sql`and version = ${version}` : sql``}
    order by version desc limit 1`;
  if (row) return row;
  if (version) {
    const [latest] = await sql<{ version: number }[]>`select max(version) as version from orchestrator.sops where slug = ${slug}`;
    if (latest?.version) throw notFound(`SOP "${slug}" has no version ${version}; its latest is version ${latest.version}.`);
  }
  throw notFound(`No SOP with slug "${slug}". List them with GET /sops.`);
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => "\\" + c);

export async function listSops(sql: Sql, q: ListSopsQuery): Promise<{ sops: SopSummary[]; next_cursor: string | null }> {
  const after = decodeCursor(q.cursor);
  const generator = q.generator === "ai" ? sql`and generator like 'ai:%'` : q.generator ? sql`and generator = ${q.generator}` : sql``;
  const rows = await sql<SopSummary[]>`
    select ${sql(SUMMARY)} from orchestrator.sops s
    where true
      ${q.slug ? sql`and slug = ${q.slug}` : sql``}
      ${generator}
      ${q.q ? sql`and (title ilike ${"%" + likeEscape(q.q) + "%"} or topic ilike ${"%" + likeEscape(q.q) + "%"})` : sql``}
      ${q.ticket_id ? sql`and ticket_ids @> array[${q.ticket_id}]::bigint[]` : sql``}
      ${q.event_id ? sql`and event_ids @> array[${q.event_id}]::bigint[]` : sql``}
      ${q.task_id ? sql`and (task_ids @> array[${q.task_id}]::bigint[] or source_task_id = ${q.task_id})` : sql``}
      ${q.latest ? sql`and not exists (select 1 from orchestrator.sops n where n.slug = s.slug and n.version > s.version)` : sql``}
      ${q.since ? sql`and created_at >= ${q.since}` : sql``}
      ${q.until ? sql`and created_at < ${q.until}` : sql``}
      ${after ? sql`and id < ${after}` : sql``}
    order by id desc
    limit ${q.limit + 1}`;
  const page = rows.slice(0, q.limit);
  return { sops: page, next_cursor: rows.length > q.limit ? encodeCursor(page[page.length - 1].id) : null };
}
