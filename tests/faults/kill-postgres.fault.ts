// Fault (g): kill -9 the postmaster (the stack started PostgreSQL, so it supervises
// it) under a steady load. The supervisor sees postmaster.pid's process gone,
// says so with the server log's last lines, and starts PostgreSQL again (crash
// recovery); the pools reconnect, leases of attempts that could not be recorded
// expire and are reaped; nothing acknowledged is lost, no attempt finished twice.
import { describe, expect, it } from "vitest";
import { crashes, counts, report, sleep, useFaultStack, expectIntact } from "./harness.ts";

const SOURCE = "fault-pg-kill";

// Durable like `npm start` (fsync and synchronous commits on): the test stacks' fsync=off/synchronous_commit=off
// would let a crash of PostgreSQL itself forget commits it had acknowledged.
const ctx = useFaultStack(SOURCE, { durable: true });

describe("fault (g): kill -9 PostgreSQL", () => {
  it("is restarted by the supervisor; loses no acknowledged task and finishes no attempt twice", async () => {
    const stack = ctx.fs.ps.stack;
    expect(stack.postgres, "the private stack started PostgreSQL, so it supervises it").toBeDefined();
    ctx.producer.start(40, { mode: "sleep", ms: 200 });
    await sleep(5_000);
    const before = await counts(ctx.fs.sql, SOURCE);
    const ackedBefore = ctx.producer.acked;
    const pid = stack.cluster.postmasterPid()!;
    const killedAt = Date.now();
    process.kill(pid, "SIGKILL");
    while (!(stack.postgres!.snapshot.state === "running" && stack.postgres!.snapshot.pid !== pid)) {
      if (Date.now() - killedAt > 30_000) throw new Error(`PostgreSQL not back 30 s after kill -9: ${JSON.stringify(stack.postgres!.snapshot)}`);
      await sleep(50);
    }
    const backMs = Date.now() - killedAt;
    const said = ctx.fs.ps.recentLines().find((l) => l.startsWith("supervisor: PostgreSQL died")) ?? "(scrolled away)";
    let health = 0;
    let healthyMs = NaN;
    while (Date.now() - killedAt < 30_000) {
      health = await fetch(`${stack.info.FUNCTIONS_URL}/health`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status, () => 0);
      if (health === 200) {
        healthyMs = Date.now() - killedAt;
        break;
      }
      await sleep(100);
    }
    // Load continues; leases of attempts cut off by the crash expire (17 s) and are reaped.
    await sleep(22_000);
    const drained = await ctx.settle();
    const { counts: c, audit: a, lost } = drained;

    report("(g) kill -9 the postmaster; the supervisor restarts PostgreSQL", {
      "steady load": "40 test.chaos tasks/s, 200 ms each",
      "running at the kill": before.running,
      "PostgreSQL restarted after": `${backMs} ms (2 s of it: waiting out a possible pg_ctl restart)`,
      "/health 200 again after": `${healthyMs} ms`,
      "supervisor": `${stack.postgres!.snapshot.restarts} restart(s), last exit: ${stack.postgres!.snapshot.last_exit}`,
      "enqueues refused in the outage": ctx.producer.errors,
      "enqueued (acked / in db)": `${ctx.producer.acked} / ${c.total} (acked before the kill: ${ackedBefore})`,
      "succeeded + dead + cancelled": `${c.succeeded} + ${c.dead} + ${c.cancelled} = ${c.succeeded + c.dead + c.cancelled}`,
      "reaped leases (re-run)": a.ends.reaped ?? 0,
      "lost / finished twice": `${lost} / ${a.finished_twice}`,
      "lease ends by kind": a.ends,
      "drained after the load stopped": `${(drained.ms / 1000).toFixed(1)} s`,
      "health after": health,
      "supervisor said": said.replace(/\n.*/s, ""),
    });

    expect(backMs).toBeLessThan(15_000);
    expect(health).toBe(200);
    expect(stack.postgres!.snapshot).toMatchObject({ state: "running", restarts: 1 });
    expect(stack.postgres!.snapshot.last_exit).toMatch(/^postmaster gone \(pid \d+\)$/);
    expect(crashes(ctx.fs, { postgres: 1 })).toEqual([]);
    expectIntact(drained);
    expect(c.total).toBeGreaterThanOrEqual(ctx.producer.acked);
    expect(ctx.producer.acked).toBeGreaterThan(ackedBefore + 100);
  });
});
