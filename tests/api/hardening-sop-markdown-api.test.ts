// Issue 14 item 11 through the API: GET /sops/:slug?format=md of a 60-step SOP is one numbered
// list with every step's sub-items nested, both for a version written now (sop.generate with the
// provider mocked by msw) and for a version stored by the old renderer (3-space sub-items), which
// is read from its content. Real database, /sops called in-process.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { http, HttpResponse } from "msw";
import { setupServer } from "msw/node";
import { marked, type Tokens } from "marked";
import sops from "../../functions/sops/index.ts";
import { insertSop } from "../../functions/_shared/sops/store.ts";
import type { SopContent } from "../../functions/_shared/sops/schema.ts";
import { sopAdapter } from "../../functions/_shared/notion/entities.ts";
import { type Block, markdownToBlocks } from "../../functions/_shared/notion/markdown.ts";
import { request, sql } from "../helpers/stack.ts";
import { runTask, withEnv } from "../helpers/inprocess.ts";

const BASE = "https://markdown.ai.test/v1";
const server = setupServer();
let restore: () => void;
beforeAll(() => {
  server.listen({ onUnhandledFrame: "bypass" });
  restore = withEnv({ AI_BASE_URL: BASE, AI_API_KEY: "sk-test-markdown-0123456789abcdef", AI_MODEL: "sop-model", AI_MAX_RETRIES: "0", NOTION_API_KEY: undefined });
});
afterAll(() => {
  server.close();
  restore();
});

const STEPS = 60;
const content = (): SopContent => ({
  title: "Rotate every shard key",
  purpose: "Rotate keys without downtime.",
  scope: "All 60 shards.",
  roles: [{ role: "On-call engineer", responsibilities: "Runs it." }],
  prerequisites: [],
  steps: Array.from({ length: STEPS }, (_, i) => ({
    action: `Rotate shard ${i + 1}.`,
    expected_result: `Shard ${i + 1} serves with the new key.`,
    ...(i % 2 ? { warning: `Keep shard ${i} online meanwhile.` } : {}),
  })),
  verification: ["Every shard answers."],
  rollback: ["Restore the old keys."],
  references: [],
});
const slug = () => `md-60-${Math.random().toString(36).slice(2, 9)}`;

/** Asserts the Markdown's procedure is one ordered list of 60 items, each with its nested sub-list. */
function expectOneNestedList(md: string) {
  const top = marked.lexer(md).filter((t) => t.type !== "space");
  const at = top.findIndex((t) => t.type === "heading" && (t as Tokens.Heading).text === "Procedure");
  const next = top.findIndex((t, i) => i > at && t.type === "heading");
  const procedure = top.slice(at + 1, next);
  expect(procedure.map((t) => t.type)).toEqual(["list"]);
  const list = procedure[0] as Tokens.List;
  expect(list.ordered).toBe(true);
  expect(list.items).toHaveLength(STEPS);
  list.items.forEach((item, i) => {
    const nested = item.tokens.filter((t) => t.type === "list") as Tokens.List[];
    expect(nested, `step ${i + 1}`).toHaveLength(1);
    expect(nested[0].items.map((s) => s.text.replace(/\*\*/g, "")), `step ${i + 1}`).toEqual([
      `Expected result: Shard ${i + 1} serves with the new key.`,
      ...(i % 2 ? [`Warning: Keep shard ${i} online meanwhile.`] : []),
    ]);
  });
}

async function readMd(s: string) {
  const res = await sops.fetch(request(`/sops/${s}?format=md`));
  expect(res.status).toBe(200);
  return await res.text();
}

describe("GET /sops/:slug?format=md of a 60-step SOP", () => {
  it("written now by sop.generate: one numbered list, every step's sub-items nested", async () => {
    const model = { ...content(), steps: content().steps.map((s) => ({ warning: null, ...s })) };
    server.use(http.post(`${BASE}/chat/completions`, () =>
      HttpResponse.json({ model: "sop-model", choices: [{ message: { role: "assistant", content: JSON.stringify(model) }, finish_reason: "stop" }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } })));
    const s = slug();
    const out = await runTask("sop.generate", { topic: "Rotate every shard key", slug: s, notion: false });
    expect(out.status).toBe("succeeded");
    expect(out.result.generator).toBe("ai:sop-model");
    const md = await readMd(s);
    expectOneNestedList(md);
    // The stored Markdown (what the Notion sync pushes) is the same.
    const [row] = await sql()`select body_md from orchestrator.sops where slug = ${s}`;
    expect(row.body_md).toBe(md);
  });

  it("a version stored by the old renderer (3-space sub-items) is served from its content, in Markdown and JSON", async () => {
    const c = content();
    const s = slug();
    const oldMd = [`# ${c.title}`, "", "## Procedure", "",
      ...c.steps.flatMap((st, i) => [`${i + 1}. ${st.action}`, `   - Expected result: ${st.expected_result}`, ...(st.warning ? [`   - **Warning:** ${st.warning}`] : [])]),
      "", "## Verification", "", "- Every shard answers.", ""].join("\n");
    await insertSop(sql(), { slug: s, content: c, body_md: oldMd, generator: "template", topic: c.title, ticket_ids: [], event_ids: [], task_ids: [] });
    expectOneNestedList(await readMd(s));
    const json = await (await sops.fetch(request(`/sops/${s}`))).json();
    expectOneNestedList(json.body_md);
    expect(json.body_md).toContain("\n10. Rotate shard 10.\n    - Expected result: Shard 10 serves with the new key.\n    - **Warning:** Keep shard 9 online meanwhile.\n");
  });

  it("the Notion push of a version stored by the old renderer is built from its content too: one run of 60 numbered items with children", async () => {
    const c = content();
    const s = slug();
    const oldMd = ["## Procedure", "", ...c.steps.flatMap((st, i) => [`${i + 1}. ${st.action}`, `   - Expected result: ${st.expected_result}`])].join("\n");
    await insertSop(sql(), { slug: s, content: c, body_md: oldMd, generator: "template", topic: c.title, ticket_ids: [], event_ids: [], task_ids: [] });
    const page = await sopAdapter.load(sql(), s, undefined);
    expectOneNestedList(page!.body!);
    const numbered = markdownToBlocks(page!.body!).filter((b) => b.type === "numbered_list_item");
    expect(numbered).toHaveLength(STEPS);
    numbered.forEach((b, i) => {
      const item = b.numbered_list_item as { children?: Block[] };
      // Expected result on every step, a Warning on every other one.
      expect(item.children?.map((c) => c.type), `step ${i + 1}`).toEqual(i % 2 ? ["bulleted_list_item", "bulleted_list_item"] : ["bulleted_list_item"]);
    });
  });
});
