// `npm run status`: the running stack's facts as KEY=value lines (like `supabase status -o env`).
import { runningStack, statusLines } from "./stack/config.ts";

const info = runningStack();
if (!info) {
  console.error("The orchestrator is not running. Start it with `npm start`.");
  process.exit(1);
}
let healthy = false;
try {
  healthy = (await fetch(`${info.FUNCTIONS_URL}/health`, { signal: AbortSignal.timeout(3000) })).ok;
} catch {
  healthy = false;
}
console.log([...statusLines(info), `STATUS=${healthy ? "healthy" : "unhealthy"}`, `PID=${info.pid}`].join("\n"));
