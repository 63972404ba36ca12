// Workflows in TypeScript: a builder that produces the JSON POST /workflows takes (schemas.ts), with
// each step's input typed from its task type's payload schema and each step's result from its result
// schema (task-catalog.ts), as pgflow's DSL infers them.
//
//   const flow = workflow("refund-check", z.object({ order: z.string() }))
//     .task("fetch", "noop", ({ input }) => ({ echo: input.order }))
//     .task("tell", "notify", ({ steps }) => ({ event: "refund.checked", subject: `Order ${steps.fetch.echo}` }))
//     .build();   // { name, steps: [{name: "fetch", type: "noop", input: {echo: "{{input.order}}"}}, …] }
//
// The callbacks run once, at build time, over stand-ins: reading `input.order` or `steps.fetch.echo`
// gives a value that becomes the placeholder "{{input.order}}" / "{{steps.fetch.result.echo}}" in the
// JSON (a whole value keeps its type when the engine fills it; inside a template string it is text).
// The engine fills them when the step starts. A workflow can so live in code and be deployed with
// POST /workflows (or PATCH for a new version) from a script or a migration's generator.
import type { z } from "zod";
import type { CatalogTaskName, TaskCatalog } from "../task-catalog.ts";
import { createWorkflowSchema, type CreateWorkflowInput, type StepDefinition } from "./schemas.ts";

type PayloadOf<T extends CatalogTaskName> = z.input<TaskCatalog[T]["payload"]>;
type ResultOf<T extends CatalogTaskName> = TaskCatalog[T] extends { result: infer R } ? R extends z.ZodType ? z.infer<R> : unknown : unknown;

/** What a wait_for_event step's result is: the event row. */
export interface EventResult {
  id: number;
  source: string;
  type: string;
  level: string;
  message: string | null;
  payload: Record<string, unknown>;
  received_at: string;
}
/** What an approval step's result is. */
export interface ApprovalResult {
  decision: "approved" | "rejected";
  by: string;
  at: string;
  comment?: string;
  ticket_id: number;
}

interface Context<I, S> {
  input: I;
  /** Each upstream step's result. */
  steps: S;
  run: { id: number; created_at: string; source: string };
}

type StepOptions<I, S> = {
  /** The steps this one waits for; default: the one added before it ([] to start with the run). */
  after?: (keyof S & string)[];
  /** A condition (schemas.ts) over the stand-ins: ({steps}) => ({equals: [steps.x.ok, true]}); in, exists, not, all, any too. */
  when?: (ctx: Context<I, S>) => Record<string, unknown>;
};
type TaskOptions<I, S> = StepOptions<I, S> & Pick<StepDefinition, "optional" | "max_attempts" | "priority" | "backoff_base_seconds">;
type WaitOptions<I, S> = StepOptions<I, S> & Pick<StepDefinition, "timeout_seconds" | "on_timeout">;

/** A stand-in for a value the engine fills in: reading a property goes one level deeper in its path. */
function standIn(path: string[]): unknown {
  const placeholder = `{{${path.join(".")}}}`;
  return new Proxy(function () {}, {
    get(_t, prop) {
      if (prop === "toJSON" || prop === Symbol.toPrimitive || prop === "toString" || prop === "valueOf") return () => placeholder;
      if (typeof prop === "symbol") return undefined;
      return standIn([...path, prop]);
    },
  });
}
const stepsStandIn = () => new Proxy({}, { get: (_t, name) => standIn(["steps", String(name), "result"]) });
const context = <I, S>(extra: Record<string, unknown> = {}) =>
  ({ input: standIn(["input"]), steps: stepsStandIn(), run: standIn(["run"]), ...extra }) as unknown as Context<I, S>;
/** Turns the stand-ins in a callback's answer into placeholders (JSON.stringify calls their toJSON). */
const template = (value: unknown): unknown => JSON.parse(JSON.stringify(value ?? {}));

export class WorkflowBuilder<I, S extends Record<string, unknown> = Record<never, never>> {
  readonly #steps: StepDefinition[];
  constructor(readonly name: string, readonly description: string | undefined, steps: StepDefinition[] = []) {
    this.#steps = steps;
  }

  #add<N extends string, R>(step: StepDefinition): WorkflowBuilder<I, S & Record<N, R>> {
    return new WorkflowBuilder<I, S & Record<N, R>>(this.name, this.description, [...this.#steps, step]);
  }
  #common(name: string, opts: StepOptions<I, S> = {}) {
    return { name, ...(opts.after ? { after: opts.after } : {}), ...(opts.when ? { when: template(opts.when(context<I, S>())) } : {}) };
  }

  /** A task step: its task type's payload, built from the input and upstream results. */
  task<N extends string, T extends CatalogTaskName>(name: N, type: T, input: (ctx: Context<I, S>) => PayloadOf<T>, opts: TaskOptions<I, S> = {}) {
    const { after: _a, when: _w, ...rest } = opts;
    return this.#add<N, ResultOf<T>>({ ...this.#common(name, opts), type, input: template(input(context<I, S>())) as StepDefinition["input"], ...rest });
  }

  /** A map step: the task once per element of `over`, `{item, index}` in its input; its result is the array of results. */
  map<N extends string, T extends CatalogTaskName, E>(
    name: N, type: T, over: (ctx: Context<I, S>) => E[],
    input: (ctx: Context<I, S> & { item: E; index: number }) => PayloadOf<T>,
    opts: TaskOptions<I, S> & { parallelism?: number; continue_on_error?: boolean } = {},
  ) {
    const { after: _a, when: _w, parallelism, continue_on_error, ...rest } = opts;
    const overPath = template(over(context<I, S>()));
    return this.#add<N, ResultOf<T>[]>({
      ...this.#common(name, opts), type,
      map: { over: overPath as string, ...(parallelism ? { parallelism } : {}) },
      input: template(input(context<I, S>({ item: standIn(["item"]), index: standIn(["index"]) }) as Context<I, S> & { item: E; index: number })) as StepDefinition["input"],
      ...(continue_on_error !== undefined ? { continue_on_error } : {}), ...rest,
    });
  }

  sleep<N extends string>(name: N, how: { seconds: number } | { until: (ctx: Context<I, S>) => string }, opts: WaitOptions<I, S> = {}) {
    const { after: _a, when: _w, ...rest } = opts;
    const time = "seconds" in how ? { seconds: how.seconds } : { until: String(template(how.until(context<I, S>()))) };
    return this.#add<N, { slept_until: string }>({ ...this.#common(name, opts), kind: "sleep", ...time, ...rest });
  }

  waitForEvent<N extends string>(name: N, event: { source: string; type: string; match?: (ctx: Context<I, S>) => Record<string, unknown> },
    opts: WaitOptions<I, S> & { timeout_seconds: number }) {
    const { after: _a, when: _w, ...rest } = opts;
    return this.#add<N, EventResult>({
      ...this.#common(name, opts), kind: "wait_for_event",
      event: { source: event.source, type: event.type, ...(event.match ? { match: template(event.match(context<I, S>())) as Record<string, unknown> } : {}) },
      ...rest,
    });
  }

  approval<N extends string>(name: N, ask: (ctx: Context<I, S>) => { title: string; body?: string },
    opts: WaitOptions<I, S> & { timeout_seconds: number; on_reject?: "fail" | "continue" }) {
    const { after: _a, when: _w, ...rest } = opts;
    const { title, body } = ask(context<I, S>());
    return this.#add<N, ApprovalResult>({ ...this.#common(name, opts), kind: "approval", title: String(title), ...(body !== undefined ? { body: String(body) } : {}), ...rest });
  }

  /** Runs another workflow and waits for it; its result is the child's output (an object of its steps' results). */
  workflow<N extends string>(name: N, child: string, input: (ctx: Context<I, S>) => Record<string, unknown> = () => ({}), opts: StepOptions<I, S> = {}) {
    return this.#add<N, Record<string, unknown>>({ ...this.#common(name, opts), kind: "workflow", workflow: child, input: template(input(context<I, S>())) as StepDefinition["input"] });
  }

  /** The definition as POST /workflows takes it, checked by the API's own schema (a problem throws, with its path). */
  build(): CreateWorkflowInput {
    const def = { name: this.name, ...(this.description ? { description: this.description } : {}), steps: this.#steps };
    const parsed = createWorkflowSchema.safeParse(def);
    if (!parsed.success) {
      throw new Error(`workflow ${this.name} is not valid: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    }
    return def as CreateWorkflowInput;
  }
}

/** Starts a workflow definition; `input` is its input's schema (for the types only). */
export function workflow<S extends z.ZodType>(name: string, _input: S, description?: string): WorkflowBuilder<z.infer<S>> {
  return new WorkflowBuilder<z.infer<S>>(name, description);
}
