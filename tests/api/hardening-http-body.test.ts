// Issue 14, items 4-6: bodies and paths that used to be a 500 (or stored
// mangled data) are a 4xx saying what was wrong, with nothing stored and no
// log row. The handlers run in-process against the real database.
import { beforeAll, describe, expect, it } from "vitest";
import events from "../../functions/events/index.ts";
import health from "../../functions/health/index.ts";
import notion from "../../functions/notion/index.ts";
import rules from "../../functions/rules/index.ts";
import schedules from "../../functions/schedules/index.ts";
import tasks from "../../functions/tasks/index.ts";
import { SIGNATURE_HEADER, signBody, TIMESTAMP_HEADER } from "../../functions/_shared/events/signature.ts";
import { MAX_JSON_DEPTH } from "../../functions/_shared/json-shape.ts";
import { request, sql } from "../helpers/stack.ts";

const SECRET = "hardening-http-signing-secret";
beforeAll(() => {
  process.env.EVENTS_SIGNING_SECRET = SECRET;
});

const rand = () => Math.random().toString(36).slice(2, 10).replace(/[0-9]/g, "h");
type Fn = { fetch(req: Request): Promise<Response> };

async function call(fn: Fn, path: string, init: Parameters<typeof request>[1] = {}) {
  const res = await fn.fetch(request(path, init));
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) : undefined };
}

/** `{"a": {"a": … 1 …}}`, `levels` objects deep, as text (JSON.stringify of such a value would itself recurse). */
const nested = (levels: number, leaf = "1") => `${'{"a":'.repeat(levels)}${leaf}${"}".repeat(levels)}`;

const count = async (table: string) => (await sql().unsafe(`select count(*)::int as n from orchestrator.${table}`))[0].n as number;

/** Every request id these tests send: none of them may leave a log row. */
const requestIds: string[] = [];
const rid = () => {
  const id = `hardening-http-${rand()}`;
  requestIds.push(id);
  return { "x-request-id": id };
};

describe(`item 5: nesting deeper than ${MAX_JSON_DEPTH} levels is a 400 naming the path, before the database or a recursive walk sees it`, () => {
  it("POST /tasks with a payload nested 6,000 levels (was: PostgresError stack depth limit exceeded, 500)", async () => {
    const marker = `deep-${rand()}`;
    const before = await count("tasks");
    const res = await call(tasks, "/tasks", { method: "POST", headers: rid(), body: `{"type":"noop","dedupe_key":"${marker}","payload":${nested(6000)}}` });
    expect(res.status, res.text).toBe(400);
    expect(res.body.error.code).toBe("too_deep");
    expect(res.body.error.message).toMatch(new RegExp(`deeper than ${MAX_JSON_DEPTH} levels at payload\\.a\\.a`));
    expect(res.body.error.details.path.slice(0, 3)).toEqual(["payload", "a", "a"]);
    expect(res.body.error.details.path).toHaveLength(MAX_JSON_DEPTH);
    expect(await sql()`select 1 from orchestrator.tasks where dedupe_key = ${marker}`).toHaveLength(0);
    expect(await count("tasks")).toBeGreaterThanOrEqual(before);
  });

  it("the limit is exact: the body is level 1, so 64 levels are stored and 65 are refused", async () => {
    const marker = `edge-${rand()}`;
    // body (1) > payload (2) > echo's 62 objects (3..64).
    const ok = await call(tasks, "/tasks", { method: "POST", body: `{"type":"noop","dedupe_key":"${marker}","payload":{"echo":${nested(MAX_JSON_DEPTH - 2)}}}` });
    expect(ok.status, ok.text).toBe(201);
    await sql()`update orchestrator.tasks set status = 'cancelled' where id = ${ok.body.id} and status = 'queued'`;
    const deep = await call(tasks, "/tasks", { method: "POST", headers: rid(), body: `{"type":"noop","payload":{"echo":${nested(MAX_JSON_DEPTH - 1)}}}` });
    expect(deep.status, deep.text).toBe(400);
    expect(deep.body.error.code).toBe("too_deep");
  });

  it("POST /schedules and PATCH /schedules/:name with a deep payload", async () => {
    const name = `deep-${rand()}`;
    const created = await call(schedules, "/schedules", { method: "POST", body: JSON.stringify({ name, cron: "0 3 * * *", task_type: "noop", enabled: false }) });
    expect(created.status, created.text).toBe(201);
    const post = await call(schedules, "/schedules", { method: "POST", headers: rid(), body: `{"name":"${name}-2","cron":"0 3 * * *","task_type":"noop","payload":${nested(6000)}}` });
    expect(post.status, post.text).toBe(400);
    expect(post.body.error.code).toBe("too_deep");
    const patch = await call(schedules, `/schedules/${name}`, { method: "PATCH", headers: rid(), body: `{"payload":${nested(6000)}}` });
    expect(patch.status, patch.text).toBe(400);
    expect(patch.body.error.details.path[0]).toBe("payload");
    expect(await sql()`select 1 from orchestrator.schedules where name = ${`${name}-2`}`).toHaveLength(0);
    const [row] = await sql()`select payload from orchestrator.schedules where name = ${name}`;
    expect(row.payload).toEqual({});
    await call(schedules, `/schedules/${name}`, { method: "DELETE" });
  });

  it("POST /events/webhook with record nested 1,000 levels, with the key and signed", async () => {
    const source = `deep-${rand()}`;
    const body = `{"type":"INSERT","table":"orders","schema":"public","record":${nested(1000)}}`;
    const keyed = await call(events, `/events/webhook?source=${source}`, { method: "POST", headers: rid(), body });
    expect(keyed.status, keyed.text).toBe(400);
    expect(keyed.body.error.details.path[0]).toBe("record");
    const at = Math.floor(Date.now() / 1000);
    const signedRes = await call(events, `/events/webhook?source=${source}`, {
      method: "POST", key: "none", body,
      headers: { ...rid(), [TIMESTAMP_HEADER]: String(at), [SIGNATURE_HEADER]: await signBody(SECRET, at, body) },
    });
    expect(signedRes.status, signedRes.text).toBe(400);
    expect(signedRes.body.error.code).toBe("too_deep");
    const batch = await call(events, "/events", { method: "POST", headers: rid(), body: `[{"source":"${source}","type":"x","payload":${nested(5000)}}]` });
    expect(batch.status, batch.text).toBe(400);
    expect(batch.body.error.details.path.slice(0, 2)).toEqual(["0", "payload"]);
    expect((await sql()`select count(*)::int as n from orchestrator.events where source = ${source}`)[0].n).toBe(0);
  });

  it("POST and PATCH /rules with payload_template nested 5,000 levels (was: RangeError in the template check, 500)", async () => {
    const name = `deep ${rand()}`;
    const post = await call(rules, "/rules", { method: "POST", headers: rid(), body: `{"name":"${name}","task_type":"noop","payload_template":${nested(5000)}}` });
    expect(post.status, post.text).toBe(400);
    expect(post.body.error.details.path[0]).toBe("payload_template");
    expect(await sql()`select 1 from orchestrator.event_rules where name = ${name}`).toHaveLength(0);
    const created = await call(rules, "/rules", { method: "POST", body: JSON.stringify({ name, task_type: "noop", enabled: false }) });
    expect(created.status, created.text).toBe(201);
    const patch = await call(rules, `/rules/${created.body.id}`, { method: "PATCH", headers: rid(), body: `{"payload_template":${nested(5000)}}` });
    expect(patch.status, patch.text).toBe(400);
    expect(patch.body.error.code).toBe("too_deep");
    await call(rules, `/rules/${created.body.id}`, { method: "DELETE" });
  });

  it("arrays count as levels too, and a 100,000-level body costs no stack", async () => {
    const res = await call(tasks, "/tasks", { method: "POST", headers: rid(), body: `{"type":"noop","payload":{"list":${"[".repeat(100_000)}${"]".repeat(100_000)}}}` });
    expect(res.status, res.text.slice(0, 300)).toBe(400);
    expect(res.body.error.details.path.slice(0, 4)).toEqual(["payload", "list", "0", "0"]);
  });
});

describe("item 6: strings Postgres cannot hold, wrong content types, invalid UTF-8", () => {
  it("a lone surrogate in dedupe_key is a 400 naming the field, not Postgres' raw message", async () => {
    const res = await call(tasks, "/tasks", { method: "POST", headers: rid(), body: '{"type":"noop","dedupe_key":"ab\\ud800"}' });
    expect(res.status, res.text).toBe(400);
    expect(res.body.error).toMatchObject({ code: "invalid_string", details: { path: ["dedupe_key"] } });
    expect(res.body.error.message).toMatch(/^dedupe_key contains a lone UTF-16 surrogate/);
    expect(res.body.error.message).not.toMatch(/unsupported Unicode escape|jsonb|22P05/i);
    // A whole surrogate pair (an emoji) is fine.
    const emoji = `emoji-${rand()}-\ud83c\udf6d`;
    const ok = await call(tasks, "/tasks", { method: "POST", body: JSON.stringify({ type: "noop", dedupe_key: emoji }) });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body.dedupe_key).toBe(emoji);
    await sql()`update orchestrator.tasks set status = 'cancelled' where id = ${ok.body.id} and status = 'queued'`;
  });

  it("lone surrogates and NUL characters anywhere (keys too) are a 400 with the path", async () => {
    const key = await call(tasks, "/tasks", { method: "POST", headers: rid(), body: '{"type":"noop","payload":{"echo":"x","\\udc00k":1}}' });
    expect(key.body.error).toMatchObject({ code: "invalid_string", details: { path: ["payload", "\udc00k"] } });
    expect(key.body.error.message).toMatch(/^payload\.\\udc00k contains/);
    const nul = await call(rules, "/rules", { method: "POST", headers: rid(), body: '{"name":"n","task_type":"noop","payload_template":{"x":["a","b\\u0000"]}}' });
    expect(nul.body.error).toMatchObject({ code: "invalid_string", details: { path: ["payload_template", "x", "1"] } });
    expect(nul.body.error.message).toMatch(/NUL/);
  });

  it("a body sent as text/plain, application/xml, image/png or a form is a 415 saying what to send", async () => {
    const marker = `ct-${rand()}`;
    const body = JSON.stringify({ type: "noop", dedupe_key: marker });
    for (const type of ["text/plain", "text/plain;charset=UTF-8", "application/xml", "image/png", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp", "not a type"]) {
      const res = await call(tasks, "/tasks", { method: "POST", headers: { ...rid(), "content-type": type }, body });
      expect(res.status, `${type}: ${res.text}`).toBe(415);
      expect(res.body.error.code).toBe("unsupported_media_type");
      expect(res.body.error.message).toMatch(/application\/json/);
    }
    const form = await call(tasks, "/tasks", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
    expect(form.body.error.message).toMatch(/curl -d/);
    const latin1 = await call(tasks, "/tasks", { method: "POST", headers: { "content-type": "application/json; charset=iso-8859-1" }, body });
    expect(latin1.status).toBe(415);
    expect(latin1.body.error.message).toMatch(/UTF-8/);
    expect(await sql()`select 1 from orchestrator.tasks where dedupe_key = ${marker}`).toHaveLength(0);
  });

  it("JSON content types (+json, charset=utf-8, any case) and a missing content type are accepted; so is an empty body of any type", async () => {
    for (const type of ["application/json", "Application/JSON; charset=UTF-8", "application/vnd.api+json", "application/merge-patch+json", undefined]) {
      const marker = `ok-${rand()}`;
      const req = request("/tasks", { method: "POST", body: JSON.stringify({ type: "noop", dedupe_key: marker }) });
      if (type === undefined) req.headers.delete("content-type");
      else req.headers.set("content-type", type);
      const res = await tasks.fetch(req);
      expect(res.status, `${type}: ${await res.clone().text()}`).toBe(201);
      await sql()`update orchestrator.tasks set status = 'cancelled' where dedupe_key = ${marker} and status = 'queued'`;
    }
    // No body: routes that take none do not care what the header says.
    const cancel = await call(tasks, "/tasks/987654321/cancel", { method: "POST", headers: { "content-type": "text/plain" } });
    expect(cancel.status).toBe(404);
  });

  it("invalid UTF-8 is a 400, never stored with U+FFFD in its place", async () => {
    const marker = `utf8-${rand()}`;
    const prefix = new TextEncoder().encode(`{"type":"noop","dedupe_key":"${marker}","payload":{"echo":"caf`);
    const suffix = new TextEncoder().encode('"}}');
    for (const bad of [[0xe9], [0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
      const bytes = new Uint8Array([...prefix, ...bad, ...suffix]);
      const res = await call(tasks, "/tasks", { method: "POST", headers: rid(), body: bytes });
      expect(res.status, `${bad}: ${res.text}`).toBe(400);
      expect(res.body.error.code).toBe("invalid_utf8");
    }
    // The signed events path reads its bytes the same way.
    const source = `utf8-${rand()}`;
    const body = new Uint8Array([...new TextEncoder().encode(`{"source":"${source}","type":"t","message":"caf`), 0xe9, ...suffix.slice(0, 2)]);
    const at = Math.floor(Date.now() / 1000);
    const signedRes = await call(events, "/events", { method: "POST", key: "none", body, headers: { ...rid(), [TIMESTAMP_HEADER]: String(at), [SIGNATURE_HEADER]: await signBody(SECRET, at, body) } });
    expect(signedRes.status, signedRes.text).toBe(400);
    expect(signedRes.body.error.code).toBe("invalid_utf8");
    expect(await sql()`select 1 from orchestrator.tasks where dedupe_key = ${marker}`).toHaveLength(0);
    expect((await sql()`select count(*)::int as n from orchestrator.events where source = ${source}`)[0].n).toBe(0);
  });
});

describe("item 4: malformed percent-encoding in the path", () => {
  const CASES: [Fn, string][] = [[health, "/health/%E0"], [tasks, "/tasks/%ZZ"], [events, "/events/%C0"], [notion, "/notion/%FF/webhook"], [rules, "/rules/%"], [tasks, "/tasks/%E0%A4/cancel"]];

  it("without the key: 401, like any protected path (nothing about the path is revealed)", async () => {
    for (const [fn, path] of CASES) {
      const res = await call(fn, path, { key: "none", headers: rid() });
      expect(res.status, `${path}: ${res.text}`).toBe(401);
    }
  });

  it("with the key: a 400 saying which segment is malformed and how to encode it (was: URIError, 500)", async () => {
    for (const [fn, path] of CASES) {
      const res = await call(fn, path, { headers: rid() });
      expect(res.status, `${path}: ${res.text}`).toBe(400);
      expect(res.body.error.message).toMatch(/is not valid percent-encoding/);
      expect(res.body.error.message).toMatch(/encodeURIComponent/);
    }
  });

  it("well-formed encoding still routes (%2F stays inside its segment)", async () => {
    expect((await call(tasks, "/tasks/%39%38%37%36%35%34%33%32%31")).status).toBe(404); // "987654321": no such task
    const slash = await call(tasks, "/tasks/1%2Fcancel");
    expect(slash.status).toBe(400); // the id "1/cancel", not the cancel route
    expect(slash.body.error.message).toMatch(/task id/);
  });
});

it("none of these requests left a log row", async () => {
  expect(requestIds.length).toBeGreaterThan(30);
  const rows = await sql()`select request_id, message from orchestrator.logs where request_id = any(${requestIds})`;
  expect(rows).toEqual([]);
});
