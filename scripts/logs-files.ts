// The two files "logs on disk" writes, shared by the mirror (local stack) and
// the export (any database): logs/orchestrator.log, one JSON object per log row
// (NDJSON, oldest first), and logs/tasks.md, a Markdown table of recent tasks.
// Both are pure functions of the database rows, so the export reproduces what
// the mirror wrote.
import { renameSync, writeFileSync } from "node:fs";
import postgres from "postgres";
import { redact, redactString } from "../functions/_shared/redact.ts";

export type Sql = postgres.Sql;

export function connect(url: string, appName: string): Sql {
  return postgres(url, {
    max: 2,
    onnotice: () => {},
    connect_timeout: 10,
    prepare: !/:6543\//.test(url),
    types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
    connection: { application_name: appName },
  });
}

/** A log row as stored in orchestrator.logs (the same shape GET /logs returns). */
import type { LogEntry as LogRow } from "../functions/_shared/logs.ts";
export type { LogRow };

/** One NDJSON line (without the newline). Secrets are masked again on the way to disk. */
export function formatLogLine(r: LogRow): string {
  return JSON.stringify({
    id: r.id,
    at: new Date(r.at).toISOString(),
    level: r.level,
    component: r.component,
    message: redactString(r.message),
    context: redact(r.context ?? {}),
    task_id: r.task_id,
    request_id: r.request_id,
  });
}

export const LOG_COLUMNS = "id, at, level::text as level, component, message, context, task_id, request_id";

export interface TaskRowForMd {
  id: number;
  type: string;
  status: string;
  attempts: number;
  max_attempts: number;
  source: string;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  workflow_name: string | null;
  run_id: number | null;
}

/** The tasks tasks.md shows: the most recent `limit` by id (optionally only those changed since `since`). */
export async function recentTasks(sql: Sql, opts: { limit: number; since?: Date }): Promise<TaskRowForMd[]> {
  const [{ has_workflows }] = await sql<{ has_workflows: boolean }[]>`
    select to_regclass('orchestrator.workflow_steps') is not null as has_workflows`;
  const since = opts.since ? sql`and t.updated_at >= ${opts.since}` : sql``;
  if (has_workflows) {
    return await sql<TaskRowForMd[]>`
      select t.id, t.type, t.status::text as status, t.attempts, t.max_attempts, t.source, t.last_error,
             t.created_at, t.updated_at, t.finished_at, r.workflow_name, s.run_id
      from orchestrator.tasks t
      left join orchestrator.workflow_steps s on s.task_id = t.id
      left join orchestrator.workflow_runs r on r.id = s.run_id
      where true ${since}
      order by t.id desc limit ${opts.limit}`;
  }
  return await sql<TaskRowForMd[]>`
    select t.id, t.type, t.status::text as status, t.attempts, t.max_attempts, t.source, t.last_error,
           t.created_at, t.updated_at, t.finished_at, null::text as workflow_name, null::bigint as run_id
    from orchestrator.tasks t where true ${since}
    order by t.id desc limit ${opts.limit}`;
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ").replace(/\s+/g, " ").trim();
const iso = (d: Date | null) => (d ? new Date(d).toISOString().replace(/\.\d{3}Z$/, "Z") : "");
const STATUS_ORDER = ["queued", "running", "succeeded", "dead", "cancelled"];

/** tasks.md. "As of" is the latest change among the rows shown, so the same rows always give the same file. */
export function renderTasksMarkdown(rows: TaskRowForMd[], opts: { functionsUrl?: string; since?: Date } = {}): string {
  const base = (opts.functionsUrl ?? "/functions/v1").replace(/\/$/, "");
  const asOf = rows.reduce<Date | null>((m, r) => (!m || new Date(r.updated_at) > m ? new Date(r.updated_at) : m), null);
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const lines = [
    "# Orchestrator tasks",
    "",
    rows.length === 0
      ? `No tasks${opts.since ? ` changed since ${iso(opts.since)}` : ""}.`
      : `${rows.length} most recent tasks${opts.since ? ` changed since ${iso(opts.since)}` : ""}, newest first; as of ${iso(asOf)}.`,
    "",
  ];
  if (rows.length) {
    lines.push(
      STATUS_ORDER.filter((s) => counts.has(s)).map((s) => `**${s}** ${counts.get(s)}`).join(" · "),
      "",
      "| id | status | type | attempts | updated | source | error | links |",
      "| ---: | --- | --- | --- | --- | --- | --- | --- |",
    );
    for (const r of rows) {
      const links = [`[task](${base}/tasks/${r.id})`, `[logs](${base}/logs?task_id=${r.id})`];
      if (r.workflow_name && r.run_id) links.push(`[run](${base}/workflows/${r.workflow_name}/runs/${r.run_id})`);
      const schedule = /^schedule:(.+)$/.exec(r.source)?.[1];
      if (schedule) links.push(`[schedule](${base}/schedules/${schedule})`);
      const error = r.last_error ? cell(redactString(r.last_error)).slice(0, 200) : "";
      lines.push(
        `| ${r.id} | ${r.status} | ${cell(r.type)} | ${r.attempts}/${r.max_attempts} | ${iso(r.updated_at)} | ${cell(r.source)} | ${error} | ${links.join(" · ")} |`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

/** Replaces a file in one step, so a reader never sees half of it. */
export function writeFileAtomic(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

/** "2026-11-01", an ISO instant, or a duration back from now: 90m, 24h, 7d. */
export function parseSince(value: string, now = new Date()): Date {
  const rel = /^(\d+)\s*(m|min|h|d|w)$/i.exec(value.trim());
  if (rel) {
    const n = Number(rel[1]);
    const unit = rel[2].toLowerCase();
    const ms = unit.startsWith("m") ? 60_000 : unit === "h" ? 3_600_000 : unit === "d" ? 86_400_000 : 7 * 86_400_000;
    return new Date(now.getTime() - n * ms);
  }
  const d = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value.trim()) || Number.isNaN(d.getTime())) {
    throw new Error(`--since ${JSON.stringify(value)} is not a date (2026-11-01, 2026-11-01T12:00:00Z) or a duration (90m, 24h, 7d)`);
  }
  return d;
}
