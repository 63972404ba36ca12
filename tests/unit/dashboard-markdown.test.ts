// The dashboard renders SOP Markdown (written from app data and AI output) inside a
// page that holds the service key: raw HTML must stay text, and only safe URLs pass.
import { describe, expect, it } from "vitest";
import { renderMarkdown } from "../../dashboard/src/markdown.ts";

describe("dashboard Markdown rendering", () => {
  it("renders the Markdown an SOP uses", () => {
    const html = renderMarkdown("# Title\n\n## Steps\n\n1. Do **this**\n2. Then `that`\n\n- [ ] check\n\n> note\n\n```\ncode\n```\n\n[docs](https://example.com/a)");
    expect(html).toContain("<h1>Title</h1>");
    expect(html).toContain("<ol>");
    expect(html).toContain("<strong>this</strong>");
    expect(html).toContain("<code>that</code>");
    expect(html).toContain("<blockquote>");
    expect(html).toContain('<a href="https://example.com/a" target="_blank" rel="noopener noreferrer">docs</a>');
  });

  it("shows raw HTML as text", () => {
    for (const hostile of ['<img src=x onerror="alert(1)">', "<script>alert(1)</script>", '<div onclick="x()">hi</div>', "text <iframe src=//evil></iframe>"]) {
      const html = renderMarkdown(hostile);
      expect(html, hostile).not.toMatch(/<(img|script|div|iframe)\b/i);
      expect(html).toContain("&lt;");
    }
  });

  it("drops javascript:, data: and vbscript: links and images, keeps their text", () => {
    for (const url of ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)"]) {
      const link = renderMarkdown(`[click](${url})`);
      expect(link, url).not.toMatch(/href=/i);
      expect(link).toContain("click");
      const img = renderMarkdown(`![pic](${url})`);
      expect(img, url).not.toMatch(/<img/i);
    }
    expect(renderMarkdown("![chart](https://example.com/c.png)")).toContain('<img src="https://example.com/c.png"');
    expect(renderMarkdown('[x](https://e.com/" onmouseover="alert(1))')).not.toMatch(/" onmouseover=/);
  });
});
