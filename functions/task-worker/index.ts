// POST /task-worker: called by the insert webhook, the cron sweep, or by hand.
// `background: true` (webhook, cron) answers 202 at once and works on in
// EdgeRuntime.waitUntil; otherwise it answers with what it did.
import { settings } from "../_shared/env.ts";
import { json, parseBody } from "../_shared/http.ts";
import { defineFunction } from "../_shared/router.ts";
import { workerRunSchema } from "../_shared/schemas.ts";
import { isolateId } from "../_shared/isolate-life.ts";
import { runWorker } from "../_shared/worker.ts";
import { taskList } from "./task-list.ts";

/**
 * The longest a synchronous run claims for: the last handler it starts (timeout at most 70 s,
 * MAX_TASK_TIMEOUT_MS) then ends before the 150 s after which a request with no response gets 504.
 */
const ANSWER_WITHIN_MS = 60_000;

export default defineFunction("task-worker", [
  {
    method: "POST",
    path: "/",
    summary: "Run the worker: claim and run tasks, answer what it did (202 when background)",
    body: workerRunSchema.optional(),
    handler: async ({ req, log }) => {
      const input = (await parseBody(req, workerRunSchema.optional())) ?? {};
      // edge:<isolate>/<run>: a runtime that terminates the isolate finds its tasks by it (orchestrator.isolate_terminated).
      const workerId = `edge:${isolateId()}/${crypto.randomUUID().slice(0, 8)}`;
      const edge = (globalThis as { EdgeRuntime?: { waitUntil(p: Promise<unknown>): void } }).EdgeRuntime;
      // A background run lingers for new tasks once the queue drains (WORKER_LINGER_MS); a caller waiting for stats does not.
      const lingerMs = input.background && edge ? settings.workerLingerMs : 0;
      // A caller waiting for the answer gets it before the platform's 150 s no-response limit (504).
      const budgetMs = input.background && edge ? input.budget_ms : Math.min(input.budget_ms ?? settings.workerBudgetMs, ANSWER_WITHIN_MS);
      const run = runWorker({ workerId, log, taskList, budgetMs, maxTasks: input.max_tasks, types: input.types, lingerMs, reason: input.reason });
      if (input.background && edge) {
        edge.waitUntil(run.catch((err) => log.error("background worker run failed", { error: String(err) })));
        return json(202, { accepted: true, worker: workerId, reason: input.reason ?? null });
      }
      return { worker: workerId, ...(await run) };
    },
  },
]);
