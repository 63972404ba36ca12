// Fault (a): kill -9 the function server from outside while a batch runs, under a
// steady load. Nobody restarts it but the stack's supervisor. The tasks it held are
// reaped the moment their lease expires (test.chaos: 2 s timeout + 15 s margin; the
// supervisor sweeps at the expiry where pg_cron is < 1.5) and run again: within
// their lease + 15 s, measured per task from the lease's expiry to the next claim.
// Nothing is lost and no attempt is finished twice.
import { describe, expect, it } from "vitest";
import { backAfter, crashes, counts, healthyAfter, killNine, report, sleep, spread, useFaultStack, expectIntact } from "./harness.ts";

const SOURCE = "fault-kill";

const ctx = useFaultStack(SOURCE);

describe("fault (a): kill -9 the function server mid-batch", () => {
  it("comes back by itself, re-runs what it held within lease + 15 s, loses nothing, finishes no attempt twice", async () => {
    // Steady load: 40 tasks/s that each take 300 ms, so a batch is always in flight.
    ctx.producer.start(40, { mode: "sleep", ms: 300 });
    await sleep(5_000);
    let runningAtKill = 0;
    for (let i = 0; i < 100 && runningAtKill === 0; i++) {
      runningAtKill = (await counts(ctx.fs.sql, SOURCE)).running;
      if (runningAtKill === 0) await sleep(20);
    }
    expect(runningAtKill).toBeGreaterThan(0);
    const stack = ctx.fs.ps.stack;
    const killedAt = Date.now();
    const oldPid = killNine(stack.functions);
    // What the dead server held: its leases, and the attempt each was on.
    await sleep(50);
    const held = await ctx.fs.sql<{ id: number; attempts: number; locked_until: Date }[]>`
      select id, attempts, locked_until from orchestrator.tasks where source = ${SOURCE} and status = 'running'`;
    const processBackMs = await backAfter(stack.functions, oldPid, killedAt);
    // What the supervisor printed (taken now: the stack's recent lines scroll on under the load).
    const supervisorLines = ctx.fs.ps.recentLines().filter((l) => l.startsWith("supervisor: functions"));
    const healthyMs = await healthyAfter(ctx.fs, killedAt);

    // Right after the restart: every running task still holds a lease that has not expired.
    const after = await counts(ctx.fs.sql, SOURCE);
    expect(after.running_expired).toBe(0);

    // Keep the load on past the orphans' lease (17 s).
    await sleep(22_000);
    const drained = await ctx.settle();
    const { counts: c, audit: a, lost } = drained;

    // Per held task: from its lease's expiry to the claim of its next attempt.
    const reclaims = await ctx.fs.sql<{ id: number; attempt: number; at: Date }[]>`
      select task_id as id, attempt, min(at) as at from fault_audit.lease_starts
      where task_id = any(${held.map((h) => h.id)}::bigint[]) group by task_id, attempt`;
    const delays: number[] = [];
    const notRerun: number[] = [];
    for (const h of held) {
      const next = reclaims.find((r) => Number(r.id) === Number(h.id) && r.attempt === h.attempts + 1);
      if (next) delays.push((next.at.getTime() - h.locked_until.getTime()) / 1000);
      else notRerun.push(h.id);
    }
    const d = spread(delays);

    report("(a) kill -9 the function server mid-batch; the supervisor restarts it", {
      "steady load": "40 test.chaos tasks/s, 300 ms each",
      "running at the kill": held.length,
      "process back after": `${processBackMs} ms (new pid ${stack.functions.child?.pid})`,
      "answering /health after": `${healthyMs} ms`,
      "supervisor said": supervisorLines[0]?.replace(/\n.*/s, ""),
      "held tasks re-run": `${delays.length} of ${held.length}`,
      "lease expiry -> re-run (s)": `median ${d.median.toFixed(2)}, max ${d.max.toFixed(2)} (limit 15)`,
      "enqueued (acked / in db)": `${ctx.producer.acked} / ${c.total} (${ctx.producer.errors} enqueue errors)`,
      "succeeded + dead + cancelled": `${c.succeeded} + ${c.dead} + ${c.cancelled} = ${c.succeeded + c.dead + c.cancelled}`,
      "reaped leases (re-run)": a.ends.reaped ?? 0,
      "max attempts seen": c.max_attempts_seen,
      "lost / finished twice": `${lost} / ${a.finished_twice}`,
      "lease ends by kind": a.ends,
      "drained after the load stopped": `${(drained.ms / 1000).toFixed(1)} s`,
    });

    expect(processBackMs).toBeLessThan(10_000);
    expect(healthyMs).toBeLessThan(10_000);
    expect(supervisorLines[0]).toMatch(/^supervisor: functions died \(signal SIGKILL\)/);
    expect(stack.functions.snapshot).toMatchObject({ state: "running", restarts: 1, last_exit: "signal SIGKILL" });
    expect(crashes(ctx.fs, { functions: 1 })).toEqual([]);
    expectIntact(drained);
    // The tasks held by the killed server came back through reap() and ran again, within their lease + 15 s.
    expect(notRerun).toEqual([]);
    expect(a.ends.reaped ?? 0).toBeGreaterThanOrEqual(held.length);
    expect(d.max).toBeLessThanOrEqual(15);
  });
});
