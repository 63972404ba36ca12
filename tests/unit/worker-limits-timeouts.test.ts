// Every task type's timeout fits the Free plan: a handler that starts in a live isolate (younger than half
// its 150 s wall clock, when it retires) ends before the isolate is terminated, headroom included.
import { describe, expect, it } from "vitest";
import { settings } from "../../functions/_shared/env.ts";
import { taskList } from "../helpers/task-types.ts";
import { MAX_TASK_TIMEOUT_MS } from "../../functions/_shared/task-types.ts";

describe("handler timeouts", () => {
  it("the limit is half the Free plan's wall clock less the worker's headroom", () => {
    expect(settings.workerWallClockMs).toBe(150_000);
    expect(MAX_TASK_TIMEOUT_MS).toBe(settings.workerWallClockMs / 2 - settings.workerWallHeadroomMs);
  });

  it.each(Object.entries(taskList))("%s fits the Free plan", (_name, def) => {
    expect(def.timeoutMs).toBeGreaterThan(0);
    expect(def.timeoutMs).toBeLessThanOrEqual(MAX_TASK_TIMEOUT_MS);
  });
});
