// Fault (p): connections as hosted. PostgreSQL allows a Micro's 60 connections, the functions reach it through
// the transaction-mode pooler (pgbouncer, as Supavisor on port 6543), and 200 wake-ups (POST /task-worker) arrive
// at once over 4,000 ready tasks and a steady load. No "too many clients" anywhere (answers, the stack's output,
// PostgreSQL's and pgbouncer's logs, orchestrator.logs), and the Orchestrator's connections, sampled from
// pg_stat_activity, stay at 30 or fewer.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import postgres from "postgres";
import { crashes, expectIntact, report, sleep, useFaultStack, queueWithoutWakeup } from "./harness.ts";

const SOURCE = "fault-pooler";
const N = 4_000;
const INVOCATIONS = 200;
const REFUSED = /too many clients|remaining connection slots|no more connections allowed|sorry, too many/i;

const ctx = useFaultStack(SOURCE);

describe("fault (p): 200 concurrent wake-ups under max_connections 60, through the pooler", () => {
  it("refuses no connection and keeps the Orchestrator at 30 connections or fewer", async () => {
    const { FUNCTIONS_URL, SERVICE_ROLE_KEY, DB_URL } = ctx.fs.ps.stack.info;
    const [{ max_connections }] = await ctx.fs.sql<{ max_connections: string }[]>`show max_connections`;
    expect(Number(max_connections)).toBe(60);

    await queueWithoutWakeup(ctx.fs.sql, SOURCE, N);
    ctx.producer.start(20, { mode: "sleep", ms: 20 });

    // Its own connection, named, so it can leave itself and the test's clients out of the Orchestrator's count.
    const sampler = postgres(DB_URL, { max: 1, onnotice: () => {}, connection: { application_name: "fault_sampler" } });
    const peak = { orchestrator: 0, all: 0, byApp: {} as Record<string, number> };
    let sampling = true;
    const sampling$ = (async () => {
      while (sampling) {
        const rows = await sampler<{ app: string; n: number }[]>`
          select application_name as app, count(*)::int as n from pg_stat_activity
          where backend_type = 'client backend' group by 1`;
        const all = rows.reduce((s, r) => s + r.n, 0);
        // The test's own clients: the sampler, the harness's SQL client and its producer (postgres.js' default name).
        const ours = rows.filter((r) => r.app !== "fault_sampler" && r.app !== "postgres.js");
        const orchestrator = ours.reduce((s, r) => s + r.n, 0);
        if (orchestrator > peak.orchestrator) peak.byApp = Object.fromEntries(ours.map((r) => [r.app || "(none)", r.n]));
        peak.orchestrator = Math.max(peak.orchestrator, orchestrator);
        peak.all = Math.max(peak.all, all);
        await sleep(50);
      }
    })();

    const started = Date.now();
    const calls = await Promise.all(Array.from({ length: INVOCATIONS }, async () => {
      const res = await fetch(`${FUNCTIONS_URL}/task-worker`, {
        method: "POST",
        headers: { authorization: `Bearer ${SERVICE_ROLE_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ reason: "fault-p", budget_ms: 30_000 }),
      });
      return { status: res.status, text: await res.text() };
    }));
    const burstMs = Date.now() - started;
    await sleep(3_000);
    const settled = await ctx.settle();
    sampling = false;
    await sampling$;
    await sampler.end();

    const statuses = calls.reduce<Record<number, number>>((m, x) => ({ ...m, [x.status]: (m[x.status] ?? 0) + 1 }), {});
    const refusedIn = {
      answers: calls.filter((c) => REFUSED.test(c.text)).length,
      "stack output": ctx.fs.ps.recentLines().filter((l) => REFUSED.test(l)).length,
      "postgres.log": readFileSync(ctx.fs.ps.stack.cluster.logFile, "utf8").split("\n").filter((l) => REFUSED.test(l)).length,
      "orchestrator.logs": (await ctx.fs.sql<{ n: number }[]>`
        select count(*)::int as n from orchestrator.logs
        where message ~* ${REFUSED.source} or context::text ~* ${REFUSED.source}`)[0].n,
    };

    report(`(p) ${INVOCATIONS} concurrent POST /task-worker, max_connections ${max_connections}, through pgbouncer`, {
      "queue at the burst": `${N} ready tasks + 20/s steady load`,
      "answers": statuses,
      "burst finished in": `${(burstMs / 1000).toFixed(1)} s`,
      "peak Orchestrator conns": `${peak.orchestrator} ${JSON.stringify(peak.byApp)}`,
      "peak client backends (all)": peak.all,
      "'too many clients' seen": refusedIn,
      "succeeded / total": `${settled.counts.succeeded} / ${settled.counts.total}`,
      "lost / finished twice": `${settled.lost} / ${settled.audit.finished_twice}`,
    });

    expect(statuses[200]).toBe(INVOCATIONS);
    expect(refusedIn).toEqual({ answers: 0, "stack output": 0, "postgres.log": 0, "orchestrator.logs": 0 });
    expect(peak.orchestrator).toBeGreaterThan(0);
    expect(peak.orchestrator).toBeLessThanOrEqual(30);
    expect(crashes(ctx.fs)).toEqual([]);
    expectIntact(settled);
    expect(settled.counts.succeeded).toBe(settled.counts.total);
  });
});
