// The handlers this deployment runs, by task type: the catalog's specs (_shared/task-catalog.ts) with
// the code that runs them. Only the task-worker function imports this module and hands it to the
// worker (runWorker({ taskList }), as graphile-worker's run({ taskList }) does).
//
// Each handler module is loaded on its type's first task, not at boot: an isolate that runs only
// noop tasks never loads the Notion or AI clients, and a fresh isolate (a successor) is ready sooner.
import { taskCatalog } from "../_shared/task-catalog.ts";
import type { TaskList, TaskSpec, TaskType } from "../_shared/task-types.ts";

type Load = () => Promise<TaskType>;

const handlers: Record<string, Load> = {
  "ticket.open": () => import("../_shared/tasks/ticket-open.ts").then((m) => m.ticketOpen as TaskType),
  noop: () => import("../_shared/tasks/noop.ts").then((m) => m.noop as TaskType),
  "notion.push": () => import("../_shared/tasks/notion.ts").then((m) => m.notionPush as TaskType),
  "notion.pull": () => import("../_shared/tasks/notion.ts").then((m) => m.notionPull as TaskType),
  "webhook.deliver": () => import("../_shared/tasks/webhooks.ts").then((m) => m.webhookDeliver as TaskType),
  "maintenance.reap": () => import("../_shared/tasks/maintenance.ts").then((m) => m.reapLeases as TaskType),
  "maintenance.prune": () => import("../_shared/tasks/maintenance.ts").then((m) => m.pruneHistory as TaskType),
  "ai.run": () => import("../_shared/tasks/ai-run.ts").then((m) => m.aiRun as TaskType),
  "sop.generate": () => import("../_shared/tasks/sop-generate.ts").then((m) => m.sopGenerate as TaskType),
  "maintenance.digest": () => import("../_shared/tasks/digest.ts").then((m) => m.dailyDigest as TaskType),
  "workflow.start": () => import("../_shared/workflows/tasks.ts").then((m) => m.workflowStart as TaskType),
  "workflow.wake": () => import("../_shared/workflows/tasks.ts").then((m) => m.workflowWake as TaskType),
  "incident.gather": () => import("../_shared/workflows/tasks.ts").then((m) => m.incidentGather as TaskType),
  "incident.evidence": () => import("../_shared/workflows/tasks.ts").then((m) => m.incidentEvidence as TaskType),
  notify: () => import("../_shared/workflows/tasks.ts").then((m) => m.notify as TaskType),
  "test.chaos": () => import("../_shared/tasks/test-chaos.ts").then((m) => m.testChaos as TaskType),
};

/** The spec with a handler that loads its module on first use (again after a failed load). */
function loadedOnUse(spec: TaskSpec, load: Load): TaskType {
  let loading: Promise<TaskType> | undefined;
  let loaded: TaskType | undefined;
  return {
    ...spec,
    handle(payload, ctx) {
      // Loaded: straight to its handler (an await of the settled load per task was two more promises).
      if (loaded) return loaded.handle(payload, ctx);
      loading ??= load().then((def) => (loaded = def), (err) => {
        loading = undefined;
        throw err;
      });
      return loading.then((def) => def.handle(payload, ctx));
    },
  };
}

export const taskList: TaskList = Object.fromEntries(Object.entries(taskCatalog).map(([name, spec]) => {
  const load = handlers[name];
  if (!load) throw new Error(`task type "${name}" is in the catalog (task-catalog.ts) but has no handler here (task-list.ts)`);
  return [name, loadedOnUse(spec, load)];
}));
