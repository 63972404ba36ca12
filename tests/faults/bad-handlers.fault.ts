// Fault (e): handlers that throw, throw a non-Error, hang past their timeout,
// return values that cannot be stored, or fail a few times first, mixed into a
// steady load of well-behaved tasks. Each ends as its failure calls for (retried
// with backoff, then dead; or dead at once when retrying cannot help), the
// well-behaved tasks are not held up, and the worker keeps serving.
import { describe, expect, it } from "vitest";
import { audit, crashes, drain, lostAcked, report, useFaultStack } from "./harness.ts";

const SOURCE = "fault-handlers";
const LOAD = "fault-handlers-load";
const EACH = 20;

// mode -> what must become of it (max_attempts 3 for all; hang gets 2 to keep the run short)
const EXPECT: Record<string, { status: "succeeded" | "dead"; attempts: number; error?: RegExp; max?: number }> = {
  ok: { status: "succeeded", attempts: 1 },
  throw: { status: "dead", attempts: 3, error: /chaos: thrown on attempt 3/ },
  throw_permanent: { status: "dead", attempts: 1, error: /PermanentTaskError: chaos: permanent failure/ },
  throw_string: { status: "dead", attempts: 3, error: /non-error thrown: chaos: a string/ },
  hang: { status: "dead", attempts: 2, error: /TaskTimeoutError: handler timed out after 2000 ms/, max: 2 },
  garbage_bigint: { status: "dead", attempts: 1, error: /cannot be stored as JSON/ },
  garbage_cycle: { status: "dead", attempts: 1, error: /cannot be stored as JSON/ },
  garbage_function: { status: "dead", attempts: 1, error: /not JSON/ },
  garbage_huge: { status: "dead", attempts: 1, error: /the limit is 1 MB/ },
  flaky: { status: "succeeded", attempts: 2 },
};


const ctx = useFaultStack(LOAD);

describe("fault (e): handlers that throw, hang and return garbage", () => {
  it("each misbehaving task ends as its failure calls for; the load keeps flowing", async () => {
    ctx.producer.start(20, { mode: "sleep", ms: 20 });
    const started = Date.now();
    for (const [mode, e] of Object.entries(EXPECT)) {
      const payload = mode === "flaky" ? { mode, succeed_on_attempt: 2 } : { mode };
      await ctx.fs.sql`
        select count(*) from orchestrator.enqueue_many('test.chaos',
          array(select ${ctx.fs.sql.json(payload as never)}::jsonb || jsonb_build_object('seq', g) from generate_series(1, ${EACH}) g),
          jsonb_build_object('source', ${SOURCE}::text, 'max_attempts', ${e.max ?? 3}::int, 'backoff_base_seconds', 0.2))`;
    }
    const drained = await drain(ctx.fs, SOURCE, 180_000);
    await ctx.producer.stop();
    const load = await drain(ctx.fs, LOAD, 60_000);

    const rows = await ctx.fs.sql<{ mode: string; status: string; attempts: number; last_error: string | null; n: number }[]>`
      select payload ->> 'mode' as mode, status::text, attempts, last_error, count(*)::int as n
      from orchestrator.tasks where source = ${SOURCE}
      group by 1, 2, 3, 4 order by 1`;
    const a = await audit(ctx.fs.sql, SOURCE);
    const aLoad = await audit(ctx.fs.sql, LOAD);
    const lost = await lostAcked(ctx.fs.sql, LOAD, ctx.producer.ackedSeqs);
    const [{ p95 }] = await ctx.fs.sql<{ p95: number }[]>`
      select percentile_cont(0.95) within group (order by extract(epoch from finished_at - created_at) * 1000)::float8 as p95
      from orchestrator.tasks where source = ${LOAD} and created_at > ${new Date(started)}`;
    const health = await fetch(`${ctx.fs.ps.stack.info.FUNCTIONS_URL}/health`);
    const byMode = Object.fromEntries(Object.keys(EXPECT).map((m) => {
      const r = rows.filter((x) => x.mode === m);
      return [m, r.map((x) => `${x.n}× ${x.status} after ${x.attempts}`).join(", ")];
    }));

    report("(e) misbehaving handlers (20 of each) under a steady load", {
      ...byMode,
      "misbehaving: drained in": `${(drained.ms / 1000).toFixed(1)} s`,
      "load (well-behaved) tasks": `${load.counts.total}: ${load.counts.succeeded} succeeded, enqueue→finish p95 ${p95?.toFixed(0)} ms`,
      "lost / finished twice": `${lost} / ${a.finished_twice + aLoad.finished_twice}`,
      "lease ends by kind": a.ends,
      "health after": health.status,
    });

    for (const [mode, e] of Object.entries(EXPECT)) {
      const r = rows.filter((x) => x.mode === mode);
      expect(r.reduce((s, x) => s + x.n, 0), mode).toBe(EACH);
      for (const x of r) {
        expect(x.status, mode).toBe(e.status);
        expect(x.attempts, mode).toBe(e.attempts);
        if (e.error) expect(x.last_error ?? "", mode).toMatch(e.error);
      }
    }
    expect(health.status).toBe(200);
    expect(crashes(ctx.fs)).toEqual([]);
    expect(lost).toBe(0);
    expect(load.counts.succeeded).toBe(load.counts.total);
    expect(a.finished_twice + aLoad.finished_twice).toBe(0);
    expect(a.leases_never_ended + aLoad.leases_never_ended).toBe(0);
    expect(a.attempt_mismatch + aLoad.attempt_mismatch).toBe(0);
    // No task was reaped: a hanging handler is timed out by the worker, well inside its lease.
    expect(a.ends.reaped ?? 0).toBe(0);
  });
});
