// Reaping as soon as a lease can be known expired (issue 14, item 9), in SQL:
// sweep() reaps by itself (it no longer leaves that to a worker it wakes), and
// next_sweep_in() tells a ticker when the earliest lease expires. Each check runs
// in a transaction that is rolled back, so nothing else on the stack sees its rows.
import { describe, expect, it } from "vitest";
import { inRolledBackTx, sql, uniqueType } from "../helpers/stack.ts";

describe("sweep() and next_sweep_in()", () => {
  it("sweep() reaps an expired lease itself and wakes the worker for it", async () => {
    const type = uniqueType("sweep");
    const result = await inRolledBackTx(async (tx) => {
      const [{ id }] = await tx`select (r.task).id from orchestrator.enqueue(${type}, '{}', '{"max_attempts": 3}') r`;
      await tx`select * from orchestrator.claim('dead-worker', 1, 60, ${[type]}::text[])`;
      await tx`update orchestrator.tasks set locked_until = now() - interval '1 second' where id = ${id}`;
      const before = Number((await tx`select coalesce(max(id), 0) as m from net.http_request_queue`)[0].m);
      await tx`select orchestrator.sweep()`;
      const [task] = await tx`select status::text, locked_by, last_error from orchestrator.tasks where id = ${id}`;
      const wakeups = await tx`select convert_from(body, 'UTF8')::jsonb ->> 'reason' as reason from net.http_request_queue where id > ${before}`;
      return { task, wakeups: wakeups.map((w) => w.reason) };
    });
    expect(result.task.status).toBe("queued");
    expect(result.task.locked_by).toBeNull();
    expect(result.task.last_error).toMatch(/^lease expired: worker dead-worker did not finish attempt 1/);
    expect(result.wakeups).toContain("cron");
  });

  it("next_sweep_in() is the time to the earliest lease expiry, capped, and 0 once one has expired", async () => {
    const type = uniqueType("next");
    const figures = await inRolledBackTx(async (tx) => {
      await tx`select orchestrator.enqueue_many(${type}, array['{}'::jsonb, '{}'::jsonb])`;
      const claimed = await tx<{ id: number }[]>`select id from orchestrator.claim('dead-worker', 2, 60, ${[type]}::text[])`;
      await tx`update orchestrator.tasks set locked_until = now() + interval '3 seconds' where id = ${claimed[0].id}`;
      const [{ soon }] = await tx`select orchestrator.next_sweep_in(10) as soon`;
      const [{ capped }] = await tx`select orchestrator.next_sweep_in(1.5) as capped`;
      await tx`update orchestrator.tasks set locked_until = now() - interval '1 second' where id = ${claimed[1].id}`;
      const [{ expired }] = await tx`select orchestrator.next_sweep_in(10) as expired`;
      return { soon, capped, expired };
    });
    // Other tests' tasks may hold earlier leases on this shared stack: never later than ours.
    expect(figures.soon).toBeGreaterThanOrEqual(0);
    expect(figures.soon).toBeLessThanOrEqual(3);
    expect(figures.capped).toBeLessThanOrEqual(1.5);
    expect(figures.expired).toBe(0);
  });
});
