// What a workflow is (zod): named steps, each a task (optionally mapped over an array) or a durable
// wait (sleep, wait_for_event), joined into a graph by `after` (without it, a step follows the one
// before, so a list runs as a list). Checked on write, each problem with its path:
//   - step names unique; `after` names existing steps, and the graph has no cycle;
//   - every {{placeholder}} names the workflow input, the run, or a step UPSTREAM of this one (an
//     ancestor through `after`), and {{item}} / {{index}} appear only in a map step's input;
//   - a `when` condition parses (equals / in / exists / not / all / any);
//   - a map is over a {{path}} or a literal array; a wait's timeout is at most 30 days, and an event
//     wait has one;
//   - every required task step's type is registered here, and a static input fits its payload schema.
// The engine (SQL: 20261202001300_workflow_graphs.sql) fills the templates when a step starts.
import { z } from "zod";
import { EVENT_TYPE, SOURCE } from "../events/schemas.ts";
import { knownTaskTypes, taskSpec } from "../task-catalog.ts";
import { WORKFLOW_NAME } from "./names.ts";

const TASK_TYPE = /^[a-z][a-z0-9_.:-]{0,63}$/;
export { WORKFLOW_NAME };
const STEP_NAME = /^[a-z][a-z0-9_-]{0,39}$/;
/** Same characters the SQL renderer accepts in a path. */
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;
const WHOLE_PLACEHOLDER = /^\{\{\s*[A-Za-z0-9_.-]+\s*\}\}$/;
const ROOTS = ["input", "steps", "run", "workflow"];
const MAP_ROOTS = ["item", "index"];
const STEP_FIELDS = ["result", "status", "task_id"];
/** The longest a step may wait (a sleep, a timeout): 30 days. */
export const MAX_WAIT_SECONDS = 30 * 24 * 3600;

const stepName = z.string().regex(STEP_NAME, "a step name is 1-40 of a-z, 0-9, _ and -, starting with a letter");
const waitSeconds = z.number().positive().max(MAX_WAIT_SECONDS, `at most ${MAX_WAIT_SECONDS} seconds (30 days)`);

export const stepSchema = z.strictObject({
  name: stepName,
  /** A task (the default), a durable wait that holds no worker, or a child workflow awaited. */
  kind: z.enum(["task", "sleep", "wait_for_event", "workflow", "approval"]).optional(),
  /** kind "workflow": the workflow to run (its input is `input`); its output is this step's result. */
  workflow: z.string().regex(WORKFLOW_NAME, "not a workflow name").optional(),
  type: z.string().regex(TASK_TYPE, "a task type is a lowercase letter then up to 63 of a-z 0-9 _ . : -").optional(),
  /** An object template, or one "{{path}}" whose value (an object, or null to skip the step) is the input. */
  input: z.union([
    z.record(z.string(), z.unknown()),
    z.string().regex(WHOLE_PLACEHOLDER, "a string input must be exactly one {{path}} placeholder"),
  ]).optional(),
  /** The steps this one waits for; without it, the previous step; [] starts with the run. */
  after: z.array(stepName).max(200).optional(),
  /** A condition (equals / in / exists / not / all / any); false skips the step. */
  when: z.unknown().optional(),
  /** Runs the task once per element of the array `over`, at most `parallelism` at a time. */
  map: z.strictObject({
    over: z.union([z.string().regex(WHOLE_PLACEHOLDER, "over is one {{path}} placeholder or an array"), z.array(z.unknown()).max(10_000)]),
    parallelism: z.number().int().min(1).max(1000).optional(),
  }).optional(),
  /** A map element dead after its retries leaves null in its slot instead of failing the step. */
  continue_on_error: z.boolean().optional(),
  /** Skip this step (instead of refusing the workflow) where its task type is not registered. */
  optional: z.boolean().optional(),
  max_attempts: z.number().int().min(1).max(100).optional(),
  priority: z.number().int().min(-1000).max(1000).optional(),
  backoff_base_seconds: z.number().min(0).max(3600).optional(),
  /** sleep: for this long, or */
  seconds: waitSeconds.optional(),
  /** sleep: until this time (ISO 8601, or one {{path}}). */
  until: z.string().max(200).optional(),
  /** wait_for_event: the first event since the run started with this source and type whose payload contains `match`. */
  event: z.strictObject({
    source: z.string().regex(SOURCE, "a source is 1-64 of a-z 0-9 _ . - (lowercase), starting with a letter or digit"),
    type: z.string().regex(EVENT_TYPE, "an event type is 1-100 of A-Z a-z 0-9 _ . : / -"),
    match: z.record(z.string(), z.unknown()).optional(),
  }).optional(),
  timeout_seconds: waitSeconds.optional(),
  on_timeout: z.enum(["fail", "continue"]).optional(),
  /** approval: what the person is asked (templates), and what a rejection does (default: fail the step). */
  title: z.string().min(1).max(500).optional(),
  body: z.string().max(20_000).optional(),
  on_reject: z.enum(["fail", "continue"]).optional(),
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

type Issue = { path: (string | number)[]; message: string };

/** A `when` condition's problems (the SQL workflow_condition() is the engine's own guard). */
function conditionIssues(cond: unknown, at: (string | number)[]): Issue[] {
  const ops = "equals, in, exists, not, all, any";
  if (!cond || typeof cond !== "object" || Array.isArray(cond) || Object.keys(cond).length !== 1) {
    return [{ path: at, message: `a condition is an object with one operator (${ops})` }];
  }
  const [op, arg] = Object.entries(cond)[0];
  const here = [...at, op];
  switch (op) {
    case "equals":
      return Array.isArray(arg) && arg.length === 2 ? [] : [{ path: here, message: "equals takes [a, b]" }];
    case "in":
      return Array.isArray(arg) && arg.length === 2 && (Array.isArray(arg[1]) || (typeof arg[1] === "string" && WHOLE_PLACEHOLDER.test(arg[1])))
        ? []
        : [{ path: here, message: "in takes [a, [b, c, …]] (or [a, \"{{path}}\"] to a list)" }];
    case "exists":
      return typeof arg === "string" && WHOLE_PLACEHOLDER.test(arg) ? [] : [{ path: here, message: "exists takes one {{path}}" }];
    case "not":
      return conditionIssues(arg, here);
    case "all":
    case "any":
      return Array.isArray(arg) && arg.length > 0
        ? arg.flatMap((c, i) => conditionIssues(c, [...here, i]))
        : [{ path: here, message: `${op} takes a non-empty list of conditions` }];
    default:
      return [{ path: here, message: `unknown condition operator "${op}" (${ops})` }];
  }
}

/** Each step's dependencies, by index: `after`, or the previous step. */
function dependencies(steps: StepDefinition[]): number[][] {
  const index = new Map(steps.map((s, i) => [s.name, i]));
  // Unknown names and a step naming itself are reported on their own; they are no edges here.
  return steps.map((s, i) => (s.after ? s.after.map((n) => index.get(n)).filter((d): d is number => d !== undefined && d !== i) : i === 0 ? [] : [i - 1]));
}

/** One cycle through the graph, as step indexes (first = last), or undefined. */
function findCycle(deps: number[][]): number[] | undefined {
  const state = new Array<0 | 1 | 2>(deps.length).fill(0); // unseen, on the path, done
  const path: number[] = [];
  const visit = (i: number): number[] | undefined => {
    state[i] = 1;
    path.push(i);
    for (const d of deps[i]) {
      if (state[d] === 1) return [...path.slice(path.indexOf(d)), d];
      if (state[d] === 0) {
        const found = visit(d);
        if (found) return found;
      }
    }
    path.pop();
    state[i] = 2;
    return undefined;
  };
  for (let i = 0; i < deps.length; i++) {
    if (state[i] === 0) {
      const found = visit(i);
      if (found) return found;
    }
  }
  return undefined;
}

/** Every step upstream of each (its ancestors through the dependencies). The graph has no cycle. */
function ancestors(deps: number[][]): Set<number>[] {
  const memo: (Set<number> | undefined)[] = [];
  const of = (i: number): Set<number> => {
    if (memo[i]) return memo[i]!;
    const out = new Set<number>();
    for (const d of deps[i]) {
      out.add(d);
      for (const a of of(d)) out.add(a);
    }
    return (memo[i] = out);
  };
  return deps.map((_, i) => of(i));
}

function kindIssues(step: StepDefinition, here: (string | number)[]): Issue[] {
  const kind = step.kind ?? "task";
  const present = (k: keyof StepDefinition) => step[k] !== undefined;
  const notFor = (fields: (keyof StepDefinition)[]) =>
    fields.filter(present).map((f) => ({ path: [...here, f], message: `a ${kind} step has no ${f}` }));
  if (kind === "task") {
    return [
      ...(step.type ? [] : [{ path: [...here, "type"], message: "a task step needs its task type" }]),
      ...notFor(["seconds", "until", "event", "timeout_seconds", "on_timeout", "workflow", "title", "body", "on_reject"]),
      ...(step.continue_on_error !== undefined && !step.map ? [{ path: [...here, "continue_on_error"], message: "continue_on_error is for map steps" }] : []),
    ];
  }
  if (kind === "workflow") {
    return [
      ...(step.workflow ? [] : [{ path: [...here, "workflow"], message: "a workflow step names the workflow it runs" }]),
      ...notFor(["type", "map", "continue_on_error", "optional", "max_attempts", "priority", "backoff_base_seconds", "seconds", "until", "event", "timeout_seconds", "on_timeout", "title", "body", "on_reject"]),
    ];
  }
  const common = notFor(["type", "input", "map", "continue_on_error", "optional", "max_attempts", "priority", "backoff_base_seconds", "workflow"]);
  if (kind === "approval") {
    return [
      ...common,
      ...notFor(["seconds", "until", "event"]),
      ...(step.title ? [] : [{ path: [...here, "title"], message: "an approval needs its title: what the person is asked" }]),
      ...(step.timeout_seconds !== undefined ? [] : [{ path: [...here, "timeout_seconds"], message: `an approval needs timeout_seconds (at most ${MAX_WAIT_SECONDS})` }]),
    ];
  }
  const waits = notFor(["title", "body", "on_reject"]);
  if (kind === "sleep") {
    const one = (step.seconds === undefined) === (step.until === undefined)
      ? [{ path: [...here, "seconds"], message: "a sleep has either seconds or until" }]
      : [];
    const until = step.until !== undefined && !WHOLE_PLACEHOLDER.test(step.until) && Number.isNaN(Date.parse(step.until))
      ? [{ path: [...here, "until"], message: "until is an ISO 8601 time or one {{path}}" }]
      : [];
    return [...common, ...waits, ...one, ...until, ...notFor(["event"])];
  }
  return [
    ...common,
    ...waits,
    ...notFor(["seconds", "until"]),
    ...(step.event ? [] : [{ path: [...here, "event"], message: "a wait_for_event step needs its event: {source, type, match?}" }]),
    ...(step.timeout_seconds !== undefined ? [] : [{ path: [...here, "timeout_seconds"], message: `a wait for an event needs timeout_seconds (at most ${MAX_WAIT_SECONDS})` }]),
  ];
}

function checkSteps(steps: StepDefinition[], ctx: z.RefinementCtx, pathPrefix: (string | number)[]): void {
  const known = new Set(knownTaskTypes());
  const issue = (i: Issue) => ctx.addIssue({ code: "custom", path: i.path, message: i.message });
  const index = new Map<string, number>();
  steps.forEach((step, i) => {
    const here = [...pathPrefix, i];
    if (index.has(step.name)) issue({ path: [...here, "name"], message: `step name "${step.name}" is used twice (first by step ${index.get(step.name)})` });
    else index.set(step.name, i);
  });
  steps.forEach((step, i) => {
    (step.after ?? []).forEach((name, j) => {
      if (!index.has(name)) issue({ path: [...pathPrefix, i, "after", j], message: `"${name}" is not a step of this workflow` });
      else if (name === step.name) issue({ path: [...pathPrefix, i, "after", j], message: "a step cannot wait for itself" });
    });
  });
  const deps = dependencies(steps);
  const cycle = findCycle(deps);
  if (cycle) {
    issue({ path: [...pathPrefix, cycle[0], "after"], message: `the steps wait for each other in a cycle: ${cycle.map((i) => steps[i].name).join(" -> ")}` });
    return; // upstream is undefined in a cycle
  }
  const upstream = ancestors(deps);
  steps.forEach((step, i) => {
    const here = [...pathPrefix, i];
    const kind = step.kind ?? "task";
    kindIssues(step, here).forEach(issue);
    if (kind === "task" && step.type && !known.has(step.type) && !step.optional) {
      issue({
        path: [...here, "type"],
        message: `task type "${step.type}" is not registered here (known: ${[...known].join(", ")}); register it or mark the step "optional": true`,
      });
    }
    // Every placeholder of the step: its input, its map's array, its condition, its sleep's time, its event's match.
    const templates: [unknown, (string | number)[], boolean][] = [
      [step.input, [...here, "input"], step.map !== undefined],
      [step.map?.over, [...here, "map", "over"], false],
      [step.when, [...here, "when"], false],
      [step.until, [...here, "until"], false],
      [step.event?.match, [...here, "event", "match"], false],
      [step.title, [...here, "title"], false],
      [step.body, [...here, "body"], false],
    ];
    for (const [template, at, inMap] of templates) {
      for (const ph of placeholders(template)) {
        const parts = ph.path.split(".");
        const where = [...at, ...ph.at];
        if (inMap && MAP_ROOTS.includes(parts[0])) continue;
        if (!ROOTS.includes(parts[0])) {
          const roots = inMap ? [...ROOTS, ...MAP_ROOTS] : ROOTS;
          issue({ path: where, message: `{{${ph.path}}}: a path starts with ${roots.join(", ")}${MAP_ROOTS.includes(parts[0]) ? " (item and index are for a map step's input)" : ""}` });
        } else if (parts[0] === "steps") {
          const ref = parts[1];
          const at = ref === undefined ? undefined : index.get(ref);
          if (at === undefined || !upstream[i].has(at)) {
            issue({
              path: where,
              message: `{{${ph.path}}}: "${ref ?? ""}" is not upstream of "${step.name}" (a step reads only the steps it waits for, directly or through others)`,
            });
          } else if (parts[2] !== undefined && !STEP_FIELDS.includes(parts[2])) {
            issue({ path: where, message: `{{${ph.path}}}: a step offers ${STEP_FIELDS.join(", ")}` });
          }
        }
      }
    }
    if (step.when !== undefined) conditionIssues(step.when, [...here, "when"]).forEach(issue);
    // A static input can be checked against its type's payload schema now.
    const def = step.type ? taskSpec(step.type) : undefined;
    if (def && kind === "task" && !step.map && step.input && typeof step.input === "object" && placeholders(step.input).length === 0) {
      const parsed = def.payload.safeParse(step.input);
      if (!parsed.success) {
        for (const i of parsed.error.issues) {
          issue({ path: [...here, "input", ...i.path.map((p) => (typeof p === "symbol" ? String(p) : p))], message: `${step.type}: ${i.message}` });
        }
      }
    }
  });
}

const steps = z.array(stepSchema).min(1, "a workflow has at least one step").max(200);

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

export const decisionSchema = z.strictObject({
  /** Who decided, as the caller names them (default: "api"). */
  by: z.string().trim().min(1).max(200).optional(),
  comment: z.string().max(2000).optional(),
});
export type DecisionInput = z.infer<typeof decisionSchema>;
export const stepNameParam = z.string().regex(STEP_NAME, "not a step name");

export const rerunSchema = z.strictObject({
  /** The step to run again, with every step downstream of it; the others keep what they did. */
  from: z.string().regex(STEP_NAME, "not a step name"),
});
export type RerunInput = z.infer<typeof rerunSchema>;

export const listRunsQuery = z.strictObject({
  status: z.enum(["running", "succeeded", "failed", "cancelled"]).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor,
});
export type ListRunsQuery = z.infer<typeof listRunsQuery>;
