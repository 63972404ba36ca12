// Fault (h): a CPU kill mid-batch. Under a steady load of well-behaved test.chaos tasks, one task burns
// 6 s of CPU synchronously (burn_cpu: no timer, no abort can stop it), so the task-worker's user worker
// passes the runtime's hard CPU limit (2,000 ms) and is killed at once (shutdown CPUTime), with the load
// tasks it had claimed still running. The gateway reports the kill to the queue at once (orchestrator.isolate_terminated): the load
// tasks that ran beside it go back to the queue that moment, their attempt not counted, and run alone
// next; the deadly task, alone in its isolate on its next attempt, is blamed (the attempt fails with the
// shutdown reason as its error) and ends dead after its attempts. Nothing is lost, no attempt is finished
// twice, nothing waits for a lease, /health answers throughout.
import { describe, expect, it } from "vitest";
import { crashes, expectLimitFault, limitFaultFigures, report, runLimitFault, useFaultStack, type LimitFaultSpec } from "./harness.ts";

const SPEC: LimitFaultSpec = {
  load: "fault-cpu-load",
  deadly: "fault-cpu-deadly",
  perSecond: 40,
  loadPayload: { mode: "sleep", ms: 300 },
  deadlyPayload: { mode: "burn_cpu", ms: 6_000 },
  maxAttempts: 2,
  reason: "CPUTime",
};

const ctx = useFaultStack(SPEC.load);

describe("fault (h): a CPU kill mid-batch", () => {
  it("the killed worker's tasks re-run within lease + 15 s, the burner ends dead, nothing lost or finished twice", async () => {
    const r = await runLimitFault(ctx, SPEC);
    report("(h) burn_cpu past the hard CPU limit mid-batch: the user worker is killed (CPUTime)", limitFaultFigures(r, SPEC, ctx.producer.acked, ctx.producer.errors));
    expectLimitFault(r, SPEC);
    expect(r.kills[0].message).toMatch(/shut down: CPUTime \(CPU time \d+ ms ≥ hard limit 2000 ms\)/);
    expect(crashes(ctx.fs)).toEqual([]);
  });
});
