// The task catalog and the task-worker's task list agree: every type the catalog declares (what the API,
// rules and workflows accept) has a handler the worker runs, with the catalog's own spec; the handler
// modules are loaded on first use.
import { describe, expect, it } from "vitest";
import { createLogger } from "../../functions/_shared/logger.ts";
import { knownTaskTypes, taskCatalog } from "../../functions/_shared/task-catalog.ts";
import { taskList } from "../../functions/task-worker/task-list.ts";

describe("task catalog and task list", () => {
  it("every catalog type has a handler with the catalog's payload schema and timeout, and nothing else is listed", () => {
    expect(Object.keys(taskList).sort()).toEqual(knownTaskTypes().sort());
    for (const [name, spec] of Object.entries(taskCatalog)) {
      expect(taskList[name].payload, name).toBe(spec.payload);
      expect(taskList[name].timeoutMs, name).toBe(spec.timeoutMs);
      expect(taskList[name].description, name).toBe(spec.description);
    }
  });

  it("a listed handler loads its module on first use and runs it", async () => {
    const noop = taskList.noop;
    const ctx = { task: { id: 1, attempts: 1, max_attempts: 1 } as never, log: createLogger({ component: "test" }), signal: new AbortController().signal };
    expect(await noop.handle(noop.payload.parse({ echo: "hi" }), ctx)).toEqual({ ok: true, echo: "hi" });
    expect(await noop.handle(noop.payload.parse({}), ctx)).toEqual({ ok: true });
  });
});
