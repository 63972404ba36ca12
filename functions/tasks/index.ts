// /tasks: enqueue, list, inspect, cancel and retry tasks.
import { json, parseBody, parseQuery, parseWith } from "../_shared/http.ts";
import { cancelTask, enqueueTask, getTask, listTasks, retryTask } from "../_shared/queue.ts";
import { type Task, type TaskPage, taskPageSchema, taskSchema } from "../_shared/responses.ts";
import { defineFunction } from "../_shared/router.ts";
import { listTasksQuery, taskIdParam } from "../_shared/schemas.ts";
import { enqueueAnswerSchema, enqueueBodySchema, enqueueTasks, readEnqueueBody } from "../_shared/bulk-enqueue.ts";
import { errorShape } from "../_shared/error-shape.ts";
import { methodNotAllowed } from "../_shared/errors.ts";
import { generateSopSchema } from "../_shared/sops/schema.ts";
import { requestSopGeneration } from "../_shared/sops/service.ts";

const id = (params: Record<string, string>) => parseWith(taskIdParam, params.id, "task id");

export default defineFunction("tasks", [
  {
    method: "POST",
    path: "/",
    summary: "Enqueue one task (an object) or up to 1,000 (an array, all or nothing)",
    body: enqueueBodySchema,
    responses: { 200: enqueueAnswerSchema, 201: enqueueAnswerSchema, 413: errorShape },
    // One task (an object) or a batch (an array of up to 1,000, all or nothing: bulk-enqueue.ts).
    handler: async ({ req, log }) => {
      const body = await readEnqueueBody(req);
      if (body.bulk) {
        const batch = await enqueueTasks(body.tasks, "api");
        log.info(`${batch.created} tasks enqueued in bulk`, { created: batch.created, existing: batch.existing });
        return json(batch.created > 0 ? 201 : 200, batch);
      }
      const { task, created } = await enqueueTask(body.task, "api");
      if (created) log.child({ taskId: task.id }).info(`task ${task.type} enqueued`, { priority: task.priority });
      return json(created ? 201 : 200, task);
    },
  },
  // Before "/:id": the router takes the first route whose path and method match.
  {
    method: "POST",
    path: "/generate-sop",
    summary: "Enqueue sop.generate: an SOP written from a topic",
    body: generateSopSchema,
    responses: { 202: taskSchema },
    handler: async ({ req, log }) => {
      const task = await requestSopGeneration(await parseBody(req, generateSopSchema));
      log.child({ taskId: task.id }).info("task sop.generate enqueued", { slug: task.payload.slug });
      return json(202, task);
    },
  },
  {
    method: "GET",
    path: "/generate-sop",
    hidden: true,
    handler: () => {
      throw methodNotAllowed("GET is not allowed on /generate-sop; use POST /tasks/generate-sop with a JSON body { topic, ... }.");
    },
  },
  // Typed by the response schemas (responses.ts) the dashboard reads: the queue's answers are held to them.
  { method: "GET", path: "/", summary: "List tasks, newest first", query: listTasksQuery, responses: { 200: taskPageSchema }, handler: ({ url }): Promise<TaskPage> => listTasks(parseQuery(url, listTasksQuery)) },
  { method: "GET", path: "/:id", summary: "One task", params: { id: taskIdParam }, responses: { 200: taskSchema, 404: errorShape }, handler: ({ params }): Promise<Task> => getTask(id(params)) },
  { method: "POST", path: "/:id/cancel", summary: "Cancel a queued or running task", params: { id: taskIdParam }, responses: { 200: taskSchema, 404: errorShape, 409: errorShape }, handler: ({ params }): Promise<Task> => cancelTask(id(params)) },
  { method: "POST", path: "/:id/retry", summary: "Retry a dead or cancelled task", params: { id: taskIdParam }, responses: { 200: taskSchema, 404: errorShape, 409: errorShape }, handler: ({ params }): Promise<Task> => retryTask(id(params)) },
]);
