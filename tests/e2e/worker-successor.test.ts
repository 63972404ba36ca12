// A warm successor before an isolate stops, end to end on a private stack under the default limits
// (CPU soft 1,000 / hard 2,000 ms): tasks inserted one at a time at 100/s until an isolate has retired
// for CPU, and 3 s more. The retired isolate wakes its successor and works on until that one listens, so the
// stream goes on through every retirement: inserts send (almost) no wake-ups, nothing is killed, and
// every task succeeds on its first attempt.
import { describe, expect, it } from "vitest";
import { usePrivateStack } from "../helpers/private-stack.ts";
import { waitFor } from "../helpers/stack.ts";

const priv = usePrivateStack();

describe("task-worker's successor", () => {
  it("at 100 tasks/s through an isolate's retirement: a successor is woken, inserts send no wake-ups meanwhile, no worker is killed, nothing retried", { timeout: 120_000 }, async () => {
    const sql = priv.sql;
    // No cron sweep in this stack (its wake-ups are not the ones measured, and it forgets answered wake-ups).
    await sql`update cron.job set active = false`;
    // A worker listens first (the stack's first cold start is not what is measured).
    const [{ id: first }] = await sql<{ id: number }[]>`select (orchestrator.enqueue('noop', '{}')).task.id as id`;
    await waitFor(async () => (await sql`select 1 from orchestrator.tasks where id = ${first} and status = 'succeeded'`).length > 0, "the first task", 30_000);
    await waitFor(async () => (await sql`select 1 from orchestrator.worker_presence where until > now()`).length > 0, "a listening worker", 10_000);
    const [{ since, logsSince }] = await sql<{ since: number; logsSince: number }[]>`
      select coalesce((select max(request_id) from orchestrator.wakeup_requests), 0)::bigint as since,
             coalesce((select max(id) from orchestrator.logs), 0)::bigint as "logsSince"`;
    const retiredYet = async () => (await sql`select 1 from orchestrator.logs where id > ${logsSince} and component = 'edge-runtime'
      and context->>'function' = 'task-worker' and context->>'event' = 'retire' and context->>'reason' = 'CPUTime'`).length > 0;
    // At 100/s until an isolate has retired for CPU (about 5 s of this stream; longer on a loaded machine) and
    // 3 s more, so the hand-off happens under load.
    const ids: number[] = [];
    const started = Date.now();
    let until = 6_000;
    for (let i = 0; i < until; i++) {
      const wait = started + i * 10 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const [{ id }] = await sql<{ id: number }[]>`select (orchestrator.enqueue('noop', '{}')).task.id as id`;
      ids.push(Number(id));
      if (until === 6_000 && i % 100 === 99 && await retiredYet()) until = i + 300;
    }
    await waitFor(async () => {
      const [{ done }] = await sql<{ done: number }[]>`select count(*)::int as done from orchestrator.tasks where id = any(${ids}::bigint[]) and status = 'succeeded'`;
      return done === ids.length;
    }, "every task to succeed", 30_000, 100);
    const [{ retried }] = await sql<{ retried: number }[]>`
      select count(*) filter (where attempts > 1)::int as retried from orchestrator.tasks where id = any(${ids}::bigint[])`;
    const wakeups = Object.fromEntries((await sql<{ reason: string; n: number }[]>`
      select reason, count(*)::int as n from orchestrator.wakeup_requests where request_id > ${since} group by 1`).map((r) => [r.reason, r.n]));
    const ends = await sql<{ reason: string; n: number }[]>`
      select context->>'event' || ':' || (context->>'reason') as reason, count(*)::int as n from orchestrator.logs
      where id > ${logsSince} and component = 'edge-runtime' and context->>'function' = 'task-worker' group by 1`;
    const byEnd = Object.fromEntries(ends.map((e) => [e.reason, e.n]));
    console.log(`[worker-successor e2e] ${ids.length} tasks at 100/s; wake-ups ${JSON.stringify(wakeups)}; isolate events ${JSON.stringify(byEnd)}`);
    expect(byEnd["retire:CPUTime"]).toBeGreaterThanOrEqual(1); // the stream outlasted an isolate's CPU: a successor took it on
    expect(wakeups.successor).toBeGreaterThanOrEqual(1);
    // Before the successor, every insert while the next isolate booted sent one (about 40 per retirement).
    expect(wakeups.insert ?? 0).toBeLessThanOrEqual(5);
    for (const kill of ["CPUTime", "WallClockTime", "Memory"]) expect(byEnd[`shutdown:${kill}`]).toBeUndefined();
    expect(retried).toBe(0);
  });
});
