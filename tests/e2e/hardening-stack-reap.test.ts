// A dead worker's tasks run again right after their lease expires (issue 14, item 9),
// not on the next pg_cron minute: with pg_cron 1.4 (Debian) the stack's supervisor
// sweeps at the moment the earliest lease expires. The "dead worker" claims noop
// tasks in SQL and never finishes them. The lease is chosen to expire between :08
// and :50 of a minute, where a minute-granularity reap would wait at least 10 s.
// A private stack: no other test's worker invocations reap for us.
import { describe, expect, it } from "vitest";
import { usePrivateStack } from "../helpers/private-stack.ts";
import { waitFor } from "../helpers/stack.ts";

const priv = usePrivateStack();

/** A lease of at least 3 s that ends between :08 and :50 of a minute. */
function leaseSeconds(now = new Date()): number {
  const endsAt = (now.getUTCSeconds() + now.getUTCMilliseconds() / 1000 + 3) % 60;
  return endsAt >= 8 && endsAt <= 50 ? 3 : 3 + ((68 - endsAt) % 60);
}

describe("reaping on the lease's own schedule", () => {
  it("re-runs a dead worker's tasks within seconds of their lease expiry", async () => {
    const N = 5;
    const lease = Math.ceil(leaseSeconds());
    const rows = await priv.sql<{ id: number; locked_until: Date }[]>`
      with t as (select * from orchestrator.enqueue_many('test.reap-timing', (select array_agg(jsonb_build_object('echo', g)) from generate_series(1, ${N}) g)))
      select id from t`;
    expect(rows).toHaveLength(N);
    // Enqueued under a type no worker knows (so the stack's worker cannot take them first), then made noop and
    // claimed by a worker that then dies: it never finishes or fails them.
    const ids = rows.map((r) => Number(r.id));
    await priv.sql`update orchestrator.tasks set type = 'noop' where id = any(${ids}::bigint[])`;
    const claimed = await priv.sql<{ id: number; locked_until: Date }[]>`
      select id, locked_until from orchestrator.claim('dead-worker', ${N}, ${lease}, array['noop'])`;
    const mine = claimed.filter((c) => ids.includes(Number(c.id)));
    expect(mine).toHaveLength(N);
    const expiry = Math.max(...mine.map((c) => c.locked_until.getTime()));
    const done = await waitFor(async () => {
      const r = await priv.sql<{ id: number; finished_at: Date; attempts: number; status: string }[]>`
        select id, finished_at, attempts, status::text from orchestrator.tasks where id = any(${ids}::bigint[]) and status = 'succeeded'`;
      return r.length === N && r;
    }, "the reaped tasks to run again", 75_000, 100);
    const delays = done.map((t) => (t.finished_at.getTime() - expiry) / 1000).sort((a, b) => a - b);
    console.log(`[reap] lease ${lease} s, expired at :${new Date(expiry).getUTCSeconds()}; re-run ${delays.map((d) => d.toFixed(2)).join(", ")} s after the lease (median ${delays[Math.floor(N / 2)].toFixed(2)} s)`);
    expect(done.every((t) => t.attempts === 2)).toBe(true);
    // pg_cron 1.4's minute would be at least 10 s away; the supervisor's sweep at the expiry is well within that.
    expect(Math.max(...delays)).toBeLessThan(8);
  }, 120_000);
});
