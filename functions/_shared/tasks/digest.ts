// maintenance.digest: yesterday (UTC) in one page: tasks by type and status,
// the types that failed most, the open tickets that matter most, workflow runs.
// Written to the logs (a Markdown body in the context), returned as the task
// result, kept in orchestrator.digests, and sent to webhook subscribers of
// `digest.daily` and to Notion (a page per day) where those are set up.
import { db, type Sql } from "../db.ts";
import { catalogSpec } from "../task-catalog.ts";
import { defineTaskType } from "../task-types.ts";
import { emitWebhookEvent } from "../workflows/publish.ts";

const STATUSES = ["succeeded", "dead", "cancelled", "queued", "running"] as const;

export interface Digest {
  day: string;
  totals: Record<string, number>;
  by_type: ({ type: string; total: number } & Record<string, number | string>)[];
  top_failing: { type: string; dead: number; with_errors: number; total: number; last_error: string | null }[];
  open_tickets: { id: number; title: string; status: string; priority: string | null; occurrences: number | null; last_seen: string | null }[] | null;
  workflow_runs: { workflow: string; status: string; runs: number }[];
}

export async function buildDigest(sql: Sql, day: string, topN: number): Promise<Digest> {
  const from = `${day}T00:00:00Z`;
  const [byType, failing, workflows] = await Promise.all([
    sql<{ type: string; status: string; n: number }[]>`
      select type, status::text, count(*)::int as n from orchestrator.tasks
      where created_at >= ${from}::timestamptz and created_at < ${from}::timestamptz + interval '1 day'
      group by 1, 2 order by 1, 2`,
    sql<Digest["top_failing"]>`
      select type,
             count(*) filter (where status = 'dead')::int as dead,
             count(*) filter (where last_error is not null)::int as with_errors,
             count(*)::int as total,
             (array_agg(left(last_error, 300) order by updated_at desc) filter (where last_error is not null))[1] as last_error
      from orchestrator.tasks
      where created_at >= ${from}::timestamptz and created_at < ${from}::timestamptz + interval '1 day'
      group by type
      having count(*) filter (where last_error is not null or status = 'dead') > 0
      order by dead desc, with_errors desc, type
      limit ${topN}`,
    sql<Digest["workflow_runs"]>`
      select workflow_name as workflow, status::text, count(*)::int as runs from orchestrator.workflow_runs
      where created_at >= ${from}::timestamptz and created_at < ${from}::timestamptz + interval '1 day'
      group by 1, 2 order by 1, 2`,
  ]);
  type Row = Digest["by_type"][number];
  const types = new Map<string, Row>();
  const totals: Record<string, number> = { total: 0, ...Object.fromEntries(STATUSES.map((s) => [s, 0])) };
  for (const r of byType) {
    const t: Row = types.get(r.type) ?? ({ type: r.type, total: 0, ...Object.fromEntries(STATUSES.map((s) => [s, 0])) } as Row);
    (t as Record<string, number | string>)[r.status] = r.n;
    t.total += r.n;
    types.set(r.type, t);
    totals[r.status] = (totals[r.status] ?? 0) + r.n;
    totals.total += r.n;
  }
  let openTickets: Digest["open_tickets"] = null;
  {
    // Read through to_jsonb so the digest does not depend on the tickets table's exact columns.
    const rows = await sql<{ t: Record<string, unknown> }[]>`
      select to_jsonb(t) as t from orchestrator.tickets t
      where to_jsonb(t) ->> 'status' in ('open', 'in_progress')
      order by case to_jsonb(t) ->> 'priority' when 'urgent' then 4 when 'high' then 3 when 'normal' then 2 when 'medium' then 2
                                               when 'low' then 1 else 0 end desc,
               (to_jsonb(t) ->> 'occurrences')::numeric desc nulls last, t.id desc
      limit ${topN}`;
    openTickets = rows.map(({ t }) => ({
      id: Number(t.id),
      title: String(t.title ?? ""),
      status: String(t.status),
      priority: t.priority == null ? null : String(t.priority),
      occurrences: t.occurrences == null ? null : Number(t.occurrences),
      last_seen: t.last_seen == null ? null : String(t.last_seen),
    }));
  }
  return { day, totals, by_type: [...types.values()].sort((a, b) => b.total - a.total || a.type.localeCompare(b.type)), top_failing: failing, open_tickets: openTickets, workflow_runs: workflows };
}

const cell = (v: unknown) => String(v ?? "").replace(/\|/g, "\\|").replace(/\r?\n/g, " ");

export function digestMarkdown(d: Digest): string {
  const out = [`# Orchestrator digest for ${d.day} (UTC)`, ""];
  out.push(`**${d.totals.total} tasks created**: ${STATUSES.map((s) => `${d.totals[s] ?? 0} ${s}`).join(" · ")}`, "");
  out.push("## Tasks by type and status", "");
  if (d.by_type.length === 0) out.push("No tasks were created that day.", "");
  else {
    out.push(`| type | total | ${STATUSES.join(" | ")} |`, `| --- | --- | ${STATUSES.map(() => "---").join(" | ")} |`);
    for (const t of d.by_type) out.push(`| ${cell(t.type)} | ${t.total} | ${STATUSES.map((s) => t[s] ?? 0).join(" | ")} |`);
    out.push("");
  }
  out.push("## Top failing types", "");
  if (d.top_failing.length === 0) out.push("No task failed.", "");
  else {
    out.push("| type | dead | with errors | of | last error |", "| --- | --- | --- | --- | --- |");
    for (const f of d.top_failing) out.push(`| ${cell(f.type)} | ${f.dead} | ${f.with_errors} | ${f.total} | ${cell(f.last_error)} |`);
    out.push("");
  }
  out.push("## Top open tickets", "");
  if (d.open_tickets === null) out.push("This database has no tickets table.", "");
  else if (d.open_tickets.length === 0) out.push("No open tickets.", "");
  else {
    out.push("| # | title | status | priority | occurrences | last seen |", "| --- | --- | --- | --- | --- | --- |");
    for (const t of d.open_tickets) {
      out.push(`| ${t.id} | ${cell(t.title)} | ${t.status} | ${cell(t.priority)} | ${t.occurrences ?? ""} | ${cell(t.last_seen)} |`);
    }
    out.push("");
  }
  if (d.workflow_runs.length) {
    out.push("## Workflow runs", "", "| workflow | status | runs |", "| --- | --- | --- |");
    for (const w of d.workflow_runs) out.push(`| ${cell(w.workflow)} | ${w.status} | ${w.runs} |`);
    out.push("");
  }
  return out.join("\n");
}

function yesterdayUtc(now = new Date()): string {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - 1)).toISOString().slice(0, 10);
}

export const dailyDigest = defineTaskType({
  ...catalogSpec("maintenance.digest"),
  async handle(payload, { log }) {
    const sql = db();
    const day = payload.day ?? yesterdayUtc();
    const [{ top }] = await sql<{ top: number }[]>`
      select coalesce((orchestrator.setting('digest.top_n') #>> '{}')::int, 5) as top`;
    const digest = await buildDigest(sql, day, payload.top_n ?? top);
    const markdown = digestMarkdown(digest);
    // One transaction: the stored digest and the sends it triggers land together
    // (a retried task rewrites the same day's row, and the dedupe keys stop a second send).
    const sent = await sql.begin(async (tx) => {
      await tx`
        insert into orchestrator.digests (day, summary, body_md) values (${day}::date, ${tx.json(digest as never)}, ${markdown})
        on conflict (day) do update set summary = excluded.summary, body_md = excluded.body_md, updated_at = now()`;
      if (!payload.send) return { webhook_deliveries: null, notion: null };
      const webhooks = await emitWebhookEvent(tx, "digest.daily", { ...digest, markdown });
      const [{ enabled }] = await tx<{ enabled: boolean }[]>`select orchestrator.notion_sync_enabled() as enabled`;
      if (!enabled) return { webhook_deliveries: webhooks, notion: { enabled: false, push_enqueued: 0 } };
      const [{ n }] = await tx<{ n: number }[]>`select orchestrator.notion_enqueue_pushes('digest', array[${day}]::text[]) as n`;
      return { webhook_deliveries: webhooks, notion: { enabled: true, push_enqueued: n } };
    });
    log.info(`daily digest for ${day}: ${digest.totals.total} tasks, ${digest.totals.dead} dead, ${digest.top_failing.length} failing types`, {
      digest,
      markdown,
      ...sent,
    });
    return { ...digest, markdown, sent };
  },
});
