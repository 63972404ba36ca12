// A worker run's modes as it moves through them (functions/_shared/worker-modes.ts), run in-process
// against the real database with task types only this file knows: drained, lingering and woken by a
// notification, stopped by its time budget, and stopped by the CPU budget and handing off.
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { burnCpu } from "../../functions/_shared/cpu-clock.ts";
import { lifeFromNow } from "../../functions/_shared/isolate-life.ts";
import { createLogger } from "../../functions/_shared/logger.ts";
import { defineTaskType, type TaskType } from "../../functions/_shared/task-types.ts";
import type { ModeChange } from "../../functions/_shared/worker-modes.ts";
import { runWorker } from "../../functions/_shared/worker.ts";
import { registerTaskType, taskList, unregisterTaskType } from "../helpers/task-types.ts";
import { sql, uniqueType } from "../helpers/stack.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const registered: string[] = [];
afterAll(() => {
  for (const t of registered) unregisterTaskType(t);
});
const log = createLogger({ component: "worker-modes-test" });

function register(): string {
  const type = uniqueType("modes");
  registerTaskType(type, defineTaskType({
    description: "test: burns `cpu` ms of CPU, sleeps `ms`, then succeeds",
    payload: z.object({ cpu: z.number().int().min(0).optional(), ms: z.number().int().min(0).optional() }),
    timeoutMs: 3_000,
    async handle(p) {
      if (p.cpu) burnCpu(p.cpu);
      if (p.ms) await sleep(p.ms);
      return { ok: true };
    },
  }) as TaskType);
  registered.push(type);
  return type;
}

const enqueue = (type: string, payloads: object[]) => sql()`
  select id from orchestrator.enqueue_many(${type}, ${payloads.map((p) => JSON.stringify(p))}::text[]::jsonb[], '{"source": "test"}')`;

/** Runs a worker and returns its moves as "from->to (why)". */
async function movesOf(opts: Omit<Parameters<typeof runWorker>[0], "taskList" | "log" | "onMode">) {
  const moves: ModeChange[] = [];
  const stats = await runWorker({ taskList, log, ...opts, onMode: (c) => moves.push(c) });
  return { stats, moves: moves.map((m) => `${m.from}->${m.to} (${m.why})`) };
}

describe("a worker run's modes", () => {
  it("drained: claims, finds the queue empty, drains, done", async () => {
    const type = register();
    await enqueue(type, [{}, {}, {}]);
    const { stats, moves } = await movesOf({ workerId: "test-modes-drained", types: [type], budgetMs: 10_000 });
    expect(stats).toMatchObject({ succeeded: 3, stopped: "drained" });
    expect(moves).toEqual(["claiming->draining (drained)", "draining->done (drained)"]);
  });

  it("lingering: waits, a notification brings it back to claiming, then it drains when the linger ends", async () => {
    const type = register();
    const running = movesOf({ workerId: "test-modes-linger", types: [type], budgetMs: 10_000, lingerMs: 1_500 });
    await sleep(500);
    await enqueue(type, [{}]); // its insert NOTIFYs orchestrator_task_ready
    const { stats, moves } = await running;
    expect(stats).toMatchObject({ succeeded: 1, stopped: "drained" });
    expect(moves[0]).toBe("claiming->waiting (lingering)");
    expect(moves).toContain("waiting->claiming (notified)");
    expect(moves.slice(-3)).toEqual(["claiming->waiting (lingering)", "waiting->draining (drained)", "draining->done (drained)"]);
  });

  it("its time budget: drains what runs, then done, without a hand-off", async () => {
    const type = register();
    await enqueue(type, Array.from({ length: 6 }, () => ({ ms: 150 })));
    const { stats, moves } = await movesOf({ workerId: "test-modes-budget", types: [type], budgetMs: 200, concurrency: 1 });
    expect(stats.stopped).toBe("budget");
    expect(moves).toEqual(["claiming->draining (budget)", "draining->done (budget)"]);
    await movesOf({ workerId: "test-modes-budget-rest", types: [type], budgetMs: 10_000 }); // the rest, so nothing is left queued
  });

  it("the CPU budget: drains, hands the rest off, done", async () => {
    const type = register();
    await enqueue(type, Array.from({ length: 20 }, () => ({ cpu: 20 })));
    const handOffs: string[][] = [];
    const { stats, moves } = await movesOf({
      workerId: "test-modes-cpu", types: [type], budgetMs: 30_000,
      life: lifeFromNow({ cpuBudgetMs: 100, wallClockMs: 120_000, wallHeadroomMs: 1_000 }),
      handOff: async (types) => (handOffs.push(types), "woken"),
    });
    expect(stats).toMatchObject({ stopped: "cpu", handed_off: true });
    expect(moves).toEqual(["claiming->draining (cpu)", "draining->handing_off (cpu)", "handing_off->done (cpu)"]);
    expect(handOffs).toEqual([[type]]);
    await movesOf({ workerId: "test-modes-cpu-rest", types: [type], budgetMs: 30_000 });
  });
});
