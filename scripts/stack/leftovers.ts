// After a supervisor (`npm start`) died without cleaning up — kill -9, a closed
// terminal — its children may still run and hold the ports. The state file
// lists their pids; a pid is only ended when /proc says it is still that
// program (pids are reused). PostgreSQL is left running: the next start reuses it.
import { existsSync, readFileSync } from "node:fs";
import { pidAlive } from "./postgres.ts";
import type { ProcessSnapshot } from "./process-snapshot.ts";

/** What each supervised child runs, to recognise it in /proc/<pid>/cmdline. */
const PROGRAMS: Record<string, string> = {
  functions: "scripts/edge-runtime.ts",
  pg_net: "scripts/pg-net-dispatcher.ts",
  logs: "scripts/logs-mirror.ts",
};

function runs(pid: number, program: string): boolean {
  const file = `/proc/${pid}/cmdline`;
  if (!existsSync(file)) return false;
  try {
    return readFileSync(file, "utf8").split("\0").some((arg) => arg.endsWith(program));
  } catch {
    return false;
  }
}

/** Ends the leftover children of a dead supervisor; returns a line per process it ended. */
export async function stopLeftovers(processes: ProcessSnapshot[]): Promise<string[]> {
  const ended: string[] = [];
  for (const p of processes) {
    const program = PROGRAMS[p.name];
    if (!program || !p.pid || !pidAlive(p.pid) || !runs(p.pid, program)) continue;
    process.kill(p.pid, "SIGTERM");
    for (let i = 0; i < 30 && pidAlive(p.pid); i++) await new Promise((r) => setTimeout(r, 100));
    if (pidAlive(p.pid)) process.kill(p.pid, "SIGKILL");
    ended.push(`${p.name} (pid ${p.pid})`);
  }
  return ended;
}
