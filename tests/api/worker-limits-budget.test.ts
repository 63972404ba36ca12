// The worker inside the platform's limits (functions/_shared/worker.ts, isolate-life.ts), run in-process
// against the real database with task types only this file knows (the stack's Deno worker never takes
// them). Each run gets a life of its own (lifeFromNow): small CPU and wall-clock limits, reached quickly.
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { burnCpu } from "../../functions/_shared/cpu-clock.ts";
import { beforeUnload, lifeFromNow } from "../../functions/_shared/isolate-life.ts";
import { createLogger } from "../../functions/_shared/logger.ts";
import { registerTaskType, taskList, unregisterTaskType } from "../helpers/task-types.ts";
import { defineTaskType, type TaskType } from "../../functions/_shared/task-types.ts";
import { runWorker, type WorkerStats } from "../../functions/_shared/worker.ts";
import { sql, uniqueType } from "../helpers/stack.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const registered: string[] = [];
afterAll(() => {
  for (const t of registered) unregisterTaskType(t);
});

/** A type whose handler burns `cpu` ms of CPU time and/or sleeps `ms`. */
function register(timeoutMs = 3_000): string {
  const type = uniqueType("limits");
  registerTaskType(type, defineTaskType({
    description: "test: burns `cpu` ms of CPU, sleeps `ms`, then succeeds",
    payload: z.object({ cpu: z.number().int().min(0).optional(), ms: z.number().int().min(0).optional() }),
    timeoutMs,
    async handle(p) {
      if (p.cpu) burnCpu(p.cpu);
      if (p.ms) await sleep(p.ms);
      return { ok: true };
    },
  }) as TaskType);
  registered.push(type);
  return type;
}

const log = createLogger({ component: "worker-limits-test" });

async function enqueue(type: string, payloads: object[]) {
  const rows = await sql()<{ id: number }[]>`
    select id from orchestrator.enqueue_many(${type}, ${payloads.map((p) => JSON.stringify(p))}::text[]::jsonb[], '{"source": "test"}')`;
  return rows.map((r) => r.id).sort((a, b) => a - b);
}

async function states(ids: number[]) {
  return await sql()<{ id: number; status: string; attempts: number; started_at: Date | null; finished_at: Date | null }[]>`
    select id, status::text, attempts, started_at, finished_at from orchestrator.tasks where id = any(${ids}::bigint[]) order by id`;
}

describe("the worker within its CPU budget", () => {
  it("stops claiming at the isolate's CPU budget, gives back what it has not started, and a fresh invocation takes the rest: nothing lost or burned", async () => {
    const type = register();
    const ids = await enqueue(type, Array.from({ length: 40 }, () => ({ cpu: 25 }))); // 1,000 ms of CPU in all
    const budget = 250;
    const runs: WorkerStats[] = [];
    const handOffs: string[][] = [];
    // Each hand-off is a fresh invocation in a fresh isolate: a run with a life of its own.
    for (let i = 0; i < 20; i++) {
      const stats = await runWorker({
        taskList,
        workerId: `test-cpu-${i}`, log, types: [type], budgetMs: 30_000,
        life: lifeFromNow({ cpuBudgetMs: budget, wallClockMs: 120_000, wallHeadroomMs: 1_000 }),
        handOff: async (types) => (handOffs.push(types), true),
      });
      runs.push(stats);
      if (!stats.handed_off) break;
    }
    const summary = runs.map((r) => `${r.succeeded} ok/${r.released} back/${Math.round(r.cpu_ms)} ms cpu/${r.stopped}`).join("; ");
    console.log(`[worker-limits] 40 x 25 ms of CPU, budget ${budget} ms per isolate: ${runs.length} invocations: ${summary}`);
    // Budget-bound runs hand off; the last one drains the queue and does not.
    expect(runs.length).toBeGreaterThanOrEqual(4);
    expect(runs.slice(0, -1).every((r) => r.stopped === "cpu" && r.handed_off)).toBe(true);
    expect(runs.at(-1)).toMatchObject({ stopped: "drained", handed_off: false });
    expect(handOffs.every((t) => t.length === 1 && t[0] === type)).toBe(true);
    // Each stopped before its budget plus the one task running when it was reached (and the run's own overhead).
    for (const r of runs) expect(r.cpu_ms).toBeLessThan(budget + 25 + 120);
    expect(runs.reduce((n, r) => n + r.succeeded, 0)).toBe(40);
    expect(runs.reduce((n, r) => n + r.claimed, 0)).toBe(40); // claimed counts only what ran
    const rows = await states(ids);
    expect(rows.every((r) => r.status === "succeeded" && r.attempts === 1)).toBe(true); // none burned an attempt
  });

  it("wakes a fresh worker through orchestrator.wake_worker('handoff') only while work is left", async () => {
    const type = register();
    await enqueue(type, Array.from({ length: 30 }, () => ({ cpu: 20 })));
    const stats = await runWorker({
      taskList,
      workerId: "test-cpu-wake", log, types: [type], budgetMs: 30_000,
      life: lifeFromNow({ cpuBudgetMs: 100, wallClockMs: 120_000, wallHeadroomMs: 1_000 }),
    });
    expect(stats).toMatchObject({ stopped: "cpu", handed_off: true });
    const [{ left }] = await sql()<{ left: number }[]>`select count(*)::int as left from orchestrator.tasks where type = ${type} and status = 'queued'`;
    expect(left).toBeGreaterThan(0);
    await runWorker({ taskList, workerId: "test-cpu-drain", log, types: [type], budgetMs: 30_000 });
    // Two tasks that together pass the budget: both run, the run stops for CPU, and with nothing left it wakes nobody.
    const last = register();
    const pair = await enqueue(last, [{ cpu: 60 }, { cpu: 60 }]);
    const none = await runWorker({
      taskList,
      workerId: "test-cpu-none", log, types: [last], budgetMs: 5_000,
      life: lifeFromNow({ cpuBudgetMs: 100, wallClockMs: 120_000, wallHeadroomMs: 1_000 }),
    });
    expect(none).toMatchObject({ succeeded: 2, stopped: "cpu", handed_off: false });
    expect((await states(pair)).every((r) => r.status === "succeeded")).toBe(true);
  });

  it("many runs in one isolate that reach its budget together hand off once, not once each", async () => {
    const type = register();
    const ids = await enqueue(type, Array.from({ length: 60 }, () => ({ cpu: 15 })));
    const life = lifeFromNow({ cpuBudgetMs: 150, wallClockMs: 120_000, wallHeadroomMs: 1_000 });
    let handOffs = 0;
    const handOff = async () => (handOffs++, true);
    const runs = await Promise.all(Array.from({ length: 5 }, (_, i) =>
      runWorker({ taskList, workerId: `test-cpu-many-${i}`, log, types: [type], budgetMs: 30_000, concurrency: 2, life, handOff })));
    expect(runs.every((r) => r.stopped === "cpu")).toBe(true);
    expect(handOffs).toBe(1);
    expect(runs.filter((r) => r.handed_off)).toHaveLength(1);
    await runWorker({ taskList, workerId: "test-cpu-many-drain", log, types: [type], budgetMs: 30_000 });
    expect((await states(ids)).every((r) => r.status === "succeeded" && r.attempts === 1)).toBe(true);
  });

  it("in an isolate already far past its budget, does not claim at all and does not bounce a hand-off back", async () => {
    const type = register();
    const [id] = await enqueue(type, [{}]);
    const life = lifeFromNow({ cpuBudgetMs: 20, wallClockMs: 120_000, wallHeadroomMs: 1_000 });
    burnCpu(40); // this "isolate" has spent 2x its budget
    let handedOff = false;
    const stats = await runWorker({ taskList, workerId: "test-cpu-spent", log, types: [type], life, handOff: async () => (handedOff = true) });
    expect(stats).toMatchObject({ claimed: 0, stopped: "cpu", handed_off: false });
    expect(handedOff).toBe(false);
    expect((await states([id]))[0]).toMatchObject({ status: "queued", attempts: 0 });
    await runWorker({ taskList, workerId: "test-cpu-spent-drain", log, types: [type] });
  });
});

describe("the worker within the isolate's wall clock", () => {
  it("never starts a task whose timeout would outlive the isolate: left queued, untouched, for a fresh worker", async () => {
    const type = register(5_000);
    const [id] = await enqueue(type, [{}]);
    let handedOff = false;
    const stats = await runWorker({
      taskList,
      workerId: "test-wall-never", log, types: [type],
      life: lifeFromNow({ cpuBudgetMs: 10_000, wallClockMs: 4_000, wallHeadroomMs: 500 }),
      handOff: async () => (handedOff = true),
    });
    expect(stats).toMatchObject({ claimed: 0, succeeded: 0, stopped: "wall_clock", handed_off: false });
    expect(handedOff).toBe(false);
    expect((await states([id]))[0]).toMatchObject({ status: "queued", attempts: 0, started_at: null });
    await runWorker({ taskList, workerId: "test-wall-drain", log, types: [type] }); // an unbounded worker takes it
    expect((await states([id]))[0]).toMatchObject({ status: "succeeded", attempts: 1 });
  });

  it("stops starting tasks once their timeout no longer fits in the isolate's remaining life, gives back the rest and hands off", async () => {
    const type = register(1_000);
    const ids = await enqueue(type, Array.from({ length: 12 }, () => ({ ms: 250 })));
    const life = lifeFromNow({ cpuBudgetMs: 10_000, wallClockMs: 2_500, wallHeadroomMs: 200 });
    const lifeEnd = Date.now() + 2_300;
    let handedOff = false;
    const stats = await runWorker({ taskList, workerId: "test-wall-mid", log, types: [type], concurrency: 1, life, handOff: async () => (handedOff = true) });
    const rows = await states(ids);
    const done = rows.filter((r) => r.status === "succeeded");
    console.log(`[worker-limits] wall clock 2,500 ms, timeout 1,000 ms, 250 ms tasks: ${done.length} ran, ${rows.length - done.length} left queued, ${stats.released} given back`);
    expect(stats).toMatchObject({ stopped: "wall_clock", handed_off: true, succeeded: done.length });
    expect(handedOff).toBe(true);
    expect(done.length).toBeGreaterThanOrEqual(2);
    expect(done.length).toBeLessThanOrEqual(7);
    // Every task that ran had its whole timeout inside the isolate's life.
    for (const r of done) expect(r.started_at!.getTime() + 1_000).toBeLessThanOrEqual(lifeEnd + 100);
    expect(rows.filter((r) => r.status !== "succeeded").every((r) => r.status === "queued" && r.attempts === 0)).toBe(true);
    await runWorker({ taskList, workerId: "test-wall-mid-drain", log, types: [type] });
    expect((await states(ids)).every((r) => r.status === "succeeded" && r.attempts === 1)).toBe(true);
  });
});

describe("the worker on beforeunload", () => {
  it("gives back its claimed, unstarted tasks at once; running ones keep their lease and finish", async () => {
    const type = register(5_000);
    const ids = await enqueue(type, Array.from({ length: 12 }, () => ({ ms: 1_200 })));
    let handedOff = false;
    const run = runWorker({ taskList, workerId: "test-unload", log, types: [type], concurrency: 2, budgetMs: 30_000, handOff: async () => (handedOff = true) });
    // Two running, and the next claim (two more) waiting in the worker.
    const held = async () => (await states(ids)).filter((r) => r.status === "running").length;
    for (let i = 0; i < 100 && (await held()) < 4; i++) await sleep(20);
    expect(await held()).toBe(4);
    const at = Date.now();
    beforeUnload("WallClockTime");
    let ms = 0;
    for (;;) {
      if ((await held()) === 2) {
        ms = Date.now() - at;
        break;
      }
      if (Date.now() - at > 1_000) break;
      await sleep(5);
    }
    const mid = await states(ids);
    console.log(`[worker-limits] beforeunload: unstarted tasks back in the queue after ${ms} ms`);
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThan(500);
    // At that moment: the two running ones still run (1.2 s each), the rest are queued with no attempt spent.
    expect(mid.filter((r) => r.status === "running")).toHaveLength(2);
    expect(mid.filter((r) => r.status === "succeeded")).toHaveLength(0);
    expect(mid.filter((r) => r.status === "queued").every((r) => r.attempts === 0)).toBe(true);
    const stats = await run;
    expect(stats).toMatchObject({ stopped: "unload", succeeded: 2, released: 2, claimed: 2, stale: 0, handed_off: true });
    expect(handedOff).toBe(true);
    const after = await states(ids);
    expect(after.filter((r) => r.status === "succeeded").every((r) => r.attempts === 1)).toBe(true);
    expect(after.filter((r) => r.status === "queued")).toHaveLength(10);
    await runWorker({ taskList, workerId: "test-unload-drain", log, types: [type], concurrency: 12 });
    expect((await states(ids)).every((r) => r.status === "succeeded" && r.attempts === 1)).toBe(true);
  });
});
