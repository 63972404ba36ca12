// A property over random workflow graphs (fast-check): up to 30 steps, random dependencies (and the
// implicit "after the previous one"), conditions on the input and on upstream results, and steps that
// fail for good. The test plays the worker in waves (claim every queued task, then finish them in step
// order), and checks, from the database:
//   - a step's task is claimed only once every step it depends on succeeded or was skipped;
//   - every step has at most one task and succeeds at most once;
//   - the run's and every step's final state equal those of a small reference model of the engine.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sql, uniqueType } from "../helpers/stack.ts";

type When = { kind: "none" } | { kind: "flag" } | { kind: "dep"; dep: number };
interface Spec {
  after: number[] | undefined; // undefined: the previous step
  when: When;
  fails: boolean;
  flag: boolean;
}

const graph = fc.integer({ min: 1, max: 30 }).chain((n) =>
  fc.tuple(...Array.from({ length: n }, (_, i) =>
    fc.record({
      after: i === 0
        ? fc.constantFrom<number[] | undefined>(undefined, [])
        : fc.option(fc.subarray(Array.from({ length: i }, (_, k) => k), { maxLength: Math.min(4, i) }), { nil: undefined, freq: 4 }),
      whenPick: fc.integer({ min: 0, max: 9 }),
      depPick: fc.nat(),
      fails: fc.integer({ min: 0, max: 99 }).map((x) => x < 8),
      flag: fc.boolean(),
    }).map(({ after, whenPick, depPick, fails, flag }): Spec => {
      const deps = after ?? (i === 0 ? [] : [i - 1]);
      const when: When = whenPick < 6 ? { kind: "none" } : whenPick < 8 || deps.length === 0 ? { kind: "flag" } : { kind: "dep", dep: deps[depPick % deps.length] };
      return { after, when, fails, flag };
    }))));

const depsOf = (specs: Spec[], i: number) => specs[i].after ?? (i === 0 ? [] : [i - 1]);

type Status = "pending" | "running" | "succeeded" | "failed" | "skipped" | "cancelled";

/** The engine, as the test understands it (20261202001300_workflow_graphs.sql), run in the same waves. */
function model(specs: Spec[]): { run: "succeeded" | "failed"; steps: Status[] } {
  const n = specs.length;
  const status: Status[] = Array(n).fill("pending");
  const byCondition: boolean[] = Array(n).fill(false);
  let run: "running" | "succeeded" | "failed" = "running";
  const depsDone = (i: number): boolean => depsOf(specs, i).every((d) =>
    status[d] === "succeeded" || (status[d] === "skipped" && depsDone(d)));
  const advance = () => {
    for (;;) {
      const ready = status.map((s, i) => (s === "pending" && depsDone(i) ? i : -1)).filter((i) => i >= 0);
      if (ready.length === 0) break;
      for (const i of ready) {
        if (status[i] !== "pending") continue;
        const deps = depsOf(specs, i);
        const w = specs[i].when;
        if (deps.length > 0 && deps.every((d) => byCondition[d])) [status[i], byCondition[i]] = ["skipped", true];
        else if ((w.kind === "flag" && !specs[i].flag) || (w.kind === "dep" && status[w.dep] !== "succeeded")) [status[i], byCondition[i]] = ["skipped", true];
        else status[i] = "running";
      }
    }
    if (!status.some((s) => s === "pending" || s === "running")) run = "succeeded";
  };
  advance();
  while (run === "running") {
    const wave = status.map((s, i) => (s === "running" ? i : -1)).filter((i) => i >= 0);
    for (const i of wave) {
      if (status[i] !== "running" || run !== "running") continue;
      if (specs[i].fails) {
        status[i] = "failed";
        run = "failed";
        for (let k = 0; k < n; k++) {
          if (status[k] === "pending") status[k] = "skipped";
          else if (status[k] === "running") status[k] = "cancelled";
        }
      } else {
        status[i] = "succeeded";
        advance();
      }
    }
  }
  return { run, steps: status };
}

function definition(specs: Spec[], type: string) {
  return specs.map((s, i) => ({
    name: `s${i}`,
    type,
    input: { s: i },
    ...(s.after === undefined ? {} : { after: s.after.map((d) => `s${d}`) }),
    ...(s.when.kind === "flag" ? { when: { equals: [`{{input.f${i}}}`, true] } } : {}),
    ...(s.when.kind === "dep" ? { when: { exists: `{{steps.s${s.when.dep}.result.ok}}` } } : {}),
  }));
}

describe("random workflow graphs", () => {
  it("start each step only after its dependencies, at most once, and end as the reference model says", async () => {
    let cases = 0;
    await fc.assert(fc.asyncProperty(graph, async (specs) => {
      cases++;
      const type = uniqueType("prop");
      const name = `wfp-${Math.random().toString(36).slice(2, 10)}`;
      await sql()`insert into orchestrator.workflows (name, steps) values (${name}, ${sql().json(definition(specs, type) as never)})`;
      const input = Object.fromEntries(specs.map((s, i) => [`f${i}`, s.flag]));
      const [{ id }] = await sql()<{ id: number }[]>`select (r.run).id from orchestrator.start_workflow_run(${name}, ${sql().json(input)}, '{}') r`;
      for (let wave = 0; wave < 100; wave++) {
        const tasks = await sql()<{ id: number; lease_token: string; payload: { s: number } }[]>`
          select id, lease_token, payload from orchestrator.claim('prop-worker', 100, 60, ${[type]}::text[])`;
        if (tasks.length === 0) break;
        // Claimed only once every dependency succeeded or was skipped.
        for (const t of tasks) {
          const deps = depsOf(specs, t.payload.s);
          const [{ ok }] = await sql()<{ ok: boolean }[]>`
            select coalesce(bool_and(status in ('succeeded', 'skipped')), true) as ok from orchestrator.workflow_steps
            where run_id = ${id} and step_index = any(${deps}::int[])`;
          expect(ok, `step s${t.payload.s} started before its dependencies ${deps.map((d) => `s${d}`).join(", ")} were done`).toBe(true);
        }
        for (const t of tasks.sort((a, b) => a.payload.s - b.payload.s)) {
          if (specs[t.payload.s].fails) await sql()`select orchestrator.fail(${t.id}, ${t.lease_token}::uuid, 'planned failure', false)`;
          else await sql()`select orchestrator.complete(${t.id}, ${t.lease_token}::uuid, '{"ok": true}'::jsonb)`;
        }
      }
      const expected = model(specs);
      const [run] = await sql()<{ status: string }[]>`select status::text from orchestrator.workflow_runs where id = ${id}`;
      const steps = await sql()<{ status: string; tasks: number }[]>`
        select s.status::text, (select count(*)::int from orchestrator.tasks t where t.dedupe_key = format('workflow:%s:%s', ${id}::bigint, s.step_index)) as tasks
        from orchestrator.workflow_steps s where s.run_id = ${id} order by s.step_index`;
      expect(steps.every((s) => s.tasks <= 1)).toBe(true);
      expect({ run: run.status, steps: steps.map((s) => s.status) }).toEqual(expected);
    }), { numRuns: 100 });
    console.log(`[workflow-property] ${cases} random graphs of up to 30 steps matched the reference model`);
  }, 120_000);
});
