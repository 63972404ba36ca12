// Child workflows awaited, re-runs from a step, and definition versions, in SQL
// (20261202001300_workflow_graphs.sql). Task steps use unique task types, which the
// stack's worker never claims: the test plays their worker.
import { describe, expect, it } from "vitest";
import { sql, uniqueType } from "../helpers/stack.ts";

type Step = Record<string, unknown> & { name: string };
const uniqueName = (p: string) => `${p}-${Math.random().toString(36).slice(2, 10)}`;

async function defineWorkflow(steps: Step[], name = uniqueName("wfc")): Promise<string> {
  await sql()`insert into orchestrator.workflows (name, steps) values (${name}, ${sql().json(steps as never)})`;
  return name;
}
async function start(name: string, input: object = {}) {
  const [row] = await sql()<{ id: number }[]>`select (r.run).id from orchestrator.start_workflow_run(${name}, ${sql().json(input as never)}, '{}') r`;
  return row.id;
}
async function run(id: number) {
  const [r] = await sql()<{ status: string; error: string | null; output: Record<string, unknown> | null; parent_run_id: number | null; depth: number; rerun_of: number | null }[]>`
    select status::text, error, output, parent_run_id, depth, rerun_of from orchestrator.workflow_runs where id = ${id}`;
  const steps = await sql()<{ name: string; status: string; result: unknown; child_run_id: number | null; reused: boolean; task_id: number | null }[]>`
    select name, status::text, result, child_run_id, reused, task_id from orchestrator.workflow_steps where run_id = ${id} order by step_index`;
  return { ...r, steps, step: (n: string) => steps.find((s) => s.name === n)! };
}
type Claimed = { id: number; lease_token: string; payload: Record<string, unknown> };
const claimAll = (type: string) => sql()<Claimed[]>`select id, lease_token, payload from orchestrator.claim('test-worker', 100, 60, ${[type]}::text[])`;
const complete = (t: Claimed, result: unknown) =>
  sql()`select orchestrator.complete(${t.id}, ${t.lease_token}::uuid, ${sql().json(result as never)}) as ok`.then(([r]) => r.ok as boolean);
const failForGood = (t: Claimed, error: string) => sql()`select orchestrator.fail(${t.id}, ${t.lease_token}::uuid, ${error}, false)`;

describe("child workflows", () => {
  it("a step runs another workflow and waits for it; the child's output is its result, in the child's last transaction", async () => {
    const [a, b] = [uniqueType("parent"), uniqueType("child")];
    const child = await defineWorkflow([{ name: "inner", type: b, input: { x: "{{input.x}}" } }]);
    const parent = await defineWorkflow([
      { name: "prep", type: a, input: { step: "prep" } },
      { name: "sub", kind: "workflow", workflow: child, input: { x: "{{steps.prep.result.v}}" } },
      { name: "after", type: a, input: { step: "after", got: "{{steps.sub.result.inner.y}}" } },
    ]);
    const id = await start(parent);
    await complete((await claimAll(a))[0], { v: 7 });
    const waiting = await run(id);
    expect(waiting.step("sub").status).toBe("waiting");
    const childRun = await run(waiting.step("sub").child_run_id!);
    expect(childRun).toMatchObject({ status: "running", parent_run_id: id, depth: 1 });
    const [inner] = await claimAll(b);
    expect(inner.payload).toEqual({ x: 7 });
    await complete(inner, { y: "from the child" });
    const [after] = await claimAll(a);
    expect(after.payload).toEqual({ step: "after", got: "from the child" });
    expect((await run(id)).step("sub")).toMatchObject({ status: "succeeded", result: { inner: { y: "from the child" } } });
  });

  it("a failed child fails its step and the parent; a cancelled parent cancels its running child", async () => {
    const [b] = [uniqueType("childfail")];
    const child = await defineWorkflow([{ name: "inner", type: b }]);
    const parent = await defineWorkflow([{ name: "sub", kind: "workflow", workflow: child }]);
    const p1 = await start(parent);
    await failForGood((await claimAll(b))[0], "inner broke");
    const failed = await run(p1);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/step sub \(workflow\) failed: its child run \d+ \(.*\) failed: step inner .*inner broke/);

    const p2 = await start(parent);
    const childId = (await run(p2)).step("sub").child_run_id!;
    const [task] = await claimAll(b);
    await sql()`select * from orchestrator.cancel_workflow_run(${p2})`;
    expect((await run(childId)).status).toBe("cancelled");
    const [{ status }] = await sql()<{ status: string }[]>`select status::text from orchestrator.tasks where id = ${task.id}`;
    expect(status).toBe("cancelled");
  });

  it("a workflow that runs itself stops at 5 runs deep, and every run in the chain fails", async () => {
    const [b] = [uniqueType("deep")];
    const name = uniqueName("wfself");
    // Written straight to the table: the API refuses this definition (tests/api/workflows-graph-api.test.ts).
    await defineWorkflow([{ name: "again", kind: "workflow", workflow: name }, { name: "never", type: b }], name);
    const top = await start(name);
    const chain = await sql()<{ id: number; depth: number; status: string; error: string }[]>`
      with recursive c as (select * from orchestrator.workflow_runs where id = ${top}
                           union all select r.* from orchestrator.workflow_runs r join c on r.parent_run_id = c.id)
      select id, depth, status::text, error from c order by depth`;
    expect(chain.map((r) => r.depth)).toEqual([0, 1, 2, 3, 4]);
    expect(chain.every((r) => r.status === "failed")).toBe(true);
    expect(chain[4].error).toMatch(/would be nested more than 5 runs deep/);
    expect(await claimAll(b)).toHaveLength(0);
  });
});

describe("re-running a run from a step", () => {
  it("runs that step and what depends on it again in a new run, reusing the rest; the original keeps its history", async () => {
    const [a] = [uniqueType("rerun")];
    const wf = await defineWorkflow([
      { name: "fetch", type: a, input: { step: "fetch" } },
      { name: "side", type: a, after: [], input: { step: "side" } },
      { name: "write", type: a, after: ["fetch"], input: { step: "write", from: "{{steps.fetch.result.v}}" } },
      { name: "send", type: a, after: ["write", "side"], input: { step: "send" } },
    ]);
    const id = await start(wf);
    for (const t of await claimAll(a)) await complete(t, { v: `${t.payload.step}-1` });
    await failForGood((await claimAll(a))[0], "write broke"); // write
    expect((await run(id)).status).toBe("failed");

    await expect(sql()`select orchestrator.workflow_rerun(${id}, 'nope')`).rejects.toThrow(/has no step 'nope'/);
    const [{ rerun }] = await sql()<{ rerun: number }[]>`select (orchestrator.workflow_rerun(${id}, 'write')).id as rerun`;
    const again = await run(rerun);
    expect(again).toMatchObject({ status: "running", rerun_of: id });
    expect(again.steps.map((s) => [s.name, s.status, s.reused])).toEqual([
      ["fetch", "succeeded", true], ["side", "succeeded", true], ["write", "running", false], ["send", "pending", false],
    ]);
    // Only write runs again, from fetch's recorded result; fetch and side get no new task.
    const [w] = await claimAll(a);
    expect(w.payload).toEqual({ step: "write", from: "fetch-1" });
    await complete(w, { v: "write-2" });
    const [s] = await claimAll(a);
    expect(s.payload).toEqual({ step: "send" });
    await complete(s, {});
    expect(await claimAll(a)).toHaveLength(0);
    const done = await run(rerun);
    expect(done.status).toBe("succeeded");
    expect(done.output).toMatchObject({ fetch: { v: "fetch-1" }, write: { v: "write-2" } });
    expect((await run(id)).status).toBe("failed"); // the original, as it ended
    await expect(sql()`select orchestrator.workflow_rerun(${rerun}, 'fetch')`).resolves.toBeDefined(); // a finished run can be re-run again
  });

  it("refuses a run that is still running", async () => {
    const [a] = [uniqueType("rerunbusy")];
    const id = await start(await defineWorkflow([{ name: "one", type: a }]));
    await expect(sql()`select orchestrator.workflow_rerun(${id}, 'one')`).rejects.toThrow(/is still running/);
  });
});

describe("definition versions", () => {
  it("keeps every version of a definition's steps; a run keeps the steps of the version it started with", async () => {
    const [a, b] = [uniqueType("v1"), uniqueType("v2")];
    const wf = await defineWorkflow([{ name: "one", type: a }]);
    const id = await start(wf);
    await sql()`update orchestrator.workflows set steps = ${sql().json([{ name: "one", type: b }] as never)}, version = version + 1 where name = ${wf}`;
    const versions = await sql()<{ version: number; type: string }[]>`
      select v.version, v.steps -> 0 ->> 'type' as type from orchestrator.workflow_versions v
      join orchestrator.workflows w on w.id = v.workflow_id where w.name = ${wf} order by v.version`;
    expect(versions).toEqual([{ version: 1, type: a }, { version: 2, type: b }]);
    expect((await claimAll(a))).toHaveLength(1); // the run in flight still runs version 1's step
    const id2 = await start(wf);
    expect((await claimAll(b))).toHaveLength(1);
    const [{ v1, v2 }] = await sql()<{ v1: number; v2: number }[]>`
      select (select workflow_version from orchestrator.workflow_runs where id = ${id}) as v1,
             (select workflow_version from orchestrator.workflow_runs where id = ${id2}) as v2`;
    expect({ v1, v2 }).toEqual({ v1: 1, v2: 2 });
  });
});

describe("approvals", () => {
  const approvalFlow = async (extra: Record<string, unknown> = {}) => {
    const [a] = [uniqueType("approved")];
    const wf = await defineWorkflow([
      { name: "ask", kind: "approval", title: "Publish the SOP for {{input.topic}}?", body: "Draft: {{input.draft}}", timeout_seconds: 3600, ...extra },
      { name: "publish", type: a, input: { decision: "{{steps.ask.result.decision}}", by: "{{steps.ask.result.by}}" } },
    ]);
    const id = await start(wf, { topic: "refunds", draft: "step 1…" });
    const [step] = await sql()<{ status: string; approval_ticket_id: number; waiting_for: { approval: { ticket_id: number; title: string } } }[]>`
      select status::text, approval_ticket_id, waiting_for from orchestrator.workflow_steps where run_id = ${id} and name = 'ask'`;
    return { a, id, step };
  };

  it("opens a ticket and waits; resolving the ticket approves it (as a Notion pull would), with who and when as the result", async () => {
    const { a, id, step } = await approvalFlow();
    expect(step.status).toBe("waiting");
    const [ticket] = await sql()<{ title: string; description: string; status: string; priority: string; source: string }[]>`
      select title, description, status::text, priority::text, source from orchestrator.tickets where id = ${step.approval_ticket_id}`;
    expect(ticket).toMatchObject({ title: "Approve: Publish the SOP for refunds?", status: "open", priority: "high", source: "workflow" });
    expect(ticket.description).toMatch(/^Draft: step 1…\n\nWorkflow .*, run \d+, step ask\. Resolve this ticket/);
    expect(step.waiting_for.approval).toEqual({ ticket_id: step.approval_ticket_id, title: "Publish the SOP for refunds?" });
    // The Notion pull writes the status with orchestrator.sync_origin = 'notion'.
    await sql().begin(async (tx) => {
      await tx`select set_config('orchestrator.sync_origin', 'notion', true)`;
      await tx`update orchestrator.tickets set status = 'resolved' where id = ${step.approval_ticket_id}`;
    });
    const [t] = await claimAll(a);
    expect(t.payload).toEqual({ decision: "approved", by: "notion" });
    const result = (await run(id)).step("ask").result as { decision: string; by: string; at: string; ticket_id: number };
    expect(result).toMatchObject({ decision: "approved", by: "notion", ticket_id: step.approval_ticket_id });
    expect(Date.now() - new Date(result.at).getTime()).toBeLessThan(60_000);
  });

  it("a decision from the API closes or resolves the ticket; a rejection fails the run unless on_reject is continue", async () => {
    const { id, step } = await approvalFlow();
    await sql()`select orchestrator.workflow_decide(${id}, 'ask', 'rejected', 'maria@candyland', 'not yet')`;
    const rejected = await run(id);
    expect(rejected).toMatchObject({ status: "failed" });
    expect(rejected.error).toMatch(/step ask \(approval\) was rejected by maria@candyland/);
    expect(rejected.step("ask").result).toMatchObject({ decision: "rejected", by: "maria@candyland", comment: "not yet" });
    const [{ status }] = await sql()<{ status: string }[]>`select status::text from orchestrator.tickets where id = ${step.approval_ticket_id}`;
    expect(status).toBe("closed");
    await expect(sql()`select orchestrator.workflow_decide(${id}, 'ask', 'approved', 'late', null)`).rejects.toThrow(/is not waiting for a decision/);

    const go = await approvalFlow({ on_reject: "continue" });
    await sql()`select orchestrator.workflow_decide(${go.id}, 'ask', 'rejected', 'api', null)`;
    const [t] = await claimAll(go.a);
    expect(t.payload).toEqual({ decision: "rejected", by: "api" });
  });
});
