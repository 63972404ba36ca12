// PostgreSQL under the local stack's supervision, when the stack started it.
// pg_ctl runs the postmaster as a daemon, not as our child, so its death is seen
// by polling postmaster.pid: gone for longer than a `pg_ctl restart` takes, it
// is reported (with the server log's last lines) and started again with the
// same backoff and give-up rule as the other processes.
import type { Cluster } from "./postgres.ts";
import type { ProcessSnapshot, ProcessState } from "./process-snapshot.ts";
import { CrashHistory, DEFAULT_RESTART_POLICY, type RestartPolicy } from "./restart-policy.ts";

const POLL_MS = 1_000;
/** Down this long before it counts as dead: someone's `pg_ctl restart` is between its stop and its start. */
const GRACE_MS = 2_000;

export class SupervisedPostgres {
  private readonly cluster: Cluster;
  private readonly onLine: (source: string, line: string) => void;
  private readonly onChange: (snapshot: ProcessSnapshot) => void;
  private readonly history: CrashHistory;
  private timer: ReturnType<typeof setInterval> | undefined;
  private busy = false;
  private downSince: number | undefined;
  private upSince = Date.now();
  private snap: ProcessSnapshot;

  constructor(
    cluster: Cluster,
    onLine: (source: string, line: string) => void,
    onChange: (snapshot: ProcessSnapshot) => void,
    policy: RestartPolicy = DEFAULT_RESTART_POLICY,
  ) {
    this.cluster = cluster;
    this.onLine = onLine;
    this.onChange = onChange;
    this.history = new CrashHistory(policy);
    this.snap = {
      name: "postgres", pid: cluster.postmasterPid() ?? null, state: "running", restarts: 0, last_exit: null,
      last_exit_at: null, since: new Date().toISOString(), last_stderr: [], gave_up: null,
    };
  }

  get snapshot(): ProcessSnapshot {
    return { ...this.snap, last_stderr: [...this.snap.last_stderr] };
  }

  watch(): void {
    this.timer ??= setInterval(() => void this.check(), POLL_MS);
  }

  /** Before the stack stops PostgreSQL on purpose. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.set("stopped", { pid: null });
  }

  private async check(): Promise<void> {
    if (this.busy || this.snap.state === "failed" || !this.timer) return;
    const pid = this.cluster.postmasterPid();
    if (pid !== undefined) {
      this.downSince = undefined;
      // A restart by someone else (pg_ctl restart) brings a new postmaster: not a crash, but a new pid.
      if (pid !== this.snap.pid) this.set("running", { pid });
      return;
    }
    this.downSince ??= Date.now();
    if (Date.now() - this.downSince < GRACE_MS) return;
    this.busy = true;
    try {
      await this.recover();
    } finally {
      this.busy = false;
    }
  }

  private async recover(): Promise<void> {
    const logTail = this.cluster.logTail(5);
    const reason = `postmaster gone (pid ${this.snap.pid ?? "?"})`;
    const decision = this.history.crashed(Date.now() - this.upSince);
    const facts = { pid: null, last_exit: reason, last_exit_at: new Date().toISOString(), last_stderr: logTail };
    const tail = logTail.length ? `; the server log ends:\n${logTail.map((l) => `    ${l}`).join("\n")}` : "";
    if ("giveUp" in decision) {
      const gaveUp = `${decision.giveUp}; not restarting it. Read ${this.cluster.logFile}, fix the cause, then stop the stack (Ctrl-C) and run \`npm start\` again.`;
      this.say(`PostgreSQL died (${reason})${tail}\n  giving up on postgres: ${gaveUp}`);
      this.set("failed", { ...facts, gave_up: gaveUp });
      return;
    }
    this.say(`PostgreSQL died (${reason})${tail}\n  restarting it in ${decision.restartInMs} ms (restart ${this.snap.restarts + 1})`);
    this.set("restarting", facts);
    await new Promise((r) => setTimeout(r, decision.restartInMs));
    if (!this.timer) return;
    try {
      await this.cluster.startInBackground();
    } catch (err) {
      // Counted as another crash on the next poll (still down after the grace period).
      this.say(`PostgreSQL did not start: ${(err as Error).message}`);
      this.downSince = Date.now() - GRACE_MS;
      this.upSince = Date.now();
      this.snap.restarts++;
      return;
    }
    this.snap.restarts++;
    this.upSince = Date.now();
    this.downSince = undefined;
    this.set("running", { pid: this.cluster.postmasterPid() ?? null });
    this.say(`PostgreSQL restarted (pid ${this.snap.pid}, restart ${this.snap.restarts})`);
  }

  private say(message: string): void {
    this.onLine("supervisor", message);
  }

  private set(state: ProcessState, facts: Partial<ProcessSnapshot>): void {
    this.snap = { ...this.snap, ...facts, state, since: new Date().toISOString() };
    this.onChange(this.snapshot);
  }
}
