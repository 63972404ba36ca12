// W3C trace context end to end on a private stack (its own Notion sync and webhook subscription reach no
// other test file): Deno functions, the real worker, the fake Notion served over HTTP and a webhook
// receiver that records what it is sent. One trace id follows a KniSoci insert through its event, the
// rule's ticket.open task, the ticket, its notion.push task and the Notion request, and shows in
// GET /logs?trace_id=…; a POST /tasks traceparent reaches the outbound calls with new parent ids.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import postgres from "postgres";
import { startPrivateStack, type PrivateStack } from "../helpers/private-stack.ts";
import { FakeNotion, serveFakeNotion } from "../helpers/notion-mock.ts";
import { keyHeaders, waitFor } from "../helpers/stack.ts";
import { parseTraceparent } from "../../functions/_shared/trace.ts";

const rand = () => Math.random().toString(36).slice(2, 10);
/** Letters only: an event's fingerprint folds digits, so tags that differ in digits alone would share a ticket. */
const tag = () => Array.from({ length: 10 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join("");
const TOKEN = `secret_trace_${rand()}${rand()}`;
const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join("");
const TRACE_ID = /^[0-9a-f]{32}$/;

let ps: PrivateStack;
let sql: postgres.Sql;
let fake: FakeNotion;
let served: Awaited<ReturnType<typeof serveFakeNotion>>;
let receiver: Server;
const received: { traceparent?: string; body: any }[] = [];

beforeAll(async () => {
  fake = new FakeNotion({ integrationToken: TOKEN, databaseId: crypto.randomUUID() });
  served = await serveFakeNotion(fake);
  receiver = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    received.push({ traceparent: req.headers.traceparent as string | undefined, body: JSON.parse(Buffer.concat(chunks).toString() || "{}") });
    res.writeHead(200).end("ok");
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", () => r()));
  ps = await startPrivateStack({
    seed: true, // the demo apps' tables, knisoci.activity_logs watched
    functionEnv: { NOTION_API_KEY: TOKEN, NOTION_DATABASE_ID: fake.opts.databaseId, NOTION_API_BASE_URL: served.url },
  });
  sql = postgres(ps.stack.info.DB_URL, {
    max: 4, onnotice: () => {},
    types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
  });
  const enabled = await fn("/notion/enable", { method: "POST", body: "{}" });
  expect(enabled.status, JSON.stringify(enabled.body)).toBe(200);
  await finished(enabled.body.pull_task_id, "the first pull");
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const hook = await fn("/webhooks", { method: "POST", body: JSON.stringify({ url, events: ["ticket.opened"] }) });
  expect(hook.status, JSON.stringify(hook.body)).toBe(201);
}, 180_000);

afterAll(async () => {
  await sql?.end();
  await ps?.stop();
  await served?.close();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
});

async function fn(path: string, init: RequestInit = {}) {
  const res = await fetch(`${ps.stack.info.FUNCTIONS_URL}${path}`, {
    ...init,
    headers: { "content-type": "application/json", ...keyHeaders(ps.stack.info, "service"), ...(init.headers as Record<string, string>) },
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

const task = async (id: number) => (await sql`select id, type, status::text, trace_id, last_error from orchestrator.tasks where id = ${id}`)[0];
const finished = (id: number, what: string, ms = 30_000) =>
  waitFor(async () => {
    const t = await task(id);
    return t && ["succeeded", "dead"].includes(t.status) ? t : undefined;
  }, what, ms, 50);

/** The page of a ticket, once Notion has it, and the POST /v1/pages request that made it. */
async function pageRequestOf(ticketId: number) {
  await waitFor(async () => fake.findByOrchestratorId(`ticket:${ticketId}`)[0], `the page of ticket ${ticketId}`, 30_000, 20);
  const create = fake.requests.find((r) => r.method === "POST" && r.path === "/v1/pages"
    && JSON.stringify(r.body).includes(`ticket:${ticketId}`));
  expect(create, `the Notion request that created ticket ${ticketId}'s page`).toBeDefined();
  return create!;
}

/** Every log row of a trace, over the API (waits for the rows the worker flushes after its completions). */
async function logsOf(traceId: string, until: (logs: any[]) => boolean) {
  return await waitFor(async () => {
    const res = await fn(`/logs?trace_id=${traceId}&limit=1000`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return until(res.body.logs) ? res.body.logs : undefined;
  }, `the log rows of trace ${traceId}`, 30_000, 100);
}

/** Follows a KniSoci error through the default rule to its Notion page; every link must carry traceId. */
async function followKnisociError(tag: string, traceId?: string) {
  const message = `Trace e2e: checkout failed [${tag}]`;
  await sql.begin(async (tx) => {
    if (traceId) await tx`select set_config('orchestrator.trace_id', ${traceId}, true)`;
    await tx`insert into knisoci.activity_logs (level, message) values ('error', ${message})`;
  });
  const [event] = await sql`select id, trace_id from orchestrator.events where source = 'knisoci' and message = ${message}`;
  expect(event, "the event of the insert").toBeDefined();
  expect(event.trace_id).toMatch(TRACE_ID);
  if (traceId) expect(event.trace_id).toBe(traceId);
  const trace = event.trace_id as string;

  const [open] = await sql`select id from orchestrator.tasks where type = 'ticket.open' and (payload ->> 'event_id')::bigint = ${event.id}`;
  expect(open, "the rule's ticket.open task").toBeDefined();
  const opened = await finished(open.id, "ticket.open");
  expect(opened.status, opened.last_error ?? "").toBe("succeeded");
  expect(opened.trace_id).toBe(trace);

  const [ticket] = await sql`select t.id, t.trace_id from orchestrator.tickets t join orchestrator.events e on e.ticket_id = t.id where e.id = ${event.id}`;
  expect(ticket.trace_id).toBe(trace);
  const [push] = await sql`select id from orchestrator.tasks where type = 'notion.push' and payload ->> 'entity' = 'ticket' and payload ->> 'key' = ${String(ticket.id)}`;
  const pushed = await finished(push.id, "notion.push");
  expect(pushed.status, pushed.last_error ?? "").toBe("succeeded");
  expect(pushed.trace_id).toBe(trace);

  const request = await pageRequestOf(ticket.id);
  expect(parseTraceparent(request.traceparent)?.traceId, "the traceparent Notion was sent").toBe(trace);

  const logs = await logsOf(trace, (rows) => rows.some((l) => l.task_id === push.id && /created the Notion page/.test(l.message)));
  expect(logs.every((l: any) => l.trace_id === trace)).toBe(true);
  expect(logs.find((l: any) => l.task_id === open.id && l.message === `ticket #${ticket.id} opened for event ${event.id}`)).toBeDefined();
  expect(logs.find((l: any) => l.task_id === push.id && l.message === `created the Notion page of ticket:${ticket.id}`)).toBeDefined();
  return { trace, event, ticket, open, push, logs };
}

describe("trace context", () => {
  it("one trace id follows a KniSoci insert: event -> ticket.open -> ticket -> notion.push -> Notion, and GET /logs?trace_id= shows it", async () => {
    const a = await followKnisociError(tag());
    // A second insert starts a trace of its own.
    const b = await followKnisociError(tag());
    expect(b.trace).not.toBe(a.trace);
    expect(b.logs.some((l: any) => l.task_id === a.open.id || l.task_id === a.push.id)).toBe(false);
  }, 90_000);

  it("an inserting session that sets orchestrator.trace_id: its trace id is the event's and everything after", async () => {
    const mine = hex(32);
    const { trace } = await followKnisociError(tag(), mine);
    expect(trace).toBe(mine);
  }, 60_000);

  it("POST /tasks with a traceparent: the task, its log rows, the ticket it opens and the Notion and webhook requests carry the trace id, each hop a new parent id", async () => {
    const traceId = hex(32);
    const parentId = hex(16);
    const traceparent = `00-${traceId}-${parentId}-01`;
    const [event] = await sql`
      insert into orchestrator.events (source, type, level, message) values ('e2e', 'trace.check', 'info', ${`traced by hand [${rand()}]`})
      returning id, trace_id`;
    expect(event.trace_id).not.toBe(traceId); // an insert outside the trace starts its own

    const created = await fn("/tasks", { method: "POST", headers: { traceparent }, body: JSON.stringify({ type: "ticket.open", payload: { event_id: event.id } }) });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.trace_id).toBe(traceId);
    const back = parseTraceparent(created.headers.get("traceresponse"));
    expect(back?.traceId).toBe(traceId);
    expect(back?.parentId).not.toBe(parentId);

    const done = await finished(created.body.id, "ticket.open");
    expect(done.status, done.last_error ?? "").toBe("succeeded");
    expect(done.trace_id).toBe(traceId);
    const [ticket] = await sql`select id, trace_id from orchestrator.tickets where first_event_id = ${event.id}`;
    expect(ticket.trace_id).toBe(traceId);

    const notionRequest = await pageRequestOf(ticket.id);
    const delivery = await waitFor(async () => received.find((r) => r.body?.data?.ticket?.id === ticket.id), "the webhook delivery", 30_000, 50);
    const toNotion = parseTraceparent(notionRequest.traceparent);
    const toHook = parseTraceparent(delivery.traceparent);
    expect(toNotion?.traceId).toBe(traceId);
    expect(toHook?.traceId).toBe(traceId);
    expect(new Set([parentId, toNotion!.parentId, toHook!.parentId]).size).toBe(3);

    const [deliverTask] = await sql`select t.trace_id from orchestrator.webhook_deliveries d join orchestrator.tasks t on t.id = d.task_id
      where d.payload #>> '{data,ticket,id}' = ${String(ticket.id)}`;
    expect(deliverTask.trace_id).toBe(traceId);

    const logs = await logsOf(traceId, (rows) => rows.some((l) => /^webhook ticket\.opened delivered$/.test(l.message)));
    expect(logs.every((l: any) => l.trace_id === traceId)).toBe(true);
    expect(logs.find((l: any) => l.component === "tasks" && l.task_id === created.body.id && /enqueued/.test(l.message))).toBeDefined();
    expect(logs.find((l: any) => l.task_id === created.body.id && l.message.startsWith(`ticket #${ticket.id} opened`))).toBeDefined();
  }, 90_000);

  it("a malformed traceparent is ignored (a new trace, not an error); a bad trace_id on GET /logs is a 400 naming it", async () => {
    const garbage = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01";
    const created = await fn("/tasks", { method: "POST", headers: { traceparent: garbage }, body: JSON.stringify({ type: "noop", run_at: "2099-01-01T00:00:00Z" }) });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.trace_id).toMatch(TRACE_ID);
    expect(created.body.trace_id).not.toBe("4bf92f3577b34da6a3ce929d0e0e4736");

    for (const bad of ["0".repeat(32), "4BF92F3577B34DA6A3CE929D0E0E4736", "abc", `${hex(32)}0`, "00-" + hex(32) + "-" + hex(16) + "-01"]) {
      const res = await fn(`/logs?trace_id=${encodeURIComponent(bad)}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.error.code).toBe("validation_failed");
      expect(res.body.error.details.issues.map((i: any) => i.path)).toContain("trace_id");
    }
  }, 30_000);
});
