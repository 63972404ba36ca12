// The batch operations the streaming worker uses (fail_many, extend_leases,
// release_tasks), the claim that stays on its index, and the task-ready NOTIFY.
// Each test uses its own task type, which the Deno worker never claims.
import { describe, expect, it } from "vitest";
import postgres from "postgres";
import { inRolledBackTx, sql, stack, uniqueType, waitFor } from "../helpers/stack.ts";

type Row = { id: number; status: string; attempts: number; lease_token: string | null; locked_until: Date | null; started_at: Date | null; run_at: Date; last_error: string | null; type: string; priority: number };

async function enqueueMany(type: string, n: number, opts: object = {}) {
  const rows = await sql()<{ id: number }[]>`
    select id from orchestrator.enqueue_many(${type}, (select array_agg('{}'::jsonb) from generate_series(1, ${n})), ${sql().json(opts as never)})`;
  return rows.map((r) => r.id).sort((a, b) => a - b);
}

async function claim(type: string, max = 10, leases: Record<string, number> = {}) {
  return await sql()<Row[]>`select * from orchestrator.claim('w-test', ${max}, 60, ${[type]}::text[], ${sql().json(leases)})`;
}

async function task(id: number) {
  const [row] = await sql()<Row[]>`select * from orchestrator.tasks where id = ${id}`;
  return row;
}

describe("fail_many", () => {
  it("fails each task through fail(): retry, dead, or stale, in input order", async () => {
    const type = uniqueType("failmany");
    await enqueueMany(type, 3, { max_attempts: 3, backoff_base_seconds: 60 });
    const [a, b, c] = (await claim(type, 3)).sort((x, y) => x.id - y.id);
    const rows = await sql()<{ id: number; status: string }[]>`
      select * from orchestrator.fail_many(
        ${[c.id, a.id, b.id]}::bigint[],
        ${[c.lease_token!, a.lease_token!, "00000000-0000-0000-0000-000000000000"]}::uuid[],
        ${["c broke", "a broke", "b broke"]}::text[],
        ${["false", "true", "true"]}::text[]::boolean[])`;
    expect(rows).toEqual([{ id: c.id, status: "dead" }, { id: a.id, status: "queued" }, { id: b.id, status: "stale" }]);
    const ta = await task(a.id);
    expect(ta.status).toBe("queued");
    expect(ta.last_error).toBe("a broke");
    expect(ta.run_at.getTime()).toBeGreaterThan(Date.now() + 20_000); // backoff: 30-60 s
    expect((await task(b.id)).status).toBe("running"); // a stale token changes nothing
    expect((await task(c.id)).status).toBe("dead");
  });
});

describe("extend_leases", () => {
  it("renews the lease of tasks whose token is current, with each type's lease; a stale token gets nothing", async () => {
    const type = uniqueType("extend");
    await enqueueMany(type, 2);
    const [a, b] = await claim(type, 2, { [type]: 5 });
    expect(a.locked_until!.getTime() - Date.now()).toBeLessThan(6_000);
    const rows = await sql()<{ id: number; locked_until: Date }[]>`
      select * from orchestrator.extend_leases(${[a.id, b.id]}::bigint[], ${[a.lease_token!, "00000000-0000-0000-0000-000000000000"]}::uuid[],
                                              ${sql().json({ [type]: 120 })}, 30)`;
    expect(rows.map((r) => r.id)).toEqual([a.id]);
    const left = rows[0].locked_until.getTime() - Date.now();
    expect(left).toBeGreaterThan(110_000);
    expect(left).toBeLessThan(125_000);
    expect((await task(b.id)).locked_until!.getTime()).toBe(b.locked_until!.getTime());
    expect((await task(a.id)).lease_token).toBe(a.lease_token); // same lease, longer
  });
});

describe("release_tasks", () => {
  it("puts claimed tasks back in the queue without counting the attempt; a stale token releases nothing", async () => {
    const type = uniqueType("release");
    await enqueueMany(type, 2);
    const [a, b] = (await claim(type, 2)).sort((x, y) => x.id - y.id);
    expect(a.attempts).toBe(1);
    const released = await sql()<{ id: number }[]>`
      select release_tasks as id from orchestrator.release_tasks(${[a.id, b.id]}::bigint[], ${[a.lease_token!, "00000000-0000-0000-0000-000000000000"]}::uuid[])`;
    expect(released.map((r) => r.id)).toEqual([a.id]);
    const ta = await task(a.id);
    expect(ta).toMatchObject({ status: "queued", attempts: 0, lease_token: null, locked_until: null, started_at: null });
    expect((await task(b.id)).status).toBe("running");
    const [again] = await claim(type, 1);
    expect(again.id).toBe(a.id);
    expect(again.attempts).toBe(1);
  });
});

describe("claim (claim_pick_ids)", () => {
  it("takes the highest priority, then the oldest, skipping rows another claim holds, at depth and with stale statistics", async () => {
    const type = uniqueType("pick");
    // Statistics that say the queue is empty, then a backlog: the claim must still walk the claim index in order.
    await sql()`analyze orchestrator.tasks`;
    const ids = await enqueueMany(type, 3000);
    const [urgent] = await enqueueMany(type, 1, { priority: 10 });
    const holder = postgres(stack().DB_URL, { max: 1, onnotice: () => {} });
    try {
      // Another transaction holds the two oldest normal-priority rows.
      const held = holder.begin(async (tx) => {
        await tx`select id from orchestrator.tasks where id = any(${ids.slice(0, 2)}::bigint[]) for update`;
        await new Promise((r) => setTimeout(r, 500));
      });
      await new Promise((r) => setTimeout(r, 100));
      const got = (await claim(type, 5)).map((r) => r.id);
      expect(got[0] === urgent || got.includes(urgent)).toBe(true);
      expect(got.filter((id) => id !== urgent).sort((a, b) => a - b)).toEqual(ids.slice(2, 6));
      await held;
    } finally {
      await holder.end();
    }
    expect(await claim(type, 0)).toEqual([]);
  });
});

describe("the batch ops find their tasks by id", () => {
  it("complete_many, extend_leases and release_tasks of one task read a few pages with 3,000 tasks running, not every running task", async () => {
    // 20261208000200_batch_ops_by_id.sql: with statistics from a time few tasks ran, the SQL forms read
    // every running task through tasks_running_id_idx.
    const buffers = await inRolledBackTx(async (tx) => {
      const type = uniqueType("byid");
      await tx`select count(*) from orchestrator.enqueue_many(${type}, (select array_agg('{}'::jsonb) from generate_series(1, 3000)))`;
      const running: { id: number; lease_token: string }[] = [];
      for (let i = 0; i < 3; i++) running.push(...await tx<{ id: number; lease_token: string }[]>`select id, lease_token from orchestrator.claim('w-byid', 1000, 60, ${[type]}::text[])`);
      expect(running).toHaveLength(3000);
      const calls = {
        complete_many: (t: { id: number; lease_token: string }) => `select * from orchestrator.complete_many(array[${t.id}]::bigint[], array['${t.lease_token}']::uuid[], array['null'::jsonb])`,
        extend_leases: (t: { id: number; lease_token: string }) => `select * from orchestrator.extend_leases(array[${t.id}]::bigint[], array['${t.lease_token}']::uuid[])`,
        release_tasks: (t: { id: number; lease_token: string }) => `select * from orchestrator.release_tasks(array[${t.id}]::bigint[], array['${t.lease_token}']::uuid[])`,
      };
      const read: Record<string, number> = {};
      let next = 0;
      for (const [name, call] of Object.entries(calls)) {
        await tx.unsafe(call(running[next++])); // the session's first call plans; the second is measured
        const [{ "QUERY PLAN": [plan] }] = await tx.unsafe(`explain (analyze, buffers, format json) ${call(running[next++])}`);
        expect(plan.Plan["Actual Rows"]).toBe(1);
        read[name] = plan.Plan["Shared Hit Blocks"] + plan.Plan["Shared Read Blocks"];
      }
      return read;
    });
    for (const [name, n] of Object.entries(buffers)) expect(n, name).toBeLessThan(50); // 19-21 by id; 109-111 read through every running task
  });
});

describe("claim's commit", () => {
  it("is asynchronous for its own transaction when p_commit_async asks, durable otherwise", async () => {
    const type = uniqueType("async");
    await enqueueMany(type, 2);
    const commitIn = async (async: boolean) => await inRolledBackTx(async (tx) => {
      await tx`set local synchronous_commit = on`; // the test stack's own default is off (a fast cluster)
      const [{ n }] = await tx<{ n: number }[]>`select count(*)::int as n from orchestrator.claim('w-async', 1, 60, ${[type]}::text[], null, false, ${async})`;
      expect(n).toBe(1);
      const [{ synchronous_commit }] = await tx`show synchronous_commit`;
      return synchronous_commit;
    });
    expect(await commitIn(true)).toBe("off");
    expect(await commitIn(false)).toBe("on");
  });
});

describe("orchestrator_task_ready", () => {
  it("is notified when an insert commits a task that can run now", async () => {
    const listener = postgres(stack().DB_URL, { max: 1, onnotice: () => {} });
    let seen = 0;
    try {
      await listener.listen("orchestrator_task_ready", () => {
        seen++;
      });
      const type = uniqueType("ready");
      const before = seen;
      await enqueueMany(type, 5);
      await waitFor(async () => seen > before, "a task-ready notification", 5_000, 20);
      expect(seen).toBeGreaterThan(before);
    } finally {
      await listener.end();
    }
  });
});
