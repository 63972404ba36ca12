// POST /tasks with a JSON array: bulk enqueue, all or nothing, one INSERT and one wake-up.
import { afterAll, describe, expect, it } from "vitest";
import tasks from "../../functions/tasks/index.ts";
import { inRolledBackTx, request, sql } from "../helpers/stack.ts";
import { lastRequest, ownEndpoint, wakeupsAfter } from "../helpers/wakeups.ts";

const markers: string[] = [];
/** A payload marker of this test's own; the rows are removed at the end (they are queued for 2099). */
const marker = () => {
  const m = `bulk-${Math.random().toString(36).slice(2)}`;
  markers.push(m);
  return m;
};
const LATER = "2099-01-01T00:00:00Z";

async function post(body: unknown) {
  const res = await tasks.fetch(request("/tasks", { method: "POST", body: JSON.stringify(body) }));
  return { status: res.status, body: await res.json() };
}

const stored = async (m: string) =>
  Number((await sql()`select count(*)::int as n from orchestrator.tasks where payload->'echo'->>'m' = ${m}`)[0].n);

afterAll(async () => {
  await sql()`delete from orchestrator.tasks where payload->'echo'->>'m' = any(${markers})`;
});

describe("POST /tasks with an array (bulk enqueue)", () => {
  it("each item's flow control is kept: keys rendered from its payload in the one INSERT; a debounced item goes through enqueue()", async () => {
    const m = marker();
    const items = [
      ...Array.from({ length: 5 }, (_, i) => ({ type: "noop", payload: { echo: { m, n: i } }, run_at: LATER, group: "candyland",
        concurrency: { key: `bulk:{{payload.echo.m}}`, limit: 2 }, cancel_on: { source: "candyland", type: "bulk.cancel", match: { m: "{{payload.echo.m}}" } } })),
      ...Array.from({ length: 3 }, (_, i) => ({ type: "noop", payload: { echo: { m, d: i } }, debounce: { key: `bulk-d-${m}`, seconds: 3600 } })),
    ];
    const res = await post(items);
    expect(res.status).toBe(201);
    expect(res.body.created).toBe(6);
    const rows = await sql()<{ concurrency_key: string | null; group_key: string; cancel_on: { match: { m: string } } | null; debounce_key: string | null; payload: { echo: { d?: number } } }[]>`
      select concurrency_key, group_key, cancel_on, debounce_key, payload from orchestrator.tasks where payload->'echo'->>'m' = ${m} order by id`;
    expect(rows).toHaveLength(6);
    expect(rows.slice(0, 5).every((r) => r.concurrency_key === `bulk:${m}` && r.group_key === "candyland" && r.cancel_on?.match.m === m)).toBe(true);
    expect(rows[5]).toMatchObject({ debounce_key: `debounce:bulk-d-${m}`, payload: { echo: { d: 2 } } });
  });

  it("enqueues 1,000 tasks in one transaction, answering each in item order", async () => {
    const m = marker();
    const items = Array.from({ length: 1000 }, (_, i) => ({ type: "noop", payload: { echo: { m, n: i } }, priority: i % 7, run_at: LATER }));
    const started = performance.now();
    const res = await post(items);
    const ms = performance.now() - started;
    console.log(`bulk enqueue of 1,000 tasks over POST /tasks (in-process handler): ${ms.toFixed(1)} ms`);
    expect(res.status).toBe(201);
    expect(res.body.created).toBe(1000);
    expect(res.body.existing).toBe(0);
    expect(res.body.tasks).toHaveLength(1000);
    expect(res.body.tasks.map((t: { payload: { echo: { n: number } } }) => t.payload.echo.n)).toEqual(items.map((_, i) => i));
    expect(res.body.tasks[3]).toMatchObject({ type: "noop", status: "queued", priority: 3, source: "api", created: true });
    expect(res.body.tasks[0].lease_token).toBeUndefined();
    const [{ n, stamps }] = await sql()`
      select count(*)::int as n, count(distinct created_at)::int as stamps from orchestrator.tasks where payload->'echo'->>'m' = ${m}`;
    expect(n).toBe(1000);
    // now() is the transaction's start: one created_at for all 1,000 rows means one transaction.
    expect(stamps).toBe(1);
  });

  it("all or nothing: a bad item is a 400 naming its index and field, and no item is stored", async () => {
    const m = marker();
    const items = () => Array.from({ length: 600 }, (_, i) => ({ type: "noop", payload: { echo: { m, n: i } }, run_at: LATER }));

    const wrongField = items() as Record<string, unknown>[];
    wrongField[537] = { ...wrongField[537], priority: "high" };
    const a = await post(wrongField);
    expect(a.status).toBe(400);
    expect(a.body.error.code).toBe("validation_failed");
    expect(a.body.error.message).toMatch(/item 537, priority/);
    expect(a.body.error.details.issues[0]).toMatchObject({ item: 537, path: "537.priority" });

    const unknownType = items();
    unknownType[2] = { ...unknownType[2], type: "does.not.exist" };
    const b = await post(unknownType);
    expect(b.status).toBe(400);
    expect(b.body.error.details.issues).toEqual([expect.objectContaining({ item: 2, path: "2.type", code: "unknown_task_type" })]);

    const badPayload = items() as { payload: Record<string, unknown> }[];
    badPayload[5].payload.delay_ms = -1;
    badPayload[9].payload.delay_ms = "soon";
    const c = await post(badPayload);
    expect(c.status).toBe(400);
    expect(c.body.error.message).toMatch(/item 5, payload.delay_ms/);
    expect(c.body.error.details.issues.map((i: { path: string }) => i.path)).toEqual(["5.payload.delay_ms", "9.payload.delay_ms"]);

    const tooMany = await post(Array.from({ length: 1001 }, () => ({ type: "noop", payload: { echo: { m } } })));
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.message).toMatch(/1000/);
    const empty = await post([]);
    expect(empty.status).toBe(400);
    const notObject = await post([{ type: "noop", payload: { echo: { m } } }, 7]);
    expect(notObject.status).toBe(400);
    expect(notObject.body.error.details.issues[0].item).toBe(1);

    expect(await stored(m)).toBe(0);
  });

  it("dedupe_key as single enqueue: a live task's key answers that task (created false), also between items of one batch", async () => {
    const m = marker();
    const held = `bulk-held-${Math.random()}`;
    const fresh = `bulk-fresh-${Math.random()}`;
    const before = await post({ type: "noop", payload: { echo: { m } }, dedupe_key: held, run_at: LATER });
    expect(before.status).toBe(201);
    const res = await post([
      { type: "noop", payload: { echo: { m, n: 0 } }, dedupe_key: fresh, run_at: LATER },
      { type: "noop", payload: { echo: { m, n: 1 } }, dedupe_key: held, run_at: LATER },
      { type: "noop", payload: { echo: { m, n: 2 } }, dedupe_key: fresh, run_at: LATER },
      { type: "noop", payload: { echo: { m, n: 3 } }, run_at: LATER },
    ]);
    expect(res.status).toBe(201);
    expect(res.body.tasks.map((t: { created: boolean }) => t.created)).toEqual([true, false, false, true]);
    expect(res.body.tasks[1].id).toBe(before.body.id);
    expect(res.body.tasks[2].id).toBe(res.body.tasks[0].id);
    expect(res.body).toMatchObject({ created: 2, existing: 2 });
    expect(await stored(m)).toBe(3);

    const again = await post([{ type: "noop", payload: { echo: { m } }, dedupe_key: held }]);
    expect(again.status).toBe(200);
    expect(again.body.tasks[0]).toMatchObject({ id: before.body.id, created: false });
  });

  it("one object is still the single-task endpoint (201 with the task), and its 256 KiB limit holds", async () => {
    const m = marker();
    const one = await post({ type: "noop", payload: { echo: { m } }, run_at: LATER });
    expect(one.status).toBe(201);
    expect(one.body).toMatchObject({ type: "noop", status: "queued" });
    expect(one.body.tasks).toBeUndefined();
    const big = await post({ type: "noop", payload: { echo: { m, pad: "x".repeat(300 * 1024) } } });
    expect(big.status).toBe(413);
    expect(await stored(m)).toBe(1);
  });

  it("orchestrator.enqueue_batch of 1,000 tasks is one INSERT statement and one wake-up", async () => {
    const items = Array.from({ length: 1000 }, (_, i) => ({ type: "noop", payload: { echo: i } }));
    const r = await inRolledBackTx(async (tx) => {
      const url = await ownEndpoint(tx, "bulk");
      // Nobody listens in this transaction's view, so an insert of runnable tasks sends a pg_net wake-up.
      await tx`delete from orchestrator.worker_presence`;
      // Counts INSERT statements on tasks (a statement-level trigger; rolled back with the rest).
      await tx`create temp table insert_statements (n int) on commit drop`;
      await tx`create function pg_temp.count_insert() returns trigger language plpgsql as $$
        begin insert into insert_statements values (1); return null; end $$`;
      await tx`create trigger count_insert after insert on orchestrator.tasks for each statement execute function pg_temp.count_insert()`;
      const before = await lastRequest(tx);
      const started = performance.now();
      const rows = await tx`select item, created from orchestrator.enqueue_batch(${tx.json(items)}, 'test')`;
      const ms = performance.now() - started;
      return {
        ms, rows: rows.length, created: rows.filter((x) => x.created).length,
        statements: Number((await tx`select count(*)::int as n from insert_statements`)[0].n),
        wakeups: await wakeupsAfter(tx, url, before),
      };
    });
    console.log(`orchestrator.enqueue_batch of 1,000 tasks: ${r.ms.toFixed(1)} ms, ${r.statements} INSERT statement(s), ${r.wakeups.length} wake-up(s)`);
    expect(r.rows).toBe(1000);
    expect(r.created).toBe(1000);
    expect(r.statements).toBe(1);
    expect(r.wakeups).toEqual(["insert"]);
  });

  it("enqueue_batch refuses a batch over 1,000, a non-array and a bad item in SQL too, naming the item", async () => {
    await expect(sql()`select * from orchestrator.enqueue_batch(${sql().json(Array.from({ length: 1001 }, () => ({ type: "noop" })))})`)
      .rejects.toThrow(/at most 1000/);
    await expect(sql()`select * from orchestrator.enqueue_batch('{}'::jsonb)`).rejects.toThrow(/JSON array/);
    await expect(sql()`select * from orchestrator.enqueue_batch(${sql().json([{ type: "noop" }, { type: "Bad Type" }])})`)
      .rejects.toThrow(/item 1/);
  });
});
