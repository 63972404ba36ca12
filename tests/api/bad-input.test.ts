// Bad input, over real HTTP to the Deno function server of a private stack
// (its own cluster: the rows it counts are its own, and nothing it sends reaches
// another test file). For every endpoint:
//   - property-based inputs (fast-check): random JSON, wrong types for the
//     endpoint's own fields, huge strings, unicode, SQL-looking text,
//     prototype-pollution keys, bodies that are not JSON, odd path segments and
//     query strings, and hostile transport: nesting far past the depth limit,
//     malformed percent-encoding in the path, wrong content types, invalid UTF-8
//     -> never a 5xx; a 4xx always has the error shape; and a rejected request
//     stores no row (every orchestrator table is counted after each request) and
//     no error log row;
//   - the auth matrix: no key, anon key, wrong key, service key -> the status the
//     README documents (401 for all but the service key, except /health).
// Adding an endpoint is one line in ENDPOINTS.
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import postgres from "postgres";
import { startPrivateStack, type PrivateStack } from "../helpers/private-stack.ts";
import { keyHeaders } from "../helpers/stack.ts";

type Method = "GET" | "POST" | "PATCH" | "DELETE";
type Auth =
  | "service" // service key only: 401 for none, anon, wrong
  | "public" // anyone (only /health)
  | "self" // public route that authenticates itself (secret key or a signature): 401 without them
  | "signed"; // only a signature is accepted (Notion's webhook): 401 for every key

interface Endpoint {
  method: Method;
  /** Under /functions/v1; `:x` segments are fuzzed. */
  path: string;
  auth: Auth;
  /** Body field names (POST/PATCH): generated objects use them with values of every type. */
  body?: string[];
  /** A body the endpoint accepts: generated bodies also mutate it one field at a time (wrong type, missing, extra key). */
  valid?: Record<string, unknown>;
  /** Query parameter names. */
  query?: string[];
}

const E = (method: Method, path: string, auth: Auth, opts: Omit<Endpoint, "method" | "path" | "auth"> = {}): Endpoint => ({ method, path, auth, ...opts });
const TASK_FIELDS = ["type", "payload", "priority", "run_at", "dedupe_key", "max_attempts", "backoff_base_seconds"];

// One line per endpoint (route tables: functions/*/index.ts).
const ENDPOINTS: Endpoint[] = [
  E("GET", "/health", "public"),
  E("GET", "/health/capabilities", "service", { query: ["verbose"] }),
  E("GET", "/metrics", "service"),
  E("GET", "/openapi", "public"),
  E("GET", "/openapi/openapi.json", "public"),
  E("POST", "/tasks", "service", { body: TASK_FIELDS, valid: { type: "noop", payload: { echo: "x" }, priority: 0 } }),
  E("GET", "/tasks", "service", { query: ["status", "type", "since", "until", "limit", "cursor"] }),
  E("GET", "/tasks/:id", "service"),
  E("POST", "/tasks/:id/cancel", "service"),
  E("POST", "/tasks/:id/retry", "service"),
  E("GET", "/tasks/generate-sop", "service"),
  E("POST", "/tasks/generate-sop", "service", { body: ["topic", "slug", "context", "audience", "ticket_id", "event_ids", "task_ids", "notion"], valid: { topic: "Rotate the API keys" } }),
  E("GET", "/logs", "service", { query: ["level", "component", "task_id", "request_id", "trace_id", "since", "until", "q", "format", "limit", "cursor"] }),
  E("POST", "/task-worker", "service", { body: ["reason", "background", "budget_ms", "max_tasks", "types"], valid: { max_tasks: 1, budget_ms: 200, types: ["noop"] } }),
  E("POST", "/events", "self", { body: ["source", "type", "level", "message", "payload", "occurred_at", "id", "events"], valid: { source: "fuzz", type: "fuzz.event", level: "info", message: "m" } }),
  E("POST", "/events/webhook", "self", { body: ["type", "table", "schema", "record", "old_record"], query: ["source", "type", "level"], valid: { type: "INSERT", table: "orders", schema: "public", record: { id: 1 } } }),
  E("GET", "/events", "service", { query: ["source", "type", "level", "since", "until", "fingerprint", "ticket_id", "limit", "cursor"] }),
  E("GET", "/events/watchers", "service"),
  E("GET", "/events/:id", "service"),
  E("GET", "/rules", "service", { query: ["enabled", "task_type"] }),
  E("POST", "/rules", "service", { body: ["name", "description", "enabled", "source", "type", "min_level", "match", "task_type", "payload_template", "priority", "dedupe_key", "max_attempts"], valid: { name: "fuzz rule", type: "fuzz.*", task_type: "noop" } }),
  E("GET", "/rules/:id", "service"),
  E("PATCH", "/rules/:id", "service", { body: ["name", "description", "enabled", "min_level", "task_type", "priority"], valid: { enabled: false } }),
  E("DELETE", "/rules/:id", "service"),
  E("GET", "/tickets", "service", { query: ["status", "priority", "source", "fingerprint", "q", "limit", "cursor"] }),
  E("POST", "/tickets", "service", { body: ["title", "description", "priority", "source"], valid: { title: "fuzz", priority: "low" } }),
  E("GET", "/tickets/:id", "service"),
  E("PATCH", "/tickets/:id", "service", { body: ["title", "description", "status", "priority"], valid: { status: "resolved" } }),
  E("GET", "/sops", "service", { query: ["slug", "q", "limit", "cursor"] }),
  E("GET", "/sops/:slug", "service", { query: ["version", "format"] }),
  E("GET", "/schedules", "service"),
  E("POST", "/schedules", "service", { body: ["name", "cron", "task_type", "payload", "description", "priority", "max_attempts", "enabled", "timezone"], valid: { name: "fuzz-schedule", cron: "0 3 * * *", task_type: "noop" } }),
  E("GET", "/schedules/settings", "service"),
  E("PATCH", "/schedules/settings", "service", { body: ["retention.tasks_days", "retention.logs_days", "digest.top_n"], valid: { "retention.tasks_days": 14 } }),
  E("GET", "/schedules/:name", "service"),
  E("PATCH", "/schedules/:name", "service", { body: ["cron", "task_type", "payload", "enabled", "priority"], valid: { enabled: false } }),
  E("DELETE", "/schedules/:name", "service"),
  E("GET", "/schedules/:name/runs", "service", { query: ["limit"] }),
  E("POST", "/schedules/:name/run", "service"),
  E("GET", "/workflows", "service"),
  E("POST", "/workflows", "service", { body: ["name", "description", "enabled", "steps"], valid: { name: "fuzz-flow", steps: [{ name: "one", type: "noop" }] } }),
  E("GET", "/workflows/:name", "service"),
  E("PATCH", "/workflows/:name", "service", { body: ["description", "enabled", "steps"], valid: { enabled: false } }),
  E("DELETE", "/workflows/:name", "service"),
  E("POST", "/workflows/:name/runs", "service", { body: ["input", "dedupe_key"], valid: { input: {} } }),
  E("GET", "/workflows/:name/runs", "service", { query: ["status", "limit"] }),
  E("GET", "/workflows/:name/runs/:id", "service"),
  E("POST", "/workflows/:name/runs/:id/cancel", "service"),
  E("POST", "/workflows/:name/runs/:id/rerun", "service", { body: ["from"], valid: { from: "one" } }),
  E("POST", "/workflows/:name/runs/:id/steps/:step/approve", "service", { body: ["by", "comment"], valid: { by: "fuzz" } }),
  E("POST", "/workflows/:name/runs/:id/steps/:step/reject", "service", { body: ["by", "comment"], valid: { by: "fuzz" } }),
  E("GET", "/webhooks", "service"),
  E("POST", "/webhooks", "service", { body: ["url", "events", "secret", "format", "description", "active", "max_attempts", "backoff_base_seconds"], valid: { url: "http://127.0.0.1:9/hook", events: ["task.*"] } }),
  E("GET", "/webhooks/:id", "service"),
  E("DELETE", "/webhooks/:id", "service"),
  E("GET", "/webhooks/:id/deliveries", "service", { query: ["status", "limit", "cursor"] }),
  E("POST", "/webhooks/:id/test", "service"),
  E("GET", "/notion/status", "service"),
  E("GET", "/sync/status", "service"),
  E("POST", "/notion/enable", "service", { body: ["track_task_types", "backfill", "repush_dead"], valid: { backfill: false } }),
  E("POST", "/notion/webhook/verification", "service", { body: ["open_for_seconds", "replace"], valid: { open_for_seconds: 600 } }),
  E("DELETE", "/notion/webhook/verification", "service"),
  E("POST", "/notion/disable", "service"),
  E("POST", "/notion/pull", "service", { body: ["page_id"] }),
  E("POST", "/notion/webhook", "signed", { body: ["verification_token", "type", "entity", "data", "timestamp", "id"], valid: { type: "page.created", entity: { id: "0f0f0f0f-0f0f-0f0f-0f0f-0f0f0f0f0f0f", type: "page" } } }),
];

// Generated inputs per endpoint: 100 keeps `npm test` quick (~5,000 in all); BAD_INPUT_RUNS=345 gives 20,000 (58 endpoints).
const RUNS = Number(process.env.BAD_INPUT_RUNS ?? 100);
const MAX_BODY = 256 * 1024;

// --- generators ---------------------------------------------------------------
const SQLISH = [
  "'; drop table orchestrator.tasks; --", "1 OR 1=1", "' OR ''='", "\"; select pg_sleep(5); --", "$$; truncate orchestrator.logs; $$",
  "1; delete from orchestrator.tasks", "%' or 1=1 --", "\\x00", "\u0000", "NULL", "null", "undefined", "NaN", "Infinity", "-Infinity",
  "1e309", "-1", "0", "9".repeat(40), "0x7fffffff", "2026-13-45T99:99:99Z", "../../etc/passwd", "%2e%2e%2f", "<script>alert(1)</script>",
  "{{constructor.constructor('return process')()}}", "${7*7}", "*", "?", "\\", "/", "%", "_",
];
const POLLUTION = ["__proto__", "constructor", "prototype", "__defineGetter__", "hasOwnProperty", "toString", "valueOf"];

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom(...SQLISH),
  fc.string({ unit: "grapheme", minLength: 1000, maxLength: 5000 }),
);
const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: text },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, 1.5, 2 ** 31, -(2 ** 63), Number.MAX_SAFE_INTEGER + 2, 1e300, true, false, null, [], {}) },
  { weight: 1, arbitrary: fc.constant("x".repeat(300_000)) },
);
const pollutedObject = fc.record({
  key: fc.constantFrom(...POLLUTION),
  value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant({ polluted: true, isAdmin: true })),
}).map(({ key, value }) => `{"${key}": ${JSON.stringify(value)}, "constructor": {"prototype": {"polluted": true}}}`);

/** The valid body with one change: a field set to anything, a field removed, or a strange key added. */
function mutated(valid: Record<string, unknown>, fields: string[]): fc.Arbitrary<string> {
  const keys = [...new Set([...Object.keys(valid), ...fields])];
  return fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...keys), anyJson).map(([k, v]) => ({ ...valid, [k]: v })) },
    { weight: 1, arbitrary: fc.constantFrom(...Object.keys(valid)).map((k) => Object.fromEntries(Object.entries(valid).filter(([x]) => x !== k))) },
    { weight: 1, arbitrary: fc.tuple(fc.oneof(fc.constantFrom(...POLLUTION), fc.string({ maxLength: 12 })), anyJson).map(([k, v]) => ({ ...valid, [k]: v })) },
  ).map((o) => JSON.stringify(o));
}

function bodyArb(fields: string[], valid?: Record<string, unknown>): fc.Arbitrary<string> {
  if (valid) return fc.oneof({ weight: 1, arbitrary: mutated(valid, fields) }, { weight: 1, arbitrary: bodyArb(fields) });
  const withFields = fields.length
    ? fc.dictionary(fc.oneof(fc.constantFrom(...fields), fc.constantFrom(...POLLUTION), fc.string({ maxLength: 10 })), anyJson, { maxKeys: 6 })
    : fc.dictionary(fc.string({ maxLength: 10 }), anyJson, { maxKeys: 4 });
  return fc.oneof(
    { weight: 5, arbitrary: withFields.map((o) => JSON.stringify(o)) },
    { weight: 2, arbitrary: anyJson.map((v) => JSON.stringify(v) ?? "null") },
    { weight: 2, arbitrary: pollutedObject },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) }, // not JSON (mostly)
    { weight: 1, arbitrary: fc.constantFrom("", "{", "[1,", "{\"a\":}", "\u0000", "null", "[]", "\"\"", "{}", "{\"type\": \"noop\", \"payload\": \"x\"}") },
    { weight: 1, arbitrary: fc.constant(`{"a": "${"y".repeat(MAX_BODY)}"}`) }, // over the body limit
  );
}

// --- hostile transport ------------------------------------------------------------
/** Objects and arrays nested `levels` deep around a leaf, as text (building it as a value and stringifying would recurse). */
const deepJson = fc.record({ levels: fc.integer({ min: 65, max: 20_000 }), kind: fc.constantFrom("object", "array", "mixed"), key: fc.constantFrom("a", "payload", "__proto__", "") })
  .map(({ levels, kind, key }) => {
    const open: string[] = [];
    const close: string[] = [];
    for (let i = 0; i < levels; i++) {
      const array = kind === "array" || (kind === "mixed" && i % 2 === 1);
      open.push(array ? "[" : `{${JSON.stringify(key)}:`);
      close.push(array ? "]" : "}");
    }
    return `${open.join("")}1${close.reverse().join("")}`;
  });

/** A body with one field (or the whole body) nested past the depth limit. */
function deepBodyArb(fields: string[], valid?: Record<string, unknown>): fc.Arbitrary<string> {
  const keys = [...new Set([...Object.keys(valid ?? {}), ...fields])];
  return fc.tuple(keys.length ? fc.constantFrom(...keys) : fc.constant("x"), deepJson, fc.boolean()).map(([k, deep, whole]) => {
    if (whole) return deep;
    const rest = Object.fromEntries(Object.entries(valid ?? {}).filter(([x]) => x !== k));
    const head = JSON.stringify(rest).slice(0, -1);
    return `${head}${head.length > 1 ? "," : ""}${JSON.stringify(k)}:${deep}}`;
  });
}

/** Content types that are not JSON (and one JSON type with a charset JSON cannot have). */
const wrongContentType = fc.oneof(
  fc.constantFrom(
    "text/plain", "text/plain;charset=UTF-8", "application/xml", "text/xml", "image/png", "application/octet-stream", "text/html",
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=----x", "application/jsonx", "json", "application/json; charset=latin1",
    "application/json; charset=utf-16", ";;", "application/", "/json",
  ),
  fc.tuple(fc.stringMatching(/^[a-z]{1,10}$/), fc.stringMatching(/^[a-z.+-]{1,12}$/)).filter(([, sub]) => !/(^|\+)json$/.test(sub)).map(([a, b]) => `${a}/${b}`),
);

/** Byte sequences that are not UTF-8: stray continuation bytes, overlongs, surrogates, truncated sequences, out of range. */
const INVALID_UTF8 = [[0xff], [0xfe], [0x80], [0xbf], [0xc0, 0xaf], [0xc1, 0xbf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xe2, 0x82], [0xc3], [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe9]];
function invalidUtf8Arb(body: fc.Arbitrary<string>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(body, fc.constantFrom(...INVALID_UTF8), fc.double({ min: 0, max: 1, noNaN: true })).map(([text, bad, at]) => {
    const bytes = new TextEncoder().encode(text);
    const i = Math.floor(at * bytes.length);
    return new Uint8Array([...bytes.subarray(0, i), ...bad, ...bytes.subarray(i)]);
  });
}

/** Path segments decodeURIComponent refuses (the WHATWG URL parser passes them through as sent). */
const malformedSegment = fc.oneof(
  fc.constantFrom("%", "%%", "%E0", "%ZZ", "%C0", "%FF", "%E0%A4", "%ED%A0%80", "%C3", "%2", "%G1", "abc%", "%C0%AF", "%F4%90%80%80", "%80", "%E0%80%80"),
  fc.tuple(fc.string({ maxLength: 6 }).map(encodeURIComponent), fc.constantFrom("%", "%E", "%ZZ", "%FF", "%C3", "%ED%B0%80"), fc.string({ maxLength: 6 }).map(encodeURIComponent))
    .map(([a, bad, b]) => `${a}${bad}${b}`),
);

/** The endpoint's path with a malformed segment: in place of each parameter, or after the last segment. */
function malformedPathArb(path: string): fc.Arbitrary<string> {
  const parts = path.split("/");
  if (!parts.some((p) => p.startsWith(":"))) return malformedSegment.map((m) => `${path}/${m}`);
  return fc.tuple(...parts.map((p) => (p.startsWith(":") ? malformedSegment : fc.constant(p)))).map((xs) => xs.join("/"));
}

const segment = fc.oneof(
  fc.constantFrom("0", "-1", "1", "999999999", "99999999999999999999999", "1.5", "1e3", "abc", "NaN", "null", "..", ".", "%00", " ", "settings"),
  fc.constantFrom(...SQLISH),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 30 }),
  fc.string({ minLength: 300, maxLength: 2000 }),
);

function queryArb(names: string[]): fc.Arbitrary<string> {
  const key = names.length ? fc.oneof(fc.constantFrom(...names), fc.constantFrom(...POLLUTION), fc.string({ maxLength: 10 })) : fc.string({ maxLength: 10 });
  const value = fc.oneof(text.filter((s) => s.length < 3000), fc.constantFrom("", "true", "false", "-5", "0", "1001", "2026-01-01T00:00:00Z", "x,y,queued"));
  return fc.array(fc.tuple(key, value), { maxLength: 5 }).map((pairs) => {
    const q = new URLSearchParams();
    for (const [k, v] of pairs) {
      q.append(k, v);
      // The HTTP server itself refuses URLs over 64 KB (400, empty body) before any function runs.
      if (q.toString().length > 16_000) q.delete(k);
    }
    return q.toString();
  });
}

function pathArb(path: string): fc.Arbitrary<string> {
  const parts = path.split("/");
  return fc.tuple(...parts.map((p) => (p.startsWith(":") ? segment.map((s) => encodeURIComponent(s)) : fc.constant(p)))).map((xs) => xs.join("/"));
}

// --- the stack ----------------------------------------------------------------
let ps: PrivateStack;
let sql: postgres.Sql;
let countRows: () => Promise<Record<string, number>>;
const tried = new Map<string, { runs: number; statuses: Record<number, number> }>();
const matrix: string[] = [];

beforeAll(async () => {
  // NOTION_WEBHOOK_SECRET set: a Notion webhook that is not signed gets 401, as on a configured project.
  ps = await startPrivateStack({ functionEnv: { NOTION_WEBHOOK_SECRET: "bad-input-suite-notion-secret", LOG_LEVEL: "warn" } });
  sql = postgres(ps.stack.info.DB_URL, { max: 2, onnotice: () => {} });
  // Nothing writes rows behind the requests' backs: no cron jobs, no wake-ups (so no background worker).
  await sql`update cron.job set active = false`;
  await ps.stack.dispatcher.stop();
  const tables = await sql<{ t: string }[]>`
    select format('%I.%I', table_schema, table_name) as t from information_schema.tables
    where table_schema = 'orchestrator' and table_type = 'BASE TABLE' and table_name <> 'logs' order by 1`;
  const query = tables.map(({ t }) => `select '${t}' as t, count(*)::int as n from ${t}`).join(" union all ");
  // A schedule created by an accepted request gets a pg_cron job: switch it off before it can fire.
  countRows = async () => {
    await sql`update cron.job set active = false where active`;
    return Object.fromEntries((await sql.unsafe<{ t: string; n: number }[]>(query)).map((r) => [r.t, r.n]));
  };
}, 120_000);

afterAll(async () => {
  const lines = [...tried.entries()].map(([k, v]) => `  ${k.padEnd(42)} ${String(v.runs).padStart(4)} inputs  ${JSON.stringify(v.statuses)}`);
  const total = [...tried.values()].reduce((s, v) => s + v.runs, 0);
  if (lines.length) console.log(`\n[bad-input] generated inputs per endpoint (status counts), ${total} in all, 0 answered 5xx:\n${lines.join("\n")}\n`);
  if (byKind.size) console.log(`[bad-input] status counts by kind of input:\n${[...byKind].map(([k, v]) => `  ${k.padEnd(14)} ${JSON.stringify(v)}`).join("\n")}\n`);
  if (matrix.length) console.log(`[bad-input] auth matrix (status per key):\n${matrix.join("\n")}\n`);
  await sql?.end({ timeout: 5 });
  await ps?.stop();
});

// The private stack's keys, each as its system sends it (TEST_KEYS=new: the secret and publishable keys as apikey).
const keyHeader = (kind: "service" | "anon" | "none" | "wrong"): Record<string, string> => keyHeaders(ps.stack.info, kind);

async function send(method: Method, path: string, opts: { body?: string | Uint8Array; key?: "service" | "anon" | "none" | "wrong"; contentType?: string } = {}) {
  const res = await fetch(`${ps.stack.info.FUNCTIONS_URL}${path}`, {
    method,
    headers: { "content-type": opts.contentType ?? "application/json", ...keyHeader(opts.key ?? "service") },
    body: opts.body as BodyInit | undefined,
  });
  const text = await res.text();
  return { status: res.status, text };
}

type InputKind = "json" | "deep" | "percent" | "content-type" | "utf8";
const byKind = new Map<InputKind, Record<number, number>>();

function note(ep: Endpoint, status: number, kind: InputKind = "json") {
  const k = `${ep.method} ${ep.path}`;
  const t = tried.get(k) ?? { runs: 0, statuses: {} };
  t.runs++;
  t.statuses[status] = (t.statuses[status] ?? 0) + 1;
  tried.set(k, t);
  const s = byKind.get(kind) ?? {};
  s[status] = (s[status] ?? 0) + 1;
  byKind.set(kind, s);
}

/** Error-level log rows (an unhandled error writes one): a rejected request must not add any. */
const errorLogRows = async () => (await sql`select count(*)::int as n from orchestrator.logs where level in ('error', 'fatal')`)[0].n as number;

interface Input {
  kind: InputKind;
  path: string;
  query: string;
  body?: string | Uint8Array;
  contentType?: string;
}

/** Ordinary bad input (most runs) and hostile transport: deep nesting, malformed paths, wrong content types, invalid UTF-8. */
function inputArb(ep: Endpoint): fc.Arbitrary<Input> {
  const hasBody = ep.method === "POST" || ep.method === "PATCH";
  const query = ep.query || ep.method === "GET" || ep.method === "DELETE" ? queryArb(ep.query ?? []) : fc.constant("");
  const body = hasBody ? bodyArb(ep.body ?? [], ep.valid) : fc.constant(undefined);
  const json = fc.record({ path: pathArb(ep.path), query, body }).map((r): Input => ({ kind: "json", ...r }));
  const percent = fc.record({ path: malformedPathArb(ep.path), query, body }).map((r): Input => ({ kind: "percent", ...r }));
  if (!hasBody) return fc.oneof({ weight: 4, arbitrary: json }, { weight: 1, arbitrary: percent });
  const validBody = ep.valid ? fc.constant(JSON.stringify(ep.valid)) : bodyArb(ep.body ?? []);
  const plainPath = fc.constant(ep.path.replace(/:id/g, "1").replace(/:name/g, "fuzz-schedule").replace(/:slug/g, "fuzz"));
  const path = fc.oneof(plainPath, pathArb(ep.path));
  return fc.oneof(
    { weight: 4, arbitrary: json },
    { weight: 1, arbitrary: percent },
    { weight: 1, arbitrary: fc.record({ path, body: deepBodyArb(ep.body ?? [], ep.valid) }).map((r): Input => ({ kind: "deep", query: "", ...r })) },
    { weight: 1, arbitrary: fc.record({ path, body: fc.oneof(validBody, body), contentType: wrongContentType }).map((r): Input => ({ kind: "content-type", query: "", ...r })) },
    { weight: 1, arbitrary: fc.record({ path, body: invalidUtf8Arb(fc.oneof(validBody, body.map((b) => b ?? ""))) }).map((r): Input => ({ kind: "utf8", query: "", ...r })) },
  );
}

// --- coverage -------------------------------------------------------------------
describe("ENDPOINTS", () => {
  it("lists every route the functions declare (a new endpoint needs its line here)", () => {
    const root = new URL("../../functions/", import.meta.url);
    const declared: string[] = [];
    for (const name of readdirSync(root)) {
      if (name.startsWith("_")) continue;
      let src: string;
      try {
        src = readFileSync(new URL(`${name}/index.ts`, root), "utf8");
      } catch {
        continue;
      }
      for (const m of src.matchAll(/method:\s*"(GET|POST|PATCH|DELETE)",\s*path:\s*"([^"]*)"/g)) {
        declared.push(`${m[1]} /${name}${m[2] === "/" ? "" : m[2]}`);
      }
    }
    expect(declared.length).toBeGreaterThan(10);
    const listed = new Set(ENDPOINTS.map((e) => `${e.method} ${e.path}`));
    expect(declared.filter((r) => !listed.has(r))).toEqual([]);
  });
});

// --- properties -----------------------------------------------------------------
describe("bad input never gets a 5xx or stores a row", () => {
  for (const ep of ENDPOINTS) {
    it(`${ep.method} ${ep.path}`, async () => {
      let before = await countRows();
      let errorsBefore = await errorLogRows();
      await fc.assert(
        fc.asyncProperty(inputArb(ep), async ({ kind, path, query, body, contentType }) => {
          const res = await send(ep.method, `${path}${query ? `?${query}` : ""}`, { body, contentType });
          note(ep, res.status, kind);
          const shown = typeof body === "string" ? body.slice(0, 200) : body ? `<${body.byteLength} bytes>` : "";
          const what = `[${kind}${contentType ? ` ${contentType}` : ""}] ${ep.method} ${path.slice(0, 200)}?${query.slice(0, 200)} ${shown}`;
          expect(res.status, `${what} -> ${res.text.slice(0, 300)}`).toBeLessThan(500);
          const after = await countRows();
          const errorsAfter = await errorLogRows();
          if (res.status >= 400) {
            const parsed = JSON.parse(res.text || "null");
            expect(typeof parsed?.error?.code, `${res.status} ${res.text.slice(0, 300)}`).toBe("string");
            expect(typeof parsed.error.message).toBe("string");
            expect(after, `a rejected request (${res.status}) stored a row: ${what}`).toEqual(before);
            expect(errorsAfter, `a rejected request (${res.status}) wrote an error log row: ${what}`).toBe(errorsBefore);
          }
          // What each hostile kind must get wherever the route reads a body: its own 4xx (a path parameter may fail first).
          if (res.status >= 400 && kind === "content-type") expect([400, 401, 404, 405, 409, 413, 415], what).toContain(res.status);
          before = after;
          errorsBefore = errorsAfter;
        }),
        { numRuns: RUNS, endOnFailure: true },
      );
    }, Math.max(120_000, RUNS * 1_500));
  }
});

describe("the valid bodies the generators start from are accepted (so mutations start from a real request)", () => {
  for (const ep of ENDPOINTS.filter((e) => e.valid && !e.path.includes(":") && e.auth !== "signed")) {
    it(`${ep.method} ${ep.path}`, async () => {
      const res = await send(ep.method, ep.path, { body: JSON.stringify(ep.valid) });
      // 409: the same name already exists (a generated request created it), or a feature that needs configuring.
      expect([200, 201, 202, 409], res.text).toContain(res.status);
    });
  }
});

// --- auth matrix ------------------------------------------------------------------
describe("auth matrix: every endpoint x {no key, anon key, wrong key, service key}", () => {
  const KINDS = ["none", "anon", "wrong", "service"] as const;
  const expected = (ep: Endpoint, kind: (typeof KINDS)[number]): "200" | "401" | "accepted" => {
    if (ep.auth === "public") return "200";
    if (ep.auth === "signed") return "401";
    return kind === "service" ? "accepted" : "401";
  };
  for (const ep of ENDPOINTS) {
    it(`${ep.method} ${ep.path}`, async () => {
      // Concrete, harmless values: ids that do not exist, names that do not exist, bodies that fail validation.
      const path = ep.path.replace(/:id/g, "987654321").replace(/:name/g, "no-such-name").replace(/:slug/g, "no-such-sop");
      const body = ep.method === "POST" || ep.method === "PATCH" ? JSON.stringify({ unexpected_field: true }) : undefined;
      const got: string[] = [];
      for (const kind of KINDS) {
        const before = await countRows();
        const res = await send(ep.method, path, { key: kind, body });
        got.push(`${kind}=${res.status}`);
        const want = expected(ep, kind);
        if (want === "200") expect(res.status, `${kind}: ${res.text}`).toBe(200);
        else if (want === "401") {
          expect(res.status, `${kind}: ${res.text}`).toBe(401);
          expect(JSON.parse(res.text).error.code, res.text).toMatch(/unauthorized|missing|invalid|signature|signing|key/i);
          expect(await countRows()).toEqual(before);
        } else {
          expect([401, 403], `${kind}: ${res.text}`).not.toContain(res.status);
          expect(res.status, `${kind}: ${res.text}`).toBeLessThan(500);
        }
        // No response ever carries a key.
        for (const secret of [ps.stack.info.SERVICE_ROLE_KEY, ps.stack.info.SECRET_KEY, ps.stack.info.JWT_SECRET]) expect(res.text).not.toContain(secret);
      }
      if (ep.auth === "service" || ep.auth === "self") expect(got.filter((g) => g.endsWith("=401"))).toHaveLength(3);
      matrix.push(`  ${`${ep.method} ${ep.path}`.padEnd(42)} ${got.join("  ")}`);
    });
  }
});
