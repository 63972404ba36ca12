// /events handlers in-process against the real database: secret-key and signed
// senders, refusals (each its 4xx, nothing stored), the Supabase webhook shape,
// and GET /events with filters and cursors.
import { beforeAll, describe, expect, it } from "vitest";
import events from "../../functions/events/index.ts";
import { SIGNATURE_HEADER, signBody, TIMESTAMP_HEADER } from "../../functions/_shared/events/signature.ts";
import { request, sql } from "../helpers/stack.ts";

const SECRET = "api-test-signing-secret";
beforeAll(() => {
  process.env.EVENTS_SIGNING_SECRET = `old-secret,${SECRET}`;
});

const rand = () => Math.random().toString(36).slice(2, 10).replace(/[0-9]/g, "k");
const call = (path: string, init: Parameters<typeof request>[1] = {}) => events.fetch(request(path, init));
const post = (body: unknown, init: Parameters<typeof request>[1] = {}) =>
  call("/events", { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), ...init });
const stored = async (source: string) =>
  (await sql()`select count(*)::int as n from orchestrator.events where source = ${source}`)[0].n as number;

async function signed(body: string, opts: { secret?: string; at?: number; path?: string } = {}) {
  const at = opts.at ?? Math.floor(Date.now() / 1000);
  return call(opts.path ?? "/events", {
    method: "POST", key: "none", body,
    headers: { [TIMESTAMP_HEADER]: String(at), [SIGNATURE_HEADER]: await signBody(opts.secret ?? SECRET, at, body) },
  });
}

describe("POST /events with the secret key", () => {
  it("stores one event (201) with its fingerprint, level mapped, secret-named keys dropped", async () => {
    const source = `api-${rand()}`;
    const res = await post({ source, type: "checkout", level: "WARNING", message: "Slow checkout 812 ms", payload: { cart: 5, api_key: "sk_live_x", user: { password: "p", id: 3 } } });
    expect(res.status).toBe(201);
    const body = await res.json();
    expect(body).toMatchObject({ received: 1, stored: 1, duplicates: 0 });
    expect(body.events[0]).toMatchObject({ source, type: "checkout", level: "warn", fingerprint: expect.stringMatching(/^[0-9a-f]{32}$/) });
    const [row] = await sql()`select payload, via, message from orchestrator.events where id = ${body.events[0].id}`;
    expect(row).toEqual({ payload: { cart: 5, user: { id: 3 } }, via: "api", message: "Slow checkout 812 ms" });
  });

  it("stores a batch in one go (array or {events}); an event id sent twice is stored once", async () => {
    const source = `api-${rand()}`;
    const batch = Array.from({ length: 300 }, (_, i) => ({ source, type: "tick", message: `tick ${i}`, id: `e-${i % 250}` }));
    const res = await post(batch);
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ received: 300, stored: 250, duplicates: 50 });
    const again = await post({ events: batch.slice(0, 10) });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ received: 10, stored: 0, duplicates: 10 });
    expect(await stored(source)).toBe(250);
  });
});

describe("POST /events refusals: each its 4xx, nothing stored", () => {
  it("no credentials, the anon key, a wrong key -> 401", async () => {
    const source = `api-${rand()}`;
    for (const key of ["none", "anon", "wrong"] as const) {
      const res = await post({ source, type: "x" }, { key });
      expect(res.status, key).toBe(401);
      expect((await res.json()).error.code).toBe("unauthorized");
    }
    expect(await stored(source)).toBe(0);
  });

  it("signed: a good signature is accepted, from either rotated secret", async () => {
    const source = `api-${rand()}`;
    const res = await signed(JSON.stringify({ source, type: "signed", message: "hello" }));
    expect(res.status).toBe(201);
    const old = await signed(JSON.stringify({ source, type: "signed", message: "old secret" }), { secret: "old-secret" });
    expect(old.status).toBe(201);
    expect(await stored(source)).toBe(2);
  });

  it("bad signature, tampered body, stale and future timestamps -> 401 with the reason", async () => {
    const source = `api-${rand()}`;
    const body = JSON.stringify({ source, type: "x" });
    const bad = await signed(body, { secret: "not-the-secret" });
    expect(bad.status).toBe(401);
    expect((await bad.json()).error.code).toBe("bad_signature");

    const at = Math.floor(Date.now() / 1000);
    const tampered = await call("/events", {
      method: "POST", key: "none", body: body.replace('"x"', '"y"'),
      headers: { [TIMESTAMP_HEADER]: String(at), [SIGNATURE_HEADER]: await signBody(SECRET, at, body) },
    });
    expect(tampered.status).toBe(401);
    expect((await tampered.json()).error.code).toBe("bad_signature");

    for (const skew of [-301, 400]) {
      const res = await signed(body, { at: at + skew });
      expect(res.status).toBe(401);
      expect((await res.json()).error).toMatchObject({ code: "stale_timestamp", message: expect.stringMatching(/tolerance is 300 s/) });
    }
    expect(await stored(source)).toBe(0);
  });

  it("a replayed signed request -> 409, stored once", async () => {
    const source = `api-${rand()}`;
    const body = JSON.stringify({ source, type: "x", message: "once" });
    const at = Math.floor(Date.now() / 1000);
    const headers = { [TIMESTAMP_HEADER]: String(at), [SIGNATURE_HEADER]: await signBody(SECRET, at, body) };
    const first = await call("/events", { method: "POST", key: "none", body, headers });
    expect(first.status).toBe(201);
    const replay = await call("/events", { method: "POST", key: "none", body, headers });
    expect(replay.status).toBe(409);
    expect((await replay.json()).error.code).toBe("replayed");
    expect(await stored(source)).toBe(1);
  });

  it("a signed request that failed validation can be sent again once fixed (the signature is not burnt)", async () => {
    const source = `api-${rand()}`;
    const at = Math.floor(Date.now() / 1000);
    const badBody = JSON.stringify({ source, type: "x", level: "loud" });
    expect((await signed(badBody, { at })).status).toBe(400);
    expect((await signed(JSON.stringify({ source, type: "x" }), { at })).status).toBe(201);
  });

  it("oversize batch -> 413; oversize body -> 413", async () => {
    const source = `api-${rand()}`;
    const res = await post(Array.from({ length: 501 }, () => ({ source, type: "x" })));
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe("batch_too_large");
    process.env.EVENTS_MAX_BODY_BYTES = "2000";
    try {
      const big = await post({ source, type: "x", message: "m".repeat(3000) });
      expect(big.status).toBe(413);
      expect((await big.json()).error.code).toBe("payload_too_large");
    } finally {
      delete process.env.EVENTS_MAX_BODY_BYTES;
    }
    expect(await stored(source)).toBe(0);
  });

  it("malformed events -> 400 with issues; one bad event refuses its whole batch", async () => {
    const source = `api-${rand()}`;
    const cases: [unknown, RegExp][] = [
      ["{not json", /not valid JSON/],
      ["", /Body is empty/],
      [{ type: "x" }, /source/],
      [{ source, type: "x", level: "loud" }, /unknown level/],
      [{ source, type: "x", payload: "text" }, /payload/],
      [{ source, type: "x", extra: true }, /extra/],
      [{ source: "Upper Case", type: "x" }, /source/],
      [{ source, type: "x", occurred_at: "last tuesday" }, /occurred_at/],
      [[{ source, type: "ok" }, { source, type: "ok" }, { source, type: "bad type" }], /2\.type/],
      [[], /at least one event/],
    ];
    for (const [body, message] of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(await res.json()), JSON.stringify(body)).toMatch(message);
    }
    expect(await stored(source)).toBe(0);
  });
});

describe("POST /events/webhook (Supabase database webhooks)", () => {
  it("stores the row change as an event: source from the schema or ?source=, type table.op, secrets dropped", async () => {
    const source = `wh-${rand()}`;
    const payload = {
      type: "INSERT", table: "orders", schema: "candyland",
      record: { id: 77, total_cents: 1299, status: "paid", payment_token: "tok_secret", created_at: "2026-11-24T10:00:00+00:00" },
      old_record: null,
    };
    const res = await call(`/events/webhook?source=${source}`, { method: "POST", body: JSON.stringify(payload) });
    expect(res.status).toBe(201);
    const ev = await res.json();
    expect(ev).toMatchObject({ source, type: "orders.insert", level: "info" });
    const [row] = await sql()`select payload, via, occurred_at from orchestrator.events where id = ${ev.id}`;
    expect(row.via).toBe("webhook");
    expect(row.payload).toEqual({ schema: "candyland", table: "orders", op: "INSERT", record: { id: 77, total_cents: 1299, status: "paid", created_at: "2026-11-24T10:00:00+00:00" }, old_record: null });
    expect(row.occurred_at.toISOString()).toBe("2026-11-24T10:00:00.000Z");
  });

  it("accepts a signed webhook, and refuses an unsigned one and a payload that is not a webhook", async () => {
    const source = `wh-${rand()}`;
    const body = JSON.stringify({ type: "UPDATE", table: "app_logs", schema: source, record: { severity: "ERROR", msg: "boom" }, old_record: {} });
    const ok = await signed(body, { path: "/events/webhook" });
    expect(ok.status).toBe(201);
    expect(await ok.json()).toMatchObject({ source, type: "app_logs.update", level: "error" });
    const unsigned = await call("/events/webhook", { method: "POST", key: "none", body });
    expect(unsigned.status).toBe(401);
    const bad = await call(`/events/webhook?source=${source}`, { method: "POST", body: JSON.stringify({ hello: "world" }) });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.code).toBe("validation_failed");
    const badQuery = await call(`/events/webhook?source=NOPE`, { method: "POST", body });
    expect(badQuery.status).toBe(400);
    expect(await stored(source)).toBe(1);
  });
});

describe("GET /events", () => {
  it("filters by source, type glob, level, fingerprint, time, and pages with a cursor", async () => {
    const source = `get-${rand()}`;
    const batch = [
      { source, type: "order.created", level: "info", message: "order 1" },
      { source, type: "order.paid", level: "warn", message: "order 2 paid late" },
      { source, type: "user.signup", level: "error", message: "signup 3 failed" },
      { source, type: "order.created", level: "info", message: "order 4", occurred_at: "2020-01-01T00:00:00Z" },
    ];
    expect((await post(batch)).status).toBe(201);
    const get = async (q: string) => {
      const res = await call(`/events?source=${source}&${q}`);
      expect(res.status, q).toBe(200);
      return await res.json();
    };
    expect((await get("")).events.map((e: any) => e.message)).toEqual(["order 4", "signup 3 failed", "order 2 paid late", "order 1"]);
    expect((await get("type=order.*")).events).toHaveLength(3);
    expect((await get("type=order.created")).events).toHaveLength(2);
    expect((await get("level=warn")).events.map((e: any) => e.level)).toEqual(["error", "warn"]);
    expect((await get("since=2021-01-01T00:00:00Z")).events).toHaveLength(3);
    expect((await get("until=2021-01-01T00:00:00Z")).events.map((e: any) => e.message)).toEqual(["order 4"]);
    const all = (await get("")).events;
    expect((await get(`fingerprint=${all[3].fingerprint}`)).events.map((e: any) => e.message)).toEqual(["order 4", "order 1"]);

    const page1 = await get("limit=3");
    expect(page1.events).toHaveLength(3);
    const page2 = await get(`limit=3&cursor=${page1.next_cursor}`);
    expect(page2.events.map((e: any) => e.message)).toEqual(["order 1"]);
    expect(page2.next_cursor).toBeNull();

    const one = await call(`/events/${all[0].id}`);
    expect(await one.json()).toMatchObject({ id: all[0].id, source, processed_at: expect.any(String) });
  });

  it("bad filters -> 400; unknown id -> 404; no key -> 401", async () => {
    for (const q of ["level=loud", "limit=0", "fingerprint=xyz", "since=yesterday", "cursor=!!", "nope=1"]) {
      expect((await call(`/events?${q}`)).status, q).toBe(400);
    }
    expect((await call("/events/999999999")).status).toBe(404);
    expect((await call("/events/abc")).status).toBe(400);
    expect((await call("/events", { key: "none" })).status).toBe(401);
    expect((await call("/events", { key: "anon" })).status).toBe(401);
  });

  it("GET /events/watchers lists the seeded KniSoci and Candyland watchers", async () => {
    const res = await call("/events/watchers");
    const { watchers } = await res.json();
    const byTable = Object.fromEntries(watchers.map((w: any) => [w.table_name, w]));
    expect(byTable["knisoci.activity_logs"]).toMatchObject({ source: "knisoci", event_type: "activity_log", active: true, secret_columns: ["session_token"] });
    expect(byTable["candyland.orders"]).toMatchObject({ source: "candyland", secret_columns: ["payment_token"] });
  });
});
