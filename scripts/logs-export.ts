// `npm run logs:export -- --db-url <url> --since 24h [--out logs] [--tasks-limit 200] [--functions-url <url>]`
// Writes <out>/orchestrator.log (NDJSON, the log rows since --since, oldest first)
// and <out>/tasks.md (the most recent tasks) from any database, hosted included:
// the same files the local stack's mirror keeps current.
import { createWriteStream, mkdirSync, renameSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { connect, formatLogLine, LOG_COLUMNS, type LogRow, parseSince, recentTasks, renderTasksMarkdown, writeFileAtomic } from "./logs-files.ts";

const HELP = `Usage: npm run logs:export -- [options]

  --db-url <url>         database to read (default: $DB_URL, $SUPABASE_DB_URL, or the running \`npm start\` stack)
  --since <when>         logs from this point: 2026-11-01, an ISO instant, or 90m / 24h / 7d back (default 24h)
  --out <dir>            where to write orchestrator.log and tasks.md (default: logs)
  --tasks-limit <n>      how many recent tasks tasks.md lists (default 200)
  --tasks-since          also limit tasks.md to tasks changed since --since (default: the most recent, whenever)
  --functions-url <url>  base of the links in tasks.md (default: $FUNCTIONS_URL, the running stack, or /functions/v1)
`;

async function runningStackInfo(): Promise<{ DB_URL?: string; FUNCTIONS_URL?: string } | undefined> {
  try {
    const { runningStack } = await import("./stack/config.ts");
    return runningStack();
  } catch {
    return undefined;
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      "db-url": { type: "string" },
      since: { type: "string", default: "24h" },
      out: { type: "string", default: "logs" },
      "tasks-limit": { type: "string", default: "200" },
      "tasks-since": { type: "boolean", default: false },
      "functions-url": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const stack = values["db-url"] || process.env.DB_URL || process.env.SUPABASE_DB_URL ? undefined : await runningStackInfo();
  const dbUrl = values["db-url"] ?? process.env.DB_URL ?? process.env.SUPABASE_DB_URL ?? stack?.DB_URL;
  if (!dbUrl) {
    console.error("logs:export: no database: pass --db-url (or set DB_URL), or start the local stack with `npm start`.\n\n" + HELP);
    return 2;
  }
  const since = parseSince(values.since!);
  const limit = Number(values["tasks-limit"]);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) {
    console.error(`logs:export: --tasks-limit must be a whole number from 1 to 100000 (got ${values["tasks-limit"]})`);
    return 2;
  }
  const functionsUrl = values["functions-url"] ?? process.env.FUNCTIONS_URL ?? stack?.FUNCTIONS_URL;
  const out = resolve(values.out!);
  mkdirSync(out, { recursive: true });

  const sql = connect(dbUrl, "orchestrator_logs_export");
  const started = Date.now();
  try {
    const logPath = join(out, "orchestrator.log");
    const tmp = `${logPath}.${process.pid}.tmp`;
    const stream = createWriteStream(tmp);
    let lines = 0;
    await sql.unsafe<LogRow[]>(`select ${LOG_COLUMNS} from orchestrator.logs where at >= $1 order by id`, [since])
      .cursor(2000, async (rows: LogRow[]) => {
        const chunk = rows.map((r) => formatLogLine(r) + "\n").join("");
        lines += rows.length;
        if (!stream.write(chunk)) await new Promise<void>((r) => stream.once("drain", () => r()));
      });
    await new Promise<void>((res, rej) => stream.end((err?: Error | null) => (err ? rej(err) : res())));
    renameSync(tmp, logPath);

    const tasks = await recentTasks(sql, { limit, since: values["tasks-since"] ? since : undefined });
    const tasksPath = join(out, "tasks.md");
    writeFileAtomic(tasksPath, renderTasksMarkdown(tasks, { functionsUrl, since: values["tasks-since"] ? since : undefined }));
    console.log(`wrote ${lines} log lines since ${since.toISOString()} to ${logPath} and ${tasks.length} tasks to ${tasksPath} in ${Date.now() - started} ms`);
    return 0;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

main().then((code) => process.exit(code), (err) => {
  console.error(`logs:export failed: ${(err as Error).message}`);
  process.exit(1);
});
