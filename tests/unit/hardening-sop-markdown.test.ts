// Issue 14 item 11: an SOP of 10 steps or more must stay one numbered list with every
// step's "Expected result" / "Warning" nested under it, in the Markdown (checked with
// marked's lexer, the parser the Notion converter and the dashboard use), in the Notion
// blocks built from it, and in the dashboard's HTML.
import { describe, expect, it } from "vitest";
import { marked, type Token, type Tokens } from "marked";
import { renderSopMarkdown } from "../../functions/_shared/sops/markdown.ts";
import type { SopContent } from "../../functions/_shared/sops/schema.ts";
import { batchBlocks, blockCount, markdownToBlocks, type Block } from "../../functions/_shared/notion/markdown.ts";
import { renderMarkdown } from "../../dashboard/src/markdown.ts";

const STEPS = 60; // the schema's maximum
const sixtySteps = (): SopContent => ({
  title: "Drain and restart the checkout fleet",
  purpose: "Bring checkout back one node at a time.",
  scope: "Candyland checkout nodes.",
  roles: [{ role: "On-call engineer", responsibilities: "Runs every step." }],
  prerequisites: ["Service key"],
  // Every third step has a warning, so items with one and with two sub-items both appear past step 10.
  steps: Array.from({ length: STEPS }, (_, i) => ({
    action: `Drain node ${i + 1}.`,
    expected_result: `Node ${i + 1} takes no traffic.`,
    ...(i % 3 === 2 ? { warning: `Never drain node ${i + 1} and node ${i + 2} together.` } : {}),
  })),
  verification: ["Checkout answers 200."],
  rollback: ["Undrain every node."],
  references: ["Runbook 7"],
});

const subItems = (step: number) => [`Expected result: Node ${step} takes no traffic.`, ...(step % 3 === 0 ? [`Warning: Never drain node ${step} and node ${step + 1} together.`] : [])];

/** The top-level tokens between "## Procedure" and the next heading. */
function procedureTokens(md: string): Token[] {
  const tokens = marked.lexer(md).filter((t) => t.type !== "space");
  const start = tokens.findIndex((t) => t.type === "heading" && (t as Tokens.Heading).text === "Procedure");
  const end = tokens.findIndex((t, i) => i > start && t.type === "heading");
  return tokens.slice(start + 1, end);
}

const inlineText = (t: Token): string => (t as Tokens.Text).text.replace(/\*\*/g, "");

describe("a 60-step SOP (issue 14 item 11)", () => {
  const md = renderSopMarkdown(sixtySteps(), { slug: "drain-checkout", generator: "template" });

  it("Markdown: the procedure is one numbered list of 60 items, each with its sub-items nested", () => {
    const procedure = procedureTokens(md);
    expect(procedure.map((t) => t.type)).toEqual(["list"]);
    const list = procedure[0] as Tokens.List;
    expect(list.ordered).toBe(true);
    expect(list.start).toBe(1);
    expect(list.items).toHaveLength(STEPS);
    list.items.forEach((item, i) => {
      const step = i + 1;
      const [head, ...rest] = item.tokens.filter((t) => t.type !== "space");
      expect(inlineText(head), `step ${step}`).toBe(`Drain node ${step}.`);
      expect(rest.map((t) => t.type), `step ${step}`).toEqual(["list"]);
      const nested = rest[0] as Tokens.List;
      expect(nested.ordered).toBe(false);
      expect(nested.items.map((s) => s.text.replace(/\*\*/g, "")), `step ${step}`).toEqual(subItems(step));
    });
  });

  it("Notion blocks: one run of 60 numbered_list_item blocks, each with its bulleted children, kept across request batches", () => {
    const blocks = markdownToBlocks(md);
    const heading = (name: string) => blocks.findIndex((b) => b.type === "heading_2" && (b.heading_2 as { rich_text: { text: { content: string } }[] }).rich_text[0].text.content === name);
    const procedure = blocks.slice(heading("Procedure") + 1, heading("Verification"));
    expect(procedure.map((b) => b.type)).toEqual(Array(STEPS).fill("numbered_list_item"));
    const plain = (b: Block) => ((b[b.type] as { rich_text: { text: { content: string } }[] }).rich_text).map((r) => r.text.content).join("");
    procedure.forEach((b, i) => {
      const step = i + 1;
      expect(plain(b)).toBe(`Drain node ${step}.`);
      const children = ((b.numbered_list_item as { children?: Block[] }).children ?? []);
      expect(children.map((c) => c.type), `step ${step}`).toEqual(subItems(step).map(() => "bulleted_list_item"));
      expect(children.map(plain), `step ${step}`).toEqual(subItems(step));
    });
    // The page is appended in requests of at most 100 blocks: batching splits between steps, never inside one.
    const batches = batchBlocks(blocks);
    expect(batches.length).toBeGreaterThan(1);
    for (const batch of batches) expect(batch.reduce((n, b) => n + blockCount(b), 0)).toBeLessThanOrEqual(100);
    expect(batches.flat()).toEqual(blocks);
  });

  it("dashboard: the same Markdown renders as one <ol> whose every <li> holds its <ul>", () => {
    const html = renderMarkdown(md);
    const section = html.slice(html.indexOf("<h2>Procedure</h2>") + "<h2>Procedure</h2>".length, html.indexOf("<h2>Verification</h2>")).trim();
    const items = [...section.matchAll(/<li>Drain node (\d+)\.<ul>\n((?:<li>.*?<\/li>\n)+)<\/ul>\n<\/li>/g)];
    expect(items.map((m) => Number(m[1]))).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    for (const m of items) {
      expect(m[2].trim().split("\n").map((li) => li.replace(/<\/?(li|strong)>/g, ""))).toEqual(subItems(Number(m[1])));
    }
    expect(section).toBe(`<ol>\n${items.map((m) => m[0]).join("\n")}\n</ol>`);
  });
});
