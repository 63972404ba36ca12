// /workflows with graphs (after, when, map, sleep, wait_for_event): what the API refuses, each with its
// path and nothing stored, and a graph run as GET /workflows/:name/runs/:id shows it. The handler runs
// in-process against the real database; the task steps use a type only this file registers, run by an
// in-process worker.
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import workflows from "../../functions/workflows/index.ts";
import { defineTaskType } from "../../functions/_shared/task-types.ts";
import { createLogger } from "../../functions/_shared/logger.ts";
import { runWorker } from "../../functions/_shared/worker.ts";
import { registerTaskType, taskList } from "../helpers/task-types.ts";
import { request, sql, uniqueType, waitFor } from "../helpers/stack.ts";

async function call(path: string, init: Parameters<typeof request>[1] = {}) {
  const res = await workflows.fetch(request(path, init));
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
const send = (method: string, path: string, body?: unknown) => call(path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
const uniqueName = () => `wfg-${Math.random().toString(36).slice(2, 10)}`;
const ECHO = uniqueType("wfgecho");

beforeAll(() => {
  registerTaskType(ECHO, defineTaskType({
    description: "test: echoes its payload",
    payload: z.record(z.string(), z.unknown()),
    timeoutMs: 5_000,
    handle: async (payload) => ({ echoed: payload }),
  }));
});

/** POSTs a definition that must be refused; returns its issues as "path: message", and checks nothing was stored. */
async function refused(steps: unknown[]): Promise<string[]> {
  const name = uniqueName();
  const res = await send("POST", "/workflows", { name, steps });
  expect(res.status).toBe(400);
  expect(await sql()`select 1 from orchestrator.workflows where name = ${name}`).toHaveLength(0);
  return res.body.error.details.issues.map((i: { path: string; message: string }) => `${i.path}: ${i.message}`);
}

describe("workflow graphs over REST", () => {
  it("refuses a cycle, naming it", async () => {
    expect(await refused([
      { name: "a", type: ECHO, after: ["c"] },
      { name: "b", type: ECHO, after: ["a"] },
      { name: "c", type: ECHO, after: ["b"] },
    ])).toEqual(["steps.0.after: the steps wait for each other in a cycle: a -> c -> b -> a"]);
  });

  it("refuses unknown and self dependencies, and reading a step that is not upstream", async () => {
    expect(await refused([
      { name: "a", type: ECHO, after: [] },
      { name: "b", type: ECHO, after: [], input: { x: "{{steps.a.result}}" } },
      { name: "c", type: ECHO, after: ["nope", "c"] },
    ])).toEqual(expect.arrayContaining([
      'steps.2.after.0: "nope" is not a step of this workflow',
      "steps.2.after.1: a step cannot wait for itself",
      'steps.1.input.x: {{steps.a.result}}: "a" is not upstream of "b" (a step reads only the steps it waits for, directly or through others)',
    ]));
  });

  it("refuses conditions that do not parse, with the path into the condition", async () => {
    const issues = await refused([
      { name: "a", type: ECHO },
      { name: "b", type: ECHO, when: { all: [{ equals: ["{{steps.a.result.x}}"] }, { like: "x" }, { exists: "plain" }] } },
      { name: "c", type: ECHO, when: { not: { in: ["{{input.x}}", "not a list"] } } },
      { name: "d", type: ECHO, when: { exists: "{{steps.zz.result}}" } },
    ]);
    expect(issues).toEqual(expect.arrayContaining([
      "steps.1.when.all.0.equals: equals takes [a, b]",
      'steps.1.when.all.1.like: unknown condition operator "like" (equals, in, exists, not, all, any)',
      "steps.1.when.all.2.exists: exists takes one {{path}}",
      expect.stringMatching(/^steps\.2\.when\.not\.in: in takes \[a, \[b, c, …\]\]/),
      expect.stringMatching(/^steps\.3\.when\.exists: \{\{steps\.zz\.result\}\}: "zz" is not upstream of "d"/),
    ]));
  });

  it("refuses a map over a plain string, {{item}} outside a map, and waits without a timeout or past the maximum", async () => {
    const issues = await refused([
      { name: "m", type: ECHO, map: { over: "just text" }, input: { x: "{{item}}" } },
      { name: "n", type: ECHO, input: { x: "{{item}}" } },
      { name: "w", kind: "wait_for_event", event: { source: "knisoci", type: "x" } },
      { name: "s", kind: "sleep", seconds: 40 * 24 * 3600 },
      { name: "t", kind: "sleep", seconds: 5, until: "2030-01-01T00:00:00Z" },
      { name: "u", kind: "sleep", type: ECHO, until: "whenever" },
      { name: "v", type: ECHO, continue_on_error: true },
    ]);
    expect(issues).toEqual(expect.arrayContaining([
      "steps.0.map.over: over is one {{placeholder}} placeholder or an array".replace("{{placeholder}} ", "{{path}} "),
      expect.stringMatching(/^steps\.1\.input\.x: \{\{item\}\}: a path starts with input, steps, run, workflow \(item and index are for a map step's input\)/),
      "steps.2.timeout_seconds: a wait for an event needs timeout_seconds (at most 2592000)",
      "steps.3.seconds: at most 2592000 seconds (30 days)",
      "steps.4.seconds: a sleep has either seconds or until",
      "steps.5.type: a sleep step has no type",
      "steps.5.until: until is an ISO 8601 time or one {{path}}",
      "steps.6.continue_on_error: continue_on_error is for map steps",
    ]));
  });

  it("runs a graph: parallel steps, a map and a join; GET shows each step's kind, dependencies and map progress", async () => {
    const name = uniqueName();
    const created = await send("POST", "/workflows", {
      name,
      steps: [
        { name: "left", type: ECHO, after: [], input: { side: "left" } },
        { name: "right", type: ECHO, after: [], input: { side: "right" } },
        { name: "each", type: ECHO, after: ["left"], map: { over: "{{input.items}}", parallelism: 2 }, input: { n: "{{item}}", i: "{{index}}" } },
        { name: "join", type: ECHO, after: ["each", "right"], input: { mapped: "{{steps.each.result}}", right: "{{steps.right.result.echoed.side}}" } },
      ],
    });
    expect(created.status).toBe(201);
    const started = await send("POST", `/workflows/${name}/runs`, { input: { items: [10, 20, 30] } });
    expect(started.status).toBe(201);
    const first = await call(`/workflows/${name}/runs/${started.body.id}`);
    expect(first.body.steps.map((s: { name: string; kind: string; after: string[]; status: string }) => [s.name, s.kind, s.after.join("+"), s.status])).toEqual([
      ["left", "task", "", "running"], ["right", "task", "", "running"], ["each", "task", "left", "pending"], ["join", "task", "each+right", "pending"],
    ]);
    const log = createLogger({ component: "workflows-graph-test" });
    for (let i = 0; i < 10; i++) {
      await runWorker({ taskList, workerId: `test-wfg-${i}`, log, types: [ECHO], budgetMs: 10_000 });
      const now = await call(`/workflows/${name}/runs/${started.body.id}`);
      if (now.body.status !== "running") break;
    }
    const done = await call(`/workflows/${name}/runs/${started.body.id}`);
    expect(done.body.status).toBe("succeeded");
    const each = done.body.steps.find((s: { name: string }) => s.name === "each");
    expect(each.map).toEqual({ total: 3, started: 3, finished: 3, failed: 0 });
    expect(done.body.output.join).toEqual({
      echoed: { mapped: [{ echoed: { n: 10, i: 0 } }, { echoed: { n: 20, i: 1 } }, { echoed: { n: 30, i: 2 } }], right: "right" },
    });
  });

  it("shows a waiting step with what it waits for and when it times out", async () => {
    const name = uniqueName();
    expect((await send("POST", "/workflows", {
      name, steps: [{ name: "paid", kind: "wait_for_event", timeout_seconds: 3600, event: { source: "candyland", type: "payment.succeeded", match: { order: "{{input.order}}" } } }],
    })).status).toBe(201);
    const started = await send("POST", `/workflows/${name}/runs`, { input: { order: "o-77" } });
    const [step] = (await call(`/workflows/${name}/runs/${started.body.id}`)).body.steps;
    expect(step).toMatchObject({
      kind: "wait_for_event", status: "waiting", type: "wait_for_event",
      waiting_for: { event: { source: "candyland", type: "payment.succeeded", match: { order: "o-77" } } },
    });
    expect(new Date(step.timeout_at).getTime() - Date.now()).toBeGreaterThan(3500_000);
    expect((await send("POST", `/workflows/${name}/runs/${started.body.id}/cancel`)).body.status).toBe("cancelled");
  });

  it("refuses a child workflow that does not exist, or whose children lead back to it", async () => {
    const child = uniqueName();
    expect(await refused([{ name: "sub", kind: "workflow", workflow: "no-such-flow" }]))
      .toEqual(['steps.0.workflow: workflow "no-such-flow" does not exist; create it first']);
    expect((await send("POST", "/workflows", { name: child, steps: [{ name: "a", type: ECHO }] })).status).toBe(201);
    const parent = uniqueName();
    expect((await send("POST", "/workflows", { name: parent, steps: [{ name: "sub", kind: "workflow", workflow: child }] })).status).toBe(201);
    // child -> parent -> child: the PATCH that would close the loop is refused, and the child keeps its version.
    const res = await send("PATCH", `/workflows/${child}`, { steps: [{ name: "up", kind: "workflow", workflow: parent }] });
    expect(res.status).toBe(400);
    expect(res.body.error.details.issues).toEqual([
      { path: "steps.0.workflow", code: "custom", message: `its child workflows lead back to it: ${child} -> ${parent} -> ${child}` },
    ]);
    const got = await call(`/workflows/${child}`);
    expect(got.body).toMatchObject({ version: 1, versions: [{ version: 1, steps: 1 }] });
  });

  it("re-runs a failed run from a step over REST: 201 with the new run, 409 while running, 400 for a step it lacks", async () => {
    const name = uniqueName();
    expect((await send("POST", "/workflows", {
      name, steps: [{ name: "one", type: ECHO, input: { n: 1 } }, { name: "two", type: "noop", input: { echo: "{{steps.one.result.echoed.n}}", delay_ms: "{{input.delay}}" } }],
    })).status).toBe(201);
    // "two"'s payload does not fit noop (delay_ms is not a number): the stack's worker refuses it, and the
    // run fails at it, after "one" succeeded.
    const started = await send("POST", `/workflows/${name}/runs`, { input: { delay: "soon" } });
    expect((await send("POST", `/workflows/${name}/runs/${started.body.id}/rerun`, { from: "one" })).status).toBe(409);
    const log = createLogger({ component: "workflows-graph-test" });
    await runWorker({ taskList, workerId: "test-wfg-rerun", log, types: [ECHO], budgetMs: 10_000 });
    await waitFor(async () => (await call(`/workflows/${name}/runs/${started.body.id}`)).body.status !== "running", "the run to fail at two", 20_000);
    const failed = await call(`/workflows/${name}/runs/${started.body.id}`);
    expect(failed.body).toMatchObject({ status: "failed", failed_step: "two" });
    expect((await send("POST", `/workflows/${name}/runs/${started.body.id}/rerun`, { from: "three" })).body.error.message)
      .toMatch(/has no step "three"/);
    expect((await send("POST", `/workflows/${name}/runs/${started.body.id}/rerun`, { from: "two", extra: 1 })).status).toBe(400);
    const again = await send("POST", `/workflows/${name}/runs/${started.body.id}/rerun`, { from: "two" });
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ rerun_of: started.body.id, rerun_from: "two" });
    expect(again.body.steps.map((st: { name: string; reused: boolean }) => [st.name, st.reused])).toEqual([["one", true], ["two", false]]);
  });

  it("approves a waiting approval over REST (200 with the run), 409 when it is not waiting, 404 for a step the run lacks, 400 for a bad body", async () => {
    const name = uniqueName();
    expect((await send("POST", "/workflows", {
      name, steps: [{ name: "ask", kind: "approval", title: "Ship it?", timeout_seconds: 600 }, { name: "ship", type: ECHO, input: { by: "{{steps.ask.result.by}}" } }],
    })).status).toBe(201);
    expect(await refused([{ name: "ask", kind: "approval", timeout_seconds: 60 }])).toEqual(["steps.0.title: an approval needs its title: what the person is asked"]);
    const started = await send("POST", `/workflows/${name}/runs`, {});
    const base = `/workflows/${name}/runs/${started.body.id}/steps`;
    expect((await send("POST", `${base}/nope/approve`, {})).status).toBe(404);
    expect((await send("POST", `${base}/ask/approve`, { by: 42 })).status).toBe(400);
    expect((await send("POST", `${base}/ship/approve`, {})).status).toBe(409); // not an approval that waits
    const approved = await send("POST", `${base}/ask/approve`, { by: "lena@knisoci", comment: "looks good" });
    expect(approved.status).toBe(200);
    expect(approved.body.steps[0]).toMatchObject({ kind: "approval", status: "succeeded", result: { decision: "approved", by: "lena@knisoci", comment: "looks good" } });
    expect((await send("POST", `${base}/ask/reject`, {})).status).toBe(409); // decided already
    await runWorker({ taskList, workerId: "test-wfg-approval", log: createLogger({ component: "workflows-graph-test" }), types: [ECHO], budgetMs: 10_000 });
    const done = await call(`/workflows/${name}/runs/${started.body.id}`);
    expect(done.body).toMatchObject({ status: "succeeded", output: { ship: { echoed: { by: "lena@knisoci" } } } });
  });
});
