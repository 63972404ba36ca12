// The typed registry of task types this deployment can run. The worker claims
// only these types, so other workers (or later deployments) can own others.
import type { TaskType } from "./task-types.ts";
import { noop } from "./tasks/noop.ts";
import { pruneHistory, reapLeases } from "./tasks/maintenance.ts";

export const taskTypes: Record<string, TaskType> = {
  noop,
  "maintenance.reap": reapLeases,
  "maintenance.prune": pruneHistory,
};

export function taskType(name: string): TaskType | undefined {
  return Object.hasOwn(taskTypes, name) ? taskTypes[name] : undefined;
}

export const knownTaskTypes = (): string[] => Object.keys(taskTypes);
