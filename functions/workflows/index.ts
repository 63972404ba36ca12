// /workflows: definitions, runs (start, inspect, cancel, re-run from a step, approve or reject a step).
import { json, parseBody, parseQuery, parseWith } from "../_shared/http.ts";
import { defineFunction, type RouteContext } from "../_shared/router.ts";
import { errorShape } from "../_shared/error-shape.ts";
import { runDetailSchema, runPageSchema, runSchema, workflowListSchema, workflowSchema } from "../_shared/workflows/responses.ts";
import {
  createWorkflowSchema,
  decisionSchema,
  listRunsQuery,
  rerunSchema,
  stepNameParam,
  runIdParam,
  startRunSchema,
  updateWorkflowSchema,
  workflowNameParam,
} from "../_shared/workflows/schemas.ts";
import {
  cancelRun,
  createWorkflow,
  decideStep,
  deleteWorkflow,
  getRun,
  getWorkflow,
  listRuns,
  listWorkflows,
  rerunRun,
  startRun,
  updateWorkflow,
} from "../_shared/workflows/service.ts";

const name = (params: Record<string, string>) => parseWith(workflowNameParam, params.name, "workflow name");
const runId = (params: Record<string, string>) => parseWith(runIdParam, params.id, "run id");

/** POST …/steps/:step/approve | reject {"by"?, "comment"?}: decides a waiting approval step. */
const decide = (verb: "approve" | "reject") => async ({ req, params, log }: RouteContext) => {
  const step = parseWith(stepNameParam, params.step, "step name");
  const input = (await parseBody(req, decisionSchema.optional())) ?? {};
  const decision = verb === "approve" ? "approved" : "rejected";
  const run = await decideStep(name(params), runId(params), step, decision, input);
  log.info(`workflow ${run.workflow_name} run ${run.id} step ${step} ${decision}`, { run_id: run.id, by: input.by ?? "api" });
  return run;
};

export default defineFunction("workflows", [
  { method: "GET", path: "/", summary: "List workflows", responses: { 200: workflowListSchema }, handler: () => listWorkflows() },
  {
    method: "POST",
    path: "/",
    summary: "Create a workflow",
    body: createWorkflowSchema,
    responses: { 201: workflowSchema },
    handler: async ({ req, log }) => {
      const workflow = await createWorkflow(await parseBody(req, createWorkflowSchema));
      log.info(`workflow ${workflow.name} created`, { steps: workflow.steps.length });
      return json(201, workflow);
    },
  },
  { method: "GET", path: "/:name", summary: "One workflow", params: { name: workflowNameParam }, responses: { 200: workflowSchema, 404: errorShape }, handler: ({ params }) => getWorkflow(name(params)) },
  { method: "PATCH", path: "/:name", summary: "Change a workflow (a new version)", params: { name: workflowNameParam }, body: updateWorkflowSchema, responses: { 200: workflowSchema, 404: errorShape }, handler: async ({ req, params }) => updateWorkflow(name(params), await parseBody(req, updateWorkflowSchema)) },
  { method: "DELETE", path: "/:name", summary: "Delete a workflow", params: { name: workflowNameParam }, handler: ({ params }) => deleteWorkflow(name(params)) },
  {
    method: "POST",
    path: "/:name/runs",
    summary: "Start a run",
    params: { name: workflowNameParam },
    body: startRunSchema.optional(),
    responses: { 200: runSchema, 201: runSchema, 404: errorShape },
    handler: async ({ req, params, log }) => {
      const input = (await parseBody(req, startRunSchema.optional())) ?? { input: {} };
      const { run, created } = await startRun(name(params), input, "api");
      if (created) log.info(`workflow ${run.workflow_name} run ${run.id} started`, { run_id: run.id });
      return json(created ? 201 : 200, run);
    },
  },
  { method: "GET", path: "/:name/runs", summary: "A workflow's runs", params: { name: workflowNameParam }, query: listRunsQuery, responses: { 200: runPageSchema }, handler: ({ params, url }) => listRuns(name(params), parseQuery(url, listRunsQuery)) },
  { method: "GET", path: "/:name/runs/:id", summary: "One run, with its steps", params: { name: workflowNameParam, id: runIdParam }, responses: { 200: runDetailSchema, 404: errorShape }, handler: ({ params }) => getRun(name(params), runId(params)) },
  {
    method: "POST",
    path: "/:name/runs/:id/rerun",
    summary: "Re-run from a step",
    params: { name: workflowNameParam, id: runIdParam },
    body: rerunSchema,
    responses: { 201: runSchema },
    handler: async ({ req, params, log }) => {
      const run = await rerunRun(name(params), runId(params), await parseBody(req, rerunSchema));
      log.info(`workflow ${run.workflow_name} run ${run.rerun_of} re-run from ${run.rerun_from} as run ${run.id}`, { run_id: run.id });
      return json(201, run);
    },
  },
  { method: "POST", path: "/:name/runs/:id/steps/:step/approve", summary: "Approve a waiting approval step", params: { name: workflowNameParam, id: runIdParam, step: stepNameParam }, body: decisionSchema.optional(), handler: decide("approve") },
  { method: "POST", path: "/:name/runs/:id/steps/:step/reject", summary: "Reject a waiting approval step", params: { name: workflowNameParam, id: runIdParam, step: stepNameParam }, body: decisionSchema.optional(), handler: decide("reject") },
  {
    method: "POST",
    path: "/:name/runs/:id/cancel",
    summary: "Cancel a run",
    params: { name: workflowNameParam, id: runIdParam },
    responses: { 200: runSchema },
    handler: async ({ params, log }) => {
      const run = await cancelRun(name(params), runId(params));
      log.info(`workflow ${run.workflow_name} run ${run.id} cancelled`, { run_id: run.id });
      return run;
    },
  },
]);
