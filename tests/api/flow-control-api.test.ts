// Flow control over REST (POST /tasks fields, GET /tasks/:id wait_reason), run by the stack's real
// worker: the queue's SQL decides (migrations/20261203001000_flow_control.sql).
import { describe, expect, it } from "vitest";
import tasks from "../../functions/tasks/index.ts";
import { request, sql, waitFor } from "../helpers/stack.ts";

async function call(path: string, init: Parameters<typeof request>[1] = {}) {
  const res = await tasks.fetch(request(path, init));
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
const post = (body: unknown) => call("/tasks", { method: "POST", body: JSON.stringify(body) });
const tag = () => Math.random().toString(36).slice(2, 10);

describe("POST /tasks with flow control", () => {
  it("a key at its limit: the second task waits, and GET /tasks/:id says why; it runs once the first ends", async () => {
    const key = `ticket:{{payload.echo}}`;
    const echo = tag();
    const a = await post({ type: "noop", payload: { delay_ms: 1500, echo }, concurrency: { key, limit: 1 } });
    expect(a.status).toBe(201);
    expect(a.body.concurrency_key).toBe(`ticket:${echo}`);
    const b = await post({ type: "noop", payload: { delay_ms: 10, echo }, concurrency: { key, limit: 1 } });
    await waitFor(async () => (await call(`/tasks/${a.body.id}`)).body.status === "running", "the first task to run");
    const waiting = await waitFor(async () => {
      const t = (await call(`/tasks/${b.body.id}`)).body;
      return t.wait_reason?.kind === "concurrency" ? t : undefined;
    }, "the second task to wait for its key", 10_000);
    expect(waiting.status).toBe("queued");
    expect(waiting.wait_reason).toMatchObject({ kind: "concurrency", key: `ticket:${echo}`, limit: 1, running: 1 });
    expect(waiting.wait_reason.message).toMatch(/at its limit \(1 running of 1\)/);
    const listed = (await call(`/tasks?type=noop&status=queued&limit=100`)).body.tasks.find((t: { id: number }) => t.id === b.body.id);
    expect(listed?.wait_reason?.kind).toBe("concurrency");
    await waitFor(async () => (await call(`/tasks/${b.body.id}`)).body.status === "succeeded", "the second task to run after the first", 20_000);
    const [row] = await sql()<{ a_end: Date; b_start: Date }[]>`
      select a.finished_at as a_end, b.started_at as b_start from orchestrator.tasks a, orchestrator.tasks b where a.id = ${a.body.id} and b.id = ${b.body.id}`;
    expect(row.b_start.getTime()).toBeGreaterThanOrEqual(row.a_end.getTime());
  });

  it("debounce over REST: the last of five enqueues wins; wait_reason gives the window's end", async () => {
    const echo = tag();
    let last;
    for (let i = 0; i < 5; i++) last = await post({ type: "noop", payload: { echo: `${echo}-${i}` }, debounce: { key: `d-${echo}`, seconds: 600 } });
    expect(last!.status).toBe(200);
    const t = (await call(`/tasks/${last!.body.id}`)).body;
    expect(t.payload.echo).toBe(`${echo}-4`);
    expect(t.wait_reason).toMatchObject({ kind: "debounce", key: `d-${echo}` });
    expect(Date.parse(t.wait_reason.until)).toBeGreaterThan(Date.now() + 590_000);
    await call(`/tasks/${t.id}/cancel`, { method: "POST" });
  });

  it("a running task is cancelled by an event (cancel_on): its handler's AbortSignal fires", async () => {
    const order = tag();
    const t = await post({ type: "noop", payload: { delay_ms: 20_000, echo: order }, cancel_on: { source: "candyland", type: "order.cancelled", match: { order: "{{payload.echo}}" } } });
    expect(t.status).toBe(201);
    await waitFor(async () => (await call(`/tasks/${t.body.id}`)).body.status === "running", "the task to run");
    await sql()`insert into orchestrator.events (source, type, payload) values ('candyland', 'order.cancelled', ${sql().json({ order })})`;
    const done = await waitFor(async () => {
      const [r] = await sql()<{ message: string }[]>`select message from orchestrator.logs where task_id = ${t.body.id} and message like 'handler aborted%'`;
      return r;
    }, "the worker's log of the aborted handler", 10_000);
    expect(done.message).toMatch(/cancelled while it ran/);
    expect((await call(`/tasks/${t.body.id}`)).body.status).toBe("cancelled");
  });

  it.each([
    [{ concurrency: { key: "k", limit: 0 } }, "concurrency.limit"],
    [{ concurrency: { key: "k", limit: -1 } }, "concurrency.limit"],
    [{ concurrency: { key: "{{payload.missing}}", limit: 2 } }, "concurrency.key"],
    [{ rate: { key: "k", limit: 1, period_seconds: 10_000_000 } }, "rate.period_seconds"],
    [{ rate: { key: "k", limit: 0, period_seconds: 1 } }, "rate.limit"],
    [{ debounce: { key: "k", seconds: -5 } }, "debounce.seconds"],
    [{ throttle: { key: "k", seconds: 1, mode: "sometimes" } }, "throttle.mode"],
    [{ debounce: { key: "k", seconds: 1 }, throttle: { key: "k", seconds: 1 } }, "throttle"],
    [{ cancel_on: { source: "candyland" } }, "cancel_on.type"],
    [{ group: "" }, "group"],
  ])("%j: 400 naming %s, nothing stored", async (flow, path) => {
    const echo = tag();
    const res = await post({ type: "noop", payload: { echo }, ...flow });
    expect(res.status).toBe(400);
    expect(res.body.error.details.issues.map((i: { path: string }) => i.path)).toContain(path);
    const [{ n }] = await sql()<{ n: number }[]>`select count(*)::int as n from orchestrator.tasks where payload->>'echo' = ${echo}`;
    expect(n).toBe(0);
  });
});
