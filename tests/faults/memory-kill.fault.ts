// Fault (j): a memory kill mid-batch. Under a steady load of well-behaved test.chaos tasks, one task
// allocates 400 MB and holds it (alloc), so the task-worker's user worker passes the runtime's 256 MB
// limit and is killed (shutdown Memory), with the load tasks it had claimed still running.
// The gateway reports the kill to the queue at once (orchestrator.isolate_terminated): the load
// tasks that ran beside it go back to the queue that moment, their attempt not counted, and run alone
// next; the deadly task, alone in its isolate on its next attempt, is blamed (the attempt fails with the
// shutdown reason as its error) and ends dead after its attempts. Nothing is lost, no attempt is finished
// twice, nothing waits for a lease, /health answers throughout.
import { describe, expect, it } from "vitest";
import { crashes, expectLimitFault, limitFaultFigures, report, runLimitFault, useFaultStack, type LimitFaultSpec } from "./harness.ts";

const SPEC: LimitFaultSpec = {
  load: "fault-memory-load",
  deadly: "fault-memory-deadly",
  perSecond: 40,
  loadPayload: { mode: "sleep", ms: 300 },
  deadlyPayload: { mode: "alloc", mb: 400, ms: 1_500 },
  maxAttempts: 2,
  reason: "Memory",
};

const ctx = useFaultStack(SPEC.load);

describe("fault (j): a memory kill mid-batch", () => {
  it("the killed worker's tasks re-run within lease + 15 s, the allocator ends dead, nothing lost or finished twice", async () => {
    const r = await runLimitFault(ctx, SPEC);
    report("(j) alloc 400 MB mid-batch: the user worker is killed over 256 MB (Memory)", limitFaultFigures(r, SPEC, ctx.producer.acked, ctx.producer.errors));
    expectLimitFault(r, SPEC);
    expect(r.kills[0].message).toMatch(/shut down: Memory \(resident memory \d+ MB > limit 256 MB\)/);
    expect(crashes(ctx.fs)).toEqual([]);
  });
});
