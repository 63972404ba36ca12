// Pure parts of the events feature: request schemas, batch handling, the
// webhook mapping and the rule template checker.
import { describe, expect, it } from "vitest";
import { AppError } from "../../functions/_shared/errors.ts";
import { eventsFromBody, webhookToEvent } from "../../functions/_shared/events/events.ts";
import { parseJsonBytes } from "../../functions/_shared/http.ts";
import {
  createRuleSchema,
  eventInputSchema,
  listEventsQuery,
  listTicketsQuery,
  patchRuleSchema,
  patchTicketSchema,
} from "../../functions/_shared/events/schemas.ts";
import { isStatic, placeholders, templateIssues } from "../../functions/_shared/events/template.ts";

const thrown = (fn: () => unknown): AppError => {
  try {
    fn();
  } catch (err) {
    return err as AppError;
  }
  throw new Error("expected a throw");
};

describe("eventInputSchema", () => {
  it("accepts a minimal event and the level words senders use", () => {
    expect(eventInputSchema.parse({ source: "knisoci", type: "activity_log" })).toEqual({ source: "knisoci", type: "activity_log" });
    for (const level of ["debug", "INFO", "warning", "Error", "critical", "fatal"]) {
      expect(eventInputSchema.safeParse({ source: "a", type: "b", level }).success).toBe(true);
    }
  });

  it("rejects bad sources, types, levels, unknown keys, dates and payloads", () => {
    const bad = [
      { source: "KniSoci", type: "x" },
      { source: "-x", type: "x" },
      { source: "a".repeat(65), type: "x" },
      { source: "a", type: "has space" },
      { source: "a", type: "x", level: "loud" },
      { source: "a", type: "x", extra: 1 },
      { source: "a", type: "x", occurred_at: "yesterday" },
      { source: "a", type: "x", payload: [1, 2] },
      { source: "a", type: "x", payload: { big: "x".repeat(70_000) } },
      { source: "a", type: "x", message: "m".repeat(10_001) },
    ];
    for (const b of bad) expect(eventInputSchema.safeParse(b).success, JSON.stringify(b).slice(0, 60)).toBe(false);
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 25; i++) deep = (deep.x = {}) as Record<string, unknown>;
    expect(eventInputSchema.safeParse({ source: "a", type: "x", payload: root }).success).toBe(false);
  });
});

describe("eventsFromBody", () => {
  const ev = (i: number) => ({ source: "s", type: "t", message: `m${i}` });

  it("takes one event, an array, or {events: [...]}", () => {
    expect(eventsFromBody(ev(1))).toHaveLength(1);
    expect(eventsFromBody([ev(1), ev(2)])).toHaveLength(2);
    expect(eventsFromBody({ events: [ev(1), ev(2), ev(3)] })).toHaveLength(3);
  });

  it("refuses more than 500 events with a 413 before validating them", () => {
    const err = thrown(() => eventsFromBody(Array.from({ length: 501 }, (_, i) => ev(i))));
    expect(err.status).toBe(413);
    expect(err.code).toBe("batch_too_large");
    expect(eventsFromBody(Array.from({ length: 500 }, (_, i) => ev(i)))).toHaveLength(500);
  });

  it("names the bad event of a batch, and refuses empty bodies and batches", () => {
    const err = thrown(() => eventsFromBody([ev(1), ev(2), { source: "s", type: "t", level: "loud" }]));
    expect(err.status).toBe(400);
    expect((err.details as { issues: { path: string }[] }).issues[0].path).toBe("2.level");
    expect(thrown(() => eventsFromBody(undefined)).status).toBe(400);
    expect(thrown(() => eventsFromBody([])).status).toBe(400);
    expect(thrown(() => eventsFromBody("text")).status).toBe(400);
  });

  it("signed bodies go through the one parser, parseJsonBytes: 400 on broken JSON, undefined on empty", () => {
    const enc = new TextEncoder();
    expect(thrown(() => parseJsonBytes(enc.encode("{nope"))).status).toBe(400);
    expect(parseJsonBytes(enc.encode("  "))).toBeUndefined();
    expect(parseJsonBytes(enc.encode('{"a":1}'))).toEqual({ a: 1 });
  });
});

describe("webhookToEvent (Supabase database webhooks)", () => {
  it("maps an INSERT: source from the schema, type table.insert, level, message and time from the row", () => {
    const e = webhookToEvent({
      type: "INSERT", table: "app_logs", schema: "candyland",
      record: { id: 7, severity: "ERROR", msg: "Checkout failed", logged_at: "2026-11-24T10:00:00+00:00", created_at: "2026-11-24T09:00:00Z" },
      old_record: null,
    });
    expect(e).toMatchObject({
      source: "candyland", type: "app_logs.insert", level: "ERROR", message: "Checkout failed",
      occurred_at: "2026-11-24T09:00:00.000Z",
      payload: { schema: "candyland", table: "app_logs", op: "INSERT", record: { id: 7 }, old_record: null },
    });
    expect(eventInputSchema.safeParse(e).success).toBe(true);
  });

  it("uses old_record for a DELETE, pino numeric levels, and query overrides", () => {
    const e = webhookToEvent(
      { type: "DELETE", table: "Orders", schema: "Public Stuff", record: null, old_record: { id: 1, level: 50 } },
      {},
    );
    expect(e.type).toBe("orders.delete");
    expect(e.source).toBe("public_stuff");
    expect(e.level).toBe("error");
    const o = webhookToEvent({ type: "UPDATE", table: "orders", schema: "candyland", record: { id: 1 }, old_record: { id: 1 } },
      { source: "shop", type: "order.changed", level: "warn" });
    expect(o).toMatchObject({ source: "shop", type: "order.changed", level: "warn" });
  });
});

describe("rule templates", () => {
  it("finds placeholders and knows static templates", () => {
    expect(placeholders("Order {{record.id}} for {{ event.source }}")).toEqual(["record.id", "event.source"]);
    expect(isStatic({ a: ["x", { b: 1 }] })).toBe(true);
    expect(isStatic({ a: ["x", { b: "{{record.id}}" }] })).toBe(false);
  });

  it("reports unknown roots, unknown event fields, empty segments and stray braces, with their path", () => {
    expect(templateIssues({ id: "{{event.id}}", r: "{{record.a.b.0}}", p: "x {{payload.k}} y" })).toEqual([]);
    const issues = templateIssues({ a: "{{task.id}}", b: ["ok", "{{event.nope}}"], c: "{{record..x}}", d: "{{record.id}" });
    expect(issues.map((i) => i.path.join("."))).toEqual(["a", "b.1", "c", "d"]);
    expect(issues[1].message).toMatch(/events have no field "nope"/);
  });

  it("createRuleSchema fills defaults and turns template problems into issues", () => {
    expect(createRuleSchema.parse({ name: "r1", task_type: "noop" })).toMatchObject({
      enabled: true, source: null, type: "*", min_level: null, match: {}, payload_template: {}, priority: 0, dedupe_key: null,
    });
    const bad = createRuleSchema.safeParse({ name: "r1", task_type: "noop", payload_template: { x: "{{evnt.id}}" }, dedupe_key: "k-{{record.id" });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => i.path.join("."))).toEqual(["payload_template.x", "dedupe_key"]);
    expect(createRuleSchema.safeParse({ name: "bad name!", task_type: "noop" }).success).toBe(false);
    expect(createRuleSchema.safeParse({ name: "r", task_type: "noop", min_level: "loud" }).success).toBe(false);
    expect(createRuleSchema.safeParse({ name: "r", task_type: "noop", source: "Upper" }).success).toBe(false);
    expect(patchRuleSchema.safeParse({}).success).toBe(false);
    expect(patchRuleSchema.safeParse({ enabled: false }).success).toBe(true);
  });
});

describe("list and patch queries", () => {
  it("events: level, fingerprint and limit are checked", () => {
    expect(listEventsQuery.parse({ level: "warn", type: "order.*" })).toMatchObject({ level: "warn", type: "order.*", limit: 50 });
    expect(listEventsQuery.safeParse({ fingerprint: "abc" }).success).toBe(false);
    expect(listEventsQuery.safeParse({ limit: "501" }).success).toBe(false);
  });
  it("tickets: status lists, priorities, and patches with something in them", () => {
    expect(listTicketsQuery.parse({ status: "open,in_progress" }).status).toEqual(["open", "in_progress"]);
    expect(listTicketsQuery.safeParse({ status: "done" }).success).toBe(false);
    expect(patchTicketSchema.safeParse({}).success).toBe(false);
    expect(patchTicketSchema.safeParse({ status: "done" }).success).toBe(false);
    expect(patchTicketSchema.parse({ status: "resolved" })).toEqual({ status: "resolved" });
  });
});
