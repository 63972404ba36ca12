// The answers of /workflows as zod schemas (see ../responses.ts): service.ts is typed by them, the
// dashboard reads them with `import type`. Zod only.
import { z } from "zod";
import { timestamp } from "../responses.ts";

/** A definition as the API shows it: which of its steps this deployment can run. */
export const workflowSchema = z.object({
  id: z.number(),
  name: z.string(),
  description: z.string(),
  /** The definition's steps as written (schemas.ts), each with whether this deployment can run it. */
  steps: z.array(z.object({
    name: z.string(), kind: z.enum(["task", "sleep", "wait_for_event", "workflow", "approval"]).optional(), type: z.string().optional(),
    optional: z.boolean().optional(), input: z.unknown().optional(), after: z.array(z.string()).optional(), registered: z.boolean(),
  }).passthrough()),
  enabled: z.boolean(),
  builtin: z.boolean(),
  version: z.number(),
  created_at: timestamp,
  updated_at: timestamp,
  /** Every step that is not optional has a registered task type. */
  runnable: z.boolean(),
  /** GET /workflows/:name: every version of its steps, newest first (a run keeps the version it started with). */
  versions: z.array(z.object({ version: z.number(), created_at: timestamp, steps: z.number() })).optional(),
});
export type Workflow = z.infer<typeof workflowSchema>;

/** GET /workflows: every definition at once (no pages), each with its runs counted by status. */
export const workflowListSchema = z.object({
  workflows: z.array(workflowSchema.extend({ runs: z.record(z.string(), z.number()) })),
});

export const RUN_STATUSES = ["running", "succeeded", "failed", "cancelled"] as const;

export const runSchema = z.object({
  id: z.number(),
  workflow_id: z.number().nullable(),
  workflow_name: z.string(),
  workflow_version: z.number(),
  status: z.enum(RUN_STATUSES),
  input: z.record(z.string(), z.unknown()),
  output: z.unknown(),
  error: z.string().nullable(),
  failed_step: z.string().nullable(),
  source: z.string(),
  dedupe_key: z.string().nullable(),
  /** A child run: the run and step that started it, and how deep it is nested (0 = a top-level run). */
  parent_run_id: z.number().nullable(),
  parent_step_index: z.number().nullable(),
  depth: z.number(),
  /** A re-run: the run it re-runs and the step it re-ran from. */
  rerun_of: z.number().nullable(),
  rerun_from: z.string().nullable(),
  created_at: timestamp,
  updated_at: timestamp,
  finished_at: timestamp.nullable(),
});
export type Run = z.infer<typeof runSchema>;

/** GET /workflows/:name/runs. */
export const runPageSchema = z.object({ runs: z.array(runSchema), next_cursor: z.string().nullable() });

/** GET /workflows/:name/runs/:id: the run with its steps and, for each started step, its task. */
export const runDetailSchema = runSchema.extend({
  steps: z.array(z.object({
    index: z.number(),
    name: z.string(),
    /** A task step's task type; a wait's kind. */
    type: z.string(),
    kind: z.enum(["task", "sleep", "wait_for_event", "workflow", "approval"]),
    /** The names of the steps it waits for. */
    after: z.array(z.string()),
    optional: z.boolean(),
    status: z.string(),
    /** A waiting step: what it waits for ({until}, {event: {source, type, match}}, {workflow, run_id} or {approval: {ticket_id, title}}), and when it times out. */
    waiting_for: z.unknown(),
    timeout_at: timestamp.nullable(),
    /** A map step's progress: elements in all, started, finished, failed. */
    map: z.object({ total: z.number(), started: z.number(), finished: z.number(), failed: z.number() }).nullable(),
    input: z.unknown(),
    result: z.unknown(),
    error: z.string().nullable(),
    started_at: timestamp.nullable(),
    finished_at: timestamp.nullable(),
    task_id: z.number().nullable(),
    /** A child workflow step: the run it started. */
    child_run_id: z.number().nullable(),
    /** A re-run kept this step's outcome from the run it re-runs. */
    reused: z.boolean(),
    task: z.object({
      id: z.number(),
      status: z.string(),
      attempts: z.number(),
      max_attempts: z.number(),
      last_error: z.string().nullable(),
      run_at: z.string(),
      started_at: z.string().nullable(),
      finished_at: z.string().nullable(),
    }).nullable(),
  })),
});
export type RunDetail = z.infer<typeof runDetailSchema>;
