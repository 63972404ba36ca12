// Fault (a): kill -9 the function server while a batch runs, under a steady load,
// then start it again. Tasks it held are reaped when their lease expires
// (test.chaos: 2 s timeout + 15 s margin) and run again; nothing is lost and no
// attempt is finished twice.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { audit, crashes, counts, drain, type FaultStack, lostAcked, Producer, report, sleep, startFaultStack } from "./harness.ts";

let fs: FaultStack;
let producer: Producer;
const SOURCE = "fault-kill";

beforeAll(async () => {
  fs = await startFaultStack();
  producer = new Producer(fs.ps.stack.info.DB_URL, SOURCE);
});
afterAll(async () => {
  await producer?.end();
  await fs?.stop();
});

describe("fault (a): kill -9 the function server mid-batch", () => {
  it("loses nothing and finishes no attempt twice", async () => {
    // Steady load: 40 tasks/s that each take 300 ms, so a batch is always in flight.
    producer.start(40, { mode: "sleep", ms: 300 });
    await sleep(5_000);
    let runningAtKill = 0;
    for (let i = 0; i < 100 && runningAtKill === 0; i++) {
      runningAtKill = (await counts(fs.sql, SOURCE)).running;
      if (runningAtKill === 0) await sleep(20);
    }
    expect(runningAtKill).toBeGreaterThan(0);
    const killedAt = Date.now();
    await fs.ps.stack.functions.stop("SIGKILL");
    const orphaned = (await counts(fs.sql, SOURCE)).running;
    await sleep(1_000);
    fs.ps.stack.functions.start();
    await fs.ps.stack.waitHealthy();
    const downMs = Date.now() - killedAt;

    // Right after the restart: every running task still holds a lease that has not expired.
    const after = await counts(fs.sql, SOURCE);
    expect(after.running_expired).toBe(0);

    // Keep the load on past the orphans' lease (17 s), so workers reap them as they start.
    await sleep(22_000);
    await producer.stop();
    const drained = await drain(fs, SOURCE, 120_000);
    const c = drained.counts;
    const a = await audit(fs.sql, SOURCE);
    const lost = await lostAcked(fs.sql, SOURCE, producer.ackedSeqs);

    report("(a) kill -9 the function server mid-batch, restart it", {
      "steady load": "40 test.chaos tasks/s, 300 ms each",
      "running at the kill": orphaned,
      "server down for": `${downMs} ms`,
      "enqueued (acked / in db)": `${producer.acked} / ${c.total} (${producer.errors} enqueue errors)`,
      "succeeded + dead + cancelled": `${c.succeeded} + ${c.dead} + ${c.cancelled} = ${c.succeeded + c.dead + c.cancelled}`,
      "reaped leases (re-run)": a.ends.reaped ?? 0,
      "tasks with a 2nd attempt": c.retried,
      "max attempts seen": c.max_attempts_seen,
      "lost / finished twice": `${lost} / ${a.finished_twice}`,
      "lease ends by kind": a.ends,
      "drained after the load stopped": `${(drained.ms / 1000).toFixed(1)} s`,
    });

    expect(crashes(fs)).toEqual([]);
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
