// Reading orchestrator.logs: filters, keyset pages, and the three export formats.
import { db } from "./db.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import type { LogEntry, LogPage } from "./responses.ts";
import type { ListLogsQuery } from "./schemas.ts";

export type { LogEntry } from "./responses.ts";

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => "\\" + c);

export async function listLogs(q: ListLogsQuery): Promise<LogPage> {
  const sql = db();
  const after = decodeCursor(q.cursor);
  const rows = await sql<LogEntry[]>`
    select id, at, level::text as level, component, message, context, task_id, request_id, trace_id
    from orchestrator.logs
    where true
      ${q.level ? sql`and level >= ${q.level}::orchestrator.log_level` : sql``}
      ${q.component ? sql`and component = ${q.component}` : sql``}
      ${q.task_id ? sql`and task_id = ${q.task_id}` : sql``}
      ${q.request_id ? sql`and request_id = ${q.request_id}` : sql``}
      ${q.trace_id ? sql`and trace_id = ${q.trace_id}` : sql``}
      ${q.since ? sql`and at >= ${q.since}` : sql``}
      ${q.until ? sql`and at < ${q.until}` : sql``}
      ${q.q ? sql`and message ilike ${"%" + likeEscape(q.q) + "%"}` : sql``}
      ${after ? sql`and id < ${after}` : sql``}
    order by id desc
    limit ${q.limit + 1}`;
  const page = rows.slice(0, q.limit);
  return { logs: page, next_cursor: rows.length > q.limit ? encodeCursor(page[page.length - 1].id) : null };
}

export function logsAsNdjson(logs: LogEntry[]): string {
  return logs.map((l) => JSON.stringify(l)).join("\n") + (logs.length ? "\n" : "");
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");

export function logsAsMarkdown(logs: LogEntry[]): string {
  const lines = [
    "| at | level | component | task | message |",
    "| --- | --- | --- | --- | --- |",
    ...logs.map((l) =>
      `| ${new Date(l.at).toISOString()} | ${l.level} | ${cell(l.component)} | ${l.task_id ?? ""} | ${cell(l.message)} |`
    ),
  ];
  return `# Orchestrator logs\n\n${logs.length} entries, newest first.\n\n${lines.join("\n")}\n`;
}
