// The task types of this process as the functions see them: the catalog (what the API, rules and
// workflows validate against) and the task list the worker runs. A test that brings a task type of its
// own registers it in both, as a deployment's catalog and task-worker would have it, and removes it after.
import { taskCatalog } from "../../functions/_shared/task-catalog.ts";
import type { TaskSpec, TaskType } from "../../functions/_shared/task-types.ts";
import { taskList } from "../../functions/task-worker/task-list.ts";

export { taskList };

export function registerTaskType(name: string, def: TaskType): void {
  (taskCatalog as Record<string, TaskSpec>)[name] = def;
  taskList[name] = def;
}

export function unregisterTaskType(name: string): void {
  delete (taskCatalog as Record<string, TaskSpec>)[name];
  delete taskList[name];
}
