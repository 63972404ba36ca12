// A child process of the local stack (functions server, pg_net dispatcher, logs
// mirror). Once supervised, a child that dies on its own — a crash, or kill -9
// from outside — is reported (exit code or signal, its last stderr lines) and
// started again after a backoff (restart-policy.ts). stop() is the only way to
// end it for good, so a deliberate stop is never mistaken for a crash.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { ProcessSnapshot, ProcessState } from "./process-snapshot.ts";
import { CrashHistory, DEFAULT_RESTART_POLICY, type RestartPolicy } from "./restart-policy.ts";

const STDERR_KEPT = 20;
const STDERR_SHOWN = 5;

export interface ManagedProcessOptions {
  cwd?: string;
  /** Every state change (started, died, restarted, stopped, gave up). */
  onChange?: (snapshot: ProcessSnapshot) => void;
}

export class ManagedProcess {
  child: ChildProcess | undefined;
  readonly name: string;
  private readonly cmd: string;
  private readonly args: string[];
  private readonly env: Record<string, string>;
  private readonly onLine: (source: string, line: string) => void;
  private readonly opts: ManagedProcessOptions;
  private wanted = false;
  private history: CrashHistory | undefined;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  private startedAt = 0;
  private childEnded = true;
  private stderr: string[] = [];
  private snap: ProcessSnapshot;

  constructor(
    name: string,
    cmd: string,
    args: string[],
    env: Record<string, string>,
    onLine: (source: string, line: string) => void,
    opts: ManagedProcessOptions = {},
  ) {
    this.name = name;
    this.cmd = cmd;
    this.args = args;
    this.env = env;
    this.onLine = onLine;
    this.opts = opts;
    this.snap = {
      name, pid: null, state: "stopped", restarts: 0, last_exit: null, last_exit_at: null,
      since: new Date().toISOString(), last_stderr: [], gave_up: null,
    };
  }

  get snapshot(): ProcessSnapshot {
    return { ...this.snap, last_stderr: [...this.snap.last_stderr] };
  }

  /**
   * From now on, a death that stop() did not cause brings the process back (after a backoff).
   * One that already died before (during the stack's start-up) comes back now.
   */
  supervise(policy: RestartPolicy = DEFAULT_RESTART_POLICY): this {
    this.history = new CrashHistory(policy);
    if (this.wanted && !this.running && this.snap.state === "failed") this.died(this.snap.last_exit ?? "exited", false);
    return this;
  }

  start(): void {
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.wanted = true;
    this.stderr = [];
    const child = spawn(this.cmd, this.args, {
      cwd: this.opts.cwd, env: { ...process.env, ...this.env }, stdio: ["ignore", "pipe", "pipe"],
    });
    createInterface({ input: child.stdout! }).on("line", (line) => this.onLine(this.name, line));
    createInterface({ input: child.stderr! }).on("line", (line) => {
      this.stderr.push(line);
      if (this.stderr.length > STDERR_KEPT) this.stderr.shift();
      this.onLine(this.name, line);
    });
    // A spawn failure (say, ENOENT) ends it like an exit; "exit" may or may not follow: count one end.
    let ended = false;
    const end = (reason: string) => {
      if (ended) return;
      ended = true;
      if (this.child !== child) return;
      this.childEnded = true;
      this.exited(reason);
    };
    child.on("error", (err) => end(`could not run ${this.cmd}: ${err.message}`));
    child.on("exit", (code, signal) => end(signal ? `signal ${signal}` : `code ${code}`));
    this.child = child;
    this.childEnded = false;
    this.startedAt = Date.now();
    this.set("running", { pid: child.pid ?? null, gave_up: null });
  }

  get running(): boolean {
    return !!this.child && !this.childEnded && this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    this.wanted = false;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    if (!child || !this.running) {
      if (this.snap.state !== "stopped") this.set("stopped", { pid: null });
      return;
    }
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }

  private exited(reason: string): void {
    if (!this.wanted) {
      this.set("stopped", { pid: null });
      return;
    }
    this.died(reason);
  }

  /** It ended on its own: say why, then restart it (supervised) or leave it down. */
  private died(reason: string, fresh = true): void {
    const lastStderr = fresh ? this.stderr.slice(-STDERR_SHOWN) : this.snap.last_stderr;
    const uptime = Date.now() - this.startedAt;
    const tail = lastStderr.length && fresh ? `; its last stderr lines:\n${lastStderr.map((l) => `    ${l}`).join("\n")}` : "";
    const facts = { pid: null, last_exit: reason, last_exit_at: fresh ? new Date().toISOString() : this.snap.last_exit_at, last_stderr: lastStderr };
    if (!this.history) {
      this.say(`${this.name} exited unexpectedly (${reason}) after ${(uptime / 1000).toFixed(1)} s${tail}`);
      this.set("failed", { ...facts, gave_up: `it exited (${reason}) before the stack was up` });
      return;
    }
    const decision = this.history.crashed(uptime);
    if ("giveUp" in decision) {
      const gaveUp = `${decision.giveUp} (last: ${reason}); not restarting it. Read its error above, fix it, ` +
        "then stop the stack (Ctrl-C) and run `npm start` again.";
      this.say(`${this.name} died (${reason}) after ${(uptime / 1000).toFixed(1)} s${tail}\n  giving up on ${this.name}: ${gaveUp}`);
      this.set("failed", { ...facts, gave_up: gaveUp });
      return;
    }
    this.say(`${this.name} died (${reason}) after ${(uptime / 1000).toFixed(1)} s${tail}\n  restarting it in ${decision.restartInMs} ms (restart ${this.snap.restarts + 1})`);
    this.set("restarting", facts);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.wanted) return;
      this.snap.restarts++;
      this.start();
      this.say(`${this.name} restarted (pid ${this.child?.pid}, restart ${this.snap.restarts})`);
    }, decision.restartInMs);
  }

  private say(message: string): void {
    this.onLine("supervisor", message);
  }

  private set(state: ProcessState, facts: Partial<ProcessSnapshot>): void {
    this.snap = { ...this.snap, ...facts, state, since: new Date().toISOString() };
    this.opts.onChange?.(this.snapshot);
  }
}
