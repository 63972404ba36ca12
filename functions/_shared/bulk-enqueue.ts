// Bulk enqueue: POST /tasks with a JSON array. All or nothing: every item is checked first, with the very
// schema a single POST /tasks body is checked with (createTaskSchema, so a field added there is taken here
// too) and its type's payload schema; one bad item is a 400 naming its index and field, and nothing is
// stored. Then one call of orchestrator.enqueue_batch(): one INSERT, one transaction, one wake-up.
import { z } from "zod";
import { db } from "./db.ts";
import { AppError, payloadTooLarge, validationError } from "./errors.ts";
import { parseJsonBytes, readRawBody } from "./http.ts";
import { settings } from "./env.ts";
import { publicTask, validateTaskPayload, type PublicTask } from "./queue.ts";
import { taskSchema } from "./responses.ts";
import { type CreateTaskInput, createTaskSchema } from "./schemas.ts";
import type { TaskRow } from "./task-types.ts";

export const MAX_BATCH = 1000;

/** The bulk body: an array of single-task bodies. */
export const createTasksBatchSchema = z.array(createTaskSchema).min(1).max(MAX_BATCH);

/** POST /tasks takes one task or an array of them; the OpenAPI document shows both. */
export const enqueueBodySchema = z.union([createTaskSchema, createTasksBatchSchema]);

/** A bulk answer: one task per item in item order, each saying whether this call created it. */
export const batchResultSchema = z.object({
  tasks: z.array(taskSchema.extend({ created: z.boolean() })),
  created: z.number(),
  existing: z.number(),
});

/** POST /tasks answers the task for an object body, the batch result for an array. */
export const enqueueAnswerSchema = z.union([taskSchema, batchResultSchema]);

export type EnqueueBody = { bulk: false; task: CreateTaskInput } | { bulk: true; tasks: CreateTaskInput[] };

/**
 * Reads POST /tasks' body: an array may take up to maxBulkBodyBytes, a single task stays within
 * maxBodyBytes (413 otherwise, as before there were arrays).
 */
export async function readEnqueueBody(req: Request): Promise<EnqueueBody> {
  const single = settings.maxBodyBytes;
  const bulk = Math.max(single, settings.maxBulkBodyBytes);
  const bytes = await readRawBody(req, bulk, ` (a bulk body, a JSON array of at most ${MAX_BATCH} tasks, may be ${bulk} bytes)`);
  const value = parseJsonBytes(bytes);
  if (!Array.isArray(value)) {
    if (bytes.byteLength > single) throw payloadTooLarge(`Body is ${bytes.byteLength} bytes; the limit is ${single} bytes for one task.`);
    const parsed = createTaskSchema.safeParse(value);
    if (!parsed.success) throw validationError(parsed.error, "body");
    return { bulk: false, task: parsed.data };
  }
  const parsed = createTasksBatchSchema.safeParse(value);
  if (!parsed.success) throw batchError(parsed.error.issues.map((i) => ({ path: i.path.map(String), code: i.code, message: i.message })));
  return { bulk: true, tasks: parsed.data };
}

interface BatchIssue {
  /** Starts with the item's index ("3", "priority"); empty for the array itself (too long, empty). */
  path: string[];
  code: string;
  message: string;
}

/** A 400 naming the first bad item and field, every issue in details (item index first in each path). */
function batchError(issues: BatchIssue[]): AppError {
  const shown = issues.map((i) => ({
    ...(/^\d+$/.test(i.path[0] ?? "") ? { item: Number(i.path[0]) } : {}),
    path: i.path.join("."),
    code: i.code,
    message: i.message,
  }));
  const first = shown[0];
  const where = first.item === undefined
    ? first.message
    : `item ${first.item}${first.path.includes(".") ? `, ${first.path.slice(first.path.indexOf(".") + 1)}` : ""}: ${first.message}`;
  const more = shown.length > 1 ? ` (and ${shown.length - 1} more issue${shown.length > 2 ? "s" : ""} in details)` : "";
  return new AppError(400, "validation_failed", `Invalid batch, nothing was enqueued: ${where}${more}`, { issues: shown });
}

/** Every item's type and payload against the task catalog; all issues of all items, before anything is stored. */
function checkPayloads(tasks: CreateTaskInput[]): Record<string, unknown>[] {
  const issues: BatchIssue[] = [];
  const payloads = tasks.map((t, item) => {
    try {
      return validateTaskPayload(t.type, t.payload);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      const found = (err.details as { issues?: { path: string; code: string; message: string }[] } | undefined)?.issues ?? [];
      for (const i of found) {
        const path = i.code === "unknown_task_type" ? ["type"] : ["payload", ...(i.path ? i.path.split(".") : [])];
        issues.push({ path: [String(item), ...path], code: i.code, message: i.message });
      }
      if (!found.length) issues.push({ path: [String(item)], code: err.code, message: err.message });
      return {};
    }
  });
  if (issues.length) throw batchError(issues);
  return payloads;
}

export interface BatchResult {
  /** One per item, in item order: the task, and whether this call created it (false: its dedupe_key's live task). */
  tasks: (PublicTask & { created: boolean })[];
  created: number;
  existing: number;
}

export async function enqueueTasks(tasks: CreateTaskInput[], source = "api"): Promise<BatchResult> {
  const payloads = checkPayloads(tasks);
  // The parsed items as they are (so a field createTaskSchema gains reaches the SQL), payloads as checked.
  const items = tasks.map((t, i) => JSON.parse(JSON.stringify({ ...t, payload: payloads[i] })));
  const sql = db();
  const rows = await sql<(TaskRow & { item: number; created: boolean })[]>`
    select b.item, b.created, (b.task).* from orchestrator.enqueue_batch(${sql.json(items)}, ${source}) b`;
  rows.sort((a, b) => a.item - b.item);
  const out = rows.map(({ item: _item, created, ...task }) => ({ ...publicTask(task as TaskRow), created }));
  const created = out.filter((t) => t.created).length;
  return { tasks: out, created, existing: out.length - created };
}
