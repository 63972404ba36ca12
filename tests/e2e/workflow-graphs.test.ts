// Workflow graphs on the whole local stack: the steps are real tasks run by the task-worker function
// (Deno) through the real wake-up path, the waits end by workflow.wake tasks, and the events come
// from a watched KniSoci table. Definitions and runs go through POST /workflows.
import { describe, expect, it } from "vitest";
import { http, sql, waitFor } from "../helpers/stack.ts";

const uniqueName = () => `wfe-${Math.random().toString(36).slice(2, 10)}`;
const tag = () => Math.random().toString(36).slice(2, 12).replace(/[0-9]/g, "x");

async function post(path: string, body: unknown) {
  const res = await http(path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
  return { status: res.status, body: await res.json() };
}
const getRun = async (name: string, id: number) => (await http(`/workflows/${name}/runs/${id}`)).json();

describe("workflow graphs on the local stack", () => {
  it("a map over 1,000 elements, 50 at a time: every element runs once, never more than 50 at once, the results in order", async () => {
    const name = uniqueName();
    const items = Array.from({ length: 1000 }, (_, i) => `e${i}`);
    expect((await post("/workflows", {
      name,
      steps: [{ name: "each", type: "noop", map: { over: "{{input.items}}", parallelism: 50 }, input: { echo: "{{item}}", delay_ms: 2 } }],
    })).status).toBe(201);
    const started = await post(`/workflows/${name}/runs`, { input: { items } });
    expect(started.status).toBe(201);
    const runId = started.body.id as number;
    // Sampled from the database while it runs: the element tasks not yet finished.
    let most = 0;
    let samples = 0;
    await waitFor(async () => {
      const [{ open, status }] = await sql()<{ open: number; status: string }[]>`
        select (select count(*)::int from orchestrator.workflow_map_elements e join orchestrator.tasks t on t.id = e.task_id
                 where e.run_id = ${runId} and t.status in ('queued', 'running')) as open,
               (select status::text from orchestrator.workflow_runs where id = ${runId}) as status`;
      most = Math.max(most, open);
      samples++;
      return status !== "running";
    }, "the 1,000-element map to finish", 120_000, 20);
    const run = await getRun(name, runId);
    console.log(`[workflow-graphs] 1,000-element map, parallelism 50: at most ${most} element tasks open at once over ${samples} samples`);
    expect(run.status).toBe("succeeded");
    expect(most).toBeLessThanOrEqual(50);
    expect(most).toBeGreaterThan(1);
    expect(run.output.each).toEqual(items.map((echo) => ({ ok: true, echo })));
    const [{ tasks, attempts }] = await sql()<{ tasks: number; attempts: number }[]>`
      select count(*)::int as tasks, sum(t.attempts)::int as attempts from orchestrator.workflow_map_elements e
      join orchestrator.tasks t on t.id = e.task_id where e.run_id = ${runId}`;
    expect({ tasks, attempts }).toEqual({ tasks: 1000, attempts: 1000 });
  });

  it("wait_for_event resumed by an insert into a watched KniSoci table, the row inserted before and after the step began to wait", async () => {
    const name = uniqueName();
    expect((await post("/workflows", {
      name,
      steps: [
        { name: "prepare", type: "noop", input: { delay_ms: 1500 } },
        { name: "signal", kind: "wait_for_event", timeout_seconds: 120,
          event: { source: "knisoci", type: "activity_log", match: { record: { message: "{{input.message}}" } } } },
        { name: "after", type: "noop", input: { echo: "{{steps.signal.result.payload.record.id}}" } },
      ],
    })).status).toBe(201);
    const insertRow = async (message: string) => (await sql()<{ id: number }[]>`
      insert into knisoci.activity_logs (level, message, user_id, meta) values ('info', ${message}, gen_random_uuid(), '{}') returning id`)[0].id;

    // Before: the row lands while "prepare" runs, so before "signal" waits.
    const before = `workflow signal ${tag()}`;
    const r1 = await post(`/workflows/${name}/runs`, { input: { message: before } });
    const row1 = await insertRow(before);
    // After: the step is waiting when the row lands.
    const after = `workflow signal ${tag()}`;
    const r2 = await post(`/workflows/${name}/runs`, { input: { message: after } });
    await waitFor(async () => (await getRun(name, r2.body.id)).steps[1].status === "waiting", "the second run's step to wait", 30_000, 100);
    await insertRow(`not the signal ${tag()}`);
    await new Promise((r) => setTimeout(r, 500));
    expect((await getRun(name, r2.body.id)).steps[1].status).toBe("waiting"); // another row does not match
    const row2 = await insertRow(after);

    for (const [r, row] of [[r1, row1], [r2, row2]] as const) {
      await waitFor(async () => (await getRun(name, r.body.id)).status !== "running", `run ${r.body.id} to finish`, 60_000, 100);
      const done = await getRun(name, r.body.id);
      expect(done.status).toBe("succeeded");
      expect(done.output.after).toEqual({ ok: true, echo: row });
    }
  });

  it("three parallel steps joined: the join receives all three results", async () => {
    const name = uniqueName();
    expect((await post("/workflows", { name, steps: [
      { name: "a", type: "noop", after: [], input: { echo: "from a", delay_ms: 200 } },
      { name: "b", type: "noop", after: [], input: { echo: "from b", delay_ms: 200 } },
      { name: "c", type: "noop", after: [], input: { echo: "from c", delay_ms: 200 } },
      { name: "join", type: "noop", after: ["a", "b", "c"], input: { echo: ["{{steps.a.result.echo}}", "{{steps.b.result.echo}}", "{{steps.c.result.echo}}"] } },
    ] })).status).toBe(201);
    const started = await post(`/workflows/${name}/runs`, {});
    await waitFor(async () => (await getRun(name, started.body.id)).status !== "running", "the joined run", 30_000, 50);
    const run = await getRun(name, started.body.id);
    expect(run.status).toBe("succeeded");
    expect(run.output.join).toEqual({ ok: true, echo: ["from a", "from b", "from c"] });
    // They ran side by side: each started before the others finished.
    const [a, b, c] = run.steps;
    const latestStart = Math.max(...[a, b, c].map((s: { started_at: string }) => new Date(s.started_at).getTime()));
    const firstFinish = Math.min(...[a, b, c].map((s: { finished_at: string }) => new Date(s.finished_at).getTime()));
    expect(latestStart).toBeLessThan(firstFinish);
  });

  it("an awaited child workflow, and a re-run from a failed step that does not run the steps before it again", async () => {
    const child = uniqueName();
    const parent = uniqueName();
    expect((await post("/workflows", { name: child, steps: [{ name: "inner", type: "noop", input: { echo: "{{input.x}}" } }] })).status).toBe(201);
    expect((await post("/workflows", { name: parent, steps: [
      { name: "first", type: "noop", input: { echo: 1 } },
      { name: "sub", kind: "workflow", workflow: child, input: { x: "{{input.x}}" } },
      // Fails for good the first time: delay_ms is not a number until the input says so.
      { name: "last", type: "noop", input: { echo: "{{steps.sub.result.inner.echo}}", delay_ms: "{{input.delay}}" } },
    ] })).status).toBe(201);
    const started = await post(`/workflows/${parent}/runs`, { input: { x: "child says hi", delay: "soon" } });
    await waitFor(async () => (await getRun(parent, started.body.id)).status !== "running", "the parent run", 30_000, 50);
    const failed = await getRun(parent, started.body.id);
    expect(failed).toMatchObject({ status: "failed", failed_step: "last" });
    const sub = failed.steps.find((s: { name: string }) => s.name === "sub");
    expect(sub).toMatchObject({ status: "succeeded", result: { inner: { ok: true, echo: "child says hi" } } });
    const childRun = await getRun(child, sub.child_run_id);
    expect(childRun).toMatchObject({ status: "succeeded", parent_run_id: started.body.id, depth: 1 });

    const again = await post(`/workflows/${parent}/runs/${started.body.id}/rerun`, { from: "last" });
    expect(again.status).toBe(201);
    await waitFor(async () => (await getRun(parent, again.body.id)).status !== "running", "the re-run", 30_000, 50);
    const rerun = await getRun(parent, again.body.id);
    // The re-run has the same input, so "last" fails again the same way; "first" and "sub" were not run again.
    expect(rerun.steps.map((s: { name: string; reused: boolean; task_id: number | null; child_run_id: number | null }) => [s.name, s.reused, s.task_id === null && s.child_run_id === null]))
      .toEqual([["first", true, true], ["sub", true, true], ["last", false, false]]);
    expect(rerun).toMatchObject({ status: "failed", rerun_of: started.body.id, failed_step: "last" });
  });
});
