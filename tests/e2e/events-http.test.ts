// Events from outside the database, over real HTTP to the Deno function server:
// a signed sender (the events function runs with verify_jwt off, so no project
// JWT is needed), a Supabase database webhook pointed at /events/webhook, and
// the seeded Candyland demo rule turning an order into a task.
import { afterAll, describe, expect, it } from "vitest";
import { SIGNATURE_HEADER, signBody, TIMESTAMP_HEADER } from "../../functions/_shared/events/signature.ts";
import { http, sql, stack, waitFor } from "../helpers/stack.ts";

// The value tests/helpers/global-setup.ts gives the stack's functions.
const SECRET = "test-events-signing-secret";
const rand = () => Math.random().toString(36).slice(2, 10).replace(/[0-9]/g, "h");
const schema = `hook_${rand()}`;

afterAll(async () => {
  await sql().unsafe(`drop schema if exists ${schema} cascade`);
});

describe("POST /events over HTTP", () => {
  it("a signed sender without any key is accepted; the same request replayed is refused; unsigned is 401", async () => {
    const source = `ext-${rand()}`;
    const body = JSON.stringify([{ source, type: "deploy", level: "info", message: "deployed v1.2.3" }, { source, type: "deploy", message: "deployed v1.2.4" }]);
    const at = Math.floor(Date.now() / 1000);
    const headers = { [TIMESTAMP_HEADER]: String(at), [SIGNATURE_HEADER]: await signBody(SECRET, at, body) };
    const res = await http("/events", { method: "POST", key: "none", body, headers });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ stored: 2 });
    const replay = await http("/events", { method: "POST", key: "none", body, headers });
    expect(replay.status).toBe(409);
    const unsigned = await http("/events", { method: "POST", key: "none", body });
    expect(unsigned.status).toBe(401);
    // The GET routes still need the secret key even though the gateway does not check a JWT here.
    expect((await http(`/events?source=${source}`, { key: "none" })).status).toBe(401);
    const list = await (await http(`/events?source=${source}`)).json();
    expect(list.events.map((e: { message: string }) => e.message)).toEqual(["deployed v1.2.4", "deployed v1.2.3"]);
  });
});

describe("a Supabase database webhook pointed at /events/webhook", () => {
  it("delivers inserted rows as events (pg_net -> /events/webhook)", async () => {
    const source = `hooked-${rand()}`;
    const s = stack();
    await sql().unsafe(`create schema ${schema}; create table ${schema}.orders (id bigint generated always as identity primary key, total_cents int, card_token text)`);
    // What the dashboard's "Database Webhooks" creates: supabase_functions.http_request(url, method, headers, params, timeout).
    await sql().unsafe(`create trigger orders_hook after insert on ${schema}.orders for each row
      execute function supabase_functions.http_request(
        '${s.FUNCTIONS_URL}/events/webhook?source=${source}', 'POST',
        '{"Content-Type": "application/json", "Authorization": "Bearer ${s.SERVICE_ROLE_KEY}"}', '{}', '5000')`);
    await sql().unsafe(`insert into ${schema}.orders (total_cents, card_token) values (2599, 'tok_abc'), (399, 'tok_def')`);
    const evs = await waitFor(async () => {
      const rows = await sql()`select type, via, payload from orchestrator.events where source = ${source} order by (payload -> 'record' ->> 'id')::int`;
      return rows.length === 2 ? rows : undefined;
    }, "two webhook events", 20_000);
    expect(evs.map((e) => [e.type, e.via])).toEqual([["orders.insert", "webhook"], ["orders.insert", "webhook"]]);
    expect(evs[0].payload).toMatchObject({ schema, table: "orders", op: "INSERT", record: { id: 1, total_cents: 2599 } });
    expect(evs[0].payload.record).not.toHaveProperty("card_token");
  });
});

describe("the seeded Candyland demo", () => {
  it("a new order becomes an order.created event and its rule's task runs", async () => {
    const email = `${rand()}@example.com`;
    const [order] = await sql()`insert into candyland.orders (customer_email, total_cents, payment_token) values (${email}, 1850, 'tok_live_x') returning id`;
    const task = await waitFor(async () => {
      const [t] = await sql()`select status::text as status, result, dedupe_key from orchestrator.tasks
        where source = 'rule:candyland-order-created' and dedupe_key = ${"candyland-order:" + order.id}`;
      return t?.status === "succeeded" ? t : undefined;
    }, "the order's task", 30_000);
    expect(task.result).toEqual({ ok: true, echo: { order_id: order.id, total_cents: 1850, currency: "EUR" } });
    const [ev] = await sql()`select payload from orchestrator.events where source = 'candyland' and type = 'order.created' and (payload -> 'record' ->> 'id')::bigint = ${order.id}`;
    expect(ev.payload.record).not.toHaveProperty("payment_token");
    expect(ev.payload.record.customer_email).toBe(email);
  });
});
