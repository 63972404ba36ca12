// What a workflow is (zod): a named list of steps, each a task type with an
// input template. Checked on write: step names unique, every {{placeholder}}
// names the workflow input, the run, or an EARLIER step; every required step's
// task type is registered here; a static input fits its type's payload schema.
// The templates are filled in SQL (orchestrator.workflow_render) when a step starts.
import { z } from "zod";
import { knownTaskTypes, taskSpec } from "../task-catalog.ts";
import { WORKFLOW_NAME } from "./names.ts";

const TASK_TYPE = /^[a-z][a-z0-9_.:-]{0,63}$/;
export { WORKFLOW_NAME };
const STEP_NAME = /^[a-z][a-z0-9_-]{0,39}$/;
/** Same characters the SQL renderer accepts in a path. */
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;
const WHOLE_PLACEHOLDER = /^\{\{\s*[A-Za-z0-9_.-]+\s*\}\}$/;
const ROOTS = ["input", "steps", "run", "workflow"];
const STEP_FIELDS = ["result", "status", "task_id"];

export const stepSchema = z.strictObject({
  name: z.string().regex(STEP_NAME, "a step name is 1-40 of a-z, 0-9, _ and -, starting with a letter"),
  type: z.string().regex(TASK_TYPE, "a task type is a lowercase letter then up to 63 of a-z 0-9 _ . : -"),
  /** An object template, or one "{{path}}" whose value (an object, or null to skip the step) is the input. */
  input: z.union([
    z.record(z.string(), z.unknown()),
    z.string().regex(WHOLE_PLACEHOLDER, "a string input must be exactly one {{path}} placeholder"),
  ]).optional().default({}),
  /** Skip this step (instead of refusing the workflow) where its task type is not registered. */
  optional: z.boolean().optional(),
  max_attempts: z.number().int().min(1).max(100).optional(),
  priority: z.number().int().min(-1000).max(1000).optional(),
  backoff_base_seconds: z.number().min(0).max(3600).optional(),
});
export type StepDefinition = z.infer<typeof stepSchema>;

/** Every placeholder path in a template, with where it sits. */
export function placeholders(template: unknown, at: (string | number)[] = []): { path: string; at: (string | number)[] }[] {
  if (typeof template === "string") return [...template.matchAll(PLACEHOLDER)].map((m) => ({ path: m[1], at }));
  if (Array.isArray(template)) return template.flatMap((v, i) => placeholders(v, [...at, i]));
  if (template && typeof template === "object") {
    return Object.entries(template).flatMap(([k, v]) => placeholders(v, [...at, k]));
  }
  return [];
}

function checkSteps(steps: StepDefinition[], ctx: z.RefinementCtx, pathPrefix: (string | number)[]): void {
  const known = new Set(knownTaskTypes());
  const seen = new Map<string, number>();
  steps.forEach((step, i) => {
    const here = [...pathPrefix, i];
    if (seen.has(step.name)) {
      ctx.addIssue({ code: "custom", path: [...here, "name"], message: `step name "${step.name}" is used twice (first by step ${seen.get(step.name)})` });
    }
    if (!known.has(step.type) && !step.optional) {
      ctx.addIssue({
        code: "custom",
        path: [...here, "type"],
        message: `task type "${step.type}" is not registered here (known: ${[...known].join(", ")}); register it or mark the step "optional": true`,
      });
    }
    for (const ph of placeholders(step.input)) {
      const parts = ph.path.split(".");
      const where = [...here, "input", ...ph.at];
      if (!ROOTS.includes(parts[0])) {
        ctx.addIssue({ code: "custom", path: where, message: `{{${ph.path}}}: a path starts with ${ROOTS.join(", ")}` });
      } else if (parts[0] === "steps") {
        const ref = parts[1];
        if (!ref || !seen.has(ref)) {
          ctx.addIssue({
            code: "custom",
            path: where,
            message: `{{${ph.path}}}: "${ref ?? ""}" is not an earlier step (a step can read only the steps before it)`,
          });
        } else if (parts[2] !== undefined && !STEP_FIELDS.includes(parts[2])) {
          ctx.addIssue({ code: "custom", path: where, message: `{{${ph.path}}}: a step offers ${STEP_FIELDS.join(", ")}` });
        }
      }
    }
    // A static input can be checked against its type's payload schema now.
    const def = taskSpec(step.type);
    if (def && typeof step.input === "object" && placeholders(step.input).length === 0) {
      const parsed = def.payload.safeParse(step.input);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          ctx.addIssue({ code: "custom", path: [...here, "input", ...issue.path.map((p) => (typeof p === "symbol" ? String(p) : p))], message: `${step.type}: ${issue.message}` });
        }
      }
    }
    seen.set(step.name, i);
  });
}

const steps = z.array(stepSchema).min(1, "a workflow has at least one step").max(50);

export const createWorkflowSchema = z.strictObject({
  name: z.string().regex(WORKFLOW_NAME, "a workflow name is 1-63 of a-z, 0-9, _ and -, starting with a letter"),
  description: z.string().max(2000).optional(),
  enabled: z.boolean().optional(),
  steps,
}).superRefine((w, ctx) => checkSteps(w.steps, ctx, ["steps"]));
export type CreateWorkflowInput = z.infer<typeof createWorkflowSchema>;

export const updateWorkflowSchema = z.strictObject({
  description: z.string().max(2000).optional(),
  enabled: z.boolean().optional(),
  steps: steps.optional(),
}).refine((v) => Object.keys(v).length > 0, "send at least one field to change")
  .superRefine((w, ctx) => {
    if (w.steps) checkSteps(w.steps, ctx, ["steps"]);
  });
export type UpdateWorkflowInput = z.infer<typeof updateWorkflowSchema>;

export const workflowNameParam = z.string().regex(WORKFLOW_NAME, "not a workflow name");
export const runIdParam = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const startRunSchema = z.strictObject({
  input: z.record(z.string(), z.unknown()).optional().default({}),
  /** A second start with the same key while a run with it is running returns that run. */
  dedupe_key: z.string().min(1).max(200).optional(),
});
export type StartRunInput = z.infer<typeof startRunSchema>;

const cursor = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, "not a cursor returned by this API").optional();

export const listRunsQuery = z.strictObject({
  status: z.enum(["running", "succeeded", "failed", "cancelled"]).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor,
});
export type ListRunsQuery = z.infer<typeof listRunsQuery>;
