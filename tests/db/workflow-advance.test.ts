// Workflows in SQL: a run's next step is enqueued inside the transaction that
// completes the previous one; a step that fails for good fails the run; cancel
// stops the rest. Steps use unique task types, which the Deno worker never claims:
// the test plays the worker with claim/complete/fail.
import { describe, expect, it } from "vitest";
import { sql, uniqueType } from "../helpers/stack.ts";

type Step = { name: string; type: string; input?: unknown; optional?: boolean; max_attempts?: number; backoff_base_seconds?: number };

async function defineWorkflow(steps: Step[]): Promise<string> {
  const name = `wf-${Math.random().toString(36).slice(2, 10)}`;
  await sql()`insert into orchestrator.workflows (name, steps) values (${name}, ${sql().json(steps as never)})`;
  return name;
}

async function start(name: string, input: object = {}, opts: object = {}) {
  const [row] = await sql()<{ id: number; status: string; created: boolean }[]>`
    select (r.run).id, (r.run).status::text, r.created
    from orchestrator.start_workflow_run(${name}, ${sql().json(input as never)}, ${sql().json(opts as never)}) r`;
  return row;
}

async function run(id: number) {
  const [r] = await sql()<{ status: string; error: string | null; failed_step: string | null; output: unknown }[]>`
    select status::text, error, failed_step, output from orchestrator.workflow_runs where id = ${id}`;
  const steps = await sql()<{ name: string; status: string; input: unknown; task_id: number | null; result: unknown; error: string | null }[]>`
    select name, status::text, input, task_id, result, error from orchestrator.workflow_steps where run_id = ${id} order by step_index`;
  return { ...r, steps };
}

async function claim(type: string) {
  const [t] = await sql()<{ id: number; lease_token: string; payload: Record<string, unknown>; attempts: number }[]>`
    select id, lease_token, payload, attempts from orchestrator.claim('test-worker', 1, 60, ${[type]}::text[])`;
  return t;
}

const complete = (t: { id: number; lease_token: string }, result: unknown) =>
  sql()`select orchestrator.complete(${t.id}, ${t.lease_token}::uuid, ${sql().json(result as never)}) as ok`.then(([r]) => r.ok as boolean);

const fail = (t: { id: number; lease_token: string }, error: string, retryable = true) =>
  sql()`select orchestrator.fail(${t.id}, ${t.lease_token}::uuid, ${error}, ${retryable}) as s`.then(([r]) => r.s as string);

describe("workflow runs in SQL", () => {
  it("builds each step's input from the workflow input and earlier results, and enqueues the next step in the completing transaction", async () => {
    const [a, b, c] = [uniqueType("a"), uniqueType("b"), uniqueType("c")];
    const wf = await defineWorkflow([
      { name: "fetch", type: a, input: { ticket: "{{input.ticket_id}}", tags: ["{{input.tag}}", "fixed"] } },
      { name: "write", type: b, max_attempts: 2, input: { title: "Ticket #{{input.ticket_id}}: {{steps.fetch.result.title}}", facts: "{{steps.fetch.result.facts}}", absent: "{{steps.fetch.result.nope}}", run: "{{run.id}}" } },
      { name: "tell", type: c, input: "{{steps.write.result.message}}" },
    ]);
    const r = await start(wf, { ticket_id: 42, tag: "db" });
    expect(r).toMatchObject({ status: "running", created: true });
    const t1 = await claim(a);
    expect(t1.payload).toEqual({ ticket: 42, tags: ["db", "fixed"] });

    // Inside one transaction: complete_many (the worker's batch path) and, before commit, the next task exists.
    const ROLLBACK = new Error("rollback");
    await sql().begin(async (tx) => {
      const done = await tx`select * from orchestrator.complete_many(${[t1.id]}::bigint[], ${[t1.lease_token]}::uuid[], array[${tx.json({ title: "Disk full", facts: { disk: "/var", pct: 99 } })}::jsonb])`;
      expect(done).toHaveLength(1);
      const next = await tx`select type, status::text, payload, source, max_attempts from orchestrator.tasks where type = ${b}`;
      expect(next).toEqual([{
        type: b, status: "queued", source: `workflow:${wf}`, max_attempts: 2,
        payload: { title: "Ticket #42: Disk full", facts: { disk: "/var", pct: 99 }, run: r.id },
      }]);
      throw ROLLBACK;
    }).catch((err) => {
      if (err !== ROLLBACK) throw err;
    });
    // Rolled back: neither the completion nor the next step happened.
    expect((await run(r.id)).steps.map((s) => s.status)).toEqual(["running", "pending", "pending"]);
    expect(await sql()`select 1 from orchestrator.tasks where type = ${b}`).toHaveLength(0);

    expect(await complete(t1, { title: "Disk full", facts: { disk: "/var", pct: 99 } })).toBe(true);
    const t2 = await claim(b);
    expect(await complete(t2, { message: { channel: "ops", text: "done" } })).toBe(true);
    const t3 = await claim(c);
    expect(t3.payload).toEqual({ channel: "ops", text: "done" });
    expect(await complete(t3, { sent: true })).toBe(true);

    const finished = await run(r.id);
    expect(finished.status).toBe("succeeded");
    expect(finished.output).toEqual({ fetch: { title: "Disk full", facts: { disk: "/var", pct: 99 } }, write: { message: { channel: "ops", text: "done" } }, tell: { sent: true } });
    expect(finished.steps.map((s) => [s.name, s.status, s.task_id !== null])).toEqual([["fetch", "succeeded", true], ["write", "succeeded", true], ["tell", "succeeded", true]]);
  });

  it("a step that fails after its retries fails the run with the step's error; later steps never start", async () => {
    const [a, b, c] = [uniqueType("a"), uniqueType("b"), uniqueType("c")];
    const wf = await defineWorkflow([
      { name: "one", type: a },
      { name: "two", type: b, max_attempts: 2, backoff_base_seconds: 0 },
      { name: "three", type: c },
    ]);
    const r = await start(wf);
    await complete(await claim(a), { ok: 1 });
    const first = await claim(b);
    expect(await fail(first, "provider said 503")).toBe("queued");
    // One failed attempt with a retry left: the run carries on.
    expect((await run(r.id)).status).toBe("running");
    const second = await claim(b);
    expect(second.attempts).toBe(2);
    expect(await fail(second, "provider said 503 again")).toBe("dead");
    const failed = await run(r.id);
    expect(failed.status).toBe("failed");
    expect(failed.failed_step).toBe("two");
    expect(failed.error).toBe(`step two (${b}) failed after 2 attempts: provider said 503 again`);
    expect(failed.steps.map((s) => s.status)).toEqual(["succeeded", "failed", "skipped"]);
    expect(failed.steps[1].error).toBe("provider said 503 again");
    expect(await sql()`select 1 from orchestrator.tasks where type = ${c}`).toHaveLength(0);
  });

  it("cancel stops the run: the running step's task is cancelled, its worker's complete is a no-op, nothing else starts", async () => {
    const [a, b] = [uniqueType("a"), uniqueType("b")];
    const wf = await defineWorkflow([{ name: "slow", type: a }, { name: "after", type: b }]);
    const r = await start(wf);
    const t = await claim(a); // a worker is busy with step 1
    const [cancelled] = await sql()<{ status: string }[]>`select status::text from orchestrator.cancel_workflow_run(${r.id})`;
    expect(cancelled.status).toBe("cancelled");
    expect(await complete(t, { late: true })).toBe(false);
    const after = await run(r.id);
    expect(after.status).toBe("cancelled");
    expect(after.steps.map((s) => s.status)).toEqual(["cancelled", "cancelled"]);
    const [task] = await sql()`select status::text from orchestrator.tasks where id = ${t.id}`;
    expect(task.status).toBe("cancelled");
    expect(await sql()`select 1 from orchestrator.tasks where type = ${b}`).toHaveLength(0);
    // Cancelling again changes nothing and says what the run is.
    const [again] = await sql()<{ status: string }[]>`select status::text from orchestrator.cancel_workflow_run(${r.id})`;
    expect(again.status).toBe("cancelled");
    expect(await sql()`select * from orchestrator.cancel_workflow_run(-1)`).toHaveLength(0);
  });

  it("cancelling a step's task directly (POST /tasks/:id/cancel) cancels its run", async () => {
    const [a, b] = [uniqueType("a"), uniqueType("b")];
    const wf = await defineWorkflow([{ name: "one", type: a }, { name: "two", type: b }]);
    const r = await start(wf);
    const [step] = await sql()`select task_id from orchestrator.workflow_steps where run_id = ${r.id} and step_index = 0`;
    await sql()`select * from orchestrator.cancel(${step.task_id})`;
    const after = await run(r.id);
    expect(after.status).toBe("cancelled");
    expect(after.error).toMatch(/step one .* was cancelled/);
    expect(after.steps.map((s) => s.status)).toEqual(["cancelled", "cancelled"]);
  });

  it("skips optional steps this deployment cannot run, refuses required ones, and skips a step whose input resolves to null", async () => {
    const [a, b, c] = [uniqueType("a"), uniqueType("b"), uniqueType("c")];
    const wf = await defineWorkflow([
      { name: "one", type: a, input: { x: 1 } },
      { name: "maybe", type: b, optional: true },
      { name: "cond", type: c, input: "{{steps.one.result.next}}" },
    ]);
    await expect(start(wf, {}, { available_types: [b, c] })).rejects.toThrow(new RegExp(`required steps use task types .*one \\(${a.replace(/\./g, "\\.")}\\)`));
    const r = await start(wf, {}, { available_types: [a, c] });
    expect((await run(r.id)).steps.map((s) => [s.status, s.error])).toEqual([
      ["running", null], ["skipped", `task type ${b} is not registered in this deployment`], ["pending", null],
    ]);
    await complete(await claim(a), { next: null });
    const done = await run(r.id);
    expect(done.status).toBe("succeeded");
    expect(done.steps.map((s) => [s.status, s.error])).toEqual([["succeeded", null], ["skipped", expect.stringMatching(/not registered/)], ["skipped", "input resolved to null"]]);
  });

  it("a step whose input cannot be built fails the run, while the previous task's completion still commits", async () => {
    const [a, b] = [uniqueType("a"), uniqueType("b")];
    const wf = await defineWorkflow([{ name: "one", type: a }, { name: "two", type: b, input: "{{steps.one.result.list}}" }]);
    const r = await start(wf);
    const t = await claim(a);
    expect(await complete(t, { list: [1, 2] })).toBe(true);
    const [task] = await sql()`select status::text from orchestrator.tasks where id = ${t.id}`;
    expect(task.status).toBe("succeeded");
    const after = await run(r.id);
    expect(after.status).toBe("failed");
    expect(after.error).toBe(`step two (${b}) could not start: its input must be a JSON object, got array`);
  });

  it("one complete_many of steps from several runs advances each run", async () => {
    const [a, b] = [uniqueType("a"), uniqueType("b")];
    const wf = await defineWorkflow([{ name: "one", type: a, input: { n: "{{input.n}}" } }, { name: "two", type: b, input: { n: "{{steps.one.result.n}}" } }]);
    const runs = await Promise.all([1, 2, 3].map((n) => start(wf, { n })));
    const claimed = await sql()<{ id: number; lease_token: string; payload: { n: number } }[]>`
      select id, lease_token, payload from orchestrator.claim('w', 10, 60, ${[a]}::text[])`;
    expect(claimed).toHaveLength(3);
    await sql()`
      select * from orchestrator.complete_many(${claimed.map((t) => t.id)}::bigint[], ${claimed.map((t) => t.lease_token)}::uuid[],
        (select array_agg(e order by i) from jsonb_array_elements(${sql().json(claimed.map((t) => ({ n: t.payload.n * 10 })))}) with ordinality x(e, i)))`;
    const next = await sql()<{ n: number }[]>`select (payload ->> 'n')::int as n from orchestrator.tasks where type = ${b} order by 1`;
    expect(next.map((r) => r.n)).toEqual([10, 20, 30]);
    for (const r of runs) expect((await run(r.id)).steps.map((s) => s.status)).toEqual(["succeeded", "running"]);
  });

  it("a repeated start with the same dedupe key returns the running run", async () => {
    const a = uniqueType("a");
    const wf = await defineWorkflow([{ name: "one", type: a }]);
    const first = await start(wf, {}, { dedupe_key: "ticket:7" });
    const second = await start(wf, {}, { dedupe_key: "ticket:7" });
    expect(second).toEqual({ ...first, created: false });
    await complete(await claim(a), {});
    const third = await start(wf, {}, { dedupe_key: "ticket:7" });
    expect(third.created).toBe(true);
    expect(third.id).not.toBe(first.id);
  });
});
