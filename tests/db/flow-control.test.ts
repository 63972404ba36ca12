// Flow control in the queue's SQL (migrations/20261203001000_flow_control.sql): concurrency per key
// and per type, rate buckets, debounce, throttle, fairness between groups, cancel by event, and the
// reasons a queued task gives for waiting. Each test uses task types of its own, which the stack's
// worker does not know and never claims.
import { describe, expect, it } from "vitest";
import { sql, uniqueType } from "../helpers/stack.ts";

type Row = {
  id: number; status: string; payload: Record<string, unknown>; run_at: Date; lease_token: string; parked_on: string | null;
  concurrency_key: string | null; rate_key: string | null; group_key: string; debounce_key: string | null; last_error: string | null;
};

async function enqueue(type: string, payload: object = {}, opts: object = {}) {
  const [row] = await sql()<(Row & { created: boolean })[]>`
    select (r.task).*, r.created from orchestrator.enqueue(${type}, ${sql().json(payload as never)}, ${sql().json(opts as never)}) r`;
  return row;
}
const claim = (types: string[], max = 100) =>
  sql()<Row[]>`select * from orchestrator.claim('flow-test', ${max}, 60, ${types}::text[])`;
const complete = (t: Row) => sql()`select orchestrator.complete(${t.id}, ${t.lease_token}::uuid, null)`;
const reason = async (id: number) =>
  (await sql()<{ r: Record<string, unknown> | null }[]>`select orchestrator.task_wait_reason(t) as r from orchestrator.tasks t where id = ${id}`)[0].r;
const sqlError = (p: Promise<unknown>) => p.then(() => undefined, (e: { code?: string; message: string }) => e);

describe("concurrency", () => {
  it("a key runs at most its limit; the others park (queued, out of the claim) and the end of a run unparks the next", async () => {
    const type = uniqueType("conc");
    const tasks = [];
    // Keys are global: each test's carry its type, so files running at once do not share them.
    for (let i = 0; i < 10; i++) tasks.push(await enqueue(type, { ticket: type, i }, { concurrency: { key: "ticket:{{payload.ticket}}", limit: 2 } }));
    expect(tasks[0].concurrency_key).toBe(`ticket:${type}`);
    const first = await claim([type]);
    expect(first).toHaveLength(2);
    const parked = await sql()<{ n: number }[]>`select count(*)::int as n from orchestrator.tasks where type = ${type} and status = 'queued' and parked_on = ${`key:ticket:${type}`}`;
    // The claim saw the whole batch (up to 100): every one over the limit parked, none failed.
    expect(parked[0].n).toBe(8);
    expect(await claim([type])).toHaveLength(0);
    const waiting = tasks.find((t) => !first.some((f) => f.id === t.id))!;
    expect(await reason(waiting.id)).toMatchObject({ kind: "concurrency", key: `ticket:${type}`, limit: 2, running: 2 });

    await complete(first[0]);
    const next = await claim([type]);
    expect(next).toHaveLength(1);
    // In claim order: the oldest parked task comes first.
    expect(next[0].id).toBe(Math.min(...tasks.filter((t) => !first.some((f) => f.id === t.id)).map((t) => t.id)));
    const [{ running }] = await sql()<{ running: number }[]>`select count(*)::int as running from orchestrator.tasks where type = ${type} and status = 'running'`;
    expect(running).toBe(2);
  });

  it("a limit per task type holds over all its keys, and changing it applies to queued tasks", async () => {
    const type = uniqueType("typelimit");
    await sql()`select orchestrator.set_task_type_flow(${type}, '{"type_concurrency_limit": 3}'::jsonb)`;
    for (let i = 0; i < 6; i++) await enqueue(type, { i }, { concurrency: { key: `${type}-k${i}`, limit: 5 } });
    expect(await claim([type])).toHaveLength(3);
    const [p] = await sql()<{ id: number }[]>`select id from orchestrator.tasks where type = ${type} and parked_on is not null limit 1`;
    expect(await reason(p.id)).toMatchObject({ kind: "type_concurrency", type, limit: 3, running: 3 });
    await sql()`select orchestrator.set_task_type_flow(${type}, '{"type_concurrency_limit": 5}'::jsonb)`;
    expect(await claim([type])).toHaveLength(2);
    await sql()`select orchestrator.set_task_type_flow(${type}, null)`;
  });

  it("a suspect under a concurrency key is claimed through the same limit (not stranded)", async () => {
    const type = uniqueType("suspectkey");
    const a = await enqueue(type, {}, { concurrency: { key: `s-${type}`, limit: 1 } });
    const b = await enqueue(type, {}, { concurrency: { key: `s-${type}`, limit: 1 } });
    await sql()`update orchestrator.tasks set suspect = true where id = ${a.id}`;
    const claimSuspect = () => sql()<Row[]>`select * from orchestrator.claim('flow-test', 10, 60, ${[type]}::text[], null, true)`;
    // One filter over the batch, suspect included: one of the two starts, the other parks.
    const got = await claimSuspect();
    expect(got).toHaveLength(1);
    const [{ running }] = await sql()<{ running: number }[]>`select count(*)::int as running from orchestrator.tasks where type = ${type} and status = 'running'`;
    expect(running).toBe(1);
    await complete(got[0]);
    const other = got[0].id === a.id ? b.id : a.id;
    expect((await claimSuspect()).map((t) => t.id)).toEqual([other]);
  });

  it("the sweep's safety net unparks a key with room left", async () => {
    const type = uniqueType("net");
    for (let i = 0; i < 3; i++) await enqueue(type, {}, { concurrency: { key: `net-${type}`, limit: 1 } });
    const [t] = await claim([type]);
    // End the run behind the trigger's back (as a crash of this logic would): the parked ones stay parked...
    await sql().begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`update orchestrator.tasks set status = 'succeeded', lease_token = null, finished_at = now() where id = ${t.id}`;
    });
    expect(await claim([type])).toHaveLength(0);
    // ...until flow_unpark_all (the sweep runs it) sees the room.
    const [{ n }] = await sql()<{ n: number }[]>`select orchestrator.flow_unpark_all() as n`;
    expect(n).toBeGreaterThanOrEqual(1);
    expect(await claim([type])).toHaveLength(1);
  });
});

describe("rate", () => {
  it("a task over its rate is deferred to its token's time, spaced one interval apart, not failed", async () => {
    const type = uniqueType("rate");
    const key = `rate-${type}`;
    for (let i = 0; i < 5; i++) await enqueue(type, { i }, { rate: { key, limit: 2, period_seconds: 1 } });
    const got = await claim([type]);
    expect(got).toHaveLength(1);
    const deferred = await sql()<{ run_at: Date; status: string }[]>`
      select run_at, status from orchestrator.tasks where type = ${type} and status = 'queued' order by run_at`;
    expect(deferred).toHaveLength(4);
    const gaps = deferred.slice(1).map((d, i) => d.run_at.getTime() - deferred[i].run_at.getTime());
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(499);
    const [{ id }] = await sql()<{ id: number }[]>`select id from orchestrator.tasks where type = ${type} and status = 'queued' order by run_at limit 1`;
    expect(await reason(id)).toMatchObject({ kind: "rate", key });
  });

  it("a burst lets that many start at once", async () => {
    const type = uniqueType("burst");
    for (let i = 0; i < 6; i++) await enqueue(type, {}, { rate: { key: `burst-${type}`, limit: 1, period_seconds: 10, burst: 4 } });
    expect(await claim([type])).toHaveLength(4);
  });
});

describe("debounce and throttle", () => {
  it("debounce: fifty enqueues within the window leave one queued task with the last payload, due a window after the last", async () => {
    const type = uniqueType("debounce");
    let last: (Row & { created: boolean }) | undefined;
    for (let i = 0; i < 50; i++) last = await enqueue(type, { r: 5, i }, { debounce: { key: "rec:{{payload.r}}", seconds: 30 } });
    const rows = await sql()<Row[]>`select * from orchestrator.tasks where type = ${type}`;
    expect(rows).toHaveLength(1);
    expect(rows[0].payload).toEqual({ r: 5, i: 49 });
    expect(rows[0].debounce_key).toBe("debounce:rec:5");
    expect(last!.created).toBe(false);
    expect(await reason(rows[0].id)).toMatchObject({ kind: "debounce" });
    const [{ ahead }] = await sql()<{ ahead: number }[]>`select extract(epoch from run_at - now())::float8 as ahead from orchestrator.tasks where id = ${rows[0].id}`;
    expect(ahead).toBeGreaterThan(25);
  });

  it("throttle drop: one run per window; the others are answered with the window's task", async () => {
    const type = uniqueType("thrdrop");
    const a = await enqueue(type, { n: 1 }, { throttle: { key: "t", seconds: 60 } });
    const b = await enqueue(type, { n: 2 }, { throttle: { key: "t", seconds: 60 } });
    expect(a.created).toBe(true);
    expect(b.created).toBe(false);
    expect(b.id).toBe(a.id);
    const [{ n }] = await sql()<{ n: number }[]>`select count(*)::int as n from orchestrator.tasks where type = ${type}`;
    expect(n).toBe(1);
  });

  it("throttle coalesce: one queued task at the window's end carries the latest payload", async () => {
    const type = uniqueType("thrcoal");
    const key = `c-${type}`;
    const a = await enqueue(type, { n: 1 }, { throttle: { key, seconds: 60, mode: "coalesce" } });
    for (let i = 2; i <= 5; i++) await enqueue(type, { n: i }, { throttle: { key, seconds: 60, mode: "coalesce" } });
    const rows = await sql()<(Row & { gap: number })[]>`
      select t.*, extract(epoch from t.run_at - a.run_at)::float8 as gap
      from orchestrator.tasks t, orchestrator.tasks a where t.type = ${type} and a.id = ${a.id} order by t.id`;
    expect(rows).toHaveLength(2);
    expect(rows[1].payload).toEqual({ n: 5 });
    expect(rows[1].gap).toBeGreaterThan(59);
    expect(await reason(rows[1].id)).toMatchObject({ kind: "throttle" });
  });
});

describe("fairness", () => {
  it("a group's fresh task is claimed in the first claim behind another group's backlog of 20,000", async () => {
    const type = uniqueType("fair");
    await sql()`select count(*) from orchestrator.enqueue_many(${type}, (select array_agg(jsonb_build_object('i', g)) from generate_series(1, 20000) g), '{"group": "knisoci"}'::jsonb)`;
    const fresh = await enqueue(type, { fresh: true }, { group: "candyland" });
    const got = await claim([type], 2);
    expect(got.map((t) => t.id)).toContain(fresh.id);
    expect(new Set(got.map((t) => t.group_key))).toEqual(new Set(["knisoci", "candyland"]));
  });

  it("one-at-a-time claims take turns between groups (the older group's backlog does not come first)", async () => {
    const type = uniqueType("rr");
    for (let i = 0; i < 30; i++) await enqueue(type, { i }, { group: "a" });
    for (let i = 0; i < 30; i++) await enqueue(type, { i }, { group: "b" });
    const order: string[] = [];
    for (let i = 0; i < 20; i++) order.push((await claim([type], 1))[0].group_key);
    // The turn is a sequence every claimer shares (the stack's own worker claims too), so the exact
    // alternation can shift; FIFO would give twenty "a".
    const a = order.filter((g) => g === "a").length;
    expect(a).toBeGreaterThanOrEqual(6);
    expect(a).toBeLessThanOrEqual(14);
  });

  it("the default group takes turns with the highest group (the claim reads the groups from the top, and '' sorts first)", async () => {
    const type = uniqueType("rrdefault");
    for (let i = 0; i < 30; i++) await enqueue(type, { i });
    for (let i = 0; i < 30; i++) await enqueue(type, { i }, { group: "~top" }); // '~' sorts after letters and digits
    const order: string[] = [];
    for (let i = 0; i < 20; i++) order.push((await claim([type], 1))[0].group_key);
    const byDefault = order.filter((g) => g === "").length;
    expect(byDefault).toBeGreaterThanOrEqual(6);
    expect(byDefault).toBeLessThanOrEqual(14);
    // One group left: the claim takes it in order (the fast path for a single group).
    await sql()`update orchestrator.tasks set status = 'cancelled', finished_at = now() where type = ${type} and status = 'queued' and group_key = ''`;
    const rest = await claim([type], 5);
    expect(rest.map((t) => t.group_key)).toEqual(["~top", "~top", "~top", "~top", "~top"]);
    expect(rest.map((t) => (t.payload as { i: number }).i)).toEqual([...rest.map((t) => (t.payload as { i: number }).i)].sort((x, y) => x - y));
  });
});

describe("cancel by event", () => {
  it("one event cancels the 1,000 queued tasks of its key in one statement, and no others", async () => {
    const type = uniqueType("cancel");
    const opts = { cancel_on: { source: "candyland", type: "order.cancelled", match: { order_id: "{{payload.order_id}}" } } };
    await sql()`select count(*) from orchestrator.enqueue_many(${type}, (select array_agg(jsonb_build_object('order_id', 42, 'n', g)) from generate_series(1, 1000) g), ${sql().json(opts as never)})`;
    const other = await enqueue(type, { order_id: 43 }, opts);
    const before = Date.now();
    await sql()`insert into orchestrator.events (source, type, payload) values ('candyland', 'order.cancelled', '{"order_id": 42, "reason": "customer"}')`;
    const ms = Date.now() - before;
    const counts = await sql()<{ status: string; n: number }[]>`
      select status::text, count(*)::int as n from orchestrator.tasks where type = ${type} group by 1 order by 1`;
    expect(counts).toEqual([{ status: "cancelled", n: 1000 }, { status: "queued", n: 1 }]);
    expect((await sql()<Row[]>`select * from orchestrator.tasks where id = ${other.id}`)[0].status).toBe("queued");
    const [c] = await sql()<Row[]>`select * from orchestrator.tasks where type = ${type} and status = 'cancelled' limit 1`;
    expect(c.last_error).toMatch(/cancelled by event \d+ \(candyland order\.cancelled\)/);
    console.log(`cancel_on: one event cancelled 1,000 queued tasks in ${ms} ms (the event's INSERT statement)`);
  });

  it("a running task is cancelled and announced on orchestrator_task_cancelled", async () => {
    const type = uniqueType("cancelrun");
    const t = await enqueue(type, { order_id: 9 }, { cancel_on: { source: "knisoci", type: "gone", match: { id: "{{payload.order_id}}" } } });
    await claim([type]);
    const heard: string[] = [];
    const listener = await sql().listen("orchestrator_task_cancelled", (p) => heard.push(p));
    await sql()`insert into orchestrator.events (source, type, payload) values ('knisoci', 'gone', '{"id": 9}')`;
    await expect.poll(() => heard, { timeout: 5000 }).toContain(String(t.id));
    await listener.unlisten();
    const [row] = await sql()<Row[]>`select * from orchestrator.tasks where id = ${t.id}`;
    expect(row.status).toBe("cancelled");
    expect(row.lease_token).toBeNull();
  });
});

describe("bad input, from SQL callers (the API checks the same first)", () => {
  it.each([
    [{ concurrency: { key: "x", limit: 0 } }, /^concurrency\.limit must be a whole number from 1 to 10000/],
    [{ concurrency: { key: "x", limit: -3 } }, /^concurrency\.limit/],
    [{ concurrency: { key: "{{payload.nope}}", limit: 1 } }, /^concurrency\.key: \{\{payload\.nope\}\} has no value/],
    [{ concurrency: { key: "x" } }, /^concurrency\.limit is required/],
    [{ rate: { key: "x", limit: 1, period_seconds: 1e9 } }, /^rate\.period_seconds must be a number from 0\.001 to 86400/],
    [{ rate: { key: "x", limit: 1, period_seconds: 0 } }, /^rate\.period_seconds/],
    [{ debounce: { key: "x", seconds: 1 }, throttle: { key: "y", seconds: 1 } }, /choose one/],
    [{ throttle: { key: "x", seconds: 1, mode: "later" } }, /^throttle\.mode must be/],
    [{ cancel_on: { source: "a" } }, /^cancel_on\.type is required/],
    [{ concurrency: { key: "x", limit: 1, extra: 1 } }, /^concurrency\.extra is not a field/],
  ])("%j is refused, naming the field, and stores nothing", async (opts, message) => {
    const type = uniqueType("bad");
    const err = await sqlError(enqueue(type, {}, opts));
    expect(err?.code).toBe("22023");
    expect(err?.message).toMatch(message);
    const [{ n }] = await sql()<{ n: number }[]>`select count(*)::int as n from orchestrator.tasks where type = ${type}`;
    expect(n).toBe(0);
  });
});
