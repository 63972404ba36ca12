// Fault (b): restart PostgreSQL (pg_ctl restart -m fast) under a steady load.
// Enqueues made during the outage fail and say so; every acknowledged one
// survives; workers that were mid-batch write their outcomes once the database
// is back (the worker retries those writes), or their leases expire and the
// tasks run again. Nothing is lost, no attempt finished twice.
import { describe, expect, it } from "vitest";
import { crashes, counts, report, restartPostgres, sleep, useFaultStack, expectIntact } from "./harness.ts";

const SOURCE = "fault-pg-restart";

const ctx = useFaultStack(SOURCE);

describe("fault (b): restart Postgres", () => {
  it("loses no acknowledged task and finishes no attempt twice", async () => {
    ctx.producer.start(40, { mode: "sleep", ms: 200 });
    await sleep(5_000);
    const before = await counts(ctx.fs.sql, SOURCE);
    const ackedBefore = ctx.producer.acked;
    const errorsBefore = ctx.producer.errors;
    const restartMs = await restartPostgres(ctx.fs.ps);
    // Load continues after the restart; the pool reconnects by itself.
    await sleep(25_000);
    const drained = await ctx.settle();
    const { counts: c, audit: a, lost } = drained;
    const health = await fetch(`${ctx.fs.ps.stack.info.FUNCTIONS_URL}/health`);

    report("(b) restart PostgreSQL (pg_ctl restart -m fast)", {
      "steady load": "40 test.chaos tasks/s, 200 ms each",
      "running at the restart": before.running,
      "restart took": `${restartMs} ms`,
      "enqueues refused in the outage": ctx.producer.errors - errorsBefore,
      "enqueued (acked / in db)": `${ctx.producer.acked} / ${c.total} (acked before the restart: ${ackedBefore})`,
      "succeeded + dead + cancelled": `${c.succeeded} + ${c.dead} + ${c.cancelled} = ${c.succeeded + c.dead + c.cancelled}`,
      "reaped leases (re-run)": a.ends.reaped ?? 0,
      "max attempts seen": c.max_attempts_seen,
      "lost / finished twice": `${lost} / ${a.finished_twice}`,
      "lease ends by kind": a.ends,
      "drained after the load stopped": `${(drained.ms / 1000).toFixed(1)} s`,
      "health after": health.status,
    });

    expect(health.status).toBe(200);
    expect(crashes(ctx.fs)).toEqual([]);
    expectIntact(drained);
    expect(c.total).toBeGreaterThanOrEqual(ctx.producer.acked);
    // Work continued after the restart.
    expect(ctx.producer.acked).toBeGreaterThan(ackedBefore + 100);
  });
});
