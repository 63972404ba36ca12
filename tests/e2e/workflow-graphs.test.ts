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
});
