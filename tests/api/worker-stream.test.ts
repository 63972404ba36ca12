// The streaming worker (functions/_shared/worker.ts), run in-process against the
// real database with a task type registered for this file only (the Deno worker
// of the shared stack does not know it, so it never takes these tasks).
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { registerTaskType, taskList, unregisterTaskType } from "../helpers/task-types.ts";
import { defineTaskType, type TaskType } from "../../functions/_shared/task-types.ts";
import { runWorker } from "../../functions/_shared/worker.ts";
import { createLogger } from "../../functions/_shared/logger.ts";
import { sql, uniqueType } from "../helpers/stack.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const registered: string[] = [];

function register(timeoutMs = 3_000): string {
  const type = uniqueType("stream");
  registerTaskType(type, defineTaskType({
    description: "test: sleeps `ms`, then succeeds",
    payload: z.object({ ms: z.number().int().min(0).optional() }),
    timeoutMs,
    async handle(p) {
      if (p.ms) await sleep(p.ms);
      return { ok: true };
    },
  }) as TaskType);
  registered.push(type);
  return type;
}
afterAll(() => {
  for (const t of registered) unregisterTaskType(t);
});

const log = createLogger({ component: "worker-stream-test" });

async function enqueue(type: string, payloads: object[]) {
  const rows = await sql()<{ id: number }[]>`
    select id from orchestrator.enqueue_many(${type}, ${payloads.map((p) => JSON.stringify(p))}::text[]::jsonb[], '{"source": "test"}')`;
  return rows.map((r) => r.id).sort((a, b) => a - b);
}

describe("runWorker streams", () => {
  it("runs 600 fast tasks in a handful of claims (round trips per task near zero)", async () => {
    const type = register();
    await enqueue(type, Array.from({ length: 600 }, () => ({})));
    const stats = await runWorker({ taskList, workerId: "test-stream", log, types: [type], budgetMs: 30_000 });
    expect(stats).toMatchObject({ claimed: 600, succeeded: 600, failed: 0, stale: 0, released: 0 });
    // Every task of one claim carries that claim's started_at (its transaction time).
    const [{ claims }] = await sql()<{ claims: number }[]>`
      select count(distinct started_at)::int as claims from orchestrator.tasks where type = ${type}`;
    // 10 first (nothing known about the handler yet), then up to WORKER_BATCH_SIZE (1,000) at a time.
    expect(claims).toBeLessThanOrEqual(6);
    const [{ n }] = await sql()<{ n: number }[]>`select count(*)::int as n from orchestrator.tasks where type = ${type} and status = 'succeeded' and attempts = 1`;
    expect(n).toBe(600);
  });

  it("claims slow tasks only as slots free up, and hands back the ones it could not start before the budget ran out", async () => {
    const type = register();
    const ids = await enqueue(type, Array.from({ length: 10 }, () => ({ ms: 400 })));
    const stats = await runWorker({ taskList, workerId: "test-budget", log, types: [type], budgetMs: 600, concurrency: 1 });
    const rows = await sql()<{ id: number; status: string; attempts: number }[]>`
      select id, status::text, attempts from orchestrator.tasks where id = any(${ids}::bigint[]) order by id`;
    const done = rows.filter((r) => r.status === "succeeded");
    expect(stats.succeeded).toBe(done.length);
    expect(stats.claimed).toBe(done.length);
    expect(stats.released).toBeGreaterThanOrEqual(1);
    // Not hoarded: one slot claims about one task ahead, so most of the ten were never touched.
    expect(done.length).toBeLessThanOrEqual(3);
    expect(rows.filter((r) => r.status === "queued").every((r) => r.attempts === 0)).toBe(true);
    expect(rows.filter((r) => r.status === "running")).toEqual([]);
  });

  it("renews the lease of a task that waited in the worker before it starts", async () => {
    const type = register(3_000);
    const [a, b] = await enqueue(type, [{ ms: 2_600 }, { ms: 10 }]);
    // Lease = 3 s timeout + 3 s margin; the second task waits 2.6 s behind the first, so it starts with 3.4 s left (< 3 s + 1 s).
    const stats = await runWorker({ taskList, workerId: "test-renew", log, types: [type], concurrency: 1, leaseMarginSeconds: 3, budgetMs: 20_000 });
    expect(stats).toMatchObject({ claimed: 2, succeeded: 2, stale: 0 });
    expect(stats.renewed).toBeGreaterThanOrEqual(1);
    const rows = await sql()<{ status: string; attempts: number }[]>`
      select status::text, attempts from orchestrator.tasks where id = any(${[a, b]}::bigint[])`;
    expect(rows).toEqual([{ status: "succeeded", attempts: 1 }, { status: "succeeded", attempts: 1 }]);
  });

  it("lingers after the queue drains and takes a new task as soon as its insert commits (NOTIFY)", async () => {
    const type = register();
    const run = runWorker({ taskList, workerId: "test-linger", log, types: [type], lingerMs: 1_500, budgetMs: 20_000 });
    await sleep(400); // the worker has found nothing and is lingering
    const [id] = await enqueue(type, [{}]);
    const stats = await run;
    expect(stats).toMatchObject({ claimed: 1, succeeded: 1 });
    const [row] = await sql()<{ ms: number }[]>`
      select extract(epoch from started_at - created_at)::float8 * 1000 as ms from orchestrator.tasks where id = ${id}`;
    // Through the webhook a fresh invocation would be needed; the lingering worker is woken by the NOTIFY.
    expect(row.ms).toBeLessThan(500);
  });

  it("waiting for a task due soon, takes a new runnable one as soon as its insert commits, not when the wait ends", async () => {
    const type = register();
    const [later] = await sql()<{ id: number }[]>`
      select (r.task).id from orchestrator.enqueue(${type}, '{}', jsonb_build_object('source', 'test', 'run_at', now() + interval '2.5 seconds')) r`;
    const run = runWorker({ taskList, workerId: "test-due-wait", log, types: [type], lingerMs: 1_000, budgetMs: 20_000 });
    await sleep(400); // nothing runnable: the worker waits for the task due in 2.5 s
    const [now] = await enqueue(type, [{}]);
    const stats = await run;
    expect(stats).toMatchObject({ claimed: 2, succeeded: 2 });
    const rows = await sql()<{ id: number; ms: number }[]>`
      select id, extract(epoch from started_at - created_at)::float8 * 1000 as ms from orchestrator.tasks where id in (${now}, ${later.id})`;
    const started = Object.fromEntries(rows.map((r) => [r.id, r.ms]));
    // Before: a plain timer, so the new task waited for the due one's time (about 2 s).
    expect(started[now]).toBeLessThan(1_000);
    expect(started[later.id]).toBeGreaterThan(2_000); // and the due one ran when due
  });

  it("ends a handler at its timeout: its signal, asked for only then, is already aborted; the others' results are stored as returned", async () => {
    const type = uniqueType("stream-timeout");
    let signalAbortedWhenAsked: boolean | undefined;
    registerTaskType(type, defineTaskType({
      description: "test: `hang` waits past the timeout, then reads ctx.signal; else returns `value`",
      payload: z.object({ hang: z.boolean().optional(), value: z.unknown().optional() }),
      timeoutMs: 300,
      async handle(p, ctx) {
        if (!p.hang) return p.value;
        await sleep(500);
        signalAbortedWhenAsked = ctx.signal.aborted;
        return "too late";
      },
    }) as TaskType);
    registered.push(type);
    const values = [{ a: [1, "two", null], "quote\"d": "ünï\ncode" }, "text", 0, null];
    const [hung, ...ids] = await enqueue(type, [{ hang: true }, ...values.map((value) => ({ value })), {}]);
    await sql()`update orchestrator.tasks set max_attempts = 1 where id = ${hung}`;
    const stats = await runWorker({ taskList, workerId: "test-timeout", log, types: [type], budgetMs: 20_000 });
    expect(stats).toMatchObject({ claimed: 6, succeeded: 5, failed: 1, dead: 1 });
    const [row] = await sql()<{ status: string; last_error: string }[]>`select status::text, last_error from orchestrator.tasks where id = ${hung}`;
    expect(row).toEqual({ status: "dead", last_error: "TaskTimeoutError: handler timed out after 300 ms" });
    await sleep(300); // the hung handler reads its signal 500 ms in
    expect(signalAbortedWhenAsked).toBe(true);
    const rows = await sql()<{ id: number; result: unknown }[]>`select id, result from orchestrator.tasks where id = any(${ids}::bigint[]) order by id`;
    // What each handler returned, as JSON; undefined (the last) is stored as JSON null.
    expect(rows.map((r) => r.result)).toEqual([...values, null]);
  });

  it("a result or an error with a NUL character fails that task alone: the tasks recorded with it are stored", async () => {
    const type = uniqueType("stream-nul");
    registerTaskType(type, defineTaskType({
      description: "test: returns `value`, or one with a NUL (`nul`), or throws one (`throw_nul`)",
      payload: z.object({ value: z.unknown().optional(), nul: z.boolean().optional(), throw_nul: z.boolean().optional() }),
      timeoutMs: 3_000,
      // A payload cannot hold U+0000 (jsonb refuses it at enqueue): the handler makes it, as from data it fetched.
      async handle(p) {
        if (p.throw_nul) throw new Error("bad\0byte");
        return p.nul ? { text: "a\0b" } : p.value;
      },
    }) as TaskType);
    registered.push(type);
    const [nulResult, nulError, escaped, ok] = await enqueue(type, [{ nul: true }, { throw_nul: true }, { value: "\\u0000 is text" }, { value: 1 }]);
    await sql()`update orchestrator.tasks set max_attempts = 1 where id in (${nulResult}, ${nulError})`;
    const stats = await runWorker({ taskList, workerId: "test-nul", log, types: [type], budgetMs: 20_000 });
    expect(stats).toMatchObject({ claimed: 4, succeeded: 2, dead: 2 });
    const rows = await sql()<{ id: number; status: string; result: unknown; last_error: string | null }[]>`
      select id, status::text, result, last_error from orchestrator.tasks where type = ${type} order by id`;
    expect(rows).toEqual([
      { id: nulResult, status: "dead", result: null, last_error: expect.stringContaining("NUL character (U+0000)") },
      { id: nulError, status: "dead", result: null, last_error: "Error: bad\uFFFDbyte" },
      { id: escaped, status: "succeeded", result: "\\u0000 is text", last_error: null },
      { id: ok, status: "succeeded", result: 1, last_error: null },
    ]);
  });

  it("a run for some types lingers lingerMs after its last work, however often other types' inserts notify it", async () => {
    const type = register();
    const other = uniqueType("stream-other"); // no worker knows it: its tasks only notify
    const [first] = await enqueue(type, [{}]);
    let inserting = true;
    const inserts = (async () => {
      for (let i = 0; inserting && i < 40; i++) {
        await sql()`select orchestrator.enqueue(${other}, '{}'::jsonb, '{"source": "test"}'::jsonb)`;
        await sleep(100);
      }
    })();
    try {
      const stats = await runWorker({ taskList, workerId: "test-linger-types", log, types: [type], lingerMs: 1_000, budgetMs: 20_000 });
      expect(stats).toMatchObject({ claimed: 1, succeeded: 1, stopped: "drained" });
      // The inserts go on for 4 s: a linger that each of their notifications restarted would outlast them.
      expect(stats.duration_ms).toBeLessThan(3_000);
      const [row] = await sql()<{ status: string }[]>`select status::text from orchestrator.tasks where id = ${first}`;
      expect(row.status).toBe("succeeded");
    } finally {
      inserting = false;
      await inserts;
      await sql()`delete from orchestrator.tasks where type = ${other}`;
    }
  });
});
