// Fault (d): 200 concurrent task-worker invocations (as a burst of webhooks or a
// retry storm would send) over a queue of 4,000 ready tasks, under a steady load.
// SKIP LOCKED hands every task to exactly one of them; none answers 5xx.
import { describe, expect, it } from "vitest";
import { crashes, report, sleep, useFaultStack, queueWithoutWakeup } from "./harness.ts";

const SOURCE = "fault-concurrent";
const N = 4_000;
const INVOCATIONS = 200;


const ctx = useFaultStack(SOURCE);

describe("fault (d): 200 concurrent task-worker invocations", () => {
  it("runs every task once, answers every call, keeps the connection count bounded", async () => {
    await queueWithoutWakeup(ctx.fs.sql, SOURCE, N);
    ctx.producer.start(20, { mode: "sleep", ms: 20 });

    let maxConnections = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const [{ n }] = await ctx.fs.sql<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where application_name = 'orchestrator'`;
        maxConnections = Math.max(maxConnections, n);
        await sleep(100);
      }
    })();

    const { FUNCTIONS_URL, SERVICE_ROLE_KEY } = ctx.fs.ps.stack.info;
    const started = Date.now();
    const calls = await Promise.all(Array.from({ length: INVOCATIONS }, async () => {
      const t = performance.now();
      const res = await fetch(`${FUNCTIONS_URL}/task-worker`, {
        method: "POST",
        headers: { authorization: `Bearer ${SERVICE_ROLE_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ reason: "fault-d", budget_ms: 30_000 }),
      });
      const body = await res.json().catch(() => ({}));
      return { status: res.status, ms: performance.now() - t, claimed: Number(body.claimed ?? 0), succeeded: Number(body.succeeded ?? 0), stale: Number(body.stale ?? 0) };
    }));
    const burstMs = Date.now() - started;
    await sleep(3_000);
    const { counts: c, audit: a, lost } = await ctx.settle();
    sampling = false;
    await sampler;
    const statuses = calls.reduce<Record<number, number>>((m, x) => ({ ...m, [x.status]: (m[x.status] ?? 0) + 1 }), {});
    const claimed = calls.map((x) => x.claimed).sort((p, q) => p - q);
    const ms = calls.map((x) => x.ms).sort((p, q) => p - q);
    const pct = (v: number[], p: number) => v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)];

    report(`(d) ${INVOCATIONS} concurrent POST /task-worker`, {
      "queue at the burst": `${N} ready tasks + 20/s steady load`,
      "answers": statuses,
      "answer time p50 / p95 / max": `${pct(ms, 50).toFixed(0)} / ${pct(ms, 95).toFixed(0)} / ${ms[ms.length - 1].toFixed(0)} ms`,
      "claimed per call min/med/max": `${claimed[0]} / ${pct(claimed, 50)} / ${claimed[claimed.length - 1]}`,
      "claimed by the 200 calls": claimed.reduce((s, x) => s + x, 0),
      "burst finished in": `${(burstMs / 1000).toFixed(1)} s`,
      "max db connections (functions)": maxConnections,
      "enqueued (in db)": c.total,
      "succeeded + dead + cancelled": `${c.succeeded} + ${c.dead} + ${c.cancelled} = ${c.succeeded + c.dead + c.cancelled}`,
      "lost / finished twice": `${lost} / ${a.finished_twice}`,
      "lease ends by kind": a.ends,
    });

    expect(statuses[200]).toBe(INVOCATIONS);
    expect(crashes(ctx.fs)).toEqual([]);
    expect(lost).toBe(0);
    expect(c.total).toBe(c.succeeded + c.dead + c.cancelled);
    expect(c.succeeded).toBe(c.total);
    expect(c.over_max).toBe(0);
    expect(a.finished_twice).toBe(0);
    expect(a.leases_never_ended).toBe(0);
    expect(a.attempt_mismatch).toBe(0);
    // Every claim was a first attempt: no task was handed to two invocations.
    expect(c.retried).toBe(0);
    expect(calls.reduce((s, x) => s + x.stale, 0)).toBe(0);
    // 200 invocations reach the task-worker's user workers (a retiring one and its fresh successor may
    // overlap), each with DB_POOL_MAX (5) through the pooler plus one direct LISTEN session: far from one
    // connection per invocation. The whole Orchestrator's bound under max_connections 60 is fault (p)'s (<= 30).
    expect(maxConnections).toBeLessThanOrEqual(20);
  });
});
