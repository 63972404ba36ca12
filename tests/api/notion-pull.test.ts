// notion.pull and POST /notion/webhook in this process against the real
// database, with Notion mocked by msw at the HTTP boundary.
import { describe, expect, it } from "vitest";
import { signWebhookPayload } from "@notionhq/client";
import notion from "../../functions/notion/index.ts";
import type { FakeNotion } from "../helpers/notion-mock.ts";
import { leaseAgain, leaseNew, runLeased, runTask } from "../helpers/inprocess.ts";
import { useNotionWorkspaces } from "../helpers/notion-workspace.ts";
import { request, sql, uniqueType, waitFor } from "../helpers/stack.ts";

const rand = () => Math.random().toString(36).slice(2, 10);


const { workspace } = useNotionWorkspaces();

const title = (s: string) => ({ title: [{ type: "text", text: { content: s } }] });
const status = (s: string) => ({ status: { name: s } });
const select = (s: string) => ({ select: { name: s } });

async function ticket(fields: { title?: string; priority?: string } = {}) {
  const [row] = await sql()<{ id: number }[]>`
    insert into orchestrator.tickets (title, priority, source) values (${fields.title ?? `Checkout fails ${rand()}`},
      ${fields.priority ?? "high"}::orchestrator.ticket_priority, 'test') returning id`;
  return row.id;
}
const ticketRow = async (id: number) => (await sql()`select title, status::text, priority::text, resolved_at, closed_at, updated_at from orchestrator.tickets where id = ${id}`)[0];

async function pushed(fake: FakeNotion, entity: string, key: string) {
  const out = await runTask("notion.push", { entity, key });
  expect(out.status).toBe("succeeded");
  return fake.findByOrchestratorId(`${entity}:${key}`)[0];
}

const pull = async () => {
  const out = await runTask("notion.pull", {});
  expect(out.status, out.last_error ?? "").toBe("succeeded");
  return out.result;
};

describe("notion.pull", () => {
  it("a status edited in Notion reaches the ticket in one pull; the integration's own edits are skipped", async () => {
    const fake = workspace();
    const id = await ticket();
    const page = await pushed(fake, "ticket", String(id));
    expect(page.properties.Status.status.name).toBe("Open");
    expect(page.properties.Priority.select.name).toBe("High");

    const own = await pull();
    expect(own).toMatchObject({ pages_seen: 1, own_edits: 1, applied: 0 });
    expect((await ticketRow(id)).status).toBe("open");

    fake.humanEdit(page.id, { Status: status("Resolved"), Priority: select("Urgent") });
    const applied = await pull();
    expect(applied).toMatchObject({ pages_seen: 1, applied: 1, own_edits: 0, conflicts: 0 });
    const row = await ticketRow(id);
    expect(row).toMatchObject({ status: "resolved", priority: "urgent" });
    expect(row.resolved_at).not.toBeNull();

    // The watermark is kept, and the next query starts a minute before it (Notion rounds to the minute).
    const [state] = await sql()`select watermark, last_pull_status, last_pull_stats from orchestrator.sync_state where database_id = ${fake.opts.databaseId}`;
    expect(state.watermark.toISOString()).toBe(fake.pages.get(page.id)!.last_edited_time);
    expect(state.last_pull_status).toBe("ok");
    const again = await pull();
    const q = fake.requests.filter((r) => r.path.endsWith("/query")).at(-1)!;
    expect(q.body!.filter).toEqual({ timestamp: "last_edited_time", last_edited_time: { on_or_after: new Date(state.watermark.getTime() - 60_000).toISOString() } });
    expect(q.body!.sorts).toEqual([{ timestamp: "last_edited_time", direction: "ascending" }]);
    // Seen again (same minute), nothing new to apply, the row is not touched.
    expect(again).toMatchObject({ pages_seen: 1, applied: 0, unchanged: 1 });
    expect((await ticketRow(id)).updated_at).toEqual(row.updated_at);
  });

  it("per-field conflicts: the later edit wins, the loser is logged with both timestamps", async () => {
    const fake = workspace();
    // A: changed here now, changed in Notion three minutes later -> Notion wins.
    const a = await ticket();
    const pageA = await pushed(fake, "ticket", String(a));
    await sql()`update orchestrator.tickets set status = 'in_progress', updated_at = now() where id = ${a}`;
    fake.clockOffsetMs = 3 * 60_000;
    fake.humanEdit(pageA.id, { Status: status("Closed") });
    // B: changed in Notion ten minutes ago, here now -> the local value wins and is pushed back.
    const b = await ticket();
    fake.clockOffsetMs = 0;
    const pageB = await pushed(fake, "ticket", String(b));
    fake.clockOffsetMs = -10 * 60_000;
    fake.humanEdit(pageB.id, { Priority: select("Low") });
    fake.clockOffsetMs = 0;
    await sql()`update orchestrator.tickets set priority = 'urgent', updated_at = now() where id = ${b}`;

    const stats = await pull();
    expect(stats.conflicts).toBe(2);
    expect((await ticketRow(a)).status).toBe("closed");
    expect((await ticketRow(b)).priority).toBe("urgent");
    const logs = await sql()<{ message: string; context: Record<string, string> }[]>`
      select message, context from orchestrator.logs where component = 'notion-sync' and message like 'sync conflict on %'
        and context ->> 'page_id' in (${pageA.id}, ${pageB.id}) order by id`;
    expect(logs).toHaveLength(2);
    const [la, lb] = [logs.find((l) => l.context.page_id === pageA.id)!, logs.find((l) => l.context.page_id === pageB.id)!];
    expect(la.message).toBe(`sync conflict on ticket:${a}.status: kept the Notion value, dropped the local one`);
    expect(la.context).toMatchObject({ field: "status", kept: "closed", dropped: "in_progress", kept_side: "notion" });
    expect(new Date(la.context.notion_edited_at).getTime()).toBeGreaterThan(new Date(la.context.local_changed_at).getTime());
    expect(lb.context).toMatchObject({ field: "priority", kept: "urgent", dropped: "low", kept_side: "local" });
    expect(new Date(lb.context.local_changed_at).getTime()).toBeGreaterThan(new Date(lb.context.notion_edited_at).getTime() + 60_000);
    // The local winner goes back to Notion.
    const [push] = await sql()`select 1 from orchestrator.tasks where type = 'notion.push' and dedupe_key like ${`notion.push:ticket:${b}%`}`;
    expect(push).toBeTruthy();
  });

  it("a task set to Cancelled in Notion is cancelled; a finished one is not, and its page is corrected", async () => {
    const fake = workspace();
    const type = uniqueType("notion");
    const rows = await sql()<{ id: number }[]>`
      select id from orchestrator.enqueue_many(${type}, array['{}'::jsonb, '{}'::jsonb], '{"run_at": "2099-01-01T00:00:00Z"}') order by id`;
    const [live, done] = rows.map((r) => r.id);
    await sql()`update orchestrator.tasks set status = 'succeeded', finished_at = now() where id = ${done}`;
    const pLive = await pushed(fake, "task", String(live));
    const pDone = await pushed(fake, "task", String(done));
    expect(pDone.properties.Status.status.name).toBe("Done");
    fake.humanEdit(pLive.id, { Status: status("Cancelled") });
    fake.humanEdit(pDone.id, { Status: status("Cancelled") });
    const stats = await pull();
    expect(stats).toMatchObject({ applied: 1, pages_seen: 2 });
    const [a] = await sql()`select status::text from orchestrator.tasks where id = ${live}`;
    const [b] = await sql()`select status::text from orchestrator.tasks where id = ${done}`;
    expect(a.status).toBe("cancelled");
    expect(b.status).toBe("succeeded");
    const [refused] = await sql()`select message from orchestrator.logs where component = 'notion-sync'
      and message like ${`Notion edit of task:${done}.status not applied%`}`;
    expect(refused.message).toMatch(/the task had already finished/);
    const [push] = await sql()`select 1 from orchestrator.tasks where type = 'notion.push' and dedupe_key like ${`notion.push:task:${done}%`}`;
    expect(push).toBeTruthy();
  });

  it("a new 'SOP request' page enqueues sop.generate once, links the page, and the SOP takes the page over", async () => {
    const fake = workspace();
    const topic = `Rotate the payment API keys ${rand()}`;
    const req = fake.humanCreate({ Name: title(topic), Type: select("SOP request"), Status: status("Requested") });
    const stats = await pull();
    expect(stats).toMatchObject({ sop_requests: 1, pages_seen: 1 });
    const tasks = await sql()<{ id: number; payload: { topic: string; notion: boolean } }[]>`
      select id, payload from orchestrator.tasks where type = 'sop.generate' and dedupe_key = ${`notion.sop-request:${req.id}`}`;
    expect(tasks).toHaveLength(1);
    expect(tasks[0].payload).toMatchObject({ topic, notion: true });
    const page = fake.pages.get(req.id)!;
    expect(page.properties["Orchestrator ID"].rich_text[0].plain_text).toBe(`task:${tasks[0].id}`);
    // Later pulls do not ask again.
    await pull();
    const [{ n }] = await sql()`select count(*)::int as n from orchestrator.tasks where type = 'sop.generate' and payload ->> 'topic' = ${topic}`;
    expect(n).toBe(1);

    // The stack's worker writes the SOP (template generator, no AI keys); its push takes the request page over.
    const sop = await waitFor(async () => (await sql()`select slug, version from orchestrator.sops where source_task_id = ${tasks[0].id}`)[0], "the SOP", 45_000, 200);
    const out = await runTask("notion.push", { entity: "sop", key: sop.slug });
    expect(out.result.action).toBe("updated");
    expect(out.result.page_id).toBe(req.id);
    expect(fake.pagesList()).toHaveLength(1);
    expect(page.properties.Type.select.name).toBe("SOP");
    expect(page.properties.Status.status.name).toBe("Published");
    expect(page.properties["Orchestrator ID"].rich_text[0].plain_text).toBe(`sop:${sop.slug}`);
    expect(fake.pageBlocks(req.id).length).toBeGreaterThan(10);
  }, 60_000);

  it("paginates, saves the watermark as it goes, and resumes where a failed pull stopped", async () => {
    const fake = workspace();
    // 150 pages a person made, one minute apart, oldest first.
    for (let i = 0; i < 150; i++) {
      fake.clockOffsetMs = (i - 200) * 60_000;
      fake.humanCreate({ Name: title(`Note ${i}`) });
    }
    fake.clockOffsetMs = 0;
    const times = fake.pagesList().map((p) => p.last_edited_time);
    // The second page of results fails (503) every time: the in-call retries give up, the task will retry.
    let calls = 0;
    fake.failNext((m, p) => p.endsWith("/query") && ++calls > 1, 503, { times: 3 });
    const task = await leaseNew("notion.pull", {});
    const failed = await runLeased(task);
    expect(failed.status).toBe("queued");
    expect(failed.last_error).toMatch(/querying the data source: Notion API 503/);
    const [mid] = await sql()`select watermark, last_pull_status, last_pull_error from orchestrator.sync_state where database_id = ${fake.opts.databaseId}`;
    expect(mid.watermark.toISOString()).toBe(times[99]);
    expect(mid.last_pull_status).toBe("error");

    const resumed = await runLeased(await leaseAgain(task.id));
    expect(resumed.status).toBe("succeeded");
    // Restarted one minute before the watermark (page 99's minute): pages 98..149, nothing lost, little re-read.
    expect(resumed.result).toMatchObject({ pages_seen: 52, unlinked: 52, queries: 1, watermark: times[149] });
    const [end] = await sql()`select watermark, last_pull_status from orchestrator.sync_state where database_id = ${fake.opts.databaseId}`;
    expect(end.watermark.toISOString()).toBe(times[149]);
    expect(end.last_pull_status).toBe("ok");

    // A full first pull reads all 150 in two pages of results.
    const fresh = workspace();
    for (const p of fake.pagesList()) fresh.pages.set(p.id, p);
    const all = await pull();
    expect(all).toMatchObject({ pages_seen: 150, queries: 2 });
  });

  it("a targeted pull reads one page; a page that is gone is a clear, final error", async () => {
    const fake = workspace();
    const id = await ticket();
    const page = await pushed(fake, "ticket", String(id));
    fake.humanEdit(page.id, { Name: title("Checkout fails on Safari") });
    const one = await runTask("notion.pull", { page_id: page.id.replace(/-/g, "") });
    expect(one.result).toMatchObject({ outcome: "applied", applied: ["title"], orchestrator_id: `ticket:${id}` });
    expect((await ticketRow(id)).title).toBe("Checkout fails on Safari");
    const gone = await runTask("notion.pull", { page_id: crypto.randomUUID() });
    expect(gone.status).toBe("dead");
    expect(gone.last_error).toMatch(/is not visible to the integration \(404\)/);
  });
});

describe("POST /notion/webhook", () => {
  const post = (body: string, headers: Record<string, string> = {}) =>
    notion.fetch(request("/notion/webhook", { method: "POST", body, key: "none", headers }));

  // The verification handshake (a token only inside an operator's window) is in hardening-notion-webhook.test.ts,
  // the one file that touches the window.

  it("rejects events without NOTION_WEBHOOK_SECRET, unsigned, or badly signed; 400 for bad JSON", async () => {
    workspace();
    const pageId = crypto.randomUUID();
    const event = JSON.stringify({ id: crypto.randomUUID(), type: "page.properties_updated", entity: { id: pageId, type: "page" }, authors: [] });
    expect((await post(event)).status).toBe(503);
    process.env.NOTION_WEBHOOK_SECRET = `secret_hook_${rand()}${rand()}`;
    const unsigned = await post(event);
    expect(unsigned.status).toBe(401);
    expect((await unsigned.json()).error.message).toMatch(/Missing X-Notion-Signature/);
    const forged = await post(event, { "x-notion-signature": await signWebhookPayload({ body: event, verificationToken: "secret_someone_else" }) });
    expect(forged.status).toBe(401);
    const tampered = await post(event.replace("properties_updated", "deleted"), {
      "x-notion-signature": await signWebhookPayload({ body: event, verificationToken: process.env.NOTION_WEBHOOK_SECRET }),
    });
    expect(tampered.status).toBe(401);
    expect((await post("{not json")).status).toBe(400);
    // Signed correctly while the sync is off: accepted, nothing enqueued.
    // Only pulls of this event's page: the stack's minute tick and other test files enqueue pulls of their own meanwhile.
    const pulls = () => sql()`select count(*)::int as n from orchestrator.tasks
      where type = 'notion.pull' and replace(payload ->> 'page_id', '-', '') = ${pageId.replaceAll("-", "")}`;
    const before = await pulls();
    const ok = await post(event, { "x-notion-signature": await signWebhookPayload({ body: event, verificationToken: process.env.NOTION_WEBHOOK_SECRET }) });
    expect(ok.status).toBe(200);
    expect((await ok.json()).action).toMatch(/ignored \(sync disabled\)/);
    const after = await pulls();
    expect(after[0].n).toBe(before[0].n);
  });
});
