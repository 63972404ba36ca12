// `npm start`: the whole orchestrator on this machine, no Docker. It supervises
// what it starts (a process that dies is reported and restarted) and keeps
// .orchestrator/stack.json current for `npm run status`. Ctrl-C stops everything
// it started. A second `npm start` on a running stack says so, and when that
// stack is degraded, what is wrong and what to do.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  DEFAULT_API_PORT, DEFAULT_DATA_DIR, DEFAULT_PG_PORT, DEFAULT_POOLER_PORT, STATE_FILE, probeHealth, processProblems, readStackFile,
  removeStackFile, runningStack, statusLines, writeStackFile, type StackFile,
} from "./stack/config.ts";
import { stopLeftovers } from "./stack/leftovers.ts";
import { configurationWarnings } from "./stack/startup-checks.ts";
import { pidAlive, StackError } from "./stack/postgres.ts";
import { LocalStack, ROOT, type StackInfo } from "./stack/stack.ts";
import type { ProcessSnapshot } from "./stack/process-snapshot.ts";

const started = Date.now();
const already = runningStack();
if (already) {
  const health = await probeHealth(already);
  const problems = processProblems(already);
  if (health.ok && problems.length === 0) {
    console.log(`The orchestrator is already running (pid ${already.pid}, since ${already.started_at}); not starting another.`);
    console.log(statusLines(already).join("\n"));
    console.log(`Stop it with Ctrl-C in its terminal (or \`kill ${already.pid}\`) before starting again.`);
    process.exit(0);
  }
  console.log(`The orchestrator is already running (pid ${already.pid}, since ${already.started_at}), but it is degraded:`);
  if (!health.ok) console.log(`  - functions: ${health.detail}`);
  for (const p of problems) console.log(`  - ${p}`);
  const failed = (already.processes ?? []).some((p) => p.state === "failed");
  console.log(failed
    ? `What to do: read the error above (the stack's terminal shows the whole output), fix it, then stop the stack\n` +
      `(Ctrl-C in its terminal, or \`kill ${already.pid}\`) and run \`npm start\` again.`
    : `What to do: the supervisor is restarting what died; run \`npm run status\` in a few seconds. If it stays degraded,\n` +
      `stop the stack (Ctrl-C in its terminal, or \`kill ${already.pid}\`) and run \`npm start\` again.`);
  process.exit(1);
}
const stale = readStackFile();
if (stale && !pidAlive(stale.pid)) {
  const ended = await stopLeftovers(stale.processes ?? []);
  if (ended.length) console.log(`› the last \`npm start\` (pid ${stale.pid}) died without stopping its processes; stopped ${ended.join(", ")}`);
  removeStackFile();
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

let info: StackInfo | undefined;
let startedAt = "";
function saveState(processes: ProcessSnapshot[]): void {
  if (!info || stopping) return;
  const state: StackFile = {
    ...info, pid: process.pid, started_at: startedAt, data_dir: DEFAULT_DATA_DIR, pg_port: DEFAULT_PG_PORT,
    api_port: DEFAULT_API_PORT, processes, updated_at: new Date().toISOString(),
  };
  writeStackFile(state);
}

mkdirSync(DEFAULT_DATA_DIR, { recursive: true });
const stack = new LocalStack({
  dataDir: DEFAULT_DATA_DIR,
  pgPort: DEFAULT_PG_PORT,
  apiPort: DEFAULT_API_PORT,
  poolerPort: DEFAULT_POOLER_PORT,
  seed: true,
  logsDir: process.env.ORCH_LOGS_DIR ?? join(ROOT, "logs"),
  onProgress: (step) => console.log(`› ${step}`),
  onLine: printLine,
  onProcesses: saveState,
});

let stopping = false;
async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    console.log("\nstopping the functions, the dispatcher and PostgreSQL…");
    await stack.stop();
    removeStackFile();
    console.log("stopped.");
  }
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

try {
  info = await stack.start();
  startedAt = new Date().toISOString();
  saveState(stack.processes());
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`
  Orchestrator is running (healthy in ${secs}s). Ctrl-C stops it.

  Dashboard: ${info.API_URL}/   (sign in with SECRET_KEY; the legacy SERVICE_ROLE_KEY works too)

  ${statusLines(info).join("\n  ")}

  Try:  curl ${info.FUNCTIONS_URL}/health
        curl -X POST ${info.FUNCTIONS_URL}/tasks -H "apikey: $SECRET_KEY" -H 'content-type: application/json' -d '{"type":"noop"}'
  (\`eval "$(npm run -s status)"\` puts these variables in your shell; it reads ${STATE_FILE}.)
`);
  const warnings = await configurationWarnings(info);
  if (warnings.length) console.log(`${tty ? "\x1b[33m" : ""}⚠ ${warnings.join("\n")}${tty ? "\x1b[0m" : ""}\n`);
} catch (err) {
  console.error(`\n✗ could not start the orchestrator: ${err instanceof StackError ? err.message : (err as Error).stack}`);
  await shutdown(1);
}
