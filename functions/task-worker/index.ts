// POST /task-worker: called by the insert webhook, the cron sweep, or by hand.
// `background: true` (webhook, cron) answers 202 at once and works on in
// EdgeRuntime.waitUntil; otherwise it answers with what it did.
import { settings } from "../_shared/env.ts";
import { json, parseBody } from "../_shared/http.ts";
import { defineFunction } from "../_shared/router.ts";
import { workerRunSchema } from "../_shared/schemas.ts";
import { runWorker } from "../_shared/worker.ts";

export default defineFunction("task-worker", [
  {
    method: "POST",
    path: "/",
    handler: async ({ req, log }) => {
      const input = (await parseBody(req, workerRunSchema.optional())) ?? {};
      const workerId = `edge:${crypto.randomUUID().slice(0, 8)}`;
      const edge = (globalThis as { EdgeRuntime?: { waitUntil(p: Promise<unknown>): void } }).EdgeRuntime;
      // A background run lingers for new tasks once the queue drains (WORKER_LINGER_MS); a caller waiting for stats does not.
      const lingerMs = input.background && edge ? settings.workerLingerMs : 0;
      const run = runWorker({ workerId, log, budgetMs: input.budget_ms, maxTasks: input.max_tasks, types: input.types, lingerMs });
      if (input.background && edge) {
        edge.waitUntil(run.catch((err) => log.error("background worker run failed", { error: String(err) })));
        return json(202, { accepted: true, worker: workerId, reason: input.reason ?? null });
      }
      return { worker: workerId, ...(await run) };
    },
  },
]);
