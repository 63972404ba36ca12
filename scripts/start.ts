// `npm start`: the whole orchestrator on this machine, no Docker. Ctrl-C stops
// everything it started; a second `npm start` on a running stack says so.
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_API_PORT, DEFAULT_DATA_DIR, DEFAULT_PG_PORT, runningStack, statusLines } from "./stack/config.ts";
import { LocalStack, ROOT, writeStackFile } from "./stack/stack.ts";
import { StackError } from "./stack/postgres.ts";

const started = Date.now();
const already = runningStack();
if (already) {
  console.log(`The orchestrator is already running (pid ${already.pid}, since ${already.started_at}); not starting another.`);
  console.log(statusLines(already).join("\n"));
  console.log("Stop it with Ctrl-C in its terminal (or `kill ${pid}`) before starting again.".replace("${pid}", String(already.pid)));
  process.exit(0);
}

const COLORS: Record<string, string> = { debug: "\x1b[90m", info: "\x1b[36m", warn: "\x1b[33m", error: "\x1b[31m", fatal: "\x1b[41m" };
const tty = process.stdout.isTTY;
const verbose = process.env.LOG_LEVEL === "debug";

function printLine(source: string, line: string): void {
  let entry: { level?: string; component?: string; message?: string; task_id?: number; context?: Record<string, unknown>; at?: string };
  try {
    entry = JSON.parse(line);
  } catch {
    console.log(`${source.padEnd(10)} ${line}`);
    return;
  }
  const level = entry.level ?? "info";
  if (level === "debug" && !verbose) return;
  const time = (entry.at ? new Date(entry.at) : new Date()).toISOString().slice(11, 23);
  const lvl = tty ? `${COLORS[level] ?? ""}${level.padEnd(5)}\x1b[0m` : level.padEnd(5);
  const task = entry.task_id ? ` task=${entry.task_id}` : "";
  const ctx = entry.context && Object.keys(entry.context).length ? ` ${JSON.stringify(entry.context)}` : "";
  console.log(`${time} ${lvl} ${(entry.component ?? source).padEnd(12)} ${entry.message ?? ""}${task}${ctx}`);
}

mkdirSync(DEFAULT_DATA_DIR, { recursive: true });
const stack = new LocalStack({
  dataDir: DEFAULT_DATA_DIR,
  pgPort: DEFAULT_PG_PORT,
  apiPort: DEFAULT_API_PORT,
  seed: true,
  logsDir: process.env.ORCH_LOGS_DIR ?? join(ROOT, "logs"),
  onProgress: (step) => console.log(`› ${step}`),
  onLine: printLine,
});

let stopping = false;
async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    console.log("\nstopping the functions, the dispatcher and PostgreSQL…");
    await stack.stop();
    rmSync(join(DEFAULT_DATA_DIR, "stack.json"), { force: true });
    console.log("stopped.");
  }
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

try {
  const info = await stack.start();
  writeStackFile(DEFAULT_DATA_DIR, { ...info, pid: process.pid, started_at: new Date().toISOString(), data_dir: DEFAULT_DATA_DIR });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`
  Orchestrator is running (healthy in ${secs}s). Ctrl-C stops it.

  Dashboard: ${info.API_URL}/   (sign in with SERVICE_ROLE_KEY)

  ${statusLines(info).join("\n  ")}

  Try:  curl ${info.FUNCTIONS_URL}/health
        curl -X POST ${info.FUNCTIONS_URL}/tasks -H "Authorization: Bearer $SERVICE_ROLE_KEY" -H 'content-type: application/json' -d '{"type":"noop"}'
  (\`eval "$(npm run -s status)"\` puts these variables in your shell.)
`);
} catch (err) {
  console.error(`\n✗ could not start the orchestrator: ${err instanceof StackError ? err.message : (err as Error).stack}`);
  await shutdown(1);
}
