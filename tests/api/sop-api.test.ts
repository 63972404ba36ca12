// POST /tasks/generate-sop and the /sops function, called in-process against
// the real database; SOPs are written by the template generator (no provider).
import { beforeAll, describe, expect, it } from "vitest";
import tasks from "../../functions/tasks/index.ts";
import sops from "../../functions/sops/index.ts";
import { taskSpec } from "../../functions/_shared/task-catalog.ts";
import { request, sql, uniqueType } from "../helpers/stack.ts";
import { runInProcess } from "./sop-run.ts";

beforeAll(() => {
  for (const k of ["AI_BASE_URL", "AI_API_KEY", "AI_MODEL", "NOTION_API_KEY", "NOTION_DATABASE_ID"]) delete process.env[k];
});

async function call(fn: typeof tasks, path: string, init: Parameters<typeof request>[1] = {}) {
  const res = await fn.fetch(request(path, init));
  const text = await res.text();
  const type = res.headers.get("content-type") ?? "";
  return { status: res.status, type, text, body: type.includes("json") && text ? JSON.parse(text) : undefined };
}
const generate = (body: unknown) => call(tasks, "/tasks/generate-sop", { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) });
const countSopTasks = async () => (await sql()`select count(*)::int as n from orchestrator.tasks where type = 'sop.generate'`)[0].n as number;
const slug = (p = "api") => `${p}-${Math.random().toString(36).slice(2, 9)}`;

describe("POST /tasks/generate-sop", () => {
  it("202 with the queued sop.generate task; the slug defaults to the topic's", async () => {
    const [{ id: linked }] = await sql()`select (r.task).id from orchestrator.enqueue(${uniqueType()}, '{}') r`;
    const res = await generate({ topic: "Refund a Candyland order", audience: "Support", task_ids: [linked], notion: false });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      type: "sop.generate",
      status: "queued",
      source: "api",
      payload: { topic: "Refund a Candyland order", audience: "Support", task_ids: [linked], slug: "refund-a-candyland-order", notion: false },
    });
    expect(res.body.lease_token).toBeUndefined();
  });

  it("bad input is a 400 with zod issues, and nothing is stored", async () => {
    const before = await countSopTasks();
    const cases: [unknown, RegExp | string][] = [
      ["{\"topic\": ", /not valid JSON/],
      [{}, "topic"],
      [{ topic: "" }, "topic"],
      [{ topic: "x", slug: "Not A Slug" }, "slug"],
      [{ topic: "x", task_ids: [0] }, "task_ids.0"],
      [{ topic: "x", event_ids: Array.from({ length: 101 }, (_, i) => i + 1) }, "event_ids"],
      [{ topic: "x", notion: "yes" }, "notion"],
      [{ topic: "x", generator: "ai" }, ""],
      [{ topic: "x", context: "c".repeat(20_001) }, "context"],
      [{ topic: "x", task_ids: [987654321] }, "task_ids.0"],
    ];
    for (const [body, path] of cases) {
      const res = await generate(body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      if (path instanceof RegExp) expect(res.body.error.message).toMatch(path);
      else expect(res.body.error.details.issues.map((i: { path: string }) => i.path)).toContain(path);
    }
    const missing = await generate({ topic: "x", task_ids: [987654321] });
    expect(missing.body.error.details.issues[0]).toEqual({ path: "task_ids.0", code: "not_found", message: "task 987654321 does not exist" });
    expect(await countSopTasks()).toBe(before);
  });

  it("a ticket or events that cannot be found are a 400 too", async () => {
    const res = await generate({ topic: "x", ticket_id: 987654321, event_ids: [987654321] });
    expect(res.status).toBe(400);
    const paths = res.body.error.details.issues.map((i: { path: string; code: string }) => `${i.path}:${i.code}`);
    const [{ tickets, events }] = await sql()`select to_regclass('orchestrator.tickets') is not null as tickets, to_regclass('orchestrator.events') is not null as events`;
    expect(paths).toContain(tickets ? "ticket_id:not_found" : "ticket_id:not_available");
    expect(paths).toContain(events ? "event_ids.0:not_found" : "event_ids:not_available");
  });

  it("GET /tasks/generate-sop is a 405 that names POST, not a 'bad task id'; other /tasks routes still work", async () => {
    const res = await call(tasks, "/tasks/generate-sop");
    expect(res.status).toBe(405);
    expect(res.body.error.message).toMatch(/use POST \/tasks\/generate-sop/);
    const [{ id }] = await sql()`select (r.task).id from orchestrator.enqueue(${uniqueType()}, '{}') r`;
    expect((await call(tasks, `/tasks/${id}`)).body.id).toBe(id);
    expect((await call(tasks, "/tasks/generate-sop", { key: "anon", method: "POST", body: "{}" })).status).toBe(401);
  });
});

describe("sop.generate (template) and GET /sops", () => {
  it("writes version 1 then 2 of a slug; GET /sops/:slug reads the latest, ?version= an older one, format=md the Markdown", async () => {
    const s = slug("tmpl");
    const [{ id: hist }] = await sql()`select (r.task).id from orchestrator.enqueue(${uniqueType()}, '{}') r`;
    await sql()`update orchestrator.tasks set status = 'dead', attempts = 3, max_attempts = 3, last_error = 'SMTP 550 mailbox unavailable', finished_at = now() where id = ${hist}`;
    const first = await runInProcess("sop.generate", { topic: "Welcome e-mails bounce", task_ids: [hist], slug: s, notion: false });
    expect(first.status).toBe("succeeded");
    expect(first.result).toMatchObject({ sop: { slug: s, version: 1 }, generator: "template", created: true, sources: { task_ids: [hist] }, notion: { status: "skipped" } });
    expect(first.result.usage).toBeUndefined();
    const second = await runInProcess("sop.generate", { topic: "Welcome e-mails bounce", slug: s, notion: false });
    expect(second.result.sop.version).toBe(2);

    const latest = await call(sops, `/sops/${s}`);
    expect(latest.status).toBe(200);
    expect(latest.body).toMatchObject({ slug: s, version: 2, generator: "template", source_task_id: second.id });
    const v1 = await call(sops, `/sops/${s}?version=1`);
    expect(v1.body).toMatchObject({ version: 1, task_ids: [hist], source_task_id: first.id });
    expect(v1.body.content.steps[0].action).toContain(`task #${hist}`);
    expect(v1.body.content.steps[0].action).toContain("SMTP 550 mailbox unavailable");
    const md = await call(sops, `/sops/${s}?version=1&format=md`);
    expect(md.status).toBe(200);
    expect(md.type).toBe("text/markdown; charset=utf-8");
    expect(md.text).toMatch(/^# Welcome e-mails bounce\n/);
    expect(md.text).toContain(`\n2. Run task #${hist} (`);
    expect(md.text).toContain(`POST /tasks/${hist}/retry`);

    expect((await call(sops, `/sops/${s}?version=3`)).body.error.message).toBe(`SOP "${s}" has no version 3; its latest is version 2.`);
    expect((await call(sops, "/sops/no-such-sop-here")).status).toBe(404);
    expect((await call(sops, "/sops/Bad_Slug")).status).toBe(400);
    expect((await call(sops, `/sops/${s}?version=0`)).status).toBe(400);
    expect((await call(sops, `/sops/${s}?format=pdf`)).status).toBe(400);
    expect((await call(sops, `/sops/${s}`, { key: "anon" })).status).toBe(401);
  });

  it("GET /sops filters (slug, generator, task, latest, q) and pages with a cursor", async () => {
    const s = slug("list");
    const [{ id: hist }] = await sql()`select (r.task).id from orchestrator.enqueue(${uniqueType()}, '{}') r`;
    for (let i = 0; i < 3; i++) await runInProcess("sop.generate", { topic: `Listing check ${s}`, slug: s, task_ids: i === 0 ? [hist] : [], notion: false });
    const all = await call(sops, `/sops?slug=${s}`);
    expect(all.body.sops.map((x: { version: number }) => x.version)).toEqual([3, 2, 1]);
    expect(all.body.sops[0].content).toBeUndefined();
    expect(all.body.sops[0].body_md).toBeUndefined();
    expect((await call(sops, `/sops?slug=${s}&latest=true`)).body.sops.map((x: { version: number }) => x.version)).toEqual([3]);
    expect((await call(sops, `/sops?task_id=${hist}`)).body.sops.map((x: { version: number }) => x.version)).toEqual([1]);
    expect((await call(sops, `/sops?slug=${s}&generator=ai`)).body.sops).toEqual([]);
    expect((await call(sops, `/sops?q=${s}&generator=template`)).body.sops).toHaveLength(3);
    const p1 = await call(sops, `/sops?slug=${s}&limit=2`);
    expect(p1.body.sops).toHaveLength(2);
    const p2 = await call(sops, `/sops?slug=${s}&limit=2&cursor=${p1.body.next_cursor}`);
    expect(p2.body.sops.map((x: { version: number }) => x.version)).toEqual([1]);
    expect(p2.body.next_cursor).toBeNull();
    for (const bad of ["limit=0", "generator=gpt", "cursor=%21", "since=yesterday", "nope=1", "latest=yes"]) {
      expect((await call(sops, `/sops?${bad}`)).status, bad).toBe(400);
    }
  });

  it("missing linked records do not fail the task: the SOP is written and they are listed", async () => {
    const [{ id }] = await sql()`select (r.task).id from orchestrator.enqueue(${uniqueType()}, '{}') r`;
    await sql()`delete from orchestrator.tasks where id = ${id}`;
    const out = await runInProcess("sop.generate", { topic: "pruned history", task_ids: [id], slug: slug(), notion: false });
    expect(out.status).toBe("succeeded");
    expect(out.result.missing).toEqual({ event_ids: [], task_ids: [id] });
  });

  it("Notion: requested but not configured -> recorded as not available; configured -> enqueued only if notion.push is registered", async () => {
    const off = await runInProcess("sop.generate", { topic: "notion off", slug: slug(), notion: true });
    expect(off.result.notion).toEqual({ status: "not_available", reason: "Notion sync is not configured (set NOTION_API_KEY and NOTION_DATABASE_ID)" });
    process.env.NOTION_API_KEY = "ntn_test_key_0123456789";
    process.env.NOTION_DATABASE_ID = "db-123";
    try {
      const on = await runInProcess("sop.generate", { topic: "notion on", slug: slug() });
      if (taskSpec("notion.push")) {
        expect(on.result.notion.status).toBe("enqueued");
        const [push] = await sql()`select type, payload, parent_id, dedupe_key from orchestrator.tasks where id = ${on.result.notion.task_id}`;
        // Left to the stack's worker it would fail (the stack has no Notion key): cancel it.
        await sql()`select orchestrator.cancel(${on.result.notion.task_id})`;
        expect(push.type).toBe("notion.push");
        expect(push.dedupe_key).toBe(`notion.push:sop:${on.result.sop.slug}`);
        // Ours, or one the Notion sync's own trigger queued first for the same slug.
        if (push.parent_id === on.id) expect(push.payload).toEqual({ kind: "sop", id: on.result.sop.id });
        else expect(push.payload).toEqual({ entity: "sop", key: on.result.sop.slug });
      } else {
        expect(on.result.notion).toEqual({ status: "not_available", reason: "this deployment has no notion.push task type registered" });
      }
    } finally {
      delete process.env.NOTION_API_KEY;
      delete process.env.NOTION_DATABASE_ID;
    }
  });
});
