// Fault (i): a wall-clock termination mid-batch. This private stack's user workers live 5 s
// (EDGE_WALL_CLOCK_LIMIT_MS: retired at 2.5 s, beforeunload at 4 s, terminated at 5 s); test.chaos's
// timeout is 7 s, and the worker is told the plan's 150 s (WORKER_WALL_CLOCK_MS=150000, a misjudged plan), so it
// starts a handler that cannot finish in its isolate's life. Under a steady load of well-behaved tasks,
// one task sleeps 6 s: its user worker is terminated at the limit (shutdown WallClockTime) with it still
// running. On beforeunload (1 s before) the worker gives back what it has not started and starts nothing
// more, so the 300 ms load tasks it was running finish before the end: usually the sleeper is the only
// task the terminated worker still holds, and is blamed at once. the gateway reports the kill to the queue at once (orchestrator.isolate_terminated): the load
// tasks that ran beside it go back to the queue that moment, their attempt not counted, and run alone
// next; the deadly task, alone in its isolate on its next attempt, is blamed (the attempt fails with the
// shutdown reason as its error) and ends dead after its attempts. Nothing is lost, no attempt is finished
// twice, nothing waits for a lease, /health answers throughout.
import { describe, expect, it } from "vitest";
import { crashes, expectLimitFault, limitFaultFigures, report, runLimitFault, useFaultStack, type LimitFaultSpec } from "./harness.ts";

const WALL_CLOCK_MS = 5_000;
const SPEC: LimitFaultSpec = {
  load: "fault-wall-load",
  deadly: "fault-wall-deadly",
  perSecond: 40,
  loadPayload: { mode: "sleep", ms: 300 },
  deadlyPayload: { mode: "sleep", ms: 6_000 },
  maxAttempts: 2,
  reason: "WallClockTime",
};

// WORKER_WALL_CLOCK_MS set apart from the runtime's: left unset, the gateway would tell the worker the 5 s.
const ctx = useFaultStack(SPEC.load, { functionEnv: { EDGE_WALL_CLOCK_LIMIT_MS: String(WALL_CLOCK_MS), WORKER_WALL_CLOCK_MS: "150000", TEST_CHAOS_TIMEOUT_MS: "7000" } });

describe("fault (i): a wall-clock termination mid-batch", () => {
  it("the terminated worker's tasks re-run within lease + 15 s, the sleeper ends dead, nothing lost or finished twice", async () => {
    const r = await runLimitFault(ctx, SPEC);
    report(`(i) sleep past a ${WALL_CLOCK_MS / 1000} s wall clock mid-batch: the user worker is terminated (WallClockTime)`, limitFaultFigures(r, SPEC, ctx.producer.acked, ctx.producer.errors));
    expectLimitFault(r, SPEC);
    // Each deadly attempt ran until its isolate's end: at most one isolate life after its claim.
    for (const ms of r.claimToKillMs) expect(ms).toBeLessThanOrEqual(WALL_CLOCK_MS + 1_000);
    expect(crashes(ctx.fs)).toEqual([]);
  });
});
