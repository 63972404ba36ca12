// Issue 14, item 13, end to end on a private stack (enabling the sync here reaches no
// other test file): the Deno functions, the real queue and worker, and the strict fake
// Notion over HTTP. Enable refuses what would kill every push and lists every problem;
// /notion/status says why it is not ok; and once fixed, one call re-pushes what died,
// coalescing with a push already queued for the same row instead of a 409.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import postgres from "postgres";
import { startPrivateStack, type PrivateStack } from "../helpers/private-stack.ts";
import { defaultSchema, FakeNotion, serveFakeNotion } from "../helpers/notion-mock.ts";
import { keyHeaders, waitFor } from "../helpers/stack.ts";

const rand = () => Math.random().toString(36).slice(2, 10);
const TOKEN = `secret_e2e_${rand()}${rand()}`;
let ps: PrivateStack;
let sql: postgres.Sql;
let fake: FakeNotion;
let served: Awaited<ReturnType<typeof serveFakeNotion>>;

beforeAll(async () => {
  const schema = defaultSchema();
  // The database as the issue met it: no "Published" (SOPs, digests) and no "Failed" (dead tasks).
  schema.Status.options = schema.Status.options!.filter((o) => o !== "Published" && o !== "Failed");
  fake = new FakeNotion({ integrationToken: TOKEN, databaseId: crypto.randomUUID(), schema });
  served = await serveFakeNotion(fake);
  ps = await startPrivateStack({
    functionEnv: {
      NOTION_API_KEY: TOKEN,
      NOTION_DATABASE_ID: fake.opts.databaseId,
      NOTION_API_BASE_URL: served.url,
      NOTION_RATE_PER_SECOND: "50",
    },
  });
  sql = postgres(ps.stack.info.DB_URL, {
    max: 4, onnotice: () => {},
    types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
  });
}, 120_000);

afterAll(async () => {
  await sql?.end();
  await ps?.stop();
  await served?.close();
});

async function fn(path: string, init: RequestInit = {}) {
  const res = await fetch(`${ps.stack.info.FUNCTIONS_URL}${path}`, {
    ...init,
    headers: keyHeaders(ps.stack.info, "service", { "content-type": "application/json" }),
  });
  return { status: res.status, body: await res.json() };
}
const enable = (body: object) => fn("/notion/enable", { method: "POST", body: JSON.stringify(body) });
const status = async () => (await fn("/notion/status")).body;
const task = async (id: number) => (await sql`select id, status::text, result, last_error from orchestrator.tasks where id = ${id}`)[0];
const pushesOf = (slug: string) =>
  sql<{ id: number; status: string; last_error: string | null }[]>`
    select id, status::text, last_error from orchestrator.tasks where type = 'notion.push' and payload ->> 'key' = ${slug} order by id`;
const addOption = (name: string) => fake.schema.Status.options!.push(name);
const removeOption = (name: string) => (fake.schema.Status.options = fake.schema.Status.options!.filter((o) => o !== name));

describe("POST /notion/enable and what died of a broken configuration", () => {
  it("refuses with every problem listed, turns on once fixed, and re-pushes the dead in one call", async () => {
    // 1. Everything wrong at once: one 400 naming each problem; nothing enabled.
    const refused = await enable({ track_task_types: ["no.such.type"] });
    expect(refused.status, JSON.stringify(refused.body)).toBe(400);
    expect(refused.body.error.code).toBe("notion_config_invalid");
    const problems: string[] = refused.body.error.details.problems;
    expect(problems).toEqual([
      expect.stringMatching(/^track_task_types: "no.such.type" is not a task type/),
      expect.stringMatching(/^Notion status option "Published" \(for sop status "published", digest status "published"\) does not exist/),
      expect.stringMatching(/^Notion status option "Failed" \(for task status "dead"\) does not exist/),
    ]);
    const off = await status();
    expect(off).toMatchObject({ enabled: false, ok: false });
    expect(off.problems).toEqual([
      expect.stringMatching(/^The sync is not enabled: POST \/functions\/v1\/notion\/enable/),
      expect.stringMatching(/"Published" .*does not exist/),
      ...off.problems.slice(2),
    ]);

    // 2. Fixed in Notion: enable answers 200 and status is ok.
    addOption("Published");
    addOption("Failed");
    const on = await enable({});
    expect(on.status, JSON.stringify(on.body)).toBe(200);
    await waitFor(async () => (await status()).ok === true || undefined, "status ok after enabling", 20_000, 200);

    // 3. The option goes away again in Notion: every SOP push dies on it.
    removeOption("Published");
    const [a, b] = [`hn-repush-a-${rand()}`, `hn-repush-b-${rand()}`];
    for (const slug of [a, b]) {
      await sql`select orchestrator.sop_insert(${slug}, ${`SOP ${slug}`}, '{}'::jsonb, ${`# ${slug}\n\nSteps.`}, 'template', '{}'::jsonb)`;
    }
    const [deadA] = await waitFor(async () => { const p = await pushesOf(a); return p[0]?.status === "dead" && p; }, "A's push to die", 30_000, 100);
    const [deadB] = await waitFor(async () => { const p = await pushesOf(b); return p[0]?.status === "dead" && p; }, "B's push to die", 30_000, 100);
    expect(deadA.last_error).toMatch(/"Published"/);
    // A later change of A queued another push (here: due later), so retrying A's dead push by hand is a 409.
    const [{ id: queuedA }] = await sql`select (r.task).id from orchestrator.enqueue('notion.push', ${sql.json({ entity: "sop", key: a })},
      ${sql.json({ dedupe_key: `notion.push:sop:${a}`, run_at: "2099-01-01T00:00:00Z", source: "test" })}) r`;
    expect((await fn(`/tasks/${deadA.id}/retry`, { method: "POST" })).status).toBe(409);

    // 4. /notion/status says why it is not ok.
    const broken = await status();
    expect(broken.ok).toBe(false);
    // A and B's pushes, and a notion.pull if the minute's cron tick fell in this window (it checks the mapping too);
    // each dies of Notion's own 400 or of the mapping check that comes first, whichever sees the change first.
    const died = broken.problems.map((p: string) => /^(\d+) Notion task\(s\) died since .*, the latest \(task \d+\) of: .*[Ss]tatus option "Published" .*does not exist.*POST \/functions\/v1\/notion\/enable \{"repush_dead": true\}/.exec(p))
      .find(Boolean);
    expect(died, JSON.stringify(broken.problems)).toBeTruthy();
    expect(Number(died![1])).toBeGreaterThanOrEqual(2);
    expect(broken.problems).toContainEqual(expect.stringMatching(/^\d+ error\(s\) logged by the Notion sync since /));

    // 5. Fixed again: one call re-enables and re-pushes; A's dead push is coalesced into the queued one.
    addOption("Published");
    const repushed = await enable({ repush_dead: true });
    expect(repushed.status, JSON.stringify(repushed.body)).toBe(200);
    expect(repushed.body.repush).toEqual({ requeued: 1, coalesced: 1, task_ids: [deadB.id] });
    const done = async (id: number) => waitFor(async () => { const t = await task(id); return ["succeeded", "dead"].includes(t.status) && t; }, `push ${id}`, 30_000, 100);
    const [liveA, againB] = [await done(queuedA), await done(deadB.id)];
    expect(liveA.status, liveA.last_error ?? "").toBe("succeeded");
    expect(againB.status, againB.last_error ?? "").toBe("succeeded");
    expect(await task(deadA.id)).toMatchObject({ status: "cancelled", result: { coalesced_into: queuedA } });
    for (const slug of [a, b]) {
      const pages = fake.findByOrchestratorId(`sop:${slug}`);
      expect(pages).toHaveLength(1);
      expect(pages[0].properties.Status.status.name).toBe("Published");
    }
    const fixed = await waitFor(async () => { const s = await status(); return s.ok && s; }, "status ok after the re-push", 30_000, 200);
    expect(fixed.problems).toEqual([]);
  }, 120_000);
});
