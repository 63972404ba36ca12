// The SQL queue contract on a real PostgreSQL: each test uses its own task type,
// which the Deno worker does not know and therefore never claims.
import { describe, expect, it } from "vitest";
import postgres from "postgres";
import { sql, stack, uniqueType } from "../helpers/stack.ts";

type Row = { id: number; status: string; attempts: number; lease_token: string | null; run_at: Date; last_error: string | null; dedupe_key: string | null; result: unknown; finished_at: Date | null };

async function enqueue(type: string, payload: object = {}, opts: object = {}) {
  const [row] = await sql()<(Row & { created: boolean })[]>`
    select (r.task).*, r.created from orchestrator.enqueue(${type}, ${sql().json(payload as never)}, ${sql().json(opts as never)}) r`;
  return row;
}

async function claim(type: string, max = 10, lease = 60, worker = "w1") {
  return await sql()<Row[]>`select * from orchestrator.claim(${worker}, ${max}, ${lease}, ${[type]}::text[])`;
}

async function task(id: number) {
  const [row] = await sql()<Row[]>`select * from orchestrator.tasks where id = ${id}`;
  return row;
}

describe("enqueue", () => {
  it("inserts a queued task with defaults", async () => {
    const type = uniqueType();
    const t = await enqueue(type, { a: 1 });
    expect(t.created).toBe(true);
    expect(t.status).toBe("queued");
    expect(t.attempts).toBe(0);
    const row = await sql()`select max_attempts, priority, source from orchestrator.tasks where id = ${t.id}`;
    expect(row[0]).toEqual({ max_attempts: 5, priority: 0, source: "sql" });
  });

  it("returns the live task for a repeated dedupe_key, and frees the key once it finishes", async () => {
    const type = uniqueType();
    const a = await enqueue(type, {}, { dedupe_key: `k-${type}` });
    const b = await enqueue(type, {}, { dedupe_key: `k-${type}` });
    expect(b.created).toBe(false);
    expect(b.id).toBe(a.id);
    const [c] = await claim(type);
    await sql()`select orchestrator.complete(${c.id}, ${c.lease_token}::uuid, '{}'::jsonb)`;
    const d = await enqueue(type, {}, { dedupe_key: `k-${type}` });
    expect(d.created).toBe(true);
    expect(d.id).not.toBe(a.id);
  });

  it("rejects an invalid type with a clear message", async () => {
    await expect(enqueue("Not A Type")).rejects.toThrow(/invalid task type/);
  });

  it("keeps one live task per dedupe key under concurrent enqueues", async () => {
    const type = uniqueType();
    const results = await Promise.all(Array.from({ length: 20 }, () => enqueue(type, {}, { dedupe_key: `race-${type}` })));
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
  });
});

describe("enqueue_many", () => {
  it("stores the call's options on every row, and every row joins the transaction's trace (one new trace when there is none)", async () => {
    const type = uniqueType("many");
    const runAt = new Date(Date.now() + 3_600_000);
    const opts = { priority: 7, run_at: runAt.toISOString(), max_attempts: 3, backoff_base_seconds: 9, source: "many-test" };
    const traced = await sql().begin(async (tx) => {
      await tx`select set_config('orchestrator.trace_id', '4bf92f3577b34da6a3ce929d0e0e4736', true)`;
      return await tx<{ id: number }[]>`select id from orchestrator.enqueue_many(${type}, array['{"a":1}', null, '{}']::jsonb[], ${tx.json(opts)})`;
    });
    const untraced = await sql()<{ id: number }[]>`select id from orchestrator.enqueue_many(${type}, array['{}', '{}']::jsonb[], '{}'::jsonb)`;
    const rows = await sql()<{ id: number; payload: unknown; priority: number; run_at: Date; max_attempts: number; backoff_base_seconds: string; source: string; trace_id: string }[]>`
      select id, payload, priority, run_at, max_attempts, backoff_base_seconds::text, source, trace_id from orchestrator.tasks where type = ${type} order by id`;
    const first = rows.filter((r) => traced.some((t) => t.id === r.id));
    expect(first.map((r) => r.payload)).toEqual([{ a: 1 }, {}, {}]);
    for (const r of first) {
      expect(r).toMatchObject({ priority: 7, max_attempts: 3, backoff_base_seconds: "9", source: "many-test", trace_id: "4bf92f3577b34da6a3ce929d0e0e4736" });
      expect(r.run_at.getTime()).toBe(runAt.getTime());
    }
    const second = rows.filter((r) => untraced.some((t) => t.id === r.id));
    expect(second.map((r) => r.source)).toEqual(["sql", "sql"]);
    expect(second[0].trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(second[1].trace_id).toBe(second[0].trace_id); // one call, one trace
    expect(second[0].trace_id).not.toBe(first[0].trace_id);
    // An empty call stores nothing, even with options it would refuse.
    const none = await sql()`select * from orchestrator.enqueue_many(${type}, array[]::jsonb[], '{"priority": "high"}'::jsonb)`;
    expect(none.length).toBe(0);
    await expect(sql()`select * from orchestrator.enqueue_many(${type}, array['{}']::jsonb[], '{"priority": "high"}'::jsonb)`).rejects.toThrow(/invalid input syntax for type integer/);
  });
});

describe("claim", () => {
  it("claims by priority, then run_at, and sets a lease", async () => {
    const type = uniqueType();
    const low = await enqueue(type, {}, { priority: -5 });
    const high = await enqueue(type, {}, { priority: 10 });
    const mid = await enqueue(type, {});
    const later = await enqueue(type, {}, { run_at: new Date(Date.now() + 60_000).toISOString() });
    const first = await claim(type, 1);
    expect(first.map((r) => r.id)).toEqual([high.id]);
    expect(first[0].status).toBe("running");
    expect(first[0].attempts).toBe(1);
    expect(first[0].lease_token).toMatch(/^[0-9a-f-]{36}$/);
    const rest = await claim(type, 10);
    expect(rest.map((r) => r.id).sort()).toEqual([mid.id, low.id].sort());
    expect(rest.map((r) => r.id)).not.toContain(later.id);
  });

  it("returns a batch in claim order, priority then run_at then id (the one-statement path); the general path claims the same tasks", async () => {
    // 20261207000200_claim_one_statement.sql: before, the rows came back in the UPDATE's order.
    const batch = async (type: string) => {
      const priorities = [0, 2, 1, 2, 0, 1, 3, 0];
      const made = [];
      for (const priority of priorities) made.push(await enqueue(type, {}, { priority }));
      const expected = made.map((t, i) => ({ id: t.id, p: priorities[i] })).sort((a, b) => b.p - a.p || a.id - b.id).map((t) => t.id);
      return { expected, got: (await claim(type, 20)).map((r) => r.id) };
    };
    const common = await batch(uniqueType("order"));
    expect(common.got).toEqual(common.expected);
    // A queued task of another group sends the claim down the general path (claim_pick_ids).
    const other = await enqueue(uniqueType("ordergroup"), {}, { group: "zz-order", run_at: new Date(Date.now() + 3_600_000).toISOString() });
    const due = await enqueue(uniqueType("ordergroup"), {}, { group: "zz-order" });
    try {
      const general = await batch(uniqueType("order"));
      expect([...general.got].sort((a, b) => a - b)).toEqual([...general.expected].sort((a, b) => a - b));
    } finally {
      await sql()`update orchestrator.tasks set status = 'cancelled', finished_at = now() where id in (${other.id}, ${due.id})`;
    }
  });

  it("four concurrent claimers over 5,000 queued tasks claim each task exactly once", async () => {
    const type = uniqueType("claim4");
    await sql()`select count(*) from orchestrator.enqueue_many(${type}, (select array_agg('{}'::jsonb) from generate_series(1, 5000)))`;
    // Four separate connections, as four workers would have.
    const workers = Array.from({ length: 4 }, () => postgres(stack().DB_URL, { max: 1, onnotice: () => {} }));
    const claimed = await Promise.all(workers.map(async (w, i) => {
      const ids: string[] = [];
      while (true) {
        const rows = await w<{ id: string }[]>`select id from orchestrator.claim(${`w${i}`}, 37, 60, ${[type]}::text[])`;
        if (rows.length === 0) break;
        ids.push(...rows.map((r) => r.id));
      }
      return ids;
    }));
    await Promise.all(workers.map((w) => w.end()));
    const all = claimed.flat();
    expect(all).toHaveLength(5000);
    expect(new Set(all).size).toBe(5000);
    expect(claimed.every((ids) => ids.length > 0)).toBe(true);
    const [{ running }] = await sql()`select count(*)::int as running from orchestrator.tasks where type = ${type} and status = 'running' and attempts = 1`;
    expect(running).toBe(5000);
  });
});

describe("complete and fail", () => {
  it("completes with the current lease token and refuses a stale one", async () => {
    const type = uniqueType();
    await enqueue(type);
    const [t] = await claim(type);
    const [{ stale }] = await sql()`select orchestrator.complete(${t.id}, gen_random_uuid(), '{}'::jsonb) as stale`;
    expect(stale).toBe(false);
    expect((await task(t.id)).status).toBe("running");
    const [{ ok }] = await sql()`select orchestrator.complete(${t.id}, ${t.lease_token}::uuid, '{"n": 1}'::jsonb) as ok`;
    expect(ok).toBe(true);
    const done = await task(t.id);
    expect(done.status).toBe("succeeded");
    expect(done.result).toEqual({ n: 1 });
    expect(done.lease_token).toBeNull();
    const [{ again }] = await sql()`select orchestrator.complete(${t.id}, ${t.lease_token}::uuid, '{}'::jsonb) as again`;
    expect(again).toBe(false);
  });

  it("schedules a retry with exponential backoff and jitter, then dies at max_attempts", async () => {
    const type = uniqueType();
    const { id } = await enqueue(type, {}, { max_attempts: 3, backoff_base_seconds: 10 });
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      await sql()`update orchestrator.tasks set run_at = now() where id = ${id}`;
      const [t] = await claim(type);
      expect(t.attempts).toBe(attempt);
      const [{ status }] = await sql()`select orchestrator.fail(${id}, ${t.lease_token}::uuid, ${`boom ${attempt}`}, true) as status`;
      const row = await task(id);
      if (attempt < 3) {
        expect(status).toBe("queued");
        expect(row.last_error).toBe(`boom ${attempt}`);
        const [{ delay }] = await sql()`select extract(epoch from run_at - updated_at)::float8 as delay from orchestrator.tasks where id = ${id}`;
        delays.push(delay);
      } else {
        expect(status).toBe("dead");
        expect(row.finished_at).not.toBeNull();
      }
    }
    // base 10 s: attempt 1 -> [5, 10), attempt 2 -> [10, 20)
    expect(delays[0]).toBeGreaterThanOrEqual(5);
    expect(delays[0]).toBeLessThan(10);
    expect(delays[1]).toBeGreaterThanOrEqual(10);
    expect(delays[1]).toBeLessThan(20);
  });

  it("a non-retryable failure is dead at once; a stale fail changes nothing", async () => {
    const type = uniqueType();
    const { id } = await enqueue(type);
    const [t] = await claim(type);
    const [{ stale }] = await sql()`select orchestrator.fail(${id}, gen_random_uuid(), 'x', true) as stale`;
    expect(stale).toBe("stale");
    const [{ status }] = await sql()`select orchestrator.fail(${id}, ${t.lease_token}::uuid, 'bad payload', false) as status`;
    expect(status).toBe("dead");
    expect((await task(id)).attempts).toBe(1);
  });
});

describe("reap, cancel, retry", () => {
  it("reap returns expired leases to the queue, or to dead on the last attempt", async () => {
    const type = uniqueType();
    const a = await enqueue(type, {}, { max_attempts: 2 });
    const b = await enqueue(type, {}, { max_attempts: 1 });
    const claimed = await claim(type, 10, 1);
    expect(claimed).toHaveLength(2);
    await sql()`update orchestrator.tasks set locked_until = now() - interval '1 second' where type = ${type}`;
    // Any worker may reap first (each invocation reaps before it claims); the outcome is what counts.
    await sql()`select orchestrator.reap()`;
    expect((await task(a.id)).status).toBe("queued");
    expect((await task(a.id)).last_error).toMatch(/lease expired/);
    expect((await task(b.id)).status).toBe("dead");
    // The old lease holder can no longer finish it.
    const old = claimed.find((c) => c.id === a.id)!;
    const [{ ok }] = await sql()`select orchestrator.complete(${a.id}, ${old.lease_token}::uuid, null) as ok`;
    expect(ok).toBe(false);
  });

  it("cancel works on queued and running tasks only; retry on dead and cancelled only", async () => {
    const type = uniqueType();
    const { id } = await enqueue(type);
    expect(await sql()`select * from orchestrator.retry(${id})`).toHaveLength(0);
    const [c] = await sql()<Row[]>`select * from orchestrator.cancel(${id})`;
    expect(c.status).toBe("cancelled");
    expect(await sql()`select * from orchestrator.cancel(${id})`).toHaveLength(0);
    const [r] = await sql()<Row[]>`select * from orchestrator.retry(${id})`;
    expect(r.status).toBe("queued");
    expect(r.attempts).toBe(0);
    const [running] = await claim(type);
    const [c2] = await sql()<Row[]>`select * from orchestrator.cancel(${id})`;
    expect(c2.status).toBe("cancelled");
    const [{ ok }] = await sql()`select orchestrator.complete(${id}, ${running.lease_token}::uuid, null) as ok`;
    expect(ok).toBe(false);
  });
});

describe("security", () => {
  it("anon and authenticated cannot read or call anything in the orchestrator schema", async () => {
    for (const role of ["anon", "authenticated"]) {
      await expect(sql().begin(async (tx) => {
        await tx.unsafe(`set local role ${role}`);
        return await tx`select count(*) from orchestrator.tasks`;
      })).rejects.toThrow(/permission denied/);
      await expect(sql().begin(async (tx) => {
        await tx.unsafe(`set local role ${role}`);
        return await tx`select orchestrator.enqueue('noop')`;
      })).rejects.toThrow(/permission denied/);
    }
  });

  it("RLS is enabled on every orchestrator table", async () => {
    const rows = await sql()`
      select c.relname, c.relrowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'orchestrator' and c.relkind = 'r'`;
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(rows.filter((r) => !r.relrowsecurity).map((r) => r.relname)).toEqual([]);
  });

  it("service_role can enqueue and read tasks", async () => {
    const type = uniqueType();
    const rows = await sql().begin(async (tx) => {
      await tx.unsafe("set local role service_role");
      await tx`select orchestrator.enqueue(${type})`;
      return await tx`select status from orchestrator.tasks where type = ${type}`;
    });
    expect(rows).toEqual([{ status: "queued" }]);
  });
});

describe("wake-up paths", () => {
  it("one pg_net request per insert statement, none for tasks scheduled later", async () => {
    const type = uniqueType();
    const result = await sql().begin(async (tx) => {
      // With no worker listening (a lingering one would take the NOTIFY alone: worker-presence.test.ts); the lock
      // keeps any isolate from announcing itself before the insert (held for this short transaction).
      await tx`lock table orchestrator.worker_presence in exclusive mode`;
      await tx`delete from orchestrator.worker_presence`;
      const before = Number((await tx`select coalesce(max(id), 0) as m from net.http_request_queue`)[0].m);
      await tx`select count(*) from orchestrator.enqueue_many(${type}, (select array_agg('{}'::jsonb) from generate_series(1, 50)))`;
      const afterBatch = await tx`select count(*)::int as n from net.http_request_queue where id > ${before}`;
      await tx`select orchestrator.enqueue(${type}, '{}', jsonb_build_object('run_at', now() + interval '1 hour'))`;
      const afterLater = await tx`select count(*)::int as n from net.http_request_queue where id > ${before}`;
      const [req] = await tx`select url, headers from net.http_request_queue where id > ${before} order by id limit 1`;
      return { batch: afterBatch[0].n, later: afterLater[0].n, req };
    });
    expect(result.batch).toBe(1);
    expect(result.later).toBe(1);
    expect(result.req.url).toBe(`${stack().API_URL}/functions/v1/task-worker`);
    // The stack stores the secret key (TEST_KEYS=legacy: the service_role JWT); it goes as apikey only, not being a JWT.
    const legacy = process.env.TEST_KEYS === "legacy";
    const key = legacy ? stack().SERVICE_ROLE_KEY : stack().SECRET_KEY;
    expect(result.req.headers.apikey).toBe(key);
    expect(result.req.headers.Authorization).toBe(legacy ? `Bearer ${key}` : undefined);
  });

  it("a legacy service_role JWT stored with set_worker_endpoint goes as apikey and as Bearer (a project not yet migrated)", async () => {
    // In a transaction that is rolled back: the shared stack's Vault keeps its key for every other test.
    const rollback = new Error("rollback");
    let req: { url: string; headers: Record<string, string> } | undefined;
    await expect(sql().begin(async (tx) => {
      await tx`select orchestrator.set_worker_endpoint(${stack().API_URL}, ${stack().SERVICE_ROLE_KEY})`;
      const [{ id }] = await tx<{ id: string }[]>`select orchestrator.wake_worker('legacy-key-test') as id`;
      [req] = await tx<{ url: string; headers: Record<string, string> }[]>`select url, headers from net.http_request_queue where id = ${id}`;
      throw rollback;
    })).rejects.toBe(rollback);
    expect(req?.url).toBe(`${stack().API_URL}/functions/v1/task-worker`);
    expect(req?.headers.apikey).toBe(stack().SERVICE_ROLE_KEY);
    expect(req?.headers.Authorization).toBe(`Bearer ${stack().SERVICE_ROLE_KEY}`);
    // Rolled back: the wake-ups still carry the stack's own key.
    const [{ key }] = await sql()`select decrypted_secret as key from vault.decrypted_secrets where name = 'service_role_key'`;
    expect(key).toBe(process.env.TEST_KEYS === "legacy" ? stack().SERVICE_ROLE_KEY : stack().SECRET_KEY);
  });

  it("cron has the sweep and reap jobs, at minute granularity on pg_cron 1.4", async () => {
    const jobs = await sql()`select jobname, schedule, command from cron.job where jobname in ('orchestrator-reap', 'orchestrator-sweep') order by jobname`;
    const [{ seconds }] = await sql()`select orchestrator.cron_supports_seconds() as seconds`;
    expect(jobs.map((j) => j.jobname)).toEqual(["orchestrator-reap", "orchestrator-sweep"]);
    expect(jobs[1].schedule).toBe(seconds ? "10 seconds" : "* * * * *");
    expect(jobs[0].command).toContain("orchestrator.reap()");
  });
});
