// `npm run status`: the running stack's facts as KEY=value lines (like `supabase status -o env`),
// read from the state file `npm start` keeps at a fixed place (no ORCH_* variables needed).
// stdout stays eval-safe; what is wrong with the stack goes to stderr.
import { STATE_FILE, probeHealth, processProblems, readStackFile, runningStack, statusLines } from "./stack/config.ts";

const info = runningStack();
if (!info) {
  const stale = readStackFile();
  console.error(stale
    ? `The orchestrator is not running: its \`npm start\` (pid ${stale.pid}) is gone. Start it again with \`npm start\`.`
    : `The orchestrator is not running (no ${STATE_FILE}). Start it with \`npm start\`.`);
  process.exit(1);
}
const health = await probeHealth(info);
const problems = processProblems(info);
const status = health.ok && problems.length === 0 ? "healthy" : health.ok ? "degraded" : "unhealthy";
console.log([...statusLines(info), `STATUS=${status}`, `PID=${info.pid}`].join("\n"));
if (status !== "healthy") {
  console.error(`The orchestrator (pid ${info.pid}) is ${status}:`);
  if (!health.ok) console.error(`  - functions: ${health.detail}`);
  for (const p of problems) console.error(`  - ${p}`);
}
