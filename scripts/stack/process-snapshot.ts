// What the supervisor knows about each process of the local stack: shown by
// `npm run status`, a second `npm start`, and /health (local_stack.processes).

export type ProcessState = "running" | "restarting" | "stopped" | "failed";

export interface ProcessSnapshot {
  name: string;
  pid: number | null;
  /** running; restarting (died, back after a backoff); stopped (on purpose); failed (the supervisor gave up). */
  state: ProcessState;
  /** Restarts by the supervisor since the stack started. */
  restarts: number;
  /** How it last ended on its own: "code 1", "signal SIGKILL", "postmaster gone". */
  last_exit: string | null;
  last_exit_at: string | null;
  /** When it entered its current state. */
  since: string;
  /** Its last stderr lines before it died (the terminal and the state file only: never stored in the database). */
  last_stderr: string[];
  /** Why the supervisor gave up, and what to do (state failed). */
  gave_up: string | null;
}

/** One line for people: "pg_net: failed (6 restarts; last exit signal SIGKILL at …)". */
export function describeProcess(p: ProcessSnapshot): string {
  const exit = p.last_exit ? `; last exit ${p.last_exit} at ${p.last_exit_at}` : "";
  const pid = p.pid ? `pid ${p.pid}, ` : "";
  return `${p.name}: ${p.state} (${pid}${p.restarts} restart${p.restarts === 1 ? "" : "s"}${exit})`;
}
