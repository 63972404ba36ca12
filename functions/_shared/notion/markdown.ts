// Markdown -> Notion blocks, with marked's lexer. Headings, paragraphs,
// bulleted/numbered lists (nested), to-dos, code, quotes, dividers and tables;
// inline bold/italic/strikethrough/code/links become rich-text annotations.
//
// Notion's limits, enforced here so a request is never rejected for its shape:
// - a rich-text item holds at most 2,000 characters: longer text is split into
//   several items of the same block;
// - a rich-text array holds at most 100 items: longer blocks continue in a new
//   block of the same type;
// - a request appends at most 100 blocks, nested at most two levels deep:
//   batchBlocks() packs blocks (children counted) into requests that fit.
import { Lexer, type Token, type Tokens } from "marked";

export const MAX_TEXT = 2000;
export const MAX_RICH_TEXT_ITEMS = 100;
export const MAX_BLOCKS_PER_REQUEST = 100;
/** Notion accepts two levels of nesting below the blocks of one request. */
export const MAX_NESTING = 2;
/** Keep one request's JSON well under Notion's 500 KB payload limit. */
export const MAX_REQUEST_BYTES = 400_000;

export interface Annotations {
  bold?: boolean;
  italic?: boolean;
  strikethrough?: boolean;
  underline?: boolean;
  code?: boolean;
}

export interface RichText {
  type: "text";
  text: { content: string; link?: { url: string } | null };
  annotations?: Annotations;
}

export interface Block {
  object?: "block";
  type: string;
  [key: string]: unknown;
}

// Notion's code block languages (a subset of the accepted list, plus aliases).
const LANGUAGES = new Set([
  "abap", "arduino", "bash", "basic", "c", "clojure", "coffeescript", "c++", "c#", "css", "dart", "diff", "docker",
  "elixir", "elm", "erlang", "flow", "fortran", "f#", "gherkin", "glsl", "go", "graphql", "groovy", "haskell", "html",
  "java", "javascript", "json", "julia", "kotlin", "latex", "less", "lisp", "livescript", "lua", "makefile", "markdown",
  "markup", "matlab", "mermaid", "nix", "objective-c", "ocaml", "pascal", "perl", "php", "plain text", "powershell",
  "prolog", "protobuf", "python", "r", "reason", "ruby", "rust", "sass", "scala", "scheme", "scss", "shell", "sql",
  "swift", "typescript", "vb.net", "verilog", "vhdl", "visual basic", "webassembly", "xml", "yaml", "java/c/c++/c#",
]);
const LANGUAGE_ALIASES: Record<string, string> = {
  js: "javascript", jsx: "javascript", ts: "typescript", tsx: "typescript", sh: "shell", zsh: "shell", console: "shell",
  py: "python", rb: "ruby", yml: "yaml", md: "markdown", dockerfile: "docker", cs: "c#", cpp: "c++", text: "plain text",
  txt: "plain text", plaintext: "plain text", psql: "sql", postgres: "sql", postgresql: "sql", toml: "plain text",
  kt: "kotlin", rs: "rust", golang: "go", jsonc: "json", ps1: "powershell",
};

export function notionLanguage(lang: string | undefined): string {
  const l = (lang ?? "").trim().split(/\s+/)[0].toLowerCase();
  if (!l) return "plain text";
  const mapped = LANGUAGE_ALIASES[l] ?? l;
  return LANGUAGES.has(mapped) ? mapped : "plain text";
}

/** Splits a string into pieces of at most `max` UTF-16 units, never inside a surrogate pair. */
export function splitText(content: string, max = MAX_TEXT): string[] {
  if (content.length <= max) return [content];
  const out: string[] = [];
  let i = 0;
  while (i < content.length) {
    let end = Math.min(i + max, content.length);
    const code = content.charCodeAt(end - 1);
    if (end < content.length && code >= 0xd800 && code <= 0xdbff) end--;
    out.push(content.slice(i, end));
    i = end;
  }
  return out;
}

function validLink(href: string | undefined): string | undefined {
  if (!href || href.length > 2000) return undefined;
  return /^(https?:\/\/|mailto:)/i.test(href) ? href : undefined;
}

interface Segment {
  content: string;
  annotations: Annotations;
  link?: string;
}

function decodeEntities(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|#39|#x27|apos);/g, (_, e: string) =>
    ({ amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'", "#x27": "'", apos: "'" })[e] ?? _);
}

function inlineSegments(tokens: Token[] | undefined, annotations: Annotations = {}, link?: string): Segment[] {
  const out: Segment[] = [];
  for (const t of tokens ?? []) {
    switch (t.type) {
      case "strong":
        out.push(...inlineSegments((t as Tokens.Strong).tokens, { ...annotations, bold: true }, link));
        break;
      case "em":
        out.push(...inlineSegments((t as Tokens.Em).tokens, { ...annotations, italic: true }, link));
        break;
      case "del":
        out.push(...inlineSegments((t as Tokens.Del).tokens, { ...annotations, strikethrough: true }, link));
        break;
      case "codespan":
        out.push({ content: decodeEntities((t as Tokens.Codespan).text), annotations: { ...annotations, code: true }, link });
        break;
      case "link": {
        const l = t as Tokens.Link;
        const href = validLink(l.href);
        const inner = inlineSegments(l.tokens, annotations, href ?? link);
        // A link Notion would reject (relative, anchors) keeps its text and shows the target.
        out.push(...inner);
        if (!href && l.href && l.href !== l.text) out.push({ content: ` (${l.href})`, annotations, link });
        break;
      }
      case "image": {
        const img = t as Tokens.Image;
        out.push({ content: img.text || img.href, annotations, link: validLink(img.href) ?? link });
        break;
      }
      case "br":
        out.push({ content: "\n", annotations, link });
        break;
      case "text": {
        const tt = t as Tokens.Text;
        if (tt.tokens && tt.tokens.length) out.push(...inlineSegments(tt.tokens, annotations, link));
        else out.push({ content: decodeEntities(tt.text), annotations, link });
        break;
      }
      case "escape":
        out.push({ content: (t as Tokens.Escape).text, annotations, link });
        break;
      default:
        out.push({ content: decodeEntities((t as { text?: string; raw: string }).text ?? t.raw), annotations, link });
    }
  }
  return out;
}

function cleanAnnotations(a: Annotations): Annotations | undefined {
  const out: Annotations = {};
  for (const [k, v] of Object.entries(a)) if (v) out[k as keyof Annotations] = true;
  return Object.keys(out).length ? out : undefined;
}

/** Segments -> rich-text items of at most 2,000 characters each (adjacent equal styles merged first). */
export function richTextFromSegments(segments: Segment[]): RichText[] {
  const merged: Segment[] = [];
  for (const s of segments) {
    if (!s.content) continue;
    const last = merged[merged.length - 1];
    if (last && last.link === s.link && JSON.stringify(cleanAnnotations(last.annotations)) === JSON.stringify(cleanAnnotations(s.annotations))) {
      last.content += s.content;
    } else {
      merged.push({ ...s });
    }
  }
  const out: RichText[] = [];
  for (const s of merged) {
    const annotations = cleanAnnotations(s.annotations);
    for (const piece of splitText(s.content)) {
      const item: RichText = { type: "text", text: { content: piece, ...(s.link ? { link: { url: s.link } } : {}) } };
      if (annotations) item.annotations = annotations;
      out.push(item);
    }
  }
  return out;
}

/** Plain text -> rich text (split at 2,000 characters). */
export function plainRichText(text: string): RichText[] {
  return richTextFromSegments([{ content: text, annotations: {} }]);
}

/** One block type with its rich text; more than 100 items continue in further blocks of the same type. */
function textBlocks(type: string, rich: RichText[], extra: Record<string, unknown> = {}, children?: Block[]): Block[] {
  const chunks: RichText[][] = [];
  for (let i = 0; i < rich.length; i += MAX_RICH_TEXT_ITEMS) chunks.push(rich.slice(i, i + MAX_RICH_TEXT_ITEMS));
  if (chunks.length === 0) chunks.push([]);
  return chunks.map((chunk, i) => {
    const body: Record<string, unknown> = { rich_text: chunk, ...extra };
    if (children?.length && i === chunks.length - 1) body.children = children;
    return { object: "block", type, [type]: body };
  });
}

function paragraphFrom(tokens: Token[] | undefined, fallback: string): Block[] {
  const rich = tokens ? richTextFromSegments(inlineSegments(tokens)) : plainRichText(fallback);
  if (rich.length === 0) return [];
  return textBlocks("paragraph", rich);
}

function listItemBlocks(item: Tokens.ListItem, ordered: boolean, depth: number): Block[] {
  const inline: Segment[] = [];
  const children: Block[] = [];
  let first = true;
  for (const t of item.tokens) {
    if (t.type === "checkbox") continue;
    if ((t.type === "text" || t.type === "paragraph") && first) {
      const tokens = (t as Tokens.Text).tokens;
      inline.push(...(tokens ? inlineSegments(tokens) : [{ content: (t as Tokens.Text).text, annotations: {} }]));
      first = false;
      continue;
    }
    children.push(...tokenBlocks(t, depth + 1));
  }
  const type = item.task ? "to_do" : ordered ? "numbered_list_item" : "bulleted_list_item";
  const extra = item.task ? { checked: !!item.checked } : {};
  const rich = richTextFromSegments(inline);
  if (depth >= MAX_NESTING) {
    // Too deep for one request: the nested blocks follow as siblings.
    return [...textBlocks(type, rich, extra), ...children];
  }
  return textBlocks(type, rich, extra, children);
}

function tableBlocks(t: Tokens.Table): Block[] {
  const width = t.header.length;
  const row = (cells: Tokens.TableCell[]) => ({
    object: "block",
    type: "table_row",
    table_row: { cells: cells.map((c) => richTextFromSegments(inlineSegments(c.tokens)).slice(0, MAX_RICH_TEXT_ITEMS)) },
  });
  const rows = [row(t.header), ...t.rows.map((r) => row(r))];
  if (width === 0 || rows.length > MAX_BLOCKS_PER_REQUEST - 1) {
    // Too large for one table block: one paragraph per row.
    return [t.header, ...t.rows].flatMap((cells) => paragraphFrom(undefined, cells.map((c) => c.text).join(" | ")));
  }
  return [{ object: "block", type: "table", table: { table_width: width, has_column_header: true, has_row_header: false, children: rows } }];
}

function tokenBlocks(t: Token, depth: number): Block[] {
  switch (t.type) {
    case "space":
    case "def":
      return [];
    case "heading": {
      const h = t as Tokens.Heading;
      const level = Math.min(Math.max(h.depth, 1), 3);
      return textBlocks(`heading_${level}`, richTextFromSegments(inlineSegments(h.tokens)));
    }
    case "paragraph":
      return paragraphFrom((t as Tokens.Paragraph).tokens, (t as Tokens.Paragraph).text);
    case "text":
      return paragraphFrom((t as Tokens.Text).tokens, (t as Tokens.Text).text);
    case "list": {
      const l = t as Tokens.List;
      return l.items.flatMap((item) => listItemBlocks(item, l.ordered, depth));
    }
    case "code": {
      const c = t as Tokens.Code;
      return textBlocks("code", plainRichText(c.text), { language: notionLanguage(c.lang) });
    }
    case "blockquote": {
      const q = t as Tokens.Blockquote;
      const segments: Segment[] = [];
      const children: Block[] = [];
      for (const inner of q.tokens) {
        if (inner.type === "paragraph" || inner.type === "text") {
          if (segments.length) segments.push({ content: "\n", annotations: {} });
          segments.push(...inlineSegments((inner as Tokens.Paragraph).tokens));
        } else if (inner.type !== "space") {
          children.push(...tokenBlocks(inner, depth + 1));
        }
      }
      const rich = richTextFromSegments(segments);
      return depth >= MAX_NESTING ? [...textBlocks("quote", rich), ...children] : textBlocks("quote", rich, {}, children);
    }
    case "hr":
      return [{ object: "block", type: "divider", divider: {} }];
    case "table":
      return tableBlocks(t as Tokens.Table);
    case "html":
      return paragraphFrom(undefined, (t as Tokens.HTML).text.trim());
    default:
      return t.raw?.trim() ? paragraphFrom(undefined, t.raw.trim()) : [];
  }
}

/** Markdown -> Notion block objects (top level; nested children inline). */
export function markdownToBlocks(markdown: string): Block[] {
  const tokens = new Lexer({ gfm: true }).lex(markdown ?? "");
  return tokens.flatMap((t) => tokenBlocks(t, 0));
}

/** How many blocks a block is in a request: itself and every nested child. */
export function blockCount(block: Block): number {
  const body = block[block.type] as { children?: Block[] } | undefined;
  return 1 + (body?.children ?? []).reduce((n, c) => n + blockCount(c), 0);
}

/**
 * Packs top-level blocks into requests of at most 100 blocks (children counted)
 * and MAX_REQUEST_BYTES of JSON. A block whose subtree alone exceeds the limit
 * keeps the children that fit; the rest follow as top-level blocks.
 */
export function batchBlocks(blocks: Block[], max = MAX_BLOCKS_PER_REQUEST, maxBytes = MAX_REQUEST_BYTES): Block[][] {
  const queue = [...blocks];
  const batches: Block[][] = [];
  let current: Block[] = [];
  let count = 0;
  let bytes = 0;
  while (queue.length) {
    let block = queue.shift()!;
    let n = blockCount(block);
    if (n > max) {
      const body = { ...(block[block.type] as Record<string, unknown>) };
      const children = [...(body.children as Block[])];
      const kept: Block[] = [];
      let used = 1;
      while (children.length && used + blockCount(children[0]) <= max) {
        used += blockCount(children[0]);
        kept.push(children.shift()!);
      }
      body.children = kept;
      block = { ...block, [block.type]: body };
      queue.unshift(...children);
      n = used;
    }
    const size = JSON.stringify(block).length;
    if (current.length && (count + n > max || bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      count = 0;
      bytes = 0;
    }
    current.push(block);
    count += n;
    bytes += size;
  }
  if (current.length) batches.push(current);
  return batches;
}

/** Plain text of rich text (what a person reads). */
export function richTextPlain(rich: unknown): string {
  if (!Array.isArray(rich)) return "";
  return rich.map((r) => (r as { plain_text?: string; text?: { content?: string } }).plain_text ?? (r as { text?: { content?: string } }).text?.content ?? "").join("");
}
