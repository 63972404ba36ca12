// SOP -> Markdown: the document structure is ours; untrusted strings stay text.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { marked, type Token, type Tokens } from "marked";
import { mdText, renderSopMarkdown } from "../../functions/_shared/sops/markdown.ts";
import type { SopContent } from "../../functions/_shared/sops/schema.ts";

const sop = (over: Partial<SopContent> = {}): SopContent => ({
  title: "Restart the payment worker",
  purpose: "Bring payments back.",
  scope: "Candyland checkout.",
  roles: [{ role: "On-call engineer", responsibilities: "Runs it." }],
  prerequisites: ["Service key"],
  steps: [
    { action: "Stop the worker.", expected_result: "No more jobs are taken." },
    { action: "Start it again.", expected_result: "Jobs resume.", warning: "Do not start two." },
  ],
  verification: ["Orders go through."],
  rollback: ["Start the old version."],
  references: ["Ticket #1"],
  ...over,
});

function walk(tokens: Token[], visit: (t: Token) => void) {
  for (const t of tokens) {
    visit(t);
    const nested = [(t as { tokens?: Token[] }).tokens, ...((t as Tokens.List).items ?? []).map((i) => i.tokens)];
    for (const n of nested) if (n) walk(n, visit);
  }
}

function structure(md: string) {
  const tokens = marked.lexer(md);
  const headings: string[] = [];
  const kinds = new Set<string>();
  walk(tokens, (t) => {
    // A bare URL becomes a GFM autolink that shows its own target: not a hidden link.
    const hiddenLink = t.type === "link" && !(t as Tokens.Link & { autolink?: boolean }).autolink;
    kinds.add(hiddenLink ? "link" : t.type === "link" ? "autolink" : t.type);
    if (t.type === "heading") headings.push(`${"#".repeat((t as Tokens.Heading).depth)} ${(t as Tokens.Heading).text}`);
  });
  const procedure = tokens.find((t) => t.type === "list" && (t as Tokens.List).ordered) as Tokens.List | undefined;
  return { headings, kinds, procedure };
}

const SECTIONS = ["## Purpose", "## Scope", "## Roles", "## Prerequisites", "## Procedure", "## Verification", "## Rollback", "## References"];

describe("renderSopMarkdown", () => {
  it("renders every section in order, steps as a numbered list with expected result and warning", () => {
    const md = renderSopMarkdown(sop(), { slug: "restart-payment-worker", version: 3, generator: "ai:gpt-4o-mini" });
    const { headings, procedure } = structure(md);
    expect(headings).toEqual(["# Restart the payment worker", ...SECTIONS]);
    expect(procedure!.items).toHaveLength(2);
    expect(procedure!.start).toBe(1);
    expect(md).toContain("1. Stop the worker.\n   - Expected result: No more jobs are taken.");
    expect(md).toContain("2. Start it again.\n   - Expected result: Jobs resume.\n   - **Warning:** Do not start two.");
    expect(md).toContain("> SOP `restart-payment-worker` · version 3 · written by `ai:gpt-4o-mini`");
    expect(renderSopMarkdown(sop({ prerequisites: [] }))).toContain("## Prerequisites\n\n_None._");
  });

  it("hostile strings cannot add headings, HTML, links, code or list items", () => {
    const hostile = "ok\n\n# Injected heading\n<script>alert(1)</script>\n```\ncode\n```\n[click](http://evil.example) ![x](http://evil.example/x.png)\n1. fake step\n- fake item\n| a | b |\n---";
    const md = renderSopMarkdown(sop({
      title: hostile,
      purpose: hostile,
      steps: [{ action: hostile, expected_result: hostile, warning: hostile }],
      references: [hostile, "-leading dash", "1) paren", "=== setext"],
    }));
    const { headings, kinds, procedure } = structure(md);
    expect(headings.slice(1)).toEqual(SECTIONS);
    expect(headings).toHaveLength(1 + SECTIONS.length);
    for (const kind of ["html", "link", "image", "code", "codespan", "table", "hr"]) expect(kinds.has(kind)).toBe(false);
    expect(procedure!.items).toHaveLength(1);
    // The text is still there, readable.
    const html = marked.parse(md) as string;
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("[click](");
    expect(html).not.toContain("<script>");
    expect(html).not.toContain(">click</a>");
  });

  it("mdText keeps any string on one line of literal text (property)", () => {
    fc.assert(fc.property(fc.oneof(fc.string({ unit: "grapheme-ascii", maxLength: 200 }), fc.array(fc.constantFrom("_", "*", "a", "1", " ", "~", "`", "\\", "[", "]", "(", ")", "<", ">", "&", "#", ";", "\n", "-", "."), { maxLength: 40 }).map((a) => a.join(""))), (s) => {
      const line = mdText(s);
      expect(line).not.toMatch(/[\r\n]/);
      const tokens = marked.lexer(`- ${line}`);
      expect(tokens.filter((t) => t.type !== "space")).toHaveLength(1);
      const kinds = new Set<string>();
      let lists = 0;
      walk(tokens, (t) => {
        if (t.type === "list") lists++;
        kinds.add(t.type === "link" && (t as { autolink?: boolean }).autolink ? "autolink" : t.type);
      });
      expect(lists, `nested list from ${JSON.stringify(s)}`).toBe(1);
      for (const kind of ["html", "link", "image", "code", "codespan", "heading", "table", "em", "strong", "del"]) expect(kinds.has(kind), `${kind} from ${JSON.stringify(s)}`).toBe(false);
    }), { numRuns: 500 });
  });
});
