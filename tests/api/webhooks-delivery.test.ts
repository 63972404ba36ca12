// Outbound webhooks: the /webhooks API in-process, events from database
// triggers, and webhook.deliver against receivers mocked by msw. Deliveries are
// created and leased in one transaction (and the subscription switched off in
// it), so the stack's Deno worker never races these tests for them.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { http, HttpResponse } from "msw";
import { setupServer } from "msw/node";
import webhooks from "../../functions/webhooks/index.ts";
import { verifyPayload } from "../../functions/_shared/webhooks/signature.ts";
import { maskUrl } from "../../functions/_shared/secret-url.ts";
import type { TaskRow } from "../../functions/_shared/task-types.ts";
import { leaseAgain, runLeased } from "../helpers/inprocess.ts";
import { request, sql, uniqueType } from "../helpers/stack.ts";

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: "bypass" }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const rand = () => Math.random().toString(36).slice(2, 10);

async function call(path: string, init: Parameters<typeof request>[1] = {}) {
  const res = await webhooks.fetch(request(path, init));
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
}

interface Received {
  body: string;
  headers: Headers;
}

/** A receiver at a unique URL answering with the given statuses in turn (the last one repeats). */
function receiver(...statuses: (number | "network")[]) {
  const url = `https://hooks-${rand()}.receiver.test/in`;
  const got: Received[] = [];
  server.use(http.post(url, async ({ request: req }) => {
    got.push({ body: await req.text(), headers: req.headers });
    const s = statuses[Math.min(got.length - 1, statuses.length - 1)];
    return s === "network" ? HttpResponse.error() : new HttpResponse(s >= 400 ? `status ${s}` : "ok", { status: s });
  }));
  return { url, got };
}

/**
 * In one transaction: a subscription, whatever makes events (SQL), the
 * resulting deliveries leased for this process, and the subscription made
 * inactive again, so nothing else ever sees it active.
 */
async function withSubscription(
  sub: { url: string; events: string[]; format?: "json" | "slack"; max_attempts?: number },
  emit: (tx: any, subId: number) => Promise<void>,
): Promise<{ subId: number; secret: string; tasks: TaskRow[] }> {
  const secret = `whsec_test_${rand()}${rand()}`;
  return await sql().begin(async (tx) => {
    const [{ id }] = await tx<{ id: number }[]>`
      insert into orchestrator.webhook_subscriptions (url, events, secret, format, max_attempts, active)
      values (${sub.url}, ${sub.events}::text[], ${secret}, ${sub.format ?? "json"}, ${sub.max_attempts ?? 6}, true) returning id`;
    await emit(tx, id);
    const tasks = await tx<TaskRow[]>`
      update orchestrator.tasks set status = 'running', attempts = attempts + 1, locked_by = 'test-in-process',
        locked_until = now() + interval '10 minutes', lease_token = gen_random_uuid(), started_at = now()
      where type = 'webhook.deliver' and status = 'queued'
        and (payload ->> 'delivery_id')::bigint in (select d.id from orchestrator.webhook_deliveries d where d.subscription_id = ${id})
      returning *`;
    await tx`update orchestrator.webhook_subscriptions set active = false where id = ${id}`;
    return { subId: id, secret, tasks };
  });
}

const emitEvent = (event: string, data: object) => async (tx: any) => {
  await tx`select orchestrator.webhook_emit(${tx.json([{ event, data }])})`;
};

const delivery = async (id: number) => (await sql()`select * from orchestrator.webhook_deliveries where id = ${id}`)[0];

describe("/webhooks", () => {
  it("creates a subscription (secret shown once), lists and reads it without the secret, deletes it", async () => {
    const url = `https://hooks-${rand()}.receiver.test/x`;
    const created = await call("/webhooks", { method: "POST", body: JSON.stringify({ url, events: ["task.*", "ticket.opened"], format: "slack", active: false }) });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ url, events: ["task.*", "ticket.opened"], format: "slack", active: false, max_attempts: 6, backoff_base_seconds: 10 });
    const secret: string = created.body.secret;
    expect(secret).toMatch(/^whsec_[0-9a-f]{48}$/);
    const list = await call("/webhooks");
    expect(list.status).toBe(200);
    const mine = list.body.webhooks.find((w: { id: number }) => w.id === created.body.id);
    // The URL is shown once, at creation; afterwards only scheme, host and a hint of it (it may be a credential).
    expect(mine).toMatchObject({ url: maskUrl(url), secret_hint: `${secret.slice(0, 6)}…${secret.slice(-2)}`, deliveries: { delivered: 0, dead: 0, pending: 0 } });
    expect(list.text).not.toContain(secret);
    const one = await call(`/webhooks/${created.body.id}`);
    expect(one.status).toBe(200);
    expect(one.text).not.toContain(secret);
    expect((await call(`/webhooks/${created.body.id}`, { method: "DELETE" })).status).toBe(200);
    expect((await call(`/webhooks/${created.body.id}`)).status).toBe(404);
    expect((await call(`/webhooks/${created.body.id}`, { method: "DELETE" })).status).toBe(404);
  });

  it("a Slack-style URL (a credential) never shows again after creation: masked in GET /webhooks and GET /webhooks/:id", async () => {
    const url = `https://hooks.slack.com/services/T${rand()}/B${rand()}/${rand()}${rand()}${rand()}`;
    const secretPath = new URL(url).pathname;
    const created = await call("/webhooks", { method: "POST", body: JSON.stringify({ url, format: "slack", active: false }) });
    expect(created.status).toBe(201);
    expect(created.body.url).toBe(url);
    const list = await call("/webhooks");
    const one = await call(`/webhooks/${created.body.id}`);
    for (const res of [list, one]) {
      expect(res.status).toBe(200);
      expect(res.text).not.toContain(secretPath);
      expect(res.text).toContain(`"url":"https://hooks.slack.com/…${url.slice(-4)}"`);
    }
    await call(`/webhooks/${created.body.id}`, { method: "DELETE" });
  });

  it("bad input is a 400 listing each issue, and nothing is stored; no key is a 401", async () => {
    const [{ n: before }] = await sql()`select count(*)::int as n from orchestrator.webhook_subscriptions`;
    const bad = await call("/webhooks", { method: "POST", body: JSON.stringify({ url: "ftp://x.test/", events: ["Bad Event!"], format: "xml", max_attempts: 0, secret: "short" }) });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("validation_failed");
    expect(bad.body.error.details.issues.map((i: { path: string }) => i.path).sort()).toEqual(["events.0", "format", "max_attempts", "secret", "url"]);
    expect((await call("/webhooks", { method: "POST", body: "{" })).status).toBe(400);
    expect((await call("/webhooks/abc")).status).toBe(400);
    const [{ n: after }] = await sql()`select count(*)::int as n from orchestrator.webhook_subscriptions`;
    expect(after).toBe(before);
    expect((await call("/webhooks", { key: "none" })).status).toBe(401);
    expect((await call("/webhooks", { key: "anon" })).status).toBe(401);
  });
});

describe("webhook.deliver", () => {
  it("posts the event signed with HMAC-SHA256 over timestamp.body", async () => {
    const r = receiver(200);
    const ns = `t${rand()}`;
    const { subId, secret, tasks } = await withSubscription({ url: r.url, events: [`${ns}.*`] }, emitEvent(`${ns}.ping`, { hello: "world" }));
    expect(tasks).toHaveLength(1);
    const out = await runLeased(tasks[0]);
    expect(out.status).toBe("succeeded");
    expect(r.got).toHaveLength(1);
    const { body, headers } = r.got[0];
    expect(headers.get("content-type")).toBe("application/json");
    expect(headers.get("x-orchestrator-event")).toBe(`${ns}.ping`);
    expect(await verifyPayload(secret, headers.get("x-orchestrator-timestamp"), body, headers.get("x-orchestrator-signature"))).toBe(true);
    expect(await verifyPayload("whsec_not_the_secret_000", headers.get("x-orchestrator-timestamp"), body, headers.get("x-orchestrator-signature"))).toBe(false);
    const parsed = JSON.parse(body);
    expect(parsed).toMatchObject({ event: `${ns}.ping`, data: { hello: "world" } });
    expect(String(parsed.id)).toBe(headers.get("x-orchestrator-delivery"));
    const d = await delivery(parsed.id);
    expect(d).toMatchObject({ subscription_id: subId, status: "delivered", attempts: 1, last_status_code: 200, task_id: tasks[0].id });
    expect(d.delivered_at).not.toBeNull();
  });

  it("retries on 5xx and network errors with backoff, then delivers; each attempt is visible", async () => {
    const r = receiver(503, "network", 200);
    const ns = `t${rand()}`;
    const { subId, tasks } = await withSubscription({ url: r.url, events: [`${ns}.*`] }, emitEvent(`${ns}.retry`, {}));
    const first = await runLeased(tasks[0]);
    expect(first.status).toBe("queued");
    const [{ delay }] = await sql()`select extract(epoch from run_at - updated_at)::float8 as delay from orchestrator.tasks where id = ${tasks[0].id}`;
    expect(delay).toBeGreaterThanOrEqual(5); // backoff base 10 s, first retry 5-10 s
    const second = await runLeased(await leaseAgain(tasks[0].id));
    expect(second.status).toBe("queued");
    const third = await runLeased(await leaseAgain(tasks[0].id));
    expect(third.status).toBe("succeeded");
    expect(r.got).toHaveLength(3);
    // The same delivery each time (one id), freshly signed.
    expect(new Set(r.got.map((g) => g.headers.get("x-orchestrator-delivery"))).size).toBe(1);
    const list = await call(`/webhooks/${subId}/deliveries`);
    expect(list.status).toBe(200);
    const [d] = list.body.deliveries;
    expect(d).toMatchObject({ status: "delivered", attempts: 3, last_status_code: 200 });
    expect(d.attempt_log.map((a: { status_code: number | null }) => a.status_code)).toEqual([503, null, 200]);
    expect(d.attempt_log[1].error).toMatch(/network error/);
  });

  it("a receiver that echoes its secret URL: the URL is masked in the delivery's errors, the task's last_error and the logs", async () => {
    const url = `https://hooks.slack.com/services/T${rand()}/B${rand()}/${rand()}${rand()}${rand()}`;
    const secretPath = new URL(url).pathname;
    server.use(http.post(url, () => new HttpResponse(`invalid_token for ${url}`, { status: 503 })));
    const ns = `t${rand()}`;
    const { subId, tasks } = await withSubscription({ url, events: [`${ns}.*`], max_attempts: 1 }, emitEvent(`${ns}.echo`, {}));
    const out = await runLeased(tasks[0]);
    expect(out.status).toBe("dead");
    expect(out.last_error).toMatch(/HTTP 503: invalid_token for https:\/\/hooks\.slack\.com\/…/);
    expect(out.last_error).not.toContain(secretPath);
    const deliveries = await call(`/webhooks/${subId}/deliveries`);
    expect(deliveries.text).toContain("invalid_token for https://hooks.slack.com/…");
    expect(deliveries.text).not.toContain(secretPath);
    const logs = await sql()`select message, context::text as context from orchestrator.logs where task_id = ${tasks[0].id}`;
    expect(logs.length).toBeGreaterThan(0);
    expect(JSON.stringify(logs)).not.toContain(secretPath);
  });

  it("is dead after its max attempts; a 4xx refusal is dead at once", async () => {
    const failing = receiver(500);
    const ns = `t${rand()}`;
    const { subId, tasks } = await withSubscription({ url: failing.url, events: [`${ns}.*`], max_attempts: 2 }, emitEvent(`${ns}.doomed`, {}));
    expect((await runLeased(tasks[0])).status).toBe("queued");
    const last = await runLeased(await leaseAgain(tasks[0].id));
    expect(last.status).toBe("dead");
    expect(last.last_error).toMatch(/failed for good: HTTP 500.*\(attempts exhausted\)/);
    const dead = await call(`/webhooks/${subId}/deliveries?status=dead`);
    expect(dead.body.deliveries).toHaveLength(1);
    expect(dead.body.deliveries[0]).toMatchObject({ status: "dead", attempts: 2, last_status_code: 500 });
    expect((await call(`/webhooks/${subId}/deliveries?status=bogus`)).status).toBe(400);

    const gone = receiver(410);
    const ns2 = `t${rand()}`;
    const refused = await withSubscription({ url: gone.url, events: [`${ns2}.*`] }, emitEvent(`${ns2}.gone`, {}));
    const out = await runLeased(refused.tasks[0]);
    expect(out.status).toBe("dead");
    expect(out.attempts).toBe(1);
    expect(out.last_error).toMatch(/HTTP 410.*\(the receiver refused it\)/);
    const listed = await call("/webhooks");
    expect(listed.body.webhooks.find((w: { id: number }) => w.id === refused.subId).deliveries).toEqual({ delivered: 0, dead: 1, pending: 0 });
  });

  it("task events from the tasks trigger: task.dead goes to matching subscriptions only, in the chosen format", async () => {
    const r = receiver(200);
    const other = receiver(200);
    const type = uniqueType("hook");
    const [{ id: taskId }] = await sql()`select (r.task).id from orchestrator.enqueue(${type}, '{}', '{"run_at": "2099-01-01T00:00:00Z"}') r`;
    let otherSub = 0;
    const { tasks } = await withSubscription({ url: r.url, events: ["task.dead"], format: "slack" }, async (tx) => {
      const [{ id }] = await tx`insert into orchestrator.webhook_subscriptions (url, events, secret, active)
        values (${other.url}, '{ticket.*}', 'whsec_other_0123456789', true) returning id`;
      otherSub = id;
      await tx`update orchestrator.tasks set status = 'dead', last_error = 'boom', finished_at = now() where id = ${taskId}`;
      await tx`update orchestrator.webhook_subscriptions set active = false where id = ${id}`;
    });
    expect(tasks).toHaveLength(1);
    await runLeased(tasks[0]);
    expect(JSON.parse(r.got[0].body)).toEqual({ text: `*task.dead* · Task #${taskId} \`${type}\` dead: boom` });
    const [{ n }] = await sql()`select count(*)::int as n from orchestrator.webhook_deliveries where subscription_id = ${otherSub}`;
    expect(n).toBe(0);
  });

  it("ticket events: opened, status changes, reopened", async () => {
    const r = receiver(200);
    let ticketId = 0;
    const { subId } = await withSubscription({ url: r.url, events: ["ticket.*"] }, async (tx) => {
      const [{ id }] = await tx`insert into orchestrator.tickets (title, source) values ('Webhook ticket', 'test') returning id`;
      ticketId = id;
      await tx`update orchestrator.tickets set occurrences = occurrences + 1 where id = ${id}`;
      await tx`update orchestrator.tickets set status = 'resolved' where id = ${id}`;
      await tx`update orchestrator.tickets set status = 'open' where id = ${id}`;
    });
    const rows = await sql()<{ event: string; payload: any; task_id: number }[]>`
      select event, payload, task_id from orchestrator.webhook_deliveries where subscription_id = ${subId} order by id`;
    // Not delivered here: release their leased tasks for good.
    for (const x of rows) await sql()`select orchestrator.cancel(${x.task_id})`;
    expect(rows.map((x) => x.event)).toEqual(["ticket.opened", "ticket.resolved", "ticket.reopened"]);
    expect(rows[1].payload.data).toMatchObject({ ticket: { id: ticketId, status: "resolved" }, previous_status: "open" });
  });

  it("SOP events: each new version is a sop.created event", async () => {
    const r = receiver(200);
    const slug = `hook-${rand()}`;
    const { tasks } = await withSubscription({ url: r.url, events: ["sop.*"], format: "slack" }, async (tx) => {
      await tx`select orchestrator.sop_insert(${slug}, 'Restart the queue', '{}'::jsonb, ${"# Restart\n\n" + "x".repeat(5000)}, 'template', '{}'::jsonb)`;
    });
    expect(tasks).toHaveLength(1);
    await runLeased(tasks[0]);
    expect(JSON.parse(r.got[0].body)).toEqual({ text: `*sop.created* · SOP \`${slug}\` v1: Restart the queue` });
    const [d] = await sql()<{ payload: any }[]>`select payload from orchestrator.webhook_deliveries where id = ${tasks[0].payload.delivery_id as number}`;
    // Long text is cut in the event (the full SOP stays readable over the API).
    expect(d.payload.data.sop.body_md.length).toBeLessThan(2100);
    expect(d.payload.data.sop.body_md).toMatch(/… \[5011 characters\]$/);
  });
});
