// SopContent -> Markdown. Every string is untrusted (it comes from app data or
// a model), so it is rendered as inline text: newlines folded, Markdown and
// HTML control characters escaped. It can never open a heading, a list, a code
// block, a link or raw HTML of its own; the document structure is ours.
import { type SopContent, sopContentSchema } from "./schema.ts";

/** One line of literal text in Markdown. */
export function mdText(value: string): string {
  return value
    // deno-lint-ignore no-control-regex -- control characters are exactly what is stripped
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, "")
    .replace(/\s*[\r\n]+\s*/g, " ")
    .trim()
    // Emphasis, code spans, link brackets, HTML and autolink angles, strikethrough. An
    // underscore between letters or digits cannot open emphasis, so task_id stays readable.
    .replace(/[\\`*\[\]<>~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, (c) => "\\" + c)
    // Only an ampersand that would start an entity (&lt; &#60;) needs escaping.
    .replace(/&(?=#?[A-Za-z0-9]+;)/g, "&amp;")
    // A line start that would become a heading, list item, thematic break or setext heading.
    .replace(/^(\d+)([.)])/, "$1\\$2")
    .replace(/^([-=+#])/, "\\$1");
}

export interface RenderMeta {
  slug?: string;
  version?: number;
  generator?: string;
}

export function renderSopMarkdown(sop: SopContent, meta: RenderMeta = {}): string {
  const out: string[] = [];
  const list = (items: string[], empty: string) => (items.length ? items.map((i) => `- ${mdText(i)}`) : [`_${empty}_`]);
  out.push(`# ${mdText(sop.title)}`, "");
  const facts = [
    meta.slug ? `SOP \`${meta.slug}\`` : undefined,
    meta.version ? `version ${meta.version}` : undefined,
    meta.generator ? `written by ${meta.generator === "template" ? "the template generator" : `\`${meta.generator.replace(/`/g, "")}\``}` : undefined,
  ].filter(Boolean);
  if (facts.length) out.push(`> ${facts.join(" · ")}`, "");
  out.push("## Purpose", "", mdText(sop.purpose), "");
  out.push("## Scope", "", mdText(sop.scope), "");
  out.push("## Roles", "", ...sop.roles.map((r) => `- **${mdText(r.role)}**: ${mdText(r.responsibilities)}`), "");
  out.push("## Prerequisites", "", ...list(sop.prerequisites, "None."), "");
  out.push("## Procedure", "");
  sop.steps.forEach((s, i) => {
    const marker = `${i + 1}. `;
    // A list item's sub-items belong to it only when indented to its content column, which is the
    // marker's width: 3 spaces under "9. ", 4 under "10. ". Fewer and step 10 on loses its sub-items.
    const indent = " ".repeat(marker.length);
    out.push(`${marker}${mdText(s.action)}`);
    out.push(`${indent}- Expected result: ${mdText(s.expected_result)}`);
    if (s.warning) out.push(`${indent}- **Warning:** ${mdText(s.warning)}`);
  });
  out.push("");
  out.push("## Verification", "", ...list(sop.verification, "None."), "");
  out.push("## Rollback", "", ...list(sop.rollback, "None."), "");
  out.push("## References", "", ...list(sop.references, "None."), "");
  return out.join("\n");
}

/**
 * The Markdown of a stored version, rendered again from its content (the record; body_md is a view
 * of it). Versions stored before steps 10+ were indented to their marker lost those steps' sub-items
 * in body_md; their content is intact. A content that no longer fits the schema keeps its stored text.
 */
export function storedSopMarkdown(sop: { content: unknown; slug: string; generator: string; body_md: string }): string {
  const content = sopContentSchema.safeParse(sop.content);
  return content.success ? renderSopMarkdown(content.data, { slug: sop.slug, generator: sop.generator }) : sop.body_md;
}
