// The worker inside the real limits, end to end on a private stack: the local runtime's user workers
// (CPU soft 1,000 / hard 2,000 ms, as `supabase functions serve`), pg_net wake-ups, the real
// task-worker in Deno. More CPU work than one isolate may spend: each invocation stops claiming at
// its budget, gives back what it has not started, and hands the rest to a fresh isolate.
import { describe, expect, it } from "vitest";
import { usePrivateStack } from "../helpers/private-stack.ts";
import { HANDED_ON, waitFor } from "../helpers/stack.ts";

const priv = usePrivateStack({ functionEnv: { ORCHESTRATOR_TEST_TASKS: "1" } });

describe("task-worker under the runtime's CPU limit", () => {
  it("drains 3x an isolate's hard CPU limit in burn_cpu tasks through hand-offs: no worker killed, nothing lost, no attempt burned", { timeout: 120_000 }, async () => {
    const sql = priv.sql;
    const [{ since }] = await sql<{ since: number }[]>`select coalesce(max(id), 0)::int as since from orchestrator.logs`;
    const started = Date.now();
    // 150 x 40 ms = 6,000 ms of CPU: three times what one isolate may spend before it is killed.
    const ids = (await sql<{ id: number }[]>`
      select id from orchestrator.enqueue_many('test.chaos',
        (select array_agg(jsonb_build_object('mode', 'burn_cpu', 'ms', 40, 'seq', g)) from generate_series(1, 150) g),
        '{"source": "test", "max_attempts": 3}')`).map((r) => Number(r.id));
    await waitFor(async () => {
      const [{ done }] = await sql<{ done: number }[]>`select count(*)::int as done from orchestrator.tasks where id = any(${ids}::bigint[]) and status = 'succeeded'`;
      return done === ids.length;
    }, "every burn_cpu task to succeed", 100_000, 250);
    const seconds = (Date.now() - started) / 1000;
    const rows = await sql<{ attempts: number }[]>`select attempts from orchestrator.tasks where id = any(${ids}::bigint[])`;
    expect(rows.every((r) => r.attempts === 1)).toBe(true);
    const kills = await sql`select message from orchestrator.logs where id > ${since} and component = 'edge-runtime'
      and context->>'function' = 'task-worker' and context->>'event' = 'shutdown' and context->>'reason' = 'CPUTime'`;
    expect(kills).toEqual([]);
    const stops = await sql<{ message: string; context: { isolate_cpu_ms: number } }[]>`
      select message, context from orchestrator.logs where id > ${since} and component = 'task-worker'
        and message like '%stopped: its CPU budget is spent%'`;
    const retired = await sql`select 1 from orchestrator.logs where id > ${since} and component = 'edge-runtime'
      and context->>'function' = 'task-worker' and context->>'event' = 'retire' and context->>'reason' = 'CPUTime'`;
    console.log(`[worker-limits e2e] 150 x burn_cpu 40 ms in ${seconds.toFixed(1)} s: ${stops.length} budget stops ` +
      `(isolate CPU at stop ${stops.map((s) => Math.round(s.context.isolate_cpu_ms)).join(", ")} ms), ` +
      `${stops.filter((s) => HANDED_ON.test(s.message)).length} hand-offs, ${retired.length} retired for CPU, 0 killed`);
    expect(stops.length).toBeGreaterThanOrEqual(2);
    expect(stops.some((s) => HANDED_ON.test(s.message))).toBe(true);
    for (const s of stops) expect(s.context.isolate_cpu_ms).toBeLessThan(2_000);
  });
});
