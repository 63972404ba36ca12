// The Notion sync end to end on a private stack (so enabling it never reaches
// other test files): Deno functions, the real queue and worker wake-ups, and
// the fake Notion served over HTTP (the same handlers the msw tests use),
// with NOTION_API_BASE_URL pointed at it and the real 3 requests/second limit.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import postgres from "postgres";
import { signWebhookPayload } from "@notionhq/client";
import { startPrivateStack, type PrivateStack } from "../helpers/private-stack.ts";
import { FakeNotion, serveFakeNotion } from "../helpers/notion-mock.ts";
import { keyHeaders, uniqueType, waitFor } from "../helpers/stack.ts";

const rand = () => Math.random().toString(36).slice(2, 10);
const TOKEN = `secret_e2e_${rand()}${rand()}`;
const HOOK_SECRET = `secret_hook_${rand()}${rand()}`;
let ps: PrivateStack;
let sql: postgres.Sql;
let fake: FakeNotion;
let served: Awaited<ReturnType<typeof serveFakeNotion>>;
const figures: Record<string, number> = {};

beforeAll(async () => {
  fake = new FakeNotion({ integrationToken: TOKEN, humanToken: `human_${rand()}`, databaseId: crypto.randomUUID() });
  served = await serveFakeNotion(fake);
  ps = await startPrivateStack({
    functionEnv: {
      NOTION_API_KEY: TOKEN,
      NOTION_DATABASE_ID: fake.opts.databaseId,
      NOTION_API_BASE_URL: served.url,
      NOTION_WEBHOOK_SECRET: HOOK_SECRET,
      NOTION_RATE_PER_SECOND: "3",
    },
  });
  sql = postgres(ps.stack.info.DB_URL, {
    max: 4, onnotice: () => {},
    types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
  });
}, 120_000);

afterAll(async () => {
  console.log(`[notion e2e] ${JSON.stringify(figures)}`);
  await sql?.end();
  await ps?.stop();
  await served?.close();
});

async function fn(path: string, init: RequestInit & { auth?: boolean } = {}) {
  const { auth = true, ...rest } = init;
  const res = await fetch(`${ps.stack.info.FUNCTIONS_URL}${path}`, {
    ...rest,
    headers: { "content-type": "application/json", ...(auth ? keyHeaders(ps.stack.info, "service") : {}), ...(rest.headers as Record<string, string>) },
  });
  return { status: res.status, body: await res.json() };
}

const task = async (id: number) => (await sql`select id, status::text, result, last_error, attempts from orchestrator.tasks where id = ${id}`)[0];
const finished = (id: number, what: string, ms = 30_000) =>
  waitFor(async () => {
    const t = await task(id);
    return t && ["succeeded", "dead"].includes(t.status) ? t : undefined;
  }, what, ms, 50);
const pushesOf = async (key: string) =>
  (await sql`select count(*)::int as n from orchestrator.tasks where type = 'notion.push' and payload ->> 'key' = ${key}`)[0].n as number;

/** What pg_cron runs every minute; called directly so the test need not wait for the tick. */
async function pullTick() {
  const [{ id }] = await sql`select orchestrator.notion_cron_tick() as id`;
  expect(id).toBeGreaterThan(0);
  const t = await finished(id, "the pull");
  expect(t.status, t.last_error ?? "").toBe("succeeded");
  return t.result;
}

describe("Notion sync, end to end", () => {
  it("a ticket appears as a page; its status edited in Notion reaches it in one pull; our own edits do not bounce", async () => {
    // A registered type: enable refuses task types nobody runs and no task has.
    const type = "noop";
    const enabled = await fn("/notion/enable", { method: "POST", body: JSON.stringify({ track_task_types: [type] }) });
    expect(enabled.status, JSON.stringify(enabled.body)).toBe(200);
    expect(enabled.body).toMatchObject({ enabled: true, data_source_id: fake.dataSourceId, tracked_task_types: [type] });
    await finished(enabled.body.pull_task_id, "the first pull");

    // 1. A ticket opened in Supabase appears as a page.
    const t0 = Date.now();
    const [{ id }] = await sql`insert into orchestrator.tickets (title, priority, source) values ('Checkout returns 500', 'high', 'candyland') returning id`;
    const page = await waitFor(async () => fake.findByOrchestratorId(`ticket:${id}`)[0], "the ticket's page", 30_000, 20);
    figures.ticket_to_page_ms = Date.now() - t0;
    expect(page.properties.Name.title[0].plain_text).toBe("Checkout returns 500");
    expect(page.properties.Status.status.name).toBe("Open");
    expect(page.last_edited_by.id).toBe(fake.botId);
    expect(await pushesOf(String(id))).toBe(1);

    // 2. A person resolves it in Notion; one pull brings it back.
    fake.humanEdit(page.id, { Status: { status: { name: "Resolved" } } });
    const t1 = Date.now();
    const pulled = await pullTick();
    figures.notion_edit_to_ticket_ms = Date.now() - t1;
    expect(pulled).toMatchObject({ applied: 1, conflicts: 0 });
    const [row] = await sql`select status::text, resolved_at from orchestrator.tickets where id = ${id}`;
    expect(row.status).toBe("resolved");
    expect(row.resolved_at).not.toBeNull();
    // Writing Notion's value did not enqueue a push of it back.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await pushesOf(String(id))).toBe(1);

    // 3. A change here: one push, the page now last edited by our bot; the next pull skips it.
    const patchesBefore = fake.requests.filter((r) => r.method === "PATCH" && r.path === `/v1/pages/${page.id}`).length;
    await sql`update orchestrator.tickets set priority = 'urgent', updated_at = now() where id = ${id}`;
    await waitFor(async () => fake.pages.get(page.id)!.properties.Priority.select?.name === "Urgent", "the priority in Notion", 30_000, 20);
    const echo = await pullTick();
    expect(echo.own_edits).toBeGreaterThanOrEqual(1);
    expect(echo.applied).toBe(0);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await pushesOf(String(id))).toBe(2);
    expect(fake.requests.filter((r) => r.method === "PATCH" && r.path === `/v1/pages/${page.id}`).length - patchesBefore).toBe(1);
    const [after] = await sql`select status::text, priority::text from orchestrator.tickets where id = ${id}`;
    expect(after).toEqual({ status: "resolved", priority: "urgent" });
    figures.pushes_for_ticket = await pushesOf(String(id));

    // 4. Notion's webhook: a signed event for the page enqueues a targeted pull.
    fake.humanEdit(page.id, { Name: { title: [{ type: "text", text: { content: "Checkout returns 500 on Safari" } }] } });
    const event = JSON.stringify({
      id: crypto.randomUUID(), timestamp: new Date().toISOString(), workspace_id: crypto.randomUUID(), type: "page.properties_updated",
      authors: [{ id: fake.humanId, type: "person" }], entity: { id: page.id, type: "page" },
      data: { parent: { id: fake.dataSourceId, type: "data_source" }, updated_properties: ["title"] },
    });
    const hook = await fn("/notion/webhook", {
      method: "POST", body: event, auth: false,
      headers: { "x-notion-signature": await signWebhookPayload({ body: event, verificationToken: HOOK_SECRET }) },
    });
    expect(hook.status, JSON.stringify(hook.body)).toBe(200);
    expect(hook.body.action).toBe("pull enqueued");
    const targeted = await finished(hook.body.task_id, "the targeted pull");
    expect(targeted.result).toMatchObject({ outcome: "applied", applied: ["title"] });
    const [titled] = await sql`select title from orchestrator.tickets where id = ${id}`;
    expect(titled.title).toBe("Checkout returns 500 on Safari");
    const ownEvent = JSON.stringify({ ...JSON.parse(event), id: crypto.randomUUID(), authors: [{ id: fake.botId, type: "bot" }] });
    const own = await fn("/notion/webhook", {
      method: "POST", body: ownEvent, auth: false,
      headers: { "x-notion-signature": await signWebhookPayload({ body: ownEvent, verificationToken: HOOK_SECRET }) },
    });
    expect(own.status).toBe(200);
    expect(own.body.action).toMatch(/our own edit/);

    // 5. A tracked task shows up too, and /notion/status reports the sync.
    const [{ id: taskId }] = await sql`select (r.task).id from orchestrator.enqueue(${type}, '{}', '{"run_at": "2099-01-01T00:00:00Z"}') r`;
    await waitFor(async () => fake.findByOrchestratorId(`task:${taskId}`)[0], "the task's page", 30_000, 20);
    // The page exists in Notion a moment before the push task stores its mapping: wait for both.
    const status = await waitFor(async () => {
      const s = await fn("/notion/status");
      return s.status === 200 && s.body.pages_mapped >= 2 && s;
    }, "both pages to be mapped", 10_000, 50);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ configured: true, enabled: true, data_source_id: fake.dataSourceId, tracked_task_types: [type] });
    expect(status.body.pages_mapped).toBeGreaterThanOrEqual(2);
    expect(status.body.last_pull.status).toBe("ok");
    expect(status.body.watermark).not.toBeNull();
    expect(status.body.last_push.at).not.toBeNull();
    expect(JSON.stringify(status.body)).not.toContain(TOKEN);
    // Every request the stack made stayed within 3/s over any 10 s.
    const times = fake.requests.map((r) => r.at).sort((a, b) => a - b);
    let max10 = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[i] - times[j] >= 10_000) j++;
      max10 = Math.max(max10, i - j + 1);
    }
    figures.notion_requests = fake.requests.length;
    figures.max_requests_any_10s = max10;
    expect(max10).toBeLessThanOrEqual(30);
  }, 120_000);

  it("the shipped incident -> SOP workflow with Notion configured: approved in Notion, every step runs and the SOP lands as a page", async () => {
    const [{ id: ticket }] = await sql`
      insert into orchestrator.tickets (title, status, priority, source)
      values ('Refunds stuck after payout', 'resolved', 'high', 'candyland') returning id`;
    const t0 = Date.now();
    const started = await fn("/workflows/incident-sop/runs", { method: "POST", body: JSON.stringify({ input: { ticket_id: ticket } }) });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    // The approval: its ticket becomes a page; a person sets it Resolved in Notion, and one pull approves the step.
    const approvalTicket = await waitFor(async () => {
      const r = await fn(`/workflows/incident-sop/runs/${started.body.id}`);
      const step = r.body.steps.find((st: { name: string }) => st.name === "approve");
      return step.status === "waiting" && (step.waiting_for.approval.ticket_id as number);
    }, "the approval to wait", 60_000, 100);
    const approvalPage = await waitFor(async () => fake.findByOrchestratorId(`ticket:${approvalTicket}`)[0], "the approval's page", 30_000, 20);
    expect(approvalPage.properties.Name.title[0].plain_text).toMatch(/^Approve: Publish the SOP for ticket #\d+: Refunds stuck after payout/);
    fake.humanEdit(approvalPage.id, { Status: { status: { name: "Resolved" } } });
    // Before the function-server kill below: a pull running at that kill holds the pull lock for its lease.
    await pullTick();
    const run = await waitFor(async () => {
      const r = await fn(`/workflows/incident-sop/runs/${started.body.id}`);
      return r.body.status !== "running" && r.body;
    }, "the incident-sop run", 60_000, 100);
    figures.incident_sop_with_notion_ms = Date.now() - t0;
    expect(run.error).toBeNull();
    expect(run.status).toBe("succeeded");
    const steps = Object.fromEntries(run.steps.map((st: { name: string; status: string; result: any }) => [st.name, st]));
    expect(Object.fromEntries(Object.entries(steps).map(([k, v]: [string, any]) => [k, v.status])))
      .toEqual({ gather: "succeeded", knisoci: "succeeded", candyland: "succeeded", sop: "succeeded", approve: "succeeded", notion: "succeeded", notify: "succeeded" });
    expect(steps.approve.result).toMatchObject({ decision: "approved", by: "notion", ticket_id: approvalTicket });
    expect(steps.notion.result).toMatchObject({ entity: "sop", key: `incident-${ticket}` });
    const [page] = fake.findByOrchestratorId(`sop:incident-${ticket}`);
    expect(page).toBeDefined();
    expect(page.properties.Type.select.name).toBe("SOP");
    expect(JSON.stringify(fake.pageBlocks(page.id))).toContain("Refunds stuck after payout");
  }, 120_000);

  it("the function server killed after Notion created the page, before the id was stored: no duplicate after the retry", async () => {
    let killed = false;
    fake.onCreate = async () => {
      fake.onCreate = undefined;
      killed = true;
      await ps.stack.functions.stop("SIGKILL"); // the worker dies with pages.create in flight
    };
    const [{ id }] = await sql`insert into orchestrator.tickets (title, source) values ('Orders stuck in pending', 'candyland') returning id`;
    await waitFor(async () => killed && !ps.stack.functions.running, "the kill", 30_000, 20);
    expect(fake.findByOrchestratorId(`ticket:${id}`)).toHaveLength(1);
    const [m] = await sql`select page_id, create_attempted_at from orchestrator.notion_pages where entity = 'ticket' and row_key = ${String(id)}`;
    expect(m.page_id).toBeNull();
    expect(m.create_attempted_at).not.toBeNull();
    const [push] = await sql`select id, status::text from orchestrator.tasks where type = 'notion.push' and payload ->> 'key' = ${String(id)}`;
    expect(push.status).toBe("running");

    ps.stack.functions.start();
    await ps.stack.waitHealthy();
    // Fast-forward the two leases the dead worker held (task: timeout + margin; row: 120 s), then reap and sweep as cron would.
    await sql`update orchestrator.tasks set locked_until = now() - interval '1 second' where id = ${push.id}`;
    await sql`update orchestrator.notion_pages set locked_until = now() - interval '1 second' where entity = 'ticket' and row_key = ${String(id)}`;
    // The stack's own sweep ticker (every 10 s) may reap it between the update and this call: either way the
    // task must be back in the queue (or already on its second attempt), not running on the dead lease.
    await sql`select orchestrator.reap()`;
    const [again] = await sql`select status::text, attempts from orchestrator.tasks where id = ${push.id}`;
    expect(again.status === "running" && again.attempts === 1, JSON.stringify(again)).toBe(false);
    await sql`select orchestrator.sweep()`;
    const done = await finished(push.id, "the retried push", 60_000);
    expect(done.status, done.last_error ?? "").toBe("succeeded");
    expect(done.attempts).toBe(2);
    expect(done.result.action).toBe("adopted");
    const pages = fake.findByOrchestratorId(`ticket:${id}`);
    expect(pages).toHaveLength(1);
    const [after] = await sql`select page_id from orchestrator.notion_pages where entity = 'ticket' and row_key = ${String(id)}`;
    expect(after.page_id).toBe(pages[0].id);
    figures.pages_after_crash_and_retry = pages.length;
  }, 120_000);

  it("the daily digest, run as the shipped schedule runs it, lands in Notion as that day's page", async () => {
    // A digest written while the sync was off reaches Notion with the enable's backfill.
    const earlier = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10);
    await sql`insert into orchestrator.digests (day, summary, body_md) values (${earlier}, '{}', ${`# Orchestrator digest for ${earlier} (UTC)`})
              on conflict (day) do nothing`;
    const enabled = await fn("/notion/enable", { method: "POST", body: JSON.stringify({ backfill: true }) });
    expect(enabled.status, JSON.stringify(enabled.body)).toBe(200);
    expect(enabled.body.backfill_pushes_enqueued).toBeGreaterThanOrEqual(1);
    const backfilled = await waitFor(async () => fake.findByOrchestratorId(`digest:${earlier}`)[0], "the backfilled digest's page", 30_000, 20);
    expect(backfilled.properties.Type.select.name).toBe("Digest");
    const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const type = uniqueType("digested");
    await sql`insert into orchestrator.tasks (type, status, attempts, max_attempts, last_error, created_at, finished_at)
              values (${type}, 'dead', 3, 3, 'the receiver answered 410 Gone', ${`${day}T12:00:00Z`}, ${`${day}T12:01:00Z`})`;
    const t0 = Date.now();
    const created = await fn("/tasks", { method: "POST", body: JSON.stringify({ type: "maintenance.digest", payload: { day } }) });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const digest = await finished(created.body.id, "the digest");
    expect(digest.status, digest.last_error ?? "").toBe("succeeded");
    expect(digest.result.sent.notion).toEqual({ enabled: true, push_enqueued: 1 });
    const page = await waitFor(async () => fake.findByOrchestratorId(`digest:${day}`)[0], "the digest's page", 30_000, 20);
    const [push] = await sql`select id from orchestrator.tasks where type = 'notion.push' and payload = ${sql.json({ entity: "digest", key: day })}`;
    expect((await finished(push.id, "the digest push")).status).toBe("succeeded");
    figures.digest_to_notion_page_ms = Date.now() - t0;
    expect(page.properties.Name.title[0].plain_text).toBe(`Orchestrator digest for ${day}`);
    expect(page.properties.Type.select.name).toBe("Digest");
    const body = JSON.stringify(fake.pageBlocks(page.id));
    expect(body).toContain(`Orchestrator digest for ${day} (UTC)`);
    expect(body).toContain(type);
    expect(body).toContain("the receiver answered 410 Gone");
    // Digesting the same day again keeps one page.
    const again = await fn("/tasks", { method: "POST", body: JSON.stringify({ type: "maintenance.digest", payload: { day } }) });
    expect((await finished(again.body.id, "the second digest")).status).toBe("succeeded");
    await waitFor(async () => {
      const [n] = await sql`select count(*) filter (where status in ('queued', 'running'))::int as open from orchestrator.tasks
                            where type = 'notion.push' and payload ->> 'entity' = 'digest'`;
      return n.open === 0;
    }, "the second digest push", 30_000, 50);
    expect(fake.findByOrchestratorId(`digest:${day}`)).toHaveLength(1);
  }, 120_000);

});
