// notion.push in this process against the real database, with Notion mocked by
// msw at the HTTP boundary (the fake rejects what Notion rejects).
import { describe, expect, it } from "vitest";
import notion from "../../functions/notion/index.ts";
import { createLogger } from "../../functions/_shared/logger.ts";
import { registerTaskType, taskList, unregisterTaskType } from "../helpers/task-types.ts";
import { hooks } from "../../functions/_shared/notion/sync.ts";
import { type Digest, digestMarkdown } from "../../functions/_shared/tasks/digest.ts";
import { runWorker } from "../../functions/_shared/worker.ts";
import { RATE_MARGIN, rateBucketFor } from "../../functions/_shared/notion/client.ts";
import { defaultSchema, maxInWindow } from "../helpers/notion-mock.ts";
import { leaseAgain, leaseNew, runLeased, runTask } from "../helpers/inprocess.ts";
import { useNotionWorkspaces } from "../helpers/notion-workspace.ts";
import { request, sql, uniqueType } from "../helpers/stack.ts";

const rand = () => Math.random().toString(36).slice(2, 10);


const { workspace } = useNotionWorkspaces({ afterEach: () => { hooks.afterPageCreate = undefined; } });

/** Task rows to push (a unique type nobody runs, scheduled far ahead). */
async function taskRows(n: number, payload: object = {}): Promise<number[]> {
  const type = uniqueType("pushme");
  const rows = await sql()<{ id: number }[]>`
    select id from orchestrator.enqueue_many(${type}, (select array_agg(${sql().json(payload as never)}::jsonb) from generate_series(1, ${n})),
      '{"run_at": "2099-01-01T00:00:00Z"}'::jsonb) order by id`;
  return rows.map((r) => r.id);
}

const mapping = async (entity: string, key: string) =>
  (await sql()`select page_id, synced, body_hash, create_attempted_at, last_error from orchestrator.notion_pages where entity = ${entity} and row_key = ${key}`)[0];

const prop = (page: any, name: string) => {
  const p = page.properties[name];
  return p.type === "title" || p.type === "rich_text" ? p[p.type].map((r: any) => r.plain_text).join("") : p[p.type]?.name ?? p[p.type];
};

describe("notion.push", () => {
  it("creates the page of a task, sends nothing when unchanged, and only what changed afterwards", async () => {
    const fake = workspace();
    const [id] = await taskRows(1, { topic: "Weekly digest" });
    const first = await runTask("notion.push", { entity: "task", key: String(id) });
    expect(first.status).toBe("succeeded");
    expect(first.result).toMatchObject({ action: "created", entity: "task", key: String(id) });
    const pages = fake.findByOrchestratorId(`task:${id}`);
    expect(pages).toHaveLength(1);
    const page = pages[0];
    expect(prop(page, "Name")).toMatch(new RegExp(`^test\\.pushme\\.[a-z0-9]+ #${id}: Weekly digest$`));
    expect(prop(page, "Status")).toBe("Queued");
    expect(prop(page, "Type")).toBe("Task");
    expect(prop(page, "Priority")).toBe("Medium");
    expect(page.properties.Link.url).toBe(`${process.env.SUPABASE_URL}/functions/v1/tasks/${id}`);
    expect(page.created_by.id).toBe(fake.botId);
    expect((await mapping("task", String(id))).page_id).toBe(page.id);
    // Configuration resolved once: users.me, databases.retrieve, dataSources.retrieve.
    expect(fake.requests.map((r) => `${r.method} ${r.path.replace(/[0-9a-f-]{36}/g, ":id")}`)).toEqual([
      "GET /v1/users/me", "GET /v1/databases/:id", "GET /v1/data_sources/:id", "POST /v1/pages",
    ]);

    const before = fake.requests.length;
    const same = await runTask("notion.push", { entity: "task", key: String(id) });
    expect(same.result).toMatchObject({ action: "unchanged", notion_requests: 0 });
    expect(fake.requests.length).toBe(before);

    await sql()`update orchestrator.tasks set priority = 50 where id = ${id}`;
    const changed = await runTask("notion.push", { entity: "task", key: String(id) });
    expect(changed.result).toMatchObject({ action: "updated", notion_requests: 1 });
    const patch = fake.requests.at(-1)!;
    expect(patch.method).toBe("PATCH");
    expect(Object.keys(patch.body!.properties).sort()).toEqual(["Link", "Orchestrator ID", "Priority", "Type", "Updated"]);
    expect(prop(fake.pages.get(page.id), "Priority")).toBe("High");
    expect(fake.pagesList()).toHaveLength(1);
  });

  it("a crash after pages.create and before the page id is stored: the retry finds the page, no duplicate", async () => {
    const fake = workspace();
    const [id] = await taskRows(1);
    hooks.afterPageCreate = () => {
      throw new Error("simulated crash: the worker died right after Notion created the page");
    };
    const task = await leaseNew("notion.push", { entity: "task", key: String(id) });
    const crashed = await runLeased(task);
    expect(crashed.status).toBe("queued"); // retryable
    expect(crashed.last_error).toMatch(/simulated crash/);
    expect(fake.findByOrchestratorId(`task:${id}`)).toHaveLength(1);
    const after = await mapping("task", String(id));
    expect(after.page_id).toBeNull();
    expect(after.create_attempted_at).not.toBeNull();

    hooks.afterPageCreate = undefined;
    const retried = await runLeased(await leaseAgain(task.id));
    expect(retried.status).toBe("succeeded");
    expect(retried.attempts).toBe(2);
    expect(retried.result.action).toBe("adopted");
    const pages = fake.findByOrchestratorId(`task:${id}`);
    expect(pages).toHaveLength(1);
    expect((await mapping("task", String(id))).page_id).toBe(pages[0].id);
    // The retry looked the row up by its Orchestrator ID and created nothing: one pages.create in all.
    expect(fake.requests.filter((r) => r.method === "POST" && r.path === "/v1/pages")).toHaveLength(1);
    expect(fake.requests.some((r) => r.path.endsWith("/query") && r.body?.filter?.rich_text?.equals === `task:${id}`)).toBe(true);
  });

  it("a daily digest becomes one page per day with its tables; digesting the day again rewrites the body", async () => {
    const fake = workspace();
    // A day of the last century nobody else digests (the digests table is shared).
    const day = new Date(Date.UTC(1900 + Math.floor(Math.random() * 99), Math.floor(Math.random() * 12), 1 + Math.floor(Math.random() * 28)))
      .toISOString().slice(0, 10);
    const digest: Digest = {
      day,
      totals: { total: 7, succeeded: 4, dead: 3, cancelled: 0, queued: 0, running: 0 },
      by_type: [{ type: "sop.generate", total: 7, succeeded: 4, dead: 3, cancelled: 0, queued: 0, running: 0 }],
      top_failing: [{ type: "sop.generate", dead: 3, with_errors: 3, total: 7, last_error: "AI provider answered 503 | twice" }],
      open_tickets: [{ id: 42, title: "Checkout 500 on Safari", status: "open", priority: "urgent", occurrences: 17, last_seen: null }],
      workflow_runs: [],
    };
    const store = (d: Digest) => sql()`
      insert into orchestrator.digests (day, summary, body_md) values (${day}::date, ${sql().json(d as never)}, ${digestMarkdown(d)})
      on conflict (day) do update set summary = excluded.summary, body_md = excluded.body_md, updated_at = now()`;
    await store(digest);

    const out = await runTask("notion.push", { entity: "digest", key: day });
    expect(out.status, out.last_error ?? "").toBe("succeeded");
    expect(out.result).toMatchObject({ action: "created", entity: "digest", key: day });
    const pages = fake.findByOrchestratorId(`digest:${day}`);
    expect(pages).toHaveLength(1);
    const page = pages[0];
    expect(prop(page, "Name")).toBe(`Orchestrator digest for ${day}`);
    expect(prop(page, "Type")).toBe("Digest");
    expect(prop(page, "Status")).toBe("Published");
    expect(prop(page, "Priority")).toBe("High"); // a day with dead tasks
    const blocks = fake.pageBlocks(page.id);
    expect(blocks[0].type).toBe("heading_1");
    expect(blocks[0].heading_1.rich_text.map((r: any) => r.plain_text ?? r.text.content).join("")).toBe(`Orchestrator digest for ${day} (UTC)`);
    const tables = blocks.filter((b) => b.type === "table");
    expect(tables).toHaveLength(3); // by type, top failing, open tickets
    const cellText = (row: any, i: number) => row.table_row.cells[i].map((r: any) => r.text.content).join("");
    const failingRow = tables[1].table.children[1];
    expect(cellText(failingRow, 0)).toBe("sop.generate");
    expect(cellText(failingRow, 4)).toBe("AI provider answered 503 | twice");

    // Nothing changed: nothing sent.
    const again = await runTask("notion.push", { entity: "digest", key: day });
    expect(again.result).toMatchObject({ action: "unchanged", page_id: page.id });

    // The day digested again (a late task landed): the same page, a new body.
    await store({ ...digest, totals: { ...digest.totals, total: 8, succeeded: 5 }, by_type: [{ ...digest.by_type[0], total: 8, succeeded: 5 }] });
    const rewritten = await runTask("notion.push", { entity: "digest", key: day });
    expect(rewritten.result).toMatchObject({ action: "updated", page_id: page.id });
    expect(fake.findByOrchestratorId(`digest:${day}`)).toHaveLength(1);
    const text = JSON.stringify(fake.pageBlocks(page.id));
    expect(text).toContain("8 tasks created");
    expect(text).not.toContain("7 tasks created");

    // A digest key is a day; anything else is refused before a task exists.
    const parsed = taskList["notion.push"].payload.safeParse({ entity: "digest", key: "yesterday" });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]).toMatchObject({ path: ["key"], message: "a digest key is its UTC day, YYYY-MM-DD" });
    const gone = await runTask("notion.push", { entity: "digest", key: "1899-01-01" });
    expect(gone.result).toMatchObject({ action: "skipped", reason: "digest 1899-01-01 does not exist (deleted or pruned)" });
  });

  it("an SOP of 300+ blocks with a 5,000-character paragraph syncs in batches; a new version replaces the body", async () => {
    const fake = workspace();
    const slug = `notion-big-${rand()}`;
    const long = "Long paragraph. ".repeat(320).trim(); // 5,119 characters
    expect(long.length).toBeGreaterThan(5000);
    const md = ["# Big SOP", long, ...Array.from({ length: 320 }, (_, i) => (i % 2 ? `- step ${i}` : `Paragraph ${i}`))].join("\n\n");
    await sql()`select orchestrator.sop_insert(${slug}, 'Big SOP', '{}'::jsonb, ${md}, 'template', '{}'::jsonb)`;
    const out = await runTask("notion.push", { entity: "sop", key: slug });
    expect(out.status).toBe("succeeded");
    expect(out.result.action).toBe("created");
    const [page] = fake.findByOrchestratorId(`sop:${slug}`);
    const blocks = fake.pageBlocks(page.id);
    expect(blocks).toHaveLength(322);
    // The fake rejects what Notion rejects, so passing through it means staying within the limits.
    const raw = (children: unknown[]) => fake.handle(new Request(`https://api.notion.com/v1/blocks/${page.id}/children`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${process.env.NOTION_API_KEY}`, "notion-version": "2025-09-03", "content-type": "application/json" },
      body: JSON.stringify({ children }),
    }));
    const para = (content: string) => ({ type: "paragraph", paragraph: { rich_text: [{ type: "text", text: { content } }] } });
    const tooMany = await raw(Array.from({ length: 101 }, () => para("x")));
    expect(tooMany.status).toBe(400);
    expect(await tooMany.json()).toMatchObject({ object: "error", status: 400, code: "validation_error", message: expect.stringMatching(/length should be ≤ `100`, instead was `101`/) });
    const tooLong = await raw([para("x".repeat(2001))]);
    expect(tooLong.status).toBe(400);
    expect((await tooLong.json()).message).toMatch(/text.content.length should be ≤ `2000`, instead was `2001`/);
    fake.requests.splice(-2);
    expect(out.result.body_blocks).toBe(322);
    // Every request that carried blocks stayed within Notion's limits (the fake rejects more).
    const carrying = fake.requests.filter((r) => r.body?.children);
    expect(carrying.map((r) => r.body!.children.length)).toEqual([100, 100, 100, 22]);
    expect(carrying.map((r) => `${r.method} ${r.path.split("/").slice(0, 3).join("/")}`)).toEqual([
      "POST /v1/pages", "PATCH /v1/blocks", "PATCH /v1/blocks", "PATCH /v1/blocks",
    ]);
    const longItems = blocks[1].paragraph.rich_text;
    expect(longItems.map((r: any) => r.text.content.length)).toEqual([2000, 2000, long.length - 4000]);
    expect(longItems.map((r: any) => r.text.content).join("")).toBe(long);
    expect(prop(page, "Type")).toBe("SOP");
    expect(prop(page, "Status")).toBe("Published");

    // Version 2: the body is erased and written again; still one page.
    await sql()`select orchestrator.sop_insert(${slug}, 'Big SOP (v2)', '{}'::jsonb, ${"# Big SOP v2\n\nShorter now."}, 'template', '{}'::jsonb)`;
    const before = fake.requests.length;
    const v2 = await runTask("notion.push", { entity: "sop", key: slug });
    expect(v2.result).toMatchObject({ action: "updated", body_blocks: 2, body_requests: 2 });
    const sent = fake.requests.slice(before);
    expect(sent.map((r) => r.method)).toEqual(["PATCH", "PATCH", "PATCH"]);
    expect(sent[1].body).toEqual({ erase_content: true });
    expect(fake.pageBlocks(page.id).map((b) => b.type)).toEqual(["heading_1", "paragraph"]);
    expect(prop(fake.pages.get(page.id), "Name")).toBe("Big SOP (v2)");
    expect(fake.findByOrchestratorId(`sop:${slug}`)).toHaveLength(1);
    // Also accepted: the {kind, id} form the SOP generator enqueues.
    const [{ id: sopId }] = await sql()`select id from orchestrator.sops where slug = ${slug} and version = 2`;
    const viaKind = await runTask("notion.push", { kind: "sop", id: sopId });
    expect(viaKind.result).toMatchObject({ action: "unchanged", entity: "sop", key: slug });
  });

  it("an interrupted body rewrite starts over on retry: nothing half-applied", async () => {
    const fake = workspace();
    const slug = `notion-resume-${rand()}`;
    const md = Array.from({ length: 250 }, (_, i) => `Paragraph ${i}`).join("\n\n");
    await sql()`select orchestrator.sop_insert(${slug}, 'Resumable', '{}'::jsonb, ${md}, 'template', '{}'::jsonb)`;
    fake.failNext((m, p) => m === "PATCH" && p.includes("/blocks/"), 500, { times: 1 });
    const task = await leaseNew("notion.push", { entity: "sop", key: slug });
    const first = await runLeased(task);
    expect(first.status).toBe("queued");
    expect(first.last_error).toMatch(/appending the page body: Notion API 500/);
    const [page] = fake.findByOrchestratorId(`sop:${slug}`);
    expect(fake.pageBlocks(page.id)).toHaveLength(100); // what the create carried
    expect((await mapping("sop", slug)).body_hash).toBeNull();
    const second = await runLeased(await leaseAgain(task.id));
    expect(second.status).toBe("succeeded");
    expect(fake.pageBlocks(page.id).map((b) => b.paragraph.rich_text[0].text.content)).toEqual(
      Array.from({ length: 250 }, (_, i) => `Paragraph ${i}`),
    );
    expect(fake.findByOrchestratorId(`sop:${slug}`)).toHaveLength(1);
  });

  it("honours 429 Retry-After for every worker, and retries 5xx only for idempotent calls", async () => {
    const fake = workspace();
    const [a, b] = await taskRows(2);
    await runTask("notion.push", { entity: "task", key: String(a) }); // resolve the configuration first
    fake.failNext("POST /v1/pages", 429, { retryAfter: 1 });
    const started = Date.now();
    const out = await runTask("notion.push", { entity: "task", key: String(b) });
    expect(out.status).toBe("succeeded");
    const creates = fake.requests.filter((r) => r.method === "POST" && r.path === "/v1/pages" && r.at >= started);
    expect(creates.map((r) => r.status)).toEqual([429, 200]);
    expect(creates[1].at - creates[0].at).toBeGreaterThanOrEqual(950);
    expect(out.result.rate.throttled).toBe(1);

    // 5xx on a query (idempotent) is retried inside the call.
    await sql()`update orchestrator.notion_pages set page_id = null, create_attempted_at = now() where entity = 'task' and row_key = ${String(a)}`;
    fake.failNext((m, p) => p.endsWith("/query"), 503, { times: 1 });
    const lookup = await runTask("notion.push", { entity: "task", key: String(a) });
    expect(lookup.status).toBe("succeeded");
    expect(lookup.result.action).toBe("adopted");
    // 5xx on a create (not idempotent) is not retried in the call: the task retries, and looks first.
    const [c] = await taskRows(1);
    fake.failNext("POST /v1/pages", 502, { times: 1 });
    const createFail = await leaseNew("notion.push", { entity: "task", key: String(c) });
    const failed = await runLeased(createFail);
    expect(failed.status).toBe("queued");
    expect(failed.last_error).toMatch(/Notion API 502/);
    expect(fake.requests.filter((r) => r.path === "/v1/pages" && r.body?.properties?.["Orchestrator ID"]?.rich_text?.[0]?.text?.content === `task:${c}`)).toHaveLength(1);
    const ok = await runLeased(await leaseAgain(createFail.id));
    expect(ok.result.action).toBe("created");
    expect(fake.findByOrchestratorId(`task:${c}`)).toHaveLength(1);
  });

  it(`a burst of 200 pushes from 4 concurrent workers stays at or under the rate limit over any 10 s window, and all land`, async () => {
    const limit = Number(process.env.NOTION_RATE_TEST_LIMIT ?? 15);
    const fake = workspace({ rate: limit });
    const ids = await taskRows(200);
    // The real worker loop on a task type only this process knows (the stack's Deno worker never claims it).
    const alias = `test.notion.push.${rand()}`;
    registerTaskType(alias, taskList["notion.push"]);
    // Every slot the bucket grants, on the clock the limiter runs on (the database's clock_timestamp()).
    // The fake's arrival times are each slot plus that request's own delay in this busy process (the DB
    // answer reaching JavaScript, the sleep's timer, msw, reading the body): 0 to 250 ms and more on a loaded
    // machine, different for every request. Late requests then bunch with punctual ones, and the arrival
    // count of a 10 s window passes 150 although no slot was early: the 3% RATE_MARGIN is 300 ms per 10 s.
    // So the windows are counted on the granted slots, and every arrival is checked against them: the
    // fake never saw a request before the bucket had granted a slot for it (none bypasses or jumps the bucket).
    // With burst 1 a grant sets tat = slot + 1/rate (rate_take), so the slot is the new tat less one interval.
    const bucket = await rateBucketFor(fake.opts.integrationToken);
    const slotLog = `test_notion_slots_${rand()}`;
    await sql().unsafe(`create table public.${slotLog} (tat_ms float8 not null)`);
    await sql().unsafe(`create function public.${slotLog}() returns trigger language plpgsql as $$
      begin insert into public.${slotLog} values (extract(epoch from new.tat)::float8 * 1000); return null; end $$`);
    await sql().unsafe(`create trigger ${slotLog} after update on orchestrator.rate_limits for each row
      when (new.bucket = '${bucket}' and new.granted > old.granted) execute function public.${slotLog}()`);
    try {
      await sql()`select count(*) from orchestrator.enqueue_many(${alias},
        (select array_agg(jsonb_build_object('entity', 'task', 'key', k::text)) from unnest(${ids}::bigint[]) k))`;
      const log = createLogger({ component: "test-burst" });
      const started = Date.now();
      const stats = await Promise.all(Array.from({ length: 4 }, (_, i) =>
        runWorker({ taskList, workerId: `burst-${i}`, log, types: [alias], batchSize: 10, concurrency: 10, budgetMs: 200_000 })));
      const seconds = (Date.now() - started) / 1000;
      const times = fake.requests.map((r) => r.at);
      const intervalMs = 1000 / (limit * RATE_MARGIN);
      const slots = (await sql().unsafe<{ tat_ms: number }[]>(`select tat_ms from public.${slotLog} order by tat_ms`))
        .map((r) => r.tat_ms - intervalMs);
      const max10s = maxInWindow(slots, 10_000);
      const arrivals = [...times].sort((a, b) => a - b);
      const lags = arrivals.map((t, i) => t - slots[i]);
      const avg = fake.requests.length / ((times.at(-1)! - times[0]) / 1000);
      console.log(`[notion burst] limit ${limit}/s: ${fake.requests.length} requests in ${seconds.toFixed(1)} s; ` +
        `${slots.length} slots granted, max ${max10s} in any 10 s window (${(max10s / 10).toFixed(2)}/s); overall ${avg.toFixed(2)}/s; ` +
        `arrival after its slot ${Math.min(...lags).toFixed(0)}-${Math.max(...lags).toFixed(0)} ms (max ${maxInWindow(times, 10_000)} arrivals in 10 s); ` +
        `429s ${fake.requests.filter((r) => r.status === 429).length}; workers claimed ${stats.map((s) => s.claimed).join("+")}`);
      expect(stats.reduce((n, s) => n + s.succeeded, 0)).toBe(200);
      expect(stats.every((s) => s.claimed > 0)).toBe(true);
      expect(max10s).toBeLessThanOrEqual(limit * 10);
      // Every request took a slot, and none reached Notion before its slot: the k-th arrival is no earlier than
      // the k-th slot (so by any moment, the fake had seen no more requests than the bucket had granted). 2 ms
      // for the clocks' resolution (Date.now() is whole ms, the timer rounds to ms); a slot is ~69 ms.
      expect(slots.length).toBeGreaterThanOrEqual(fake.requests.length);
      expect(lags.filter((lag) => lag < -2)).toEqual([]);
      const pages = new Set(fake.pagesList().map((p) => prop(p, "Orchestrator ID")));
      expect(ids.every((id) => pages.has(`task:${id}`))).toBe(true);
      expect(fake.pagesList()).toHaveLength(200);
      const [{ mapped }] = await sql()`select count(*)::int as mapped from orchestrator.notion_pages
        where entity = 'task' and row_key = any(${ids.map(String)}::text[]) and page_id is not null`;
      expect(mapped).toBe(200);
    } finally {
      unregisterTaskType(alias);
      await sql().unsafe(`drop trigger if exists ${slotLog} on orchestrator.rate_limits`);
      await sql().unsafe(`drop function if exists public.${slotLog}()`);
      await sql().unsafe(`drop table if exists public.${slotLog}`);
    }
  }, 240_000);
});

describe("configuration errors", () => {
  async function status() {
    const res = await notion.fetch(request("/notion/status"));
    return { code: res.status, body: await res.json() };
  }

  it("a mistyped property: the task dies at once with an error naming it, shown by /notion/status", async () => {
    const schema = defaultSchema();
    schema.Priority = { type: "multi_select", options: [] };
    delete (schema as Record<string, unknown>)["Orchestrator ID"];
    workspace({ schema });
    const [id] = await taskRows(1);
    const out = await runTask("notion.push", { entity: "task", key: String(id) });
    expect(out.status).toBe("dead");
    expect(out.attempts).toBe(1);
    expect(out.last_error).toMatch(/Notion property "Priority" is a multi_select property; the sync needs select for priority/);
    expect(out.last_error).toMatch(/Notion property "Orchestrator ID" \(rich_text, for orchestrator_id\) is missing/);
    const s = await status();
    expect(s.code).toBe(200);
    expect(s.body.ok).toBe(false);
    expect(s.body.problems.join(" ")).toMatch(/"Priority" is a multi_select/);
    expect(s.body.last_hour.errors).toBeGreaterThanOrEqual(1);
    expect(s.body.last_hour.recent_errors.map((e: { message: string }) => e.message).join("\n")).toMatch(/Notion configuration error: .*"Priority"/);
  });

  it("a missing database and a rejected token: clear, non-retryable, in logs and status", async () => {
    const fake = workspace();
    fake.removeDatabase();
    const [id] = await taskRows(1);
    const missing = await runTask("notion.push", { entity: "task", key: String(id) });
    expect(missing.status).toBe("dead");
    expect(missing.last_error).toMatch(/Notion could not find it \(404 object_not_found\): check NOTION_DATABASE_ID and share the database with the integration/);
    expect((await status()).body.problems.join(" ")).toMatch(/404 object_not_found/);

    workspace();
    process.env.NOTION_API_KEY = "secret_wrong_token_for_this_test";
    const unauthorized = await runTask("notion.push", { entity: "task", key: String(id) });
    expect(unauthorized.status).toBe("dead");
    expect(unauthorized.last_error).toMatch(/Notion rejected NOTION_API_KEY \(401 unauthorized\)/);
    expect(unauthorized.last_error).not.toContain("secret_wrong_token_for_this_test");
    const s = await status();
    expect(s.body.problems.join(" ")).toMatch(/401 unauthorized/);
    const logs = await sql()`select message from orchestrator.logs where component = 'notion-sync' and level = 'error'
      and message like '%401 unauthorized%' and at > now() - interval '1 minute'`;
    expect(logs.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(s.body)).not.toContain("secret_wrong_token_for_this_test");
  });

  it("without NOTION_API_KEY the Notion task types fail fast and for good, saying why", async () => {
    workspace();
    delete process.env.NOTION_API_KEY;
    const started = Date.now();
    const push = await runTask("notion.push", { entity: "task", key: "1" });
    const pull = await runTask("notion.pull", {});
    expect(Date.now() - started).toBeLessThan(2000);
    for (const out of [push, pull]) {
      expect(out.status).toBe("dead");
      expect(out.attempts).toBe(1);
      expect(out.last_error).toMatch(/Notion sync is not configured: NOTION_API_KEY is not set/);
    }
    const s = await status();
    expect(s.body.configured).toBe(false);
    expect(s.body.problems).toContain("NOTION_API_KEY is not set");
    const enable = await notion.fetch(request("/notion/enable", { method: "POST" }));
    expect(enable.status).toBe(409);
    expect((await enable.json()).error.code).toBe("notion_not_configured");
  });

  it("POST /notion/enable with a broken configuration answers 400 naming the problem and enables nothing", async () => {
    const schema = defaultSchema();
    schema.Status = { type: "checkbox" };
    const fake = workspace({ schema });
    const res = await notion.fetch(request("/notion/enable", { method: "POST", body: JSON.stringify({ track_task_types: ["noop"] }) }));
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error.code).toBe("notion_config_invalid");
    expect(body.error.message).toMatch(/"Status" is a checkbox property; the sync needs status or select/);
    expect(body.error.details.problems).toEqual([expect.stringMatching(/"Status" is a checkbox property/)]);
    const [row] = await sql()`select enabled from orchestrator.sync_state where database_id = ${fake.opts.databaseId}`;
    expect(row.enabled).toBe(false);
    const bad = await notion.fetch(request("/notion/enable", { method: "POST", body: JSON.stringify({ track_task_types: ["notion.push"] }) }));
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.details.issues[0].path).toBe("track_task_types.0");
    const anon = await notion.fetch(request("/notion/status", { key: "anon" }));
    expect(anon.status).toBe(401);
  });
});
