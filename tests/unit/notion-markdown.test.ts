// Markdown -> Notion blocks: every block type we support, Notion's limits.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  batchBlocks,
  blockCount,
  markdownToBlocks,
  MAX_TEXT,
  notionLanguage,
  splitText,
  type Block,
} from "../../functions/_shared/notion/markdown.ts";

const body = (b: Block) => b[b.type] as Record<string, any>;
const text = (b: Block) => (body(b).rich_text as { text: { content: string } }[]).map((r) => r.text.content).join("");

function walk(blocks: Block[], visit: (b: Block, depth: number) => void, depth = 0) {
  for (const b of blocks) {
    visit(b, depth);
    walk((body(b)?.children as Block[]) ?? [], visit, depth + 1);
  }
}

describe("markdownToBlocks", () => {
  it("converts headings, paragraphs, lists, to-dos, code, quotes, dividers and tables", () => {
    const md = [
      "# Title", "## Section", "### Sub", "#### Deep heading",
      "A paragraph with **bold**, _italic_, ~~gone~~, `code` and a [link](https://example.com).",
      "- one", "- two\n  - nested", "", "1. first", "2. second", "",
      "- [x] done", "- [ ] todo", "",
      "```ts\nconst x = 1;\n```", "", "> quoted\n> text", "", "---", "",
      "| a | b |", "|---|---|", "| 1 | 2 |",
    ].join("\n");
    const blocks = markdownToBlocks(md);
    expect(blocks.map((b) => b.type)).toEqual([
      "heading_1", "heading_2", "heading_3", "heading_3", "paragraph",
      "bulleted_list_item", "bulleted_list_item", "numbered_list_item", "numbered_list_item",
      "to_do", "to_do", "code", "quote", "divider", "table",
    ]);
    const para = body(blocks[4]).rich_text as any[];
    expect(para.find((r) => r.text.content === "bold").annotations).toEqual({ bold: true });
    expect(para.find((r) => r.text.content === "italic").annotations).toEqual({ italic: true });
    expect(para.find((r) => r.text.content === "gone").annotations).toEqual({ strikethrough: true });
    expect(para.find((r) => r.text.content === "code").annotations).toEqual({ code: true });
    expect(para.find((r) => r.text.content === "link").text.link).toEqual({ url: "https://example.com" });
    expect(body(blocks[6]).children.map((c: Block) => [c.type, text(c)])).toEqual([["bulleted_list_item", "nested"]]);
    expect(body(blocks[9]).checked).toBe(true);
    expect(body(blocks[10]).checked).toBe(false);
    expect(body(blocks[11]).language).toBe("typescript");
    expect(text(blocks[11])).toBe("const x = 1;");
    expect(text(blocks[12])).toBe("quoted\ntext");
    expect(body(blocks[14]).table_width).toBe(2);
    expect(body(blocks[14]).children).toHaveLength(2);
  });

  it("splits a 5,000-character paragraph into rich-text items of at most 2,000 characters", () => {
    const long = "x".repeat(5000);
    const [p] = markdownToBlocks(long);
    const items = body(p).rich_text as { text: { content: string } }[];
    expect(items.map((i) => i.text.content.length)).toEqual([2000, 2000, 1000]);
    expect(text(p)).toBe(long);
  });

  it("continues a block in a new one past 100 rich-text items", () => {
    const huge = "y".repeat(2000 * 150);
    const blocks = markdownToBlocks(huge);
    expect(blocks).toHaveLength(2);
    expect((body(blocks[0]).rich_text as unknown[]).length).toBe(100);
    expect((body(blocks[1]).rich_text as unknown[]).length).toBe(50);
    expect(blocks.map(text).join("")).toBe(huge);
  });

  it("never splits a surrogate pair", () => {
    const s = "a" + "😀".repeat(1500);
    const pieces = splitText(s, 2000);
    expect(pieces.join("")).toBe(s);
    for (const p of pieces) {
      expect(p.length).toBeLessThanOrEqual(2000);
      expect(/^[\uDC00-\uDFFF]/.test(p)).toBe(false);
    }
  });

  it("keeps relative links as text (Notion rejects them) and maps code languages", () => {
    const [p] = markdownToBlocks("see [the docs](./docs.md)");
    const items = body(p).rich_text as any[];
    expect(items.every((i) => !i.text.link)).toBe(true);
    expect(text(p)).toContain("the docs");
    expect(notionLanguage("sh")).toBe("shell");
    expect(notionLanguage("brainfuck")).toBe("plain text");
    expect(notionLanguage(undefined)).toBe("plain text");
  });

  it("flattens lists nested deeper than Notion accepts in one request", () => {
    const md = "- a\n  - b\n    - c\n      - d\n        - e";
    let maxDepth = 0;
    walk(markdownToBlocks(md), (_, d) => (maxDepth = Math.max(maxDepth, d)));
    expect(maxDepth).toBeLessThanOrEqual(2);
    const all: string[] = [];
    walk(markdownToBlocks(md), (b) => all.push(text(b)));
    expect(all.sort()).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("property: any Markdown gives blocks within Notion's limits", () => {
    const piece = fc.oneof(
      fc.string({ maxLength: 3000 }),
      fc.constantFrom("# h", "- item", "1. n", "> q", "```\ncode\n```", "---", "- [ ] t", "**b** _i_"),
    );
    fc.assert(fc.property(fc.array(piece, { maxLength: 40 }), (parts) => {
      const blocks = markdownToBlocks(parts.join("\n\n"));
      walk(blocks, (b, depth) => {
        expect(depth).toBeLessThanOrEqual(2);
        const rich = body(b)?.rich_text as { text: { content: string } }[] | undefined;
        if (rich) {
          expect(rich.length).toBeLessThanOrEqual(100);
          for (const r of rich) expect(r.text.content.length).toBeLessThanOrEqual(MAX_TEXT);
        }
      });
    }), { numRuns: 150 });
  });
});

describe("batchBlocks", () => {
  it("packs 300+ blocks into requests of at most 100 blocks, children counted, order kept", () => {
    const md = Array.from({ length: 320 }, (_, i) => (i % 10 === 0 ? `- item ${i}\n  - child ${i}` : `Paragraph ${i}`)).join("\n\n");
    const blocks = markdownToBlocks(md);
    const batches = batchBlocks(blocks);
    expect(batches.length).toBeGreaterThanOrEqual(4);
    for (const b of batches) expect(b.reduce((n, x) => n + blockCount(x), 0)).toBeLessThanOrEqual(100);
    expect(batches.flat()).toEqual(blocks);
  });

  it("splits a block whose children alone exceed 100", () => {
    const md = "- parent\n" + Array.from({ length: 150 }, (_, i) => `  - child ${i}`).join("\n");
    const batches = batchBlocks(markdownToBlocks(md));
    for (const b of batches) expect(b.reduce((n, x) => n + blockCount(x), 0)).toBeLessThanOrEqual(100);
    const texts: string[] = [];
    walk(batches.flat(), (b) => texts.push(text(b)));
    expect(texts).toHaveLength(151);
    expect(texts[0]).toBe("parent");
  });

  it("keeps each request under the payload byte limit", () => {
    const md = Array.from({ length: 60 }, () => "z".repeat(20_000)).join("\n\n");
    const batches = batchBlocks(markdownToBlocks(md), 100, 100_000);
    expect(batches.length).toBeGreaterThan(1);
    for (const b of batches) expect(JSON.stringify(b).length).toBeLessThanOrEqual(100_000 + 25_000);
  });
});
