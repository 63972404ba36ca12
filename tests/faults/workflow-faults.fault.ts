// Workflow runs through faults, under the Edge limits (issue 16): kill -9 of the function server while
// a 500-element map is half done, a PostgreSQL restart mid-run, and an Edge CPU-limit kill of the worker
// running a step. Each run completes; no element or step succeeds twice, none is lost (the lease audit
// of the fault harness, from the database).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backAfter, healthyAfter, killNine, lastLogId, report, restartPostgres, shutdowns, sleep, startFaultStack, type FaultStack } from "./harness.ts";

let fs: FaultStack;
beforeAll(async () => {
  fs = await startFaultStack();
}, 120_000);
afterAll(async () => {
  await fs?.stop();
});

async function define(steps: unknown[]): Promise<string> {
  const name = `wff-${Math.random().toString(36).slice(2, 10)}`;
  await fs.sql`insert into orchestrator.workflows (name, steps) values (${name}, ${fs.sql.json(steps as never)})`;
  return name;
}
async function start(name: string, input: object = {}): Promise<number> {
  const [{ id }] = await fs.sql<{ id: number }[]>`select (r.run).id from orchestrator.start_workflow_run(${name}, ${fs.sql.json(input as never)}, '{}') r`;
  return id;
}
async function finished(id: number, timeoutMs: number): Promise<{ status: string; error: string | null }> {
  const began = Date.now();
  for (;;) {
    const [r] = await fs.sql<{ status: string; error: string | null }[]>`select status::text, error from orchestrator.workflow_runs where id = ${id}`;
    if (r.status !== "running") return r;
    if (Date.now() - began > timeoutMs) throw new Error(`run ${id} still running after ${timeoutMs} ms`);
    await sleep(200);
  }
}
/** Per task of the run (steps and map elements): how many of its lease ends were a success. */
async function successesPerTask(id: number) {
  return await fs.sql<{ task_id: number; successes: number; attempts: number }[]>`
    with tasks as (select task_id from orchestrator.workflow_steps where run_id = ${id} and task_id is not null
                   union all select task_id from orchestrator.workflow_map_elements where run_id = ${id} and task_id is not null)
    select t.task_id, (select count(*)::int from fault_audit.lease_ends e where e.task_id = t.task_id and e.kind = 'succeeded') as successes,
           (select attempts from orchestrator.tasks x where x.id = t.task_id) as attempts
    from tasks t`;
}

describe("workflow runs through faults", () => {
  it("kill -9 of the function server with a 500-element map half done: every element succeeds once, none lost", async () => {
    const wf = await define([{ name: "each", type: "test.chaos", map: { over: "{{input.items}}", parallelism: 50 }, input: { mode: "sleep", ms: 150 } }]);
    const id = await start(wf, { items: Array.from({ length: 500 }, (_, i) => i) });
    let done = 0;
    while (done < 200) {
      [{ done }] = await fs.sql<{ done: number }[]>`select map_finished as done from orchestrator.workflow_steps where run_id = ${id}`;
      await sleep(20);
    }
    const stack = fs.ps.stack;
    const killedAt = Date.now();
    const oldPid = killNine(stack.functions);
    const [{ running }] = await fs.sql<{ running: number }[]>`
      select count(*)::int as running from orchestrator.workflow_map_elements e join orchestrator.tasks t on t.id = e.task_id
      where e.run_id = ${id} and t.status = 'running'`;
    await backAfter(stack.functions, oldPid, killedAt);
    await healthyAfter(fs, killedAt);
    const run = await finished(id, 120_000);
    const per = await successesPerTask(id);
    const [{ elements, succeeded }] = await fs.sql<{ elements: number; succeeded: number }[]>`
      select count(*)::int as elements, count(*) filter (where status = 'succeeded')::int as succeeded
      from orchestrator.workflow_map_elements where run_id = ${id}`;
    report("workflow: kill -9 with a 500-element map half done", {
      "elements finished at the kill": done, "element tasks running at the kill": running,
      "run": run.status, "elements succeeded": `${succeeded} of ${elements}`,
      "tasks re-run after the kill (attempts > 1)": per.filter((p) => p.attempts > 1).length,
      "tasks that succeeded twice": per.filter((p) => p.successes > 1).length,
      "run finished after the kill": `${((Date.now() - killedAt) / 1000).toFixed(1)} s`,
    });
    expect(run.status).toBe("succeeded");
    expect({ elements, succeeded }).toEqual({ elements: 500, succeeded: 500 });
    expect(per).toHaveLength(500);
    expect(per.every((p) => p.successes === 1)).toBe(true);
  }, 180_000);

  it("a PostgreSQL restart mid-run: the run completes, each step once", async () => {
    const wf = await define(Array.from({ length: 10 }, (_, i) => ({ name: `s${i}`, type: "test.chaos", input: { mode: "sleep", ms: 300 } })));
    const id = await start(wf);
    for (;;) {
      const [{ n }] = await fs.sql<{ n: number }[]>`select count(*)::int as n from orchestrator.workflow_steps where run_id = ${id} and status = 'succeeded'`;
      if (n >= 3) break;
      await sleep(20);
    }
    const downMs = await restartPostgres(fs.ps);
    const run = await finished(id, 120_000);
    const per = await successesPerTask(id);
    report("workflow: PostgreSQL restarted mid-run (10 steps of 300 ms)", {
      "PostgreSQL back after": `${downMs} ms`, run: run.status, "steps that succeeded twice": per.filter((p) => p.successes > 1).length,
    });
    expect(run.status).toBe("succeeded");
    expect(per).toHaveLength(10);
    expect(per.every((p) => p.successes === 1)).toBe(true);
  }, 180_000);

  it("an Edge CPU-limit kill of the worker running a step: the step is retried and the run completes", async () => {
    const since = await lastLogId(fs.sql);
    const wf = await define([
      { name: "burn", type: "test.chaos", max_attempts: 3, input: { mode: "burn_cpu", ms: 6_000, succeed_on_attempt: 2 } },
      { name: "after", type: "test.chaos", input: { mode: "ok" } },
    ]);
    const id = await start(wf);
    const run = await finished(id, 150_000);
    const [burn] = await fs.sql<{ attempts: number; last_error: string | null }[]>`
      select t.attempts, t.last_error from orchestrator.workflow_steps s join orchestrator.tasks t on t.id = s.task_id where s.run_id = ${id} and s.name = 'burn'`;
    const kills = await shutdowns(fs.sql, "task-worker", "CPUTime", since);
    report("workflow: a step's worker killed at the hard CPU limit", {
      run: run.status, "the step's attempts": burn.attempts, "CPUTime kills": kills.length, "its first attempt's error": burn.last_error,
    });
    expect(kills.length).toBeGreaterThanOrEqual(1);
    expect(run.status).toBe("succeeded");
    expect(burn.attempts).toBeGreaterThanOrEqual(2);
    expect((await successesPerTask(id)).every((p) => p.successes === 1)).toBe(true);
  }, 180_000);
});
