// Fault (a): kill -9 the function server while a batch runs, under a steady load,
// then start it again. Tasks it held are reaped when their lease expires
// (test.chaos: 2 s timeout + 15 s margin) and run again; nothing is lost and no
// attempt is finished twice.
import { describe, expect, it } from "vitest";
import { crashes, counts, report, sleep, useFaultStack } from "./harness.ts";

const SOURCE = "fault-kill";

const ctx = useFaultStack(SOURCE);

describe("fault (a): kill -9 the function server mid-batch", () => {
  it("loses nothing and finishes no attempt twice", async () => {
    // Steady load: 40 tasks/s that each take 300 ms, so a batch is always in flight.
    ctx.producer.start(40, { mode: "sleep", ms: 300 });
    await sleep(5_000);
    let runningAtKill = 0;
    for (let i = 0; i < 100 && runningAtKill === 0; i++) {
      runningAtKill = (await counts(ctx.fs.sql, SOURCE)).running;
      if (runningAtKill === 0) await sleep(20);
    }
    expect(runningAtKill).toBeGreaterThan(0);
    const killedAt = Date.now();
    await ctx.fs.ps.stack.functions.stop("SIGKILL");
    const orphaned = (await counts(ctx.fs.sql, SOURCE)).running;
    await sleep(1_000);
    ctx.fs.ps.stack.functions.start();
    await ctx.fs.ps.stack.waitHealthy();
    const downMs = Date.now() - killedAt;

    // Right after the restart: every running task still holds a lease that has not expired.
    const after = await counts(ctx.fs.sql, SOURCE);
    expect(after.running_expired).toBe(0);

    // Keep the load on past the orphans' lease (17 s), so workers reap them as they start.
    await sleep(22_000);
    const drained = await ctx.settle();
    const { counts: c, audit: a, lost } = drained;

    report("(a) kill -9 the function server mid-batch, restart it", {
      "steady load": "40 test.chaos tasks/s, 300 ms each",
      "running at the kill": orphaned,
      "server down for": `${downMs} ms`,
      "enqueued (acked / in db)": `${ctx.producer.acked} / ${c.total} (${ctx.producer.errors} enqueue errors)`,
      "succeeded + dead + cancelled": `${c.succeeded} + ${c.dead} + ${c.cancelled} = ${c.succeeded + c.dead + c.cancelled}`,
      "reaped leases (re-run)": a.ends.reaped ?? 0,
      "tasks with a 2nd attempt": c.retried,
      "max attempts seen": c.max_attempts_seen,
      "lost / finished twice": `${lost} / ${a.finished_twice}`,
      "lease ends by kind": a.ends,
      "drained after the load stopped": `${(drained.ms / 1000).toFixed(1)} s`,
    });

    expect(crashes(ctx.fs)).toEqual([]);
    expect(lost).toBe(0);
    expect(c.total).toBe(c.succeeded + c.dead + c.cancelled);
    expect(c.dead).toBe(0);
    expect(c.over_max).toBe(0);
    expect(a.finished_twice).toBe(0);
    expect(a.leases_never_ended).toBe(0);
    expect(a.attempt_mismatch).toBe(0);
    // The tasks held by the killed server came back through reap() and ran again.
    expect(a.ends.reaped ?? 0).toBeGreaterThanOrEqual(orphaned);
    expect(c.retried).toBeGreaterThanOrEqual(1);
  });
});
