// /workflows handler in-process against the real database, with the worker run
// in-process too for task types this file registers (the Deno worker never
// claims them: they exist only in this process's catalog and task list).
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import workflows from "../../functions/workflows/index.ts";
import { registerTaskType, taskList } from "../helpers/task-types.ts";
import { defineTaskType } from "../../functions/_shared/task-types.ts";
import { createLogger } from "../../functions/_shared/logger.ts";
import { runWorker } from "../../functions/_shared/worker.ts";
import { request, sql, uniqueType } from "../helpers/stack.ts";

async function call(path: string, init: Parameters<typeof request>[1] = {}) {
  const res = await workflows.fetch(request(path, init));
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
const send = (method: string, path: string, body?: unknown) => call(path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
const uniqueName = () => `wf-${Math.random().toString(36).slice(2, 10)}`;

const OK = uniqueType("wfok");
const FLAKY = uniqueType("wfflaky");
const flakyCalls: number[] = [];

beforeAll(() => {
  registerTaskType(OK, defineTaskType({
    description: "test: echoes its payload",
    payload: z.record(z.string(), z.unknown()),
    timeoutMs: 5_000,
    handle: async (payload) => ({ echoed: payload }),
  }));
  registerTaskType(FLAKY, defineTaskType({
    description: "test: always fails (retryable)",
    payload: z.record(z.string(), z.unknown()),
    timeoutMs: 5_000,
    handle: async (_p, { task }) => {
      flakyCalls.push(task.attempts);
      throw new Error(`upstream unavailable (attempt ${task.attempts})`);
    },
  }));
});

const work = () => runWorker({ taskList, workerId: "test-inproc", log: createLogger({ component: "test" }), types: [OK, FLAKY], budgetMs: 8_000 });

/** Runs worker invocations (as the cron sweep and wake-ups would) until the run leaves "running". */
async function workUntilDone(name: string, id: number): Promise<Record<string, any>> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    await work();
    const run = (await call(`/workflows/${name}/runs/${id}`)).body;
    if (run.status !== "running") return run;
  }
  throw new Error(`run ${id} of ${name} still running after 20 s`);
}

describe("workflow definitions", () => {
  it("lists the shipped incident-sop workflow with what this deployment can run", async () => {
    const res = await call("/workflows");
    expect(res.status).toBe(200);
    const incident = res.body.workflows.find((w: { name: string }) => w.name === "incident-sop");
    expect(incident).toMatchObject({ builtin: true, enabled: true, runnable: true });
    expect(incident.steps.map((s: { name: string; type: string }) => `${s.name}:${s.type}`)).toEqual([
      "gather:incident.gather", "knisoci:incident.evidence", "candyland:incident.evidence", "sop:sop.generate",
      "approve:undefined", "notion:notion.push", "notify:notify",
    ]);
    expect(incident.steps[0].registered).toBe(true);
  });

  it("400 with zod issues for bad definitions; nothing stored", async () => {
    const name = uniqueName();
    const res = await send("POST", "/workflows", {
      name,
      steps: [
        { name: "a", type: "no.such.type" },
        { name: "b", type: OK, input: { x: "{{steps.c.result}}", y: "{{secrets.key}}" } },
        { name: "c", type: OK, input: "{{steps.a.output}}" },
        { name: "c", type: "noop", input: { delay_ms: "soon" } },
      ],
    });
    expect(res.status).toBe(400);
    const issues = res.body.error.details.issues.map((i: { path: string; message: string }) => `${i.path}: ${i.message}`);
    expect(issues).toEqual(expect.arrayContaining([
      expect.stringMatching(/^steps\.0\.type: task type "no\.such\.type" is not registered/),
      expect.stringMatching(/^steps\.1\.input\.x: \{\{steps\.c\.result\}\}: "c" is not upstream of "b"/),
      expect.stringMatching(/^steps\.1\.input\.y: \{\{secrets\.key\}\}: a path starts with input, steps, run, workflow/),
      expect.stringMatching(/^steps\.2\.input: \{\{steps\.a\.output\}\}: a step offers result, status, task_id/),
      expect.stringMatching(/^steps\.3\.name: step name "c" is used twice/),
      expect.stringMatching(/^steps\.3\.input\.delay_ms: noop: /),
    ]));
    expect((await send("POST", "/workflows", { name, steps: [] })).status).toBe(400);
    expect((await send("POST", "/workflows", { name: "Bad Name", steps: [{ name: "a", type: OK }] })).status).toBe(400);
    expect((await send("POST", "/workflows", { name, steps: [{ name: "a", type: OK, input: "plain text" }] })).status).toBe(400);
    expect(await sql()`select 1 from orchestrator.workflows where name = ${name}`).toHaveLength(0);
  });

  it("creates (201), conflicts (409), patches a new version, deletes; the shipped one is not deletable", async () => {
    const name = uniqueName();
    const created = await send("POST", "/workflows", { name, steps: [{ name: "a", type: OK }, { name: "later", type: "not.here.yet", optional: true }] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name, version: 1, runnable: true });
    expect(created.body.steps[1]).toMatchObject({ optional: true, registered: false });
    expect((await send("POST", "/workflows", { name, steps: [{ name: "a", type: OK }] })).status).toBe(409);
    const patched = await send("PATCH", `/workflows/${name}`, { steps: [{ name: "a", type: OK }, { name: "b", type: OK }] });
    expect(patched.body.version).toBe(2);
    expect((await send("PATCH", `/workflows/${name}`, { description: "only words" })).body.version).toBe(2);
    expect((await send("DELETE", `/workflows/${name}`)).body).toEqual({ deleted: true, name });
    expect((await call(`/workflows/${name}`)).status).toBe(404);
    expect((await send("DELETE", "/workflows/incident-sop")).status).toBe(409);
  });
});

describe("workflow runs", () => {
  it("runs to the end: each step's input built from the input and the previous result", async () => {
    const name = uniqueName();
    await send("POST", "/workflows", {
      name,
      steps: [
        { name: "first", type: OK, input: { who: "{{input.who}}" } },
        { name: "second", type: OK, input: { greeting: "hello {{steps.first.result.echoed.who}}", prev_task: "{{steps.first.task_id}}" } },
      ],
    });
    const started = await send("POST", `/workflows/${name}/runs`, { input: { who: "ops" } });
    expect(started.status).toBe(201);
    expect(started.body.steps.map((s: { status: string }) => s.status)).toEqual(["running", "pending"]);
    const run = { body: await workUntilDone(name, started.body.id) };
    expect(run.body.status).toBe("succeeded");
    expect(run.body.steps[1].input).toEqual({ greeting: "hello ops", prev_task: run.body.steps[0].task_id });
    expect(run.body.steps.map((s: { task: { status: string } }) => s.task.status)).toEqual(["succeeded", "succeeded"]);
    expect(run.body.output).toEqual({ first: { echoed: { who: "ops" } }, second: { echoed: { greeting: "hello ops", prev_task: run.body.steps[0].task_id } } });
    const list = await call(`/workflows/${name}/runs?status=succeeded`);
    expect(list.body.runs.map((r: { id: number }) => r.id)).toEqual([started.body.id]);
  });

  it("a step that fails after its retries fails the run with that step's error", async () => {
    const name = uniqueName();
    await send("POST", "/workflows", {
      name,
      steps: [
        { name: "prepare", type: OK },
        { name: "call", type: FLAKY, max_attempts: 3, backoff_base_seconds: 0 },
        { name: "report", type: OK },
      ],
    });
    const started = await send("POST", `/workflows/${name}/runs`, {});
    flakyCalls.length = 0;
    const run = await workUntilDone(name, started.body.id);
    expect(flakyCalls).toEqual([1, 2, 3]);
    expect(run.status).toBe("failed");
    expect(run.failed_step).toBe("call");
    expect(run.error).toBe(`step call (${FLAKY}) failed after 3 attempts: Error: upstream unavailable (attempt 3)`);
    expect(run.steps.map((s: { status: string }) => s.status)).toEqual(["succeeded", "failed", "skipped"]);
    expect(run.steps[1].task).toMatchObject({ status: "dead", attempts: 3, max_attempts: 3, last_error: "Error: upstream unavailable (attempt 3)" });
    expect(run.steps[2].task).toBeNull();
  });

  it("cancel stops the remaining steps; a second cancel is 409", async () => {
    const name = uniqueName();
    await send("POST", "/workflows", { name, steps: [{ name: "a", type: OK }, { name: "b", type: OK }] });
    const started = await send("POST", `/workflows/${name}/runs`, { input: {} });
    const cancelled = await send("POST", `/workflows/${name}/runs/${started.body.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe("cancelled");
    expect(cancelled.body.steps.map((s: { status: string }) => s.status)).toEqual(["cancelled", "cancelled"]);
    expect(cancelled.body.steps[0].task.status).toBe("cancelled");
    await work();
    const after = (await call(`/workflows/${name}/runs/${started.body.id}`)).body;
    expect(after.steps[1].task_id).toBeNull();
    const again = await send("POST", `/workflows/${name}/runs/${started.body.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.details).toEqual({ status: "cancelled" });
  });

  it("404 for unknown workflows and runs, 400 for bad input, 409 when disabled, 200 for a deduplicated start", async () => {
    expect((await send("POST", "/workflows/nope-nope/runs", {})).status).toBe(404);
    const name = uniqueName();
    await send("POST", "/workflows", { name, steps: [{ name: "a", type: OK }] });
    expect((await call(`/workflows/${name}/runs/999999999`)).status).toBe(404);
    expect((await call(`/workflows/${name}/runs/abc`)).status).toBe(400);
    expect((await send("POST", `/workflows/${name}/runs`, { input: [1, 2] })).status).toBe(400);
    expect((await send("POST", `/workflows/${name}/runs`, { input: {}, extra: true })).status).toBe(400);
    const a = await send("POST", `/workflows/${name}/runs`, { dedupe_key: "k1" });
    const b = await send("POST", `/workflows/${name}/runs`, { dedupe_key: "k1" });
    expect([a.status, b.status]).toEqual([201, 200]);
    expect(b.body.id).toBe(a.body.id);
    await send("PATCH", `/workflows/${name}`, { enabled: false });
    const disabled = await send("POST", `/workflows/${name}/runs`, {});
    expect(disabled.status).toBe(409);
    expect(disabled.body.error.code).toBe("workflow_disabled");
    await send("POST", `/workflows/${name}/runs/${a.body.id}/cancel`);
  });

  it("workflow.start (the task event rules use) starts a run once, however often it is delivered", async () => {
    const name = uniqueName();
    await send("POST", "/workflows", { name, steps: [{ name: "a", type: OK, input: { n: "{{input.n}}" } }] });
    const handler = taskList["workflow.start"];
    const ctx = { task: { id: 987654321 } as never, log: createLogger({ component: "test" }), signal: new AbortController().signal };
    const payload = handler.payload.parse({ workflow: name, input: { n: 3 } });
    const first = (await handler.handle(payload, ctx)) as { run_id: number; created: boolean };
    const second = (await handler.handle(payload, ctx)) as { run_id: number; created: boolean };
    expect(first.created).toBe(true);
    expect(second).toMatchObject({ run_id: first.run_id, created: false });
    await expect(handler.handle(handler.payload.parse({ workflow: "nope-nope" }), ctx)).rejects.toThrow(/does not exist/);
    expect((await workUntilDone(name, first.run_id)).status).toBe("succeeded");
  });
});

describe("incident.gather (incident-sop step 1)", () => {
  it("checks the ticket and prepares inputs fitted to the registered sop.generate and notion.push", async () => {
    const [t] = await sql()<{ id: number }[]>`
      insert into orchestrator.tickets (title, status, priority, source) values ('Queue backlog after deploy', 'resolved', 'high', 'test') returning id`;
    const gather = taskList["incident.gather"];
    const ctx = { task: { id: 1 } as never, log: createLogger({ component: "test" }), signal: new AbortController().signal };
    const plain = (await gather.handle(gather.payload.parse({ ticket_id: String(t.id) }), ctx)) as Record<string, any>;
    expect(plain.ticket).toMatchObject({ id: t.id, title: "Queue backlog after deploy", status: "resolved" });
    expect(plain.sop_request).toEqual({ topic: "Handling: Queue backlog after deploy", ticket_id: t.id, slug: `incident-${t.id}`, notion: false });
    expect(taskList["sop.generate"].payload.safeParse(plain.sop_request).success).toBe(true);
    // No Notion configured here: nothing for the notion step (its input resolves to null, so it is skipped).
    expect(plain.notion_request).toBeNull();
    expect(plain.skipped.notion).toMatch(/Notion is not configured/);

    process.env.NOTION_API_KEY = "ntn_test_not_a_real_key_000000";
    process.env.NOTION_DATABASE_ID = "0123456789abcdef0123456789abcdef";
    try {
      const configured = (await gather.handle(gather.payload.parse({ ticket_id: t.id, topic: "Draining a queue backlog" }), ctx)) as Record<string, any>;
      expect(configured.sop_request.topic).toBe("Draining a queue backlog");
      expect(configured.notion_request).toEqual({ entity: "sop", key: `incident-${t.id}` });
      expect(taskList["notion.push"].payload.safeParse(configured.notion_request).success).toBe(true);
    } finally {
      delete process.env.NOTION_API_KEY;
      delete process.env.NOTION_DATABASE_ID;
    }
    await expect(gather.handle(gather.payload.parse({ ticket_id: 2_000_000_001 }), ctx)).rejects.toThrow(/ticket 2000000001 does not exist/);
  });
});
