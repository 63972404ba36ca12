// Fault (f): kill -9 the pg_net dispatcher from outside under a steady load, three
// times in a row (each time as soon as it is back), so wake-ups pile up in
// net.http_request_queue while it is down and the restart backoff grows. The
// supervisor brings it back each time; the piled-up wake-ups are sent; the queue
// drains. Nothing is lost and no attempt is finished twice.
import { describe, expect, it } from "vitest";
import { backAfter, crashes, report, sleep, useFaultStack, expectIntact } from "./harness.ts";

const SOURCE = "fault-dispatcher-kill";
const KILLS = 3;

const ctx = useFaultStack(SOURCE);

describe("fault (f): kill -9 the dispatcher", () => {
  it("comes back by itself each time and sends what piled up meanwhile", async () => {
    const stack = ctx.fs.ps.stack;
    ctx.producer.start(40, { mode: "sleep", ms: 20 });
    await sleep(3_000);
    const pending = async () => (await ctx.fs.sql<{ n: number }[]>`select count(*)::int as n from net.http_request_queue`)[0].n;
    const rounds: { back_ms: number; piled: number; sent_ms: number }[] = [];
    for (let i = 0; i < KILLS; i++) {
      const pid = stack.dispatcher.child!.pid!;
      const killedAt = Date.now();
      process.kill(pid, "SIGKILL");
      // The highest request id queued while it was down: sent once every one up to it is gone.
      let lastQueued = 0;
      const watchQueue = setInterval(() => {
        void ctx.fs.sql<{ m: number }[]>`select coalesce(max(id), 0)::int as m from net.http_request_queue`.then(([r]) => {
          if (stack.dispatcher.running && stack.dispatcher.child?.pid !== pid) return;
          lastQueued = Math.max(lastQueued, r.m);
        }, () => {});
      }, 20);
      const backMs = await backAfter(stack.dispatcher, pid, killedAt);
      clearInterval(watchQueue);
      const piled = await pending();
      const [{ m }] = await ctx.fs.sql<{ m: number }[]>`select coalesce(max(id), 0)::int as m from net.http_request_queue`;
      lastQueued = Math.max(lastQueued, m);
      for (;;) {
        const [{ left }] = await ctx.fs.sql<{ left: number }[]>`select count(*)::int as left from net.http_request_queue where id <= ${lastQueued}`;
        if (left === 0) break;
        if (Date.now() - killedAt > 20_000) throw new Error(`wake-ups up to ${lastQueued} still queued 20 s after the kill`);
        await sleep(20);
      }
      rounds.push({ back_ms: backMs, piled, sent_ms: Date.now() - killedAt });
    }
    await sleep(3_000);
    const { counts: c, audit: a, lost, ms } = await ctx.settle();
    const left = await pending();

    report("(f) kill -9 the pg_net dispatcher, 3 times in a row; the supervisor restarts it", {
      "steady load": "40 test.chaos tasks/s, 20 ms each",
      "back after (per kill)": rounds.map((r) => `${r.back_ms} ms`).join(", "),
      "wake-ups waiting at the restart": rounds.map((r) => r.piled).join(", "),
      "all of them sent after": rounds.map((r) => `${r.sent_ms} ms`).join(", "),
      "restarts counted": stack.dispatcher.snapshot.restarts,
      "enqueued (acked / in db)": `${ctx.producer.acked} / ${c.total}`,
      "succeeded + dead + cancelled": `${c.succeeded} + ${c.dead} + ${c.cancelled} = ${c.succeeded + c.dead + c.cancelled}`,
      "lost / finished twice": `${lost} / ${a.finished_twice}`,
      "drained after the load stopped": `${(ms / 1000).toFixed(1)} s`,
      "wake-ups left queued at the end": left,
    });

    for (const r of rounds) {
      expect(r.back_ms).toBeLessThan(10_000);
      expect(r.sent_ms).toBeLessThan(10_000);
    }
    expect(stack.dispatcher.snapshot).toMatchObject({ state: "running", restarts: KILLS, last_exit: "signal SIGKILL" });
    expect(crashes(ctx.fs, { pg_net: KILLS })).toEqual([]);
    expect(left).toBe(0);
    expectIntact({ counts: c, audit: a, lost });
  });
});
