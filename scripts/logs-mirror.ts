// Logs on disk for the local stack: appends every new orchestrator.logs row to
// <LOGS_DIR>/orchestrator.log (NDJSON) and keeps <LOGS_DIR>/tasks.md current as
// tasks change. Polls (no trigger or NOTIFY on the hot tables): new log rows by
// id every LOGS_MIRROR_INTERVAL_MS, the recent tasks every TASKS interval.
// Restarted, it resumes after the last id already in orchestrator.log.
//
// Env: DB_URL (required), LOGS_DIR (default ./logs), FUNCTIONS_URL (links in tasks.md),
// LOGS_MIRROR_INTERVAL_MS (500), LOGS_TASKS_INTERVAL_MS (1000), LOGS_TASKS_LIMIT (200),
// LOGS_MIRROR_SINCE (where a new orchestrator.log starts: 24h).
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { connect, formatLogLine, LOG_COLUMNS, type LogRow, parseSince, recentTasks, renderTasksMarkdown, writeFileAtomic } from "./logs-files.ts";

const DB_URL = process.env.DB_URL;
if (!DB_URL) {
  console.error("logs-mirror: set DB_URL to the database to mirror");
  process.exit(2);
}
const dir = resolve(process.env.LOGS_DIR ?? "logs");
const logPath = join(dir, "orchestrator.log");
const tasksPath = join(dir, "tasks.md");
const logEvery = Number(process.env.LOGS_MIRROR_INTERVAL_MS ?? 500);
const tasksEvery = Number(process.env.LOGS_TASKS_INTERVAL_MS ?? 1000);
const tasksLimit = Number(process.env.LOGS_TASKS_LIMIT ?? 200);
const functionsUrl = process.env.FUNCTIONS_URL;
const BATCH = 5000;
/** An id skipped by a poll may belong to a transaction that commits later: look for it this long. */
const GAP_TTL_MS = 30_000;

const say = (level: string, message: string) => console.log(JSON.stringify({ level, component: "logs-mirror", message }));

const sql = connect(DB_URL, "orchestrator_logs_mirror");
mkdirSync(dir, { recursive: true });

/** The last id in an existing orchestrator.log (read from its tail), or undefined. */
function lastIdInFile(): number | undefined {
  if (!existsSync(logPath)) return undefined;
  const size = statSync(logPath).size;
  if (size === 0) return undefined;
  const fd = openSync(logPath, "r");
  try {
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const lines = buf.toString("utf8").split("\n").filter((l) => l.trim());
    for (let i = lines.length - 1; i >= 0; i--) {
      try {
        const id = JSON.parse(lines[i]).id;
        if (Number.isSafeInteger(id)) return id;
      } catch {
        // a partial first line of the tail window
      }
    }
  } finally {
    closeSync(fd);
  }
  return undefined;
}

let maxId: number | undefined = lastIdInFile();
/** Ids below maxId not seen yet (a concurrent insert may still commit them), with when they were first missed. */
const gaps = new Map<number, number>();

async function startingPoint(): Promise<number> {
  const since = parseSince(process.env.LOGS_MIRROR_SINCE ?? "24h");
  const [row] = await sql<{ id: number | null }[]>`select max(id) as id from orchestrator.logs where at < ${since}`;
  return row?.id ?? 0;
}

async function pollLogs(): Promise<void> {
  if (maxId !== undefined && !existsSync(logPath)) {
    // Someone removed the file: start it again from LOGS_MIRROR_SINCE.
    maxId = undefined;
    gaps.clear();
  }
  if (maxId === undefined) maxId = await startingPoint();
  const now = Date.now();
  for (const [id, first] of gaps) if (now - first > GAP_TTL_MS) gaps.delete(id);
  const gapIds = [...gaps.keys()];
  const rows = await sql.unsafe<LogRow[]>(
    `select ${LOG_COLUMNS} from orchestrator.logs where id > $1 ${gapIds.length ? "or id = any($3::bigint[])" : ""} order by id limit $2`,
    gapIds.length ? [maxId, BATCH, gapIds] : [maxId, BATCH],
  );
  if (rows.length === 0) return;
  let expected = maxId + 1;
  for (const r of rows) {
    if (gaps.delete(r.id)) continue;
    for (let id = expected; id < r.id && gaps.size < 10_000; id++) gaps.set(id, now);
    expected = r.id + 1;
  }
  appendFileSync(logPath, rows.map((r) => formatLogLine(r) + "\n").join(""));
  maxId = Math.max(maxId, rows[rows.length - 1].id, ...rows.map((r) => r.id));
  if (rows.length === BATCH) setImmediate(() => void tick("logs"));
}

let lastTasksMd = "";
async function pollTasks(): Promise<void> {
  const md = renderTasksMarkdown(await recentTasks(sql, { limit: tasksLimit }), { functionsUrl });
  if (md !== lastTasksMd || !existsSync(tasksPath)) {
    writeFileAtomic(tasksPath, md);
    lastTasksMd = md;
  }
}

const running = { logs: false, tasks: false };
let failing = false;
let stopping = false;

async function tick(which: "logs" | "tasks"): Promise<void> {
  if (running[which] || stopping) return;
  running[which] = true;
  try {
    await (which === "logs" ? pollLogs() : pollTasks());
    if (failing) say("info", "database reachable again; mirroring resumed");
    failing = false;
  } catch (err) {
    if (!failing) say("warn", `cannot mirror right now (${(err as Error).message}); retrying`);
    failing = true;
  } finally {
    running[which] = false;
  }
}

const timers = [setInterval(() => void tick("logs"), logEvery), setInterval(() => void tick("tasks"), tasksEvery)];
await Promise.all([tick("logs"), tick("tasks")]);
say("info", `mirroring orchestrator.logs to ${logPath} and recent tasks to ${tasksPath}`);

async function shutdown(): Promise<void> {
  stopping = true;
  for (const t of timers) clearInterval(t);
  while (running.logs || running.tasks) await new Promise((r) => setTimeout(r, 20));
  await sql.end({ timeout: 2 });
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
