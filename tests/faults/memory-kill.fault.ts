// Fault (j): a memory kill mid-batch. Under a steady load of well-behaved test.chaos tasks, one task
// allocates 400 MB and holds it (alloc), so the task-worker's user worker passes the runtime's 256 MB
// limit and is killed (shutdown Memory), with the load tasks it had claimed still running. Those are
// reaped when their lease expires (2 s timeout + 15 s) and run again on a fresh worker; the allocating
// task does the same on each attempt and ends dead. Nothing is lost, no attempt is finished twice,
// /health answers throughout.
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
