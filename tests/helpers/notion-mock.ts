// A fake Notion API (version 2025-09-03) for tests, at the HTTP boundary.
// One implementation, two ways in:
//   - msw: notionHandlers(fake) intercepts https://api.notion.com in this process;
//   - HTTP: serveFakeNotion(fake) listens on a port, for functions running in Deno.
// It answers with realistic shapes (pages, data sources, lists with cursors,
// errors {object:"error", status, code, message}, 429 with Retry-After) and
// rejects what Notion rejects: > 100 blocks per request, rich text over 2,000
// characters, > 100 rich-text items, nesting deeper than two levels, unknown
// properties, wrong property types, unknown status options, bad tokens.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { http } from "msw";

type Json = Record<string, any>;

export interface PropertySchema {
  type: string;
  options?: string[];
}

export const DEFAULT_STATUS_OPTIONS = [
  "Queued", "Running", "Done", "Failed", "Cancelled", "Open", "In progress", "Resolved", "Closed", "Published", "Requested",
];

export function defaultSchema(): Record<string, PropertySchema> {
  return {
    Name: { type: "title" },
    Status: { type: "status", options: [...DEFAULT_STATUS_OPTIONS] },
    Type: { type: "select", options: ["Task", "Ticket", "SOP", "SOP request"] },
    Priority: { type: "select", options: ["Urgent", "High", "Medium", "Low"] },
    "Orchestrator ID": { type: "rich_text" },
    Updated: { type: "date" },
    Link: { type: "url" },
  };
}

export interface FakeNotionOptions {
  integrationToken: string;
  humanToken?: string;
  databaseId: string;
  dataSourceId?: string;
  schema?: Record<string, PropertySchema>;
  /** Notion rounds last_edited_time down to the minute (default true). */
  roundToMinute?: boolean;
}

export interface LoggedRequest {
  at: number;
  method: string;
  path: string;
  status: number;
  token?: string;
  body?: Json;
  /** The W3C traceparent header the caller sent, if any. */
  traceparent?: string;
}

interface Failure {
  match: (method: string, path: string) => boolean;
  status: number;
  code: string;
  message: string;
  headers?: Record<string, string>;
  times: number;
}

const TEXT_BLOCKS = new Set(["paragraph", "heading_1", "heading_2", "heading_3", "bulleted_list_item", "numbered_list_item", "to_do", "quote", "code", "callout", "toggle"]);
const OTHER_BLOCKS = new Set(["divider", "table", "table_row"]);

class ValidationError extends Error {}

export class FakeNotion {
  readonly opts: FakeNotionOptions;
  readonly botId = crypto.randomUUID();
  readonly humanId = crypto.randomUUID();
  dataSourceId: string;
  schema: Record<string, PropertySchema>;
  pages = new Map<string, Json>();
  blocks = new Map<string, Json[]>();
  requests: LoggedRequest[] = [];
  /** Runs after a page is created and before the response is sent (crash injection lives in the client side). */
  onCreate?: (page: Json) => void | Promise<void>;
  private failures: Failure[] = [];
  private databaseExists = true;
  private seq = 0;
  private order = new Map<string, number>();
  /** Shifts the fake's clock (ms), to make edits "later" without waiting. */
  clockOffsetMs = 0;

  constructor(opts: FakeNotionOptions) {
    this.opts = opts;
    this.dataSourceId = opts.dataSourceId ?? crypto.randomUUID();
    this.schema = opts.schema ?? defaultSchema();
  }

  // ---- test controls ----
  failNext(match: string | RegExp | ((method: string, path: string) => boolean), status: number, opts: { code?: string; message?: string; retryAfter?: number; times?: number } = {}) {
    const fn = typeof match === "function" ? match : (m: string, p: string) => (typeof match === "string" ? `${m} ${p}`.includes(match) : match.test(`${m} ${p}`));
    this.failures.push({
      match: fn,
      status,
      code: opts.code ?? (status === 429 ? "rate_limited" : status >= 500 ? "internal_server_error" : "validation_error"),
      message: opts.message ?? (status === 429 ? "You have been rate limited. Please try again in a few minutes." : status >= 500 ? "Unexpected error occurred." : "Bad request."),
      headers: opts.retryAfter !== undefined ? { "retry-after": String(opts.retryAfter) } : undefined,
      times: opts.times ?? 1,
    });
  }
  removeDatabase() {
    this.databaseExists = false;
  }
  now(): Date {
    return new Date(Date.now() + this.clockOffsetMs);
  }
  private stamp(): string {
    const d = this.now();
    if (this.opts.roundToMinute !== false) d.setUTCSeconds(0, 0);
    return d.toISOString();
  }
  pagesList(): Json[] {
    return [...this.pages.values()];
  }
  /** Top-level blocks of a page (nested children inline under block[type].children). */
  pageBlocks(pageId: string): Json[] {
    return this.blocks.get(pageId) ?? [];
  }
  findByOrchestratorId(id: string): Json[] {
    return this.pagesList().filter((p) => plain(p.properties["Orchestrator ID"]?.rich_text) === id && !p.in_trash);
  }
  /** A person's edit in the Notion UI: properties change, last_edited_by is a person. */
  humanEdit(pageId: string, properties: Json) {
    const page = this.pages.get(pageId);
    if (!page) throw new Error(`no page ${pageId}`);
    this.applyProperties(page, properties, false);
    page.last_edited_time = this.stamp();
    page.last_edited_by = { object: "user", id: this.humanId };
  }
  /** A page a person creates in the Notion UI. */
  humanCreate(properties: Json): Json {
    return this.createPage(properties, this.humanId);
  }

  // ---- HTTP ----
  async handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname;
    const method = req.method.toUpperCase();
    const token = /^Bearer (.+)$/.exec(req.headers.get("authorization") ?? "")?.[1];
    let body: Json | undefined;
    if (method !== "GET" && method !== "DELETE") {
      const text = await req.text();
      body = text ? JSON.parse(text) : {};
    }
    const log: LoggedRequest = { at: Date.now(), method, path, status: 0, token, body, traceparent: req.headers.get("traceparent") ?? undefined };
    this.requests.push(log);
    const respond = (status: number, json: Json, headers: Record<string, string> = {}) => {
      log.status = status;
      return new Response(JSON.stringify(json), { status, headers: { "content-type": "application/json", ...headers } });
    };
    const error = (status: number, code: string, message: string, headers?: Record<string, string>) =>
      respond(status, { object: "error", status, code, message, request_id: crypto.randomUUID() }, headers);

    const failure = this.failures.find((f) => f.times > 0 && f.match(method, path));
    if (failure) {
      failure.times--;
      return error(failure.status, failure.code, failure.message, failure.headers);
    }
    if (req.headers.get("notion-version") !== "2025-09-03") {
      return error(400, "missing_version", "Notion-Version header should be \"2025-09-03\" in this fake.");
    }
    const actor = token === this.opts.integrationToken ? this.botId : token && token === this.opts.humanToken ? this.humanId : undefined;
    if (!actor) return error(401, "unauthorized", "API token is invalid.");
    try {
      let m: RegExpExecArray | null;
      if (method === "GET" && path === "/v1/users/me") {
        return respond(200, actor === this.botId
          ? { object: "user", id: this.botId, type: "bot", name: "Orchestrator", bot: { owner: { type: "workspace", workspace: true }, workspace_name: "SugarStudio" } }
          : { object: "user", id: this.humanId, type: "person", name: "A Person", person: { email: "person@sugarstudio.test" } });
      }
      if (method === "GET" && (m = /^\/v1\/databases\/([^/]+)$/.exec(path))) {
        if (!this.databaseExists || norm(m[1]) !== norm(this.opts.databaseId)) {
          return error(404, "object_not_found", `Could not find database with ID: ${m[1]}. Make sure the relevant pages and databases are shared with your integration.`);
        }
        return respond(200, {
          object: "database", id: this.opts.databaseId, title: [rt("SugarStudio work")], is_inline: false, in_trash: false,
          created_time: "2026-01-01T00:00:00.000Z", last_edited_time: "2026-01-01T00:00:00.000Z",
          data_sources: [{ id: this.dataSourceId, name: "SugarStudio work" }],
          parent: { type: "workspace", workspace: true }, url: `https://www.notion.so/${norm(this.opts.databaseId)}`,
        });
      }
      if (method === "GET" && (m = /^\/v1\/data_sources\/([^/]+)$/.exec(path))) {
        if (!this.databaseExists || m[1] !== this.dataSourceId) return error(404, "object_not_found", `Could not find data_source with ID: ${m[1]}.`);
        const properties: Json = {};
        for (const [name, s] of Object.entries(this.schema)) {
          properties[name] = { id: `p-${norm(name).slice(0, 8)}`, name, type: s.type, [s.type]: s.options ? { options: s.options.map((o) => ({ id: `o-${o}`, name: o, color: "default" })) } : {} };
        }
        return respond(200, {
          object: "data_source", id: this.dataSourceId, name: "SugarStudio work", title: [rt("SugarStudio work")], properties,
          parent: { type: "database_id", database_id: this.opts.databaseId },
        });
      }
      if (method === "POST" && (m = /^\/v1\/data_sources\/([^/]+)\/query$/.exec(path))) {
        if (m[1] !== this.dataSourceId) return error(404, "object_not_found", `Could not find data_source with ID: ${m[1]}.`);
        return respond(200, this.query(body ?? {}));
      }
      if (method === "POST" && path === "/v1/pages") {
        const parent = body?.parent ?? {};
        if (parent.data_source_id !== this.dataSourceId) throw new ValidationError(`Could not find data_source with ID: ${parent.data_source_id}.`);
        if (body?.children) this.validateChildren(body.children, "body.children", 0);
        const page = this.createPage(body?.properties ?? {}, actor);
        if (body?.children) this.blocks.set(page.id, structuredClone(body.children));
        await this.onCreate?.(page);
        return respond(200, page);
      }
      if ((m = /^\/v1\/pages\/([^/]+)$/.exec(path))) {
        const page = this.pages.get(m[1]);
        if (!page) return error(404, "object_not_found", `Could not find page with ID: ${m[1]}.`);
        if (method === "GET") return respond(200, page);
        if (method === "PATCH") {
          if (body?.properties) this.applyProperties(page, body.properties, false);
          if (body?.erase_content) this.blocks.set(page.id, []);
          if (body?.in_trash !== undefined) page.in_trash = !!body.in_trash;
          page.last_edited_time = this.stamp();
          page.last_edited_by = { object: "user", id: actor };
          return respond(200, page);
        }
      }
      if ((m = /^\/v1\/blocks\/([^/]+)\/children$/.exec(path))) {
        const list = this.blocks.get(m[1]);
        if (!this.pages.has(m[1])) return error(404, "object_not_found", `Could not find block with ID: ${m[1]}.`);
        if (method === "PATCH") {
          this.validateChildren(body?.children, "body.children", 0);
          const added = structuredClone(body!.children).map((b: Json) => ({ object: "block", id: crypto.randomUUID(), ...b }));
          this.blocks.set(m[1], [...(list ?? []), ...added]);
          const page = this.pages.get(m[1])!;
          page.last_edited_time = this.stamp();
          page.last_edited_by = { object: "user", id: actor };
          return respond(200, { object: "list", results: added, next_cursor: null, has_more: false, type: "block", block: {} });
        }
        if (method === "GET") {
          const size = Math.min(Number(url.searchParams.get("page_size") ?? 100), 100);
          const start = Number(url.searchParams.get("start_cursor") ?? 0);
          const all = list ?? [];
          const results = all.slice(start, start + size);
          const more = start + size < all.length;
          return respond(200, { object: "list", results, next_cursor: more ? String(start + size) : null, has_more: more, type: "block", block: {} });
        }
      }
      return error(400, "invalid_request_url", `Invalid request URL: ${method} ${path}`);
    } catch (err) {
      if (err instanceof ValidationError) return error(400, "validation_error", err.message);
      throw err;
    }
  }

  private createPage(properties: Json, actor: string): Json {
    const id = crypto.randomUUID();
    const at = this.stamp();
    const page: Json = {
      object: "page", id, created_time: at, last_edited_time: at,
      created_by: { object: "user", id: actor }, last_edited_by: { object: "user", id: actor },
      parent: { type: "data_source_id", data_source_id: this.dataSourceId, database_id: this.opts.databaseId },
      in_trash: false, archived: false, is_locked: false, url: `https://www.notion.so/${id.replace(/-/g, "")}`, public_url: null,
      properties: this.emptyProperties(),
    };
    this.order.set(id, ++this.seq);
    this.applyProperties(page, properties, true);
    this.pages.set(id, page);
    this.blocks.set(id, []);
    return page;
  }

  private emptyProperties(): Json {
    const out: Json = {};
    for (const [name, s] of Object.entries(this.schema)) {
      const empty = s.type === "title" || s.type === "rich_text" ? [] : null;
      out[name] = { id: `p-${norm(name).slice(0, 8)}`, type: s.type, [s.type]: empty };
    }
    return out;
  }

  private applyProperties(page: Json, props: Json, creating: boolean) {
    for (const [name, value] of Object.entries(props as Json)) {
      const s = this.schema[name];
      if (!s) throw new ValidationError(`${name} is not a property that exists.`);
      const given = Object.keys(value).find((k) => k !== "type" && k !== "id");
      if (given !== s.type) throw new ValidationError(`${name} is expected to be ${s.type}.`);
      const v = (value as Json)[s.type];
      if (s.type === "title" || s.type === "rich_text") this.validateRichText(v, `body.properties.${name}.${s.type}`);
      if (s.type === "status" && v && !s.options?.includes(v.name)) throw new ValidationError(`Invalid status option. Status option "${v.name}" does not exist for "${name}".`);
      if (s.type === "select" && v) {
        if (String(v.name).includes(",")) throw new ValidationError(`Select option names cannot contain commas.`);
        if (!s.options?.includes(v.name)) s.options = [...(s.options ?? []), v.name];
      }
      const stored = s.type === "title" || s.type === "rich_text"
        ? (v ?? []).map((r: Json) => ({ ...r, plain_text: r.text?.content ?? "", href: r.text?.link?.url ?? null }))
        : s.type === "status" || s.type === "select"
        ? v ? { id: `o-${v.name}`, name: v.name, color: "default" } : null
        : v;
      page.properties[name] = { id: `p-${norm(name).slice(0, 8)}`, type: s.type, [s.type]: stored };
    }
    void creating;
  }

  private validateRichText(items: unknown, where: string) {
    if (!Array.isArray(items)) throw new ValidationError(`${where} should be an array.`);
    if (items.length > 100) throw new ValidationError(`body failed validation: ${where}.length should be ≤ \`100\`, instead was \`${items.length}\`.`);
    items.forEach((r: Json, i) => {
      const len = r?.text?.content?.length ?? 0;
      if (len > 2000) throw new ValidationError(`body failed validation: ${where}[${i}].text.content.length should be ≤ \`2000\`, instead was \`${len}\`.`);
      if (r?.text?.link?.url && !/^(https?:|mailto:)/.test(r.text.link.url)) throw new ValidationError(`${where}[${i}].text.link.url: Invalid URL for link.`);
    });
  }

  private validateChildren(children: unknown, where: string, depth: number) {
    if (!Array.isArray(children)) throw new ValidationError(`${where} should be an array.`);
    if (children.length > 100) throw new ValidationError(`body failed validation: ${where}.length should be ≤ \`100\`, instead was \`${children.length}\`.`);
    if (depth > 2) throw new ValidationError(`body failed validation: ${where} is nested too deeply (at most two levels of nesting per request).`);
    children.forEach((b: Json, i) => {
      const type = b?.type;
      if (!TEXT_BLOCKS.has(type) && !OTHER_BLOCKS.has(type)) throw new ValidationError(`${where}[${i}].type: unsupported block type ${type}.`);
      const inner = b[type];
      if (!inner || typeof inner !== "object") throw new ValidationError(`${where}[${i}].${type} should be defined.`);
      if (TEXT_BLOCKS.has(type)) this.validateRichText(inner.rich_text, `${where}[${i}].${type}.rich_text`);
      if (type === "table_row") inner.cells.forEach((c: unknown, j: number) => this.validateRichText(c, `${where}[${i}].table_row.cells[${j}]`));
      if (inner.children) this.validateChildren(inner.children, `${where}[${i}].${type}.children`, depth + 1);
    });
  }

  private query(body: Json): Json {
    const size = body.page_size ?? 100;
    if (size > 100) throw new ValidationError(`body failed validation: body.page_size should be ≤ \`100\`, instead was \`${size}\`.`);
    let pages = this.pagesList().filter((p) => !p.in_trash);
    if (body.filter) pages = pages.filter((p) => this.matches(p, body.filter));
    const sort = body.sorts?.[0];
    pages.sort((a, b) => this.order.get(a.id)! - this.order.get(b.id)!);
    if (sort?.timestamp === "last_edited_time") {
      pages.sort((a, b) => (a.last_edited_time.localeCompare(b.last_edited_time)) * (sort.direction === "descending" ? -1 : 1));
    }
    const start = body.start_cursor ? Number(body.start_cursor) : 0;
    const results = pages.slice(start, start + size);
    const more = start + size < pages.length;
    return { object: "list", results, next_cursor: more ? String(start + size) : null, has_more: more, type: "page_or_data_source", page_or_data_source: {} };
  }

  private matches(page: Json, f: Json): boolean {
    if (f.and) return f.and.every((x: Json) => this.matches(page, x));
    if (f.or) return f.or.some((x: Json) => this.matches(page, x));
    if (f.timestamp === "last_edited_time") {
      const cond = f.last_edited_time;
      const t = page.last_edited_time;
      if (cond.on_or_after) return t >= new Date(cond.on_or_after).toISOString();
      if (cond.after) return t > new Date(cond.after).toISOString();
      return true;
    }
    if (f.property) {
      const prop = page.properties[f.property];
      if (!prop) throw new ValidationError(`Could not find property with name or id: ${f.property}`);
      if (f.rich_text) return plain(prop.rich_text) === f.rich_text.equals;
      if (f.title) return plain(prop.title) === f.title.equals;
      if (f.status) return prop.status?.name === f.status.equals;
      if (f.select) return prop.select?.name === f.select.equals;
    }
    return true;
  }
}

function rt(content: string): Json {
  return { type: "text", text: { content, link: null }, plain_text: content, href: null, annotations: {} };
}
function plain(items: Json[] | undefined): string {
  return (items ?? []).map((r) => r.plain_text ?? r.text?.content ?? "").join("");
}
function norm(id: string): string {
  return id.replace(/-/g, "").toLowerCase();
}

/** msw handlers for api.notion.com (or another base URL). */
export function notionHandlers(fake: FakeNotion, base = "https://api.notion.com") {
  return [http.all(`${base}/v1/*`, ({ request }) => fake.handle(request))];
}

/** The same fake over real HTTP, for code running in another process (Deno functions). */
export async function serveFakeNotion(fake: FakeNotion, port = 0): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const request = new Request(`http://127.0.0.1${req.url}`, {
      method: req.method,
      headers: Object.entries(req.headers).flatMap(([k, v]) => (v === undefined ? [] : [[k, Array.isArray(v) ? v.join(", ") : v]])) as [string, string][],
      body: req.method === "GET" || req.method === "HEAD" || body.length === 0 ? undefined : body,
    });
    const response = await fake.handle(request);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, server, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Max number of timestamps (ms) inside any half-open window [t, t + windowMs). */
export function maxInWindow(times: number[], windowMs: number): number {
  const s = [...times].sort((a, b) => a - b);
  let best = 0;
  let j = 0;
  for (let i = 0; i < s.length; i++) {
    while (s[i] - s[j] >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}
