// A task that was running when an isolate was terminated (tasks.suspect) runs as its isolate's one
// suspect: no two suspects run at once in an isolate, across concurrent runs of it, while ordinary
// tasks keep running beside them. In-process against the real database, with a task type only this
// file knows (the stack's Deno worker never takes it).
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createLogger } from "../../functions/_shared/logger.ts";
import { registerTaskType, taskList, unregisterTaskType } from "../helpers/task-types.ts";
import { defineTaskType, type TaskType } from "../../functions/_shared/task-types.ts";
import { runWorker } from "../../functions/_shared/worker.ts";
import { sql, uniqueType } from "../helpers/stack.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const log = createLogger({ component: "worker-suspects-test" });
const type = uniqueType("suspect");
const spans = new Map<number, { from: number; to: number }>();
registerTaskType(type, defineTaskType({
  description: "test: sleeps `ms`, recording when it ran",
  payload: z.object({ ms: z.number().int().min(0) }),
  timeoutMs: 5_000,
  async handle(p, { task }) {
    const from = performance.now();
    await sleep(p.ms);
    spans.set(task.id, { from, to: performance.now() });
    return { ok: true };
  },
}) as TaskType);
afterAll(() => {
  unregisterTaskType(type);
});

const overlaps = (a: { from: number; to: number }, b: { from: number; to: number }) => a.from < b.to && b.from < a.to;

describe("suspects in the worker", () => {
  it("an isolate runs one suspect at a time, across two concurrent runs, with ordinary tasks beside it; everything succeeds", async () => {
    const ids = (await sql()<{ id: number }[]>`
      select id from orchestrator.enqueue_many(${type}, ${Array.from({ length: 24 }, () => JSON.stringify({ ms: 60 }))}::text[]::jsonb[], '{"source": "test"}')`)
      .map((r) => Number(r.id)).sort((a, b) => a - b);
    const suspects = [ids[2], ids[3], ids[4], ids[15]];
    await sql()`update orchestrator.tasks set suspect = true where id = any(${suspects}::bigint[])`;
    const runs = await Promise.all(["a", "b"].map((w) =>
      runWorker({ taskList, workerId: `test-suspect-${w}`, log, types: [type], budgetMs: 20_000, concurrency: 4 })));
    const rows = await sql()<{ id: number; status: string; attempts: number }[]>`
      select id::int, status::text, attempts from orchestrator.tasks where id = any(${ids}::bigint[]) order by id`;
    expect(rows.map((r) => r.status)).toEqual(ids.map(() => "succeeded"));
    expect(rows.every((r) => r.attempts === 1)).toBe(true);
    expect(runs[0].suspects_run + runs[1].suspects_run).toBe(suspects.length);
    for (const id of suspects) {
      const other = suspects.filter((s) => s !== id && overlaps(spans.get(id)!, spans.get(s)!));
      expect(other, `suspects that ran beside suspect ${id}`).toEqual([]);
    }
    // Ordinary tasks did run beside suspects: the queue kept moving.
    const ordinary = ids.filter((id) => !suspects.includes(id));
    expect(suspects.some((s) => ordinary.some((o) => overlaps(spans.get(s)!, spans.get(o)!)))).toBe(true);
  });

  it("one run takes the suspects one after another while it keeps claiming ordinary tasks", async () => {
    const ids = (await sql()<{ id: number }[]>`
      select id from orchestrator.enqueue_many(${type}, ${Array.from({ length: 30 }, () => JSON.stringify({ ms: 40 }))}::text[]::jsonb[], '{"source": "test"}')`)
      .map((r) => Number(r.id)).sort((a, b) => a - b);
    const suspects = [ids[0], ids[10], ids[20]];
    await sql()`update orchestrator.tasks set suspect = true where id = any(${suspects}::bigint[])`;
    // One run, claiming again and again: the suspect it holds must be let go when it is done, not when the run ends.
    const stats = await runWorker({ taskList, workerId: "test-suspect-one-run", log, types: [type], budgetMs: 20_000, concurrency: 3 });
    const rows = await sql()<{ status: string }[]>`select status::text from orchestrator.tasks where id = any(${ids}::bigint[])`;
    expect(rows.filter((r) => r.status !== "succeeded")).toEqual([]);
    expect(stats.suspects_run).toBe(3);
  });
});
