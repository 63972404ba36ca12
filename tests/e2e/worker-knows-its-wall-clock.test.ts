// The worker budgets with the wall clock its runtime really has. The local gateway hands its plan's
// wall clock (here shortened to 14 s) to the functions as WORKER_WALL_CLOCK_MS unless it is set, as an
// operator sets it hosted. So under a steady load of 2 s tasks (4 s timeout) no handler is started that
// could outlive its isolate: every isolate stops starting tasks 4 s + headroom before its end, retires
// and is dropped with nothing held, and no task ever dies with a terminated isolate.
import { describe, expect, it } from "vitest";
import { usePrivateStack } from "../helpers/private-stack.ts";
import { waitFor } from "../helpers/stack.ts";

const WALL_CLOCK_MS = 14_000;
const priv = usePrivateStack({
  functionEnv: { ORCHESTRATOR_TEST_TASKS: "1", TEST_CHAOS_TIMEOUT_MS: "4000", EDGE_WALL_CLOCK_LIMIT_MS: String(WALL_CLOCK_MS) },
});

describe("the worker and its runtime's wall clock", () => {
  it("knows a shortened wall clock without being told: no handler outlives its isolate, nothing dies with one", { timeout: 90_000 }, async () => {
    const sql = priv.sql;
    const [{ since }] = await sql<{ since: number }[]>`select coalesce(max(id), 0)::int as since from orchestrator.logs`;
    const headers = { authorization: `Bearer ${priv.stack.info.SERVICE_ROLE_KEY}`, "content-type": "application/json" };
    const ids: number[] = [];
    // 2 tasks/s for 24 s: the load spans the lives of several isolates.
    for (let i = 0; i < 48; i++) {
      const res = await fetch(`${priv.stack.info.FUNCTIONS_URL}/tasks`, {
        method: "POST", headers, body: JSON.stringify({ type: "test.chaos", payload: { mode: "sleep", ms: 2_000, seq: i } }),
      });
      expect(res.status).toBe(201);
      ids.push((await res.json()).id);
      await new Promise((r) => setTimeout(r, 500));
    }
    await waitFor(async () => {
      const [{ open }] = await sql<{ open: number }[]>`
        select count(*)::int as open from orchestrator.tasks where id = any(${ids}::bigint[]) and status in ('queued', 'running')`;
      return open === 0;
    }, "the load to finish", 45_000, 250);
    const rows = await sql<{ status: string; attempts: number; suspect: boolean }[]>`
      select status::text, attempts, suspect from orchestrator.tasks where id = any(${ids}::bigint[])`;
    expect(rows.filter((r) => r.status !== "succeeded" || r.attempts !== 1 || r.suspect), "tasks that did not succeed on their first attempt").toEqual([]);
    const edge = await sql<{ event: string; reason: string; fn: string }[]>`
      select context->>'event' as event, context->>'reason' as reason, context->>'function' as fn
      from orchestrator.logs where id > ${since} and component = 'edge-runtime'`;
    // Isolates of task-worker ended, but none with a task in it (that would be an event "tasks" row).
    expect(edge.filter((e) => e.fn === "task-worker" && e.event === "tasks")).toEqual([]);
    expect(edge.filter((e) => e.fn === "task-worker" && e.event === "shutdown" && e.reason === "WallClockTime")).toEqual([]);
    // The worker knew the 14 s: it said so when it stopped starting tasks in an isolate near its end.
    const knew = await sql<{ wall: number }[]>`
      select (context->>'wall_clock_ms')::int as wall from orchestrator.logs
      where id > ${since} and component = 'task-worker' and context ? 'wall_clock_ms'`;
    expect(knew.length).toBeGreaterThan(0);
    expect(new Set(knew.map((k) => k.wall))).toEqual(new Set([WALL_CLOCK_MS]));
    const ended = edge.filter((e) => e.fn === "task-worker" && e.event === "shutdown").map((e) => e.reason);
    console.log(`[wall clock] 48 tasks of 2 s over 24 s, isolates of ${WALL_CLOCK_MS / 1000} s: all succeeded on attempt 1; task-worker isolates ended ${JSON.stringify(ended)}`);
  });
});
