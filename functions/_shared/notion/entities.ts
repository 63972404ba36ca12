// What each kind of row looks like in Notion, and which human edits flow back.
//   task   (tracked types): pushed; a page set to Cancelled cancels the task.
//   ticket (when orchestrator.tickets exists): pushed; title, status and priority edits flow back.
//   sop    (when orchestrator.sops exists, one page per slug): pushed with its body; read-only in Notion.
//   digest (one page per UTC day, from orchestrator.digests): pushed with its body; read-only in Notion.
import { type AnySql as Sql } from "../db.ts";
import type { Entity } from "./mapping.ts";
import { storedSopMarkdown } from "../sops/markdown.ts";

/** Values of a row in our terms (our status values, priority words). */
export interface RowValues {
  title: string;
  status: string;
  priority: string | null;
  updated: string | null;
  link: string | null;
  /** Markdown page body (SOPs). */
  body?: string;
  /** Extra facts kept with the mapping (SOP version…). */
  meta?: Record<string, unknown>;
}

/** Fields a person may change in Notion, per entity. */
export type PullField = "title" | "status" | "priority";

export interface ApplyResult {
  /** Fields written to the row. */
  applied: PullField[];
  /** Fields the row refused (e.g. cancelling a task that already finished): local value stands. */
  refused: { field: PullField; reason: string }[];
}

export interface EntityAdapter {
  entity: Entity;
  pullFields: PullField[];
  load(sql: Sql, key: string, baseUrl?: string): Promise<RowValues | undefined>;
  /** Writes Notion's values to the row; runs inside the pull's transaction. */
  apply(sql: Sql, key: string, changes: Partial<Record<PullField, string>>): Promise<ApplyResult>;
}

/** Integer task priority -> a word. */
export function priorityWord(p: unknown): string | null {
  if (p === null || p === undefined || p === "") return null;
  if (typeof p === "number") return p >= 100 ? "urgent" : p > 0 ? "high" : p === 0 ? "medium" : "low";
  const w = String(p).trim().toLowerCase();
  if (["urgent", "critical", "p0", "fatal"].includes(w)) return "urgent";
  if (["high", "p1"].includes(w)) return "high";
  if (["medium", "normal", "p2"].includes(w)) return "medium";
  if (["low", "p3", "p4"].includes(w)) return "low";
  return null;
}

const iso = (d: unknown) => (d instanceof Date ? d.toISOString() : d ? new Date(String(d)).toISOString() : null);
const isId = (key: string) => /^[1-9][0-9]{0,15}$/.test(key);


export const taskAdapter: EntityAdapter = {
  entity: "task",
  pullFields: ["status"],
  async load(sql, key, baseUrl) {
    if (!isId(key)) return undefined;
    const [t] = await sql<{ id: number; type: string; status: string; priority: number; payload: Record<string, unknown>; updated_at: Date }[]>`
      select id, type, status::text, priority, payload, updated_at from orchestrator.tasks where id = ${Number(key)}`;
    if (!t) return undefined;
    const label = [t.payload?.title, t.payload?.topic, t.payload?.name].find((v) => typeof v === "string" && v.trim()) as string | undefined;
    return {
      title: `${t.type} #${t.id}${label ? `: ${label.trim()}` : ""}`.slice(0, 2000),
      status: t.status,
      priority: priorityWord(t.priority),
      updated: iso(t.updated_at),
      link: baseUrl ? `${baseUrl}/tasks/${t.id}` : null,
    };
  },
  async apply(sql, key, changes) {
    const result: ApplyResult = { applied: [], refused: [] };
    if (changes.status === undefined) return result;
    if (changes.status !== "cancelled") {
      result.refused.push({ field: "status", reason: `only Cancelled can be set on a task from Notion (got ${changes.status})` });
      return result;
    }
    const rows = await sql`select id from orchestrator.cancel(${Number(key)})`;
    if (rows.length) result.applied.push("status");
    else result.refused.push({ field: "status", reason: "the task had already finished" });
    return result;
  },
};

interface TicketColumns {
  priorityType: string | null;
  /** Labels of the priority enum, when it is one. */
  priorityLabels: string[];
  updatedColumn: string | null;
}
let ticketColumns: TicketColumns | undefined;

async function ticketShape(sql: Sql): Promise<TicketColumns> {
  if (ticketColumns) return ticketColumns;
  const cols = await sql<{ name: string; type: string }[]>`
    select attname as name, format_type(atttypid, atttypmod) as type from pg_attribute
    where attrelid = to_regclass('orchestrator.tickets') and attnum > 0 and not attisdropped`;
  const by = new Map(cols.map((c) => [c.name, c.type]));
  const labels = await sql<{ label: string }[]>`
    select e.enumlabel as label from pg_attribute a join pg_enum e on e.enumtypid = a.atttypid
    where a.attrelid = to_regclass('orchestrator.tickets') and a.attname = 'priority' order by e.enumsortorder`;
  ticketColumns = {
    priorityType: by.get("priority") ?? null,
    priorityLabels: labels.map((l) => l.label),
    updatedColumn: ["updated_at", "last_seen", "created_at"].find((c) => by.has(c)) ?? null,
  };
  return ticketColumns;
}

const PRIORITY_SYNONYMS: Record<string, string[]> = {
  urgent: ["urgent", "critical", "p0"],
  high: ["high", "p1"],
  medium: ["medium", "normal", "p2"],
  low: ["low", "p3"],
};

/** A priority word -> the value the tickets.priority column stores (an enum label, a number, or the word). */
function ticketPriorityValue(shape: TicketColumns, word: string): string | number {
  if (shape.priorityType && /int|numeric/.test(shape.priorityType)) return { urgent: 100, high: 10, medium: 0, low: -10 }[word] ?? 0;
  if (shape.priorityLabels.length) return PRIORITY_SYNONYMS[word]?.find((l) => shape.priorityLabels.includes(l)) ?? word;
  return word;
}

export const ticketAdapter: EntityAdapter = {
  entity: "ticket",
  pullFields: ["title", "status", "priority"],
  async load(sql, key, baseUrl) {
    if (!isId(key)) return undefined;
    const shape = await ticketShape(sql);
    const [row] = await sql<{ r: Record<string, unknown> }[]>`select to_jsonb(t) as r from orchestrator.tickets t where id = ${Number(key)}`;
    if (!row) return undefined;
    const r = row.r;
    return {
      title: String(r.title ?? `Ticket ${key}`).slice(0, 2000),
      status: String(r.status ?? "open"),
      priority: shape.priorityType && /int|numeric/.test(shape.priorityType) ? priorityWord(Number(r.priority)) : priorityWord(r.priority),
      updated: shape.updatedColumn ? iso(r[shape.updatedColumn]) : null,
      link: baseUrl ? `${baseUrl}/tickets/${key}` : null,
      meta: { source: r.source ?? null },
    };
  },
  async apply(sql, key, changes) {
    // The same rules as PATCH /tickets/:id: resolved_at / closed_at follow the status.
    const shape = await ticketShape(sql);
    const title = changes.title?.trim() ? changes.title.trim().slice(0, 500) : null;
    const status = changes.status ?? null;
    const priority = changes.priority !== undefined && shape.priorityType ? String(ticketPriorityValue(shape, changes.priority)) : null;
    const fields = ([["title", title], ["status", status], ["priority", priority]] as const).filter(([, v]) => v !== null).map(([f]) => f as PullField);
    if (!fields.length) return { applied: [], refused: [] };
    const rows = await sql`
      update orchestrator.tickets t set
        title = coalesce(${title}, t.title),
        priority = coalesce(${priority}::text::orchestrator.ticket_priority, t.priority),
        status = coalesce(${status}::text::orchestrator.ticket_status, t.status),
        resolved_at = ${status === null || status === "closed" ? sql`t.resolved_at` : status === "resolved" ? sql`coalesce(t.resolved_at, now())` : sql`null`},
        closed_at = ${status === null ? sql`t.closed_at` : status === "closed" ? sql`coalesce(t.closed_at, now())` : sql`null`},
        updated_at = now()
      where id = ${Number(key)} returning id`;
    return rows.length ? { applied: fields, refused: [] } : { applied: [], refused: fields.map((f) => ({ field: f, reason: "the ticket no longer exists" })) };
  },
};

export const sopAdapter: EntityAdapter = {
  entity: "sop",
  pullFields: [],
  async load(sql, key, baseUrl) {
    const [s] = await sql<{ id: number; slug: string; version: number; title: string; body_md: string; content: unknown; generator: string; created_at: Date; source_task_id: number | null }[]>`
      select id, slug, version, title, body_md, content, generator, created_at, source_task_id
      from orchestrator.sops where slug = ${key} order by version desc limit 1`;
    if (!s) return undefined;
    return {
      title: s.title,
      status: "published",
      priority: null,
      updated: iso(s.created_at),
      link: baseUrl ? `${baseUrl}/sops/${s.slug}` : null,
      // From content, as GET /sops/:slug does: versions stored by the old renderer lost steps 10+'s sub-items.
      body: storedSopMarkdown(s),
      meta: { version: s.version, sop_id: s.id, generator: s.generator, source_task_id: s.source_task_id },
    };
  },
  apply: () => Promise.resolve({ applied: [], refused: [] }),
};

export const digestAdapter: EntityAdapter = {
  entity: "digest",
  pullFields: [],
  // orchestrator.digests comes with the migration that made "digest" an entity: no lookup needed.
  async load(sql, key) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(key)) return undefined;
    const [d] = await sql<{ day: string; body_md: string; updated_at: Date; dead: number | null }[]>`
      select day::text, body_md, updated_at, (summary #>> '{totals,dead}')::int as dead
      from orchestrator.digests where day = ${key}::date`;
    if (!d) return undefined;
    return {
      title: `Orchestrator digest for ${d.day}`,
      status: "published",
      // A day with dead tasks stands out in a Notion view sorted by priority.
      priority: d.dead ? "high" : null,
      updated: iso(d.updated_at),
      link: null,
      body: d.body_md,
    };
  },
  apply: () => Promise.resolve({ applied: [], refused: [] }),
};

export const ADAPTERS: Record<Entity, EntityAdapter> = { task: taskAdapter, ticket: ticketAdapter, sop: sopAdapter, digest: digestAdapter };
