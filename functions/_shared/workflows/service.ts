// The workflows service: definitions in orchestrator.workflows, runs started
// and cancelled through the SQL functions (start_workflow_run,
// cancel_workflow_run). Steps advance in the database, inside the transaction
// that finishes each step's task; nothing here polls.
import { db, traced } from "../db.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { AppError, badRequest, conflict, notFound } from "../errors.ts";
import { knownTaskTypes } from "../task-catalog.ts";
import type { z } from "zod";
import type { Run, RunDetail, runPageSchema, Workflow, workflowListSchema } from "./responses.ts";
import type { CreateWorkflowInput, DecisionInput, ListRunsQuery, RerunInput, StartRunInput, UpdateWorkflowInput } from "./schemas.ts";

export interface WorkflowRow {
  id: number;
  name: string;
  description: string;
  steps: { name: string; kind?: "task" | "sleep" | "wait_for_event" | "workflow" | "approval"; type?: string; workflow?: string; optional?: boolean; input?: unknown; after?: string[] }[];
  enabled: boolean;
  builtin: boolean;
  version: number;
  created_at: Date;
  updated_at: Date;
}

/** A run as stored and shown (responses.ts). */
export type RunRow = Run;

/** A definition as the API shows it: which steps this deployment can run. */
function withAvailability(w: WorkflowRow): Workflow {
  const known = new Set(knownTaskTypes());
  return {
    ...w,
    // A wait needs no task type.
    steps: w.steps.map((s) => ({ ...s, registered: (s.kind ?? "task") !== "task" || known.has(s.type ?? "") })),
    runnable: w.steps.every((s) => s.optional || (s.kind ?? "task") !== "task" || known.has(s.type ?? "")),
  };
}

async function findWorkflow(name: string): Promise<WorkflowRow> {
  const [row] = await db()<WorkflowRow[]>`select * from orchestrator.workflows where name = ${name}`;
  if (!row) throw notFound(`Workflow "${name}" does not exist. GET /workflows lists them.`);
  return row;
}

export async function listWorkflows(): Promise<z.infer<typeof workflowListSchema>> {
  const sql = db();
  const rows = await sql<(WorkflowRow & { runs: Record<string, number> | null })[]>`
    select w.*, (select jsonb_object_agg(status, n) from (
                   select status::text, count(*)::int as n from orchestrator.workflow_runs r
                   where r.workflow_name = w.name group by status) c) as runs
    from orchestrator.workflows w order by w.builtin desc, w.name`;
  return { workflows: rows.map((r) => ({ ...withAvailability(r), runs: r.runs ?? {} })) };
}

export async function getWorkflow(name: string): Promise<Workflow> {
  const row = await findWorkflow(name);
  const versions = await db()<{ version: number; created_at: Date; steps: number }[]>`
    select version, created_at, jsonb_array_length(steps) as steps from orchestrator.workflow_versions
    where workflow_id = ${row.id} order by version desc`;
  return { ...withAvailability(row), versions };
}

/**
 * The child workflows a definition runs (kind "workflow") must exist, and must not lead back to it
 * (a run would then start itself without end; the engine also stops at 5 runs deep). A 400 with the
 * path of the step, as zod's are.
 */
async function checkChildren(name: string, steps: WorkflowRow["steps"]): Promise<void> {
  const children = steps.map((s, i) => ({ i, child: s.kind === "workflow" ? s.workflow : undefined })).filter((c) => c.child);
  if (children.length === 0) return;
  const rows = await db()<{ name: string; steps: WorkflowRow["steps"] }[]>`select name, steps from orchestrator.workflows`;
  const graph = new Map(rows.map((r) => [r.name, r.steps.filter((s) => s.kind === "workflow").map((s) => s.workflow!)]));
  graph.set(name, children.map((c) => c.child!));
  const issues: { path: string; code: string; message: string }[] = [];
  for (const { i, child } of children) {
    if (!graph.has(child!)) {
      issues.push({ path: `steps.${i}.workflow`, code: "custom", message: `workflow "${child}" does not exist; create it first` });
      continue;
    }
    // A path from the child back to this workflow is a cycle.
    const seen = new Set<string>();
    const back = (at: string, path: string[]): string[] | undefined => {
      if (at === name) return path;
      if (seen.has(at)) return undefined;
      seen.add(at);
      for (const next of graph.get(at) ?? []) {
        const found = back(next, [...path, next]);
        if (found) return found;
      }
      return undefined;
    };
    const cycle = back(child!, [name, child!]);
    if (cycle) issues.push({ path: `steps.${i}.workflow`, code: "custom", message: `its child workflows lead back to it: ${cycle.join(" -> ")}` });
  }
  if (issues.length > 0) {
    throw new AppError(400, "validation_failed", `Invalid workflow: ${issues.map((x) => `${x.path}: ${x.message}`).join("; ")}`, { issues });
  }
}

export async function createWorkflow(input: CreateWorkflowInput) {
  const sql = db();
  await checkChildren(input.name, input.steps);
  try {
    await sql`
      insert into orchestrator.workflows (name, description, enabled, steps)
      values (${input.name}, ${input.description ?? ""}, ${input.enabled ?? true}, ${sql.json(input.steps as never)})`;
  } catch (err) {
    if ((err as { code?: string }).code === "23505") {
      throw conflict(`A workflow named "${input.name}" already exists; PATCH /workflows/${input.name} changes it.`);
    }
    throw err;
  }
  return await getWorkflow(input.name);
}

/** New steps make a new version; running runs keep the steps they started with. */
export async function updateWorkflow(name: string, patch: UpdateWorkflowInput) {
  const sql = db();
  const current = await findWorkflow(name);
  if (patch.steps) await checkChildren(name, patch.steps);
  await sql`
    update orchestrator.workflows set
      description = ${patch.description ?? current.description},
      enabled = ${patch.enabled ?? current.enabled},
      steps = ${sql.json((patch.steps ?? current.steps) as never)},
      version = version + ${patch.steps ? 1 : 0},
      updated_at = now()
    where id = ${current.id}`;
  return await getWorkflow(name);
}

export async function deleteWorkflow(name: string) {
  const current = await findWorkflow(name);
  if (current.builtin) {
    throw conflict(`Workflow "${name}" ships with the orchestrator; disable it with PATCH {"enabled": false} instead.`);
  }
  await db()`delete from orchestrator.workflows where id = ${current.id}`;
  return { deleted: true, name };
}

/** Starts a run: the first step's task is enqueued before this returns. */
export async function startRun(name: string, input: StartRunInput, source = "api"): Promise<{ run: Awaited<ReturnType<typeof getRun>>; created: boolean }> {
  const sql = db();
  await findWorkflow(name);
  const opts = { source, available_types: knownTaskTypes(), ...(input.dedupe_key ? { dedupe_key: input.dedupe_key } : {}) };
  let row: { id: number; created: boolean };
  try {
    // Under the request's trace: the run and the tasks of its first steps take its trace id.
    [row] = await traced((tx) => tx<{ id: number; created: boolean }[]>`
      select (r.run).id, r.created
      from orchestrator.start_workflow_run(${name}, ${sql.json(input.input as never)}, ${sql.json(opts as never)}) r`);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "55000") throw new AppError(409, "workflow_disabled", `Workflow "${name}" is disabled; PATCH {"enabled": true} to run it.`);
    if (code === "22023") throw badRequest((err as Error).message);
    throw err;
  }
  return { run: await getRun(name, row.id), created: row.created };
}

export async function listRuns(name: string, q: ListRunsQuery): Promise<z.infer<typeof runPageSchema>> {
  const sql = db();
  await findWorkflow(name);
  const after = decodeCursor(q.cursor);
  const rows = await sql<RunRow[]>`
    select * from orchestrator.workflow_runs
    where workflow_name = ${name}
      ${q.status ? sql`and status = ${q.status}` : sql``}
      ${after ? sql`and id < ${after}` : sql``}
    order by id desc limit ${q.limit + 1}`;
  const page = rows.slice(0, q.limit);
  return { runs: page, next_cursor: rows.length > q.limit ? encodeCursor(page[page.length - 1].id) : null };
}

/** A run with its steps and, for each started step, its task (status, attempts, result, error). */
export async function getRun(name: string, id: number): Promise<RunDetail> {
  const sql = db();
  const [run] = await sql<RunRow[]>`select * from orchestrator.workflow_runs where id = ${id} and workflow_name = ${name}`;
  if (!run) throw notFound(`Workflow "${name}" has no run ${id}.`);
  const steps = await sql<RunDetail["steps"]>`
    select s.step_index as index, s.name, s.type, s.kind,
           array(select d.name from orchestrator.workflow_steps d where d.run_id = s.run_id and d.step_index = any (s.after_steps)
                 order by array_position(s.after_steps, d.step_index)) as after,
           s.optional, s.status, s.waiting_for, s.timeout_at,
           case when s.map_total is null then null else jsonb_build_object(
             'total', s.map_total, 'started', s.map_started, 'finished', s.map_finished, 'failed', s.map_failed) end as map,
           s.input, s.result, s.error, s.started_at, s.finished_at, s.task_id, s.child_run_id, s.reused,
           case when t.id is null then null else jsonb_build_object(
             'id', t.id, 'status', t.status, 'attempts', t.attempts, 'max_attempts', t.max_attempts,
             'last_error', t.last_error, 'run_at', t.run_at, 'started_at', t.started_at, 'finished_at', t.finished_at) end as task
    from orchestrator.workflow_steps s
    left join orchestrator.tasks t on t.id = s.task_id
    where s.run_id = ${id}
    order by s.step_index`;
  return { ...run, steps };
}

/**
 * Re-runs a finished run from a step: a new run (rerun_of names the original, which keeps its history),
 * with that step and every step downstream of it run again and the rest reused (workflow_rerun()).
 */
export async function rerunRun(name: string, id: number, input: RerunInput): Promise<RunDetail> {
  const sql = db();
  const [current] = await sql<{ status: string }[]>`select status::text from orchestrator.workflow_runs where id = ${id} and workflow_name = ${name}`;
  if (!current) throw notFound(`Workflow "${name}" has no run ${id}.`);
  let row: { id: number };
  try {
    [row] = await traced((tx) => tx<{ id: number }[]>`select (orchestrator.workflow_rerun(${id}, ${input.from})).id`);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "55000") throw conflict(`Run ${id} is still running; cancel it or wait for it to end, then re-run it.`, { status: current.status });
    if (code === "P0002") throw badRequest(`Run ${id} has no step "${input.from}"; GET /workflows/${name}/runs/${id} lists its steps.`);
    throw err;
  }
  return await getRun(name, row.id);
}

/** Approves or rejects a waiting approval step (workflow_decide()); its ticket follows. */
export async function decideStep(name: string, id: number, step: string, decision: "approved" | "rejected", input: DecisionInput): Promise<RunDetail> {
  const sql = db();
  const [current] = await sql<{ status: string }[]>`select status::text from orchestrator.workflow_runs where id = ${id} and workflow_name = ${name}`;
  if (!current) throw notFound(`Workflow "${name}" has no run ${id}.`);
  try {
    await sql`select orchestrator.workflow_decide(${id}, ${step}, ${decision}, ${input.by ?? "api"}, ${input.comment ?? null})`;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "P0002") throw notFound(`Run ${id} has no step "${step}"; GET /workflows/${name}/runs/${id} lists its steps.`);
    if (code === "55000") throw conflict(`${(err as Error).message}.`);
    throw err;
  }
  return await getRun(name, id);
}

export async function cancelRun(name: string, id: number) {
  const sql = db();
  const [current] = await sql<{ status: string }[]>`select status::text from orchestrator.workflow_runs where id = ${id} and workflow_name = ${name}`;
  if (!current) throw notFound(`Workflow "${name}" has no run ${id}.`);
  const alreadyEnded = (status: string) =>
    conflict(`Run ${id} already ${status === "failed" ? "failed" : status}; only a running run can be cancelled.`, { status });
  if (current.status !== "running") throw alreadyEnded(current.status);
  const [row] = await sql<{ status: string; finished_at: Date }[]>`select status::text, finished_at from orchestrator.cancel_workflow_run(${id})`;
  // It ended (its last step finished) between the check and the cancel.
  if (row && row.status !== "cancelled") throw alreadyEnded(row.status);
  return await getRun(name, id);
}
