// The local stack's supervisor (issue 14, item 8): a child that dies on its own is
// reported (exit code or signal, its last stderr lines) and restarted with backoff;
// a crash loop is given up on with a message saying what to do; a deliberate stop
// is never restarted. Real child processes (node -e), no stack needed.
import { afterEach, describe, expect, it } from "vitest";
import { ManagedProcess } from "../../scripts/stack/supervised-process.ts";
import { CrashHistory, type RestartPolicy } from "../../scripts/stack/restart-policy.ts";
import { processProblems, type StackFile } from "../../scripts/stack/config.ts";
import type { ProcessSnapshot } from "../../scripts/stack/process-snapshot.ts";
import { waitFor } from "../helpers/stack.ts";

const FAST: RestartPolicy = { initialDelayMs: 20, maxDelayMs: 200, maxCrashes: 4, windowMs: 10_000, stableMs: 5_000 };
const started: ManagedProcess[] = [];

function child(script: string, lines: string[], changes: ProcessSnapshot[] = []): ManagedProcess {
  const p = new ManagedProcess("worker", process.execPath, ["-e", script], {}, (source, line) => lines.push(`${source}: ${line}`), {
    onChange: (s) => changes.push(s),
  });
  started.push(p);
  return p;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.stop("SIGKILL")));
});

describe("restart policy", () => {
  it("backs off by doubling, starts afresh after a stable run, gives up on a crash loop", () => {
    const h = new CrashHistory({ initialDelayMs: 250, maxDelayMs: 1_000, maxCrashes: 5, windowMs: 60_000, stableMs: 30_000 });
    let t = 0;
    const delays = [0, 1, 2, 3].map(() => h.crashed(100, (t += 1000)));
    expect(delays).toEqual([{ restartInMs: 250 }, { restartInMs: 500 }, { restartInMs: 1000 }, { restartInMs: 1000 }]);
    expect(h.crashed(100, (t += 1000))).toEqual({ giveUp: "it died 5 times within 60 s" });
    const calm = new CrashHistory({ initialDelayMs: 250, maxDelayMs: 1_000, maxCrashes: 5, windowMs: 60_000, stableMs: 30_000 });
    calm.crashed(100, 0);
    calm.crashed(100, 1000);
    // Up for a minute: the next crash restarts at the first delay again, and old crashes left the window.
    expect(calm.crashed(60_000, 200_000)).toEqual({ restartInMs: 250 });
  });
});

describe("a supervised child", () => {
  it("killed with -9 from outside comes back with a new pid, and says why it died", async () => {
    const lines: string[] = [];
    const p = child("console.error('ready on stderr'); setInterval(() => {}, 1000)", lines).supervise(FAST);
    p.start();
    const firstPid = p.child!.pid!;
    await waitFor(async () => lines.some((l) => l.includes("ready on stderr")), "the child's first line", 5_000);
    process.kill(firstPid, "SIGKILL");
    await waitFor(async () => p.running && p.child!.pid !== firstPid, "the restart", 5_000);
    const snap = p.snapshot;
    expect(snap).toMatchObject({ state: "running", restarts: 1, last_exit: "signal SIGKILL" });
    expect(snap.last_stderr).toEqual(["ready on stderr"]);
    expect(lines.join("\n")).toMatch(/supervisor: worker died \(signal SIGKILL\) after [\d.]+ s; its last stderr lines:\n {4}ready on stderr\n {2}restarting it in 20 ms \(restart 1\)/);
    expect(lines.some((l) => l.startsWith(`supervisor: worker restarted (pid ${p.child!.pid}, restart 1)`))).toBe(true);
  });

  it("in a crash loop is given up on, with the exit code, its stderr and what to do", async () => {
    const lines: string[] = [];
    const changes: ProcessSnapshot[] = [];
    const p = child("console.error('boom: DB_URL is not set'); process.exit(3)", lines, changes).supervise(FAST);
    p.start();
    await waitFor(async () => p.snapshot.state === "failed", "the supervisor to give up", 10_000);
    const snap = p.snapshot;
    expect(snap.restarts).toBe(3);
    expect(snap.last_exit).toBe("code 3");
    expect(snap.last_stderr).toEqual(["boom: DB_URL is not set"]);
    expect(snap.gave_up).toMatch(/^it died 4 times within 10 s \(last: code 3\); not restarting it\. Read its error above, fix it, then stop the stack \(Ctrl-C\) and run `npm start` again\.$/);
    expect(changes.map((c) => c.state)).toEqual(["running", "restarting", "running", "restarting", "running", "restarting", "running", "failed"]);
    expect(lines.filter((l) => l.startsWith("supervisor: worker died (code 3)"))).toHaveLength(4);
    // Nothing restarts it after that.
    await new Promise((r) => setTimeout(r, 300));
    expect(p.running).toBe(false);
    expect(p.snapshot.restarts).toBe(3);

    // What `npm run status` and a second `npm start` print about it.
    const problems = processProblems({ processes: [snap] } as StackFile);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^worker: failed \(3 restarts; last exit code 3 at .+\): the supervisor gave up: it died 4 times/);
    expect(problems[0]).toContain("last stderr: boom: DB_URL is not set");
  });

  it("stopped on purpose stays stopped", async () => {
    const lines: string[] = [];
    const p = child("setInterval(() => {}, 1000)", lines).supervise(FAST);
    p.start();
    await p.stop("SIGKILL");
    await new Promise((r) => setTimeout(r, 200));
    expect(p.running).toBe(false);
    expect(p.snapshot).toMatchObject({ state: "stopped", restarts: 0, last_exit: null });
    expect(lines.filter((l) => l.startsWith("supervisor:"))).toEqual([]);
  });
});
