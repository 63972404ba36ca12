// Fault (c): stop the pg_net dispatcher for two minutes under a steady load. No
// wake-up is delivered (inserts' webhooks and the cron sweep both go through
// pg_net): a worker that was lingering keeps going on NOTIFY until its budget
// (60 s) ends, then tasks pile up queued; when the dispatcher is back it sends
// the backlog of wake-ups and the queue drains. FAULT_DISPATCHER_STOP_MS shortens
// the outage for a quick local run.
import { describe, expect, it } from "vitest";
import { crashes, counts, report, sleep, useFaultStack, expectIntact } from "./harness.ts";

const SOURCE = "fault-dispatcher";
const STOP_MS = Number(process.env.FAULT_DISPATCHER_STOP_MS ?? 120_000);

const ctx = useFaultStack(SOURCE);

describe("fault (c): stop the dispatcher for two minutes", () => {
  it("queues work while wake-ups cannot be sent, then drains it all", async () => {
    ctx.producer.start(20, { mode: "sleep", ms: 20 });
    await sleep(3_000);
    await ctx.fs.ps.stack.dispatcher.stop();
    const stoppedAt = Date.now();
    // Work in flight finishes; then nothing new runs.
    await sleep(Math.min(5_000, STOP_MS / 2));
    const early = await counts(ctx.fs.sql, SOURCE);
    await sleep(Math.max(0, STOP_MS - (Date.now() - stoppedAt)));
    const peak = await counts(ctx.fs.sql, SOURCE);
    const [{ pending }] = await ctx.fs.sql<{ pending: number }[]>`select count(*)::int as pending from net.http_request_queue`;
    ctx.fs.ps.stack.dispatcher.start();
    const restartedAt = Date.now();
    await sleep(5_000);
    const { counts: c, audit: a, lost } = await ctx.settle();

    report("(c) stop the pg_net dispatcher", {
      "steady load": "20 test.chaos tasks/s, 20 ms each",
      "dispatcher stopped for": `${((restartedAt - stoppedAt) / 1000).toFixed(0)} s`,
      "queued when it came back": peak.queued,
      "wake-ups waiting in net.http_request_queue": pending,
      "ran while it was stopped": `${peak.succeeded - early.succeeded} (after the first ${Math.min(5, STOP_MS / 2000)} s; a lingering worker's budget)`,
      "enqueued (acked / in db)": `${ctx.producer.acked} / ${c.total}`,
      "succeeded + dead + cancelled": `${c.succeeded} + ${c.dead} + ${c.cancelled} = ${c.succeeded + c.dead + c.cancelled}`,
      "lost / finished twice": `${lost} / ${a.finished_twice}`,
      "lease ends by kind": a.ends,
      "drained": `${((Date.now() - restartedAt) / 1000).toFixed(1)} s after the restart`,
    });

    // A worker that was lingering when the dispatcher stopped keeps taking new tasks (NOTIFY) until its
    // budget (60 s) ends; after that nothing runs, and the queue grows until the dispatcher is back.
    if (STOP_MS > 65_000) expect(peak.queued).toBeGreaterThan(0);
    expect(pending).toBeGreaterThan(0);
    expect(crashes(ctx.fs)).toEqual([]);
    expectIntact({ counts: c, audit: a, lost });
  });
});
