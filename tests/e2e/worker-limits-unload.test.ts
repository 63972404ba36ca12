// beforeunload through the real runtime, on a private stack with a 12 s wall clock: a worker that has
// claimed tasks it has not started when the runtime announces the termination gives them back at
// once and wakes a fresh worker, which runs them, with no attempt spent, long before the lease of
// the task killed mid-run would have let anyone else have them.
import { describe, expect, it } from "vitest";
import type postgres from "postgres";
import { usePrivateStack } from "../helpers/private-stack.ts";
import { HANDED_ON, waitFor } from "../helpers/stack.ts";

const WALL_CLOCK_MS = 12_000;
const priv = usePrivateStack({
  functionEnv: {
    ORCHESTRATOR_TEST_TASKS: "1", TEST_CHAOS_TIMEOUT_MS: "30000", WORKER_CONCURRENCY: "1", BODY_IDLE_TIMEOUT_MS: "60000",
    // The runtime's wall clock is short so the test reaches it; the worker is told the Free plan's 150 s, as a
    // worker that misjudges its plan would be, so it starts a handler that outlives the isolate.
    EDGE_WALL_CLOCK_LIMIT_MS: String(WALL_CLOCK_MS), WORKER_WALL_CLOCK_MS: "150000", EDGE_REQUEST_TIMEOUT_MS: "60000",
  },
});

/** test.chaos tasks no wake-up announces (triggers off for the insert). */
async function quietChaos(sql: postgres.Sql, payloads: Record<string, unknown>[], priority = 0): Promise<number[]> {
  return await sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    const rows = await tx<{ id: number }[]>`select id from orchestrator.enqueue_many('test.chaos',
      ${payloads.map((p) => JSON.stringify(p))}::text[]::jsonb[], ${tx.json({ source: "test", priority, max_attempts: 3 })})`;
    return rows.map((r) => Number(r.id));
  });
}

describe("task-worker on beforeunload", () => {
  it("gives back its claimed, unstarted task at once and a fresh worker runs it: no attempt spent, nothing waits for a lease", { timeout: 60_000 }, async () => {
    const sql = priv.sql;
    const [{ since }] = await sql<{ since: number }[]>`select coalesce(max(id), 0)::int as since from orchestrator.logs`;
    const [sleeper] = await quietChaos(sql, [{ mode: "sleep", ms: 25_000 }], 10);
    const quick = await quietChaos(sql, Array.from({ length: 4 }, (_, i) => ({ mode: "ok", seq: i })));
    const headers = { authorization: `Bearer ${priv.stack.info.SERVICE_ROLE_KEY}`, "content-type": "application/json" };
    const started = Date.now();
    // Synchronous: it runs the sleeper (concurrency 1), with the next task claimed and waiting behind it.
    const res = await fetch(`${priv.stack.info.FUNCTIONS_URL}/task-worker`, { method: "POST", headers, body: JSON.stringify({ types: ["test.chaos"], budget_ms: 30_000 }) });
    const ended = Date.now() - started;
    expect(res.status).toBe(546); // terminated at the wall clock, the sleeper still running
    await res.body?.cancel();
    const [stop] = await waitFor(async () => {
      const rows = await sql<{ message: string; context: { released: number; running: number } }[]>`
        select message, context from orchestrator.logs where id > ${since} and component = 'task-worker' and message like '%stopped: the runtime sent beforeunload%'`;
      return rows.length > 0 && rows;
    }, "the worker's beforeunload log line", 10_000, 100);
    expect(stop.message).toMatch(/1 unstarted tasks back to the queue, /);
    expect(stop.message).toMatch(HANDED_ON);
    expect(stop.context).toMatchObject({ released: 1, running: 1 });
    // The fresh worker runs every quick task, each on its first attempt, well before the sleeper's lease (30 s + 15 s) ends.
    await waitFor(async () => {
      const rows = await sql<{ status: string }[]>`select status::text from orchestrator.tasks where id = any(${quick}::bigint[])`;
      return rows.every((r) => r.status === "succeeded");
    }, "the quick tasks to succeed", 15_000, 100);
    const after = Date.now() - started;
    const rows = await sql<{ attempts: number }[]>`select attempts from orchestrator.tasks where id = any(${quick}::bigint[])`;
    expect(rows.every((r) => r.attempts === 1)).toBe(true);
    // The sleeper, alone in the terminated worker, is blamed once the gateway's report of the kill is in (it
    // comes after the 546, and the given-back tasks may finish first): its attempt failed with the reason (a
    // retry is scheduled), long before its lease (30 s + 15 s) would have ended.
    const s = await waitFor(async () => {
      const [t] = await sql<{ suspect: boolean; last_error: string | null }[]>`
        select suspect, last_error from orchestrator.tasks where id = ${sleeper}`;
      return t.suspect && t;
    }, "the gateway's report of the kill to reach the sleeper", 5_000, 50);
    // (its retry may have started already: attempts is 1 or 2)
    expect(s.last_error).toMatch(/^isolate terminated: WallClockTime \(wall clock \d+ ms ≥ limit 12000 ms\), during attempt 1 of 3, as the only task there: this task caused it/);
    console.log(`[worker-limits unload] terminated after ${ended} ms (wall clock ${WALL_CLOCK_MS}); the given-back task and 3 others done ${after} ms after the start`);
    expect(after).toBeLessThan(WALL_CLOCK_MS + 8_000);
  });
});
