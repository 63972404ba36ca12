// Breaks the stack on purpose, so it runs on a private stack of its own: the
// shared test stack (and every other test file) never sees the fault.
import { describe, expect, it } from "vitest";
import { usePrivateStack } from "../helpers/private-stack.ts";
import { waitFor } from "../helpers/stack.ts";

// LOG_LEVEL=debug: each success is a log row, which tells a task finished twice (at info a success is its task row only).
const priv = usePrivateStack({ functionEnv: { LOG_LEVEL: "debug" } });

describe("function server killed mid-run", () => {
  it("tasks running at the kill finish after restart: none lost, none finished twice", async () => {
    const N = 40;
    const [{ first }] = await priv.sql`
      select min(id) as first from orchestrator.enqueue_many('noop', (select array_agg(jsonb_build_object('delay_ms', 1500, 'echo', g)) from generate_series(1, ${N}) g))`;
    const ids = Array.from({ length: N }, (_, i) => Number(first) + i);
    await waitFor(async () => {
      const [{ n }] = await priv.sql`select count(*)::int as n from orchestrator.tasks where id = any(${ids}::bigint[]) and status = 'running'`;
      return n > 0;
    }, "some tasks to be running", 10_000, 20);
    await priv.stack.functions.stop("SIGKILL");
    const [{ orphaned }] = await priv.sql`select count(*)::int as orphaned from orchestrator.tasks where id = any(${ids}::bigint[]) and status = 'running'`;
    expect(orphaned).toBeGreaterThan(0);
    priv.stack.functions.start();
    await priv.stack.waitHealthy();

    // Leases expire (noop: 10 s timeout + 15 s); the sweep reaps them as they expire and wakes a worker that reruns them.
    await waitFor(async () => {
      const [{ n }] = await priv.sql`select count(*)::int as n from orchestrator.tasks where id = any(${ids}::bigint[]) and status in ('succeeded', 'dead', 'cancelled')`;
      return n === N;
    }, `all ${N} tasks to finish after the restart`, 170_000, 500);

    const counts = await priv.sql`select status::text, count(*)::int as n from orchestrator.tasks where id = any(${ids}::bigint[]) group by status`;
    expect(counts).toEqual([{ status: "succeeded", n: N }]);
    // The worker flushes log rows after the completion, off the task's path: wait for the last flush
    // (a clean-clone run read 30 of 40 rows right after the last task finished).
    const successRows = () => priv.sql`
      select task_id, count(*)::int as n from orchestrator.logs
      where task_id = any(${ids}::bigint[]) and message = 'task noop succeeded' group by task_id`;
    await waitFor(async () => (await successRows()).length >= N, "every success's log row", 10_000, 100).catch(() => {});
    const finishes = await successRows();
    expect(finishes).toHaveLength(N);
    expect(finishes.every((f) => f.n === 1)).toBe(true);
    const [{ rerun }] = await priv.sql`select count(*)::int as rerun from orchestrator.tasks where id = any(${ids}::bigint[]) and attempts = 2`;
    expect(rerun).toBeGreaterThanOrEqual(orphaned);
    console.log(`[kill -9] ${N} tasks: ${orphaned} were running at the kill, ${rerun} ran a second attempt, ${N} succeeded, 0 lost, 0 finished twice`);
  }, 200_000);
});
