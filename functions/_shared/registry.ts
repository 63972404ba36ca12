// The typed registry of task types this deployment can run. The worker claims
// only these types, so other workers (or later deployments) can own others.
import type { TaskType } from "./task-types.ts";
import { ticketOpen } from "./tasks/ticket-open.ts";
import { noop } from "./tasks/noop.ts";
import { notionPull, notionPush } from "./tasks/notion.ts";
import { webhookDeliver } from "./tasks/webhooks.ts";
import { pruneHistory, reapLeases } from "./tasks/maintenance.ts";
import { aiRun } from "./tasks/ai-run.ts";
import { sopGenerate } from "./tasks/sop-generate.ts";
import { dailyDigest } from "./tasks/digest.ts";
import { incidentGather, notify, workflowStart } from "./workflows/tasks.ts";
import { testTaskTypes } from "./tasks/test-chaos.ts";

export const taskTypes: Record<string, TaskType> = {
  "ticket.open": ticketOpen,
  noop,
  "notion.push": notionPush,
  "notion.pull": notionPull,
  "webhook.deliver": webhookDeliver,
  "maintenance.reap": reapLeases,
  "maintenance.prune": pruneHistory,
  "ai.run": aiRun,
  "sop.generate": sopGenerate,
  "maintenance.digest": dailyDigest,
  "workflow.start": workflowStart,
  "incident.gather": incidentGather,
  notify,
  // test.chaos, only with ORCHESTRATOR_TEST_TASKS=1 (the fault suite's stacks); never in a deployment.
  ...testTaskTypes(),
};

export function taskType(name: string): TaskType | undefined {
  return Object.hasOwn(taskTypes, name) ? taskTypes[name] : undefined;
}

export const knownTaskTypes = (): string[] => Object.keys(taskTypes);
