// The SOP schema, the deterministic template generator, and the context budget.
import { describe, expect, it } from "vitest";
import { fitToBudget, type SopContext } from "../../functions/_shared/sops/context.ts";
import { SOP_JSON_SCHEMA } from "../../functions/_shared/sops/prompt.ts";
import { generateSopSchema, slugify, sopContentSchema, sopModelSchema } from "../../functions/_shared/sops/schema.ts";
import { templateSop } from "../../functions/_shared/sops/template.ts";

const base = (over: Partial<SopContext> = {}): SopContext => ({
  topic: "checkout outage in Candyland",
  events: [],
  tasks: [],
  missing: { event_ids: [], task_ids: [] },
  omitted: { events: 0, tasks: 0, logs: 0 },
  ...over,
});

const incident = (): SopContext => base({
  audience: "SRE on call",
  ticket: { id: 42, title: "Payment provider timeouts", status: "resolved", source: "candyland", fingerprint: "fp-1", occurrences: 1001 },
  events: [
    { id: 3, source: "candyland", type: "app_log", level: "error", message: "payment gateway timeout after 30000 ms", fingerprint: "fp-1", occurred_at: "2026-11-20T10:00:03.000Z" },
    { id: 1, source: "candyland", type: "app_log", level: "error", message: "payment gateway timeout after 30000 ms", fingerprint: "fp-1", occurred_at: "2026-11-20T10:00:01.000Z" },
    { id: 2, source: "candyland", type: "order", level: "info", message: "order created", occurred_at: "2026-11-20T10:00:02.000Z" },
  ],
  tasks: [
    { id: 9, type: "notify.slack", status: "succeeded", attempts: 2, max_attempts: 5, last_error: "HTTP 503", created_at: "2026-11-20T10:00:05.000Z", logs: [] },
    {
      id: 7, type: "ticket.open", status: "dead", attempts: 5, max_attempts: 5, last_error: "Error: relation \"tickets\" is locked", created_at: "2026-11-20T10:00:04.000Z",
      logs: [{ at: "2026-11-20T10:00:04.500Z", level: "error", message: "could not lock ticket row" }, { at: "2026-11-20T10:00:04.100Z", level: "info", message: "started" }],
    },
  ],
});

describe("slugify", () => {
  it("turns a topic into a slug the API accepts", () => {
    expect(slugify("Checkout outage (EU) — 2026!")).toBe("checkout-outage-eu-2026");
    expect(slugify("Crème brûlée recipe")).toBe("creme-brulee-recipe");
    expect(slugify("???")).toBe("sop");
    const long = slugify("a ".repeat(200));
    expect(long.length).toBeLessThanOrEqual(100);
    expect(generateSopSchema.shape.slug.safeParse(long).success).toBe(true);
  });
});

describe("SOP schema", () => {
  it("the model schema needs every key and maps a null warning to none", () => {
    const answer = { ...templateSop(incident()), steps: [{ action: "a", expected_result: "b", warning: null }, { action: "c", expected_result: "d", warning: "careful" }] };
    const parsed = sopModelSchema.parse(answer);
    expect(parsed.steps[0]).toEqual({ action: "a", expected_result: "b" });
    expect(parsed.steps[1].warning).toBe("careful");
    const { warning: _w, ...withoutWarning } = answer.steps[0];
    expect(sopModelSchema.safeParse({ ...answer, steps: [withoutWarning] }).success).toBe(false);
    expect(sopContentSchema.safeParse({ ...parsed, extra: 1 }).success).toBe(false);
    expect(sopContentSchema.safeParse({ ...parsed, steps: [] }).success).toBe(false);
  });

  it("the JSON Schema sent to providers fits OpenAI strict mode: all keys required, no extras, no string lengths", () => {
    const objects: Record<string, unknown>[] = [];
    const walk = (n: unknown) => {
      if (Array.isArray(n)) return n.forEach(walk);
      if (!n || typeof n !== "object") return;
      const o = n as Record<string, unknown>;
      if (o.type === "object") objects.push(o);
      expect(o).not.toHaveProperty("minLength");
      expect(o).not.toHaveProperty("maxLength");
      expect(o).not.toHaveProperty("$schema");
      Object.values(o).forEach(walk);
    };
    walk(SOP_JSON_SCHEMA);
    expect(objects.length).toBe(3); // the SOP, a role, a step
    for (const o of objects) {
      expect(o.additionalProperties).toBe(false);
      expect([...(o.required as string[])].sort()).toEqual(Object.keys(o.properties as object).sort());
    }
    expect(Object.keys((SOP_JSON_SCHEMA as { properties: object }).properties)).toEqual(
      ["title", "purpose", "scope", "roles", "prerequisites", "steps", "verification", "rollback", "references"],
    );
  });
});

describe("template generator", () => {
  it("writes a complete, valid SOP from a ticket, its events and its task history", () => {
    const sop = templateSop(incident());
    expect(sopContentSchema.safeParse(sop).success).toBe(true);
    expect(sop.title).toBe("Checkout outage in Candyland");
    expect(sop.purpose).toContain("ticket #42");
    expect(sop.purpose).toContain("1001 occurrences");
    expect(sop.roles.map((r) => r.role)).toEqual(["SRE on call", "Ticket owner", "Candyland owner"]);
    const actions = sop.steps.map((s) => s.action);
    // Ticket first, then event groups (errors before info; the two timeouts grouped by fingerprint), then tasks by id, then closing.
    expect(actions[0]).toMatch(/^Take ticket #42/);
    expect(actions[1]).toContain("payment gateway timeout after 30000 ms");
    expect(actions[1]).toContain("2 occurrences, first 2026-11-20T10:00:01.000Z, last 2026-11-20T10:00:03.000Z");
    expect(sop.steps[1].warning).toMatch(/active incident/);
    expect(actions[2]).toContain("order created");
    expect(sop.steps[2].warning).toBeUndefined();
    expect(actions[3]).toMatch(/^Find why task #7 \(ticket.open\) failed for good after 5 attempts of 5/);
    expect(actions[3]).toContain("[error] \"could not lock ticket row\"");
    expect(actions[4]).toBe("Run task #7 (ticket.open) again with POST /tasks/7/retry.");
    expect(sop.steps[4].warning).toMatch(/at-least-once/);
    expect(actions[5]).toMatch(/^Repeat the work of task #9 \(notify.slack\).*earlier failure was "HTTP 503"/);
    expect(actions[6]).toMatch(/^Write down the cause and the fix in ticket #42/);
    expect(sop.verification.join("\n")).toContain("GET /tasks?type=ticket.open&status=dead");
    expect(sop.references).toEqual(expect.arrayContaining(["Ticket #42: Payment provider timeouts", "Events #1, #2, #3"]));
  });

  it("is deterministic: the same context gives the same SOP, whatever the input order", () => {
    const a = templateSop(incident());
    const shuffled = incident();
    shuffled.events.reverse();
    shuffled.tasks.reverse();
    expect(templateSop(shuffled)).toEqual(a);
  });

  it("without linked data, uses the requester's listed steps, or generic ones", () => {
    const listed = templateSop(base({ topic: "rotate the Notion key", context: "Notes:\n1. Create a new key in Notion\n- Update NOTION_API_KEY\n* Revoke the old key\nthanks" }));
    expect(listed.steps.map((s) => s.action)).toEqual([
      "Create a new key in Notion", "Update NOTION_API_KEY", "Revoke the old key",
      "Record what was done, when, and by whom, where the team keeps its change log.",
    ]);
    const bare = templateSop(base({ topic: "onboard a new KniSoci moderator" }));
    expect(bare.steps.length).toBe(4);
    expect(bare.scope).toContain("Written from the request alone");
    expect(sopContentSchema.safeParse(bare).success).toBe(true);
  });

  it("stays within the schema limits for huge inputs", () => {
    const many = base({
      topic: "x".repeat(500),
      events: Array.from({ length: 50 }, (_, i) => ({ id: i + 1, source: `s${i % 7}`, type: `t${i}`, level: i % 2 ? "error" : "warn", message: "m".repeat(500) })),
      tasks: Array.from({ length: 20 }, (_, i) => ({ id: i + 1, type: "noop", status: "dead", attempts: 5, max_attempts: 5, last_error: "e".repeat(500), created_at: "2026-01-01T00:00:00Z", logs: [] })),
    });
    const sop = templateSop(many);
    expect(sopContentSchema.safeParse(sop).success).toBe(true);
    expect(sop.steps.length).toBeLessThanOrEqual(60);
  });
});

describe("context budget", () => {
  it("trims logs, then events, then tasks until the JSON fits", () => {
    const ctx = base({
      events: Array.from({ length: 50 }, (_, i) => ({ id: i + 1, source: "a", type: "b", level: "info", message: "m".repeat(400) })),
      tasks: Array.from({ length: 20 }, (_, i) => ({
        id: i + 1, type: "noop", status: "dead", attempts: 1, max_attempts: 1, created_at: "2026-01-01T00:00:00Z",
        logs: Array.from({ length: 15 }, (_, j) => ({ at: "2026-01-01T00:00:00Z", level: "info", message: `${j}`.repeat(290) })),
      })),
    });
    const before = JSON.stringify(ctx).length;
    expect(before).toBeGreaterThan(100_000);
    const fitted = fitToBudget(ctx, 40_000);
    expect(JSON.stringify(fitted).length).toBeLessThanOrEqual(40_000);
    expect(fitted.omitted.logs).toBeGreaterThan(0);
    // The newest events and log lines are the ones kept.
    expect(fitted.events.at(-1)!.id).toBe(50);
    expect(fitted.tasks.every((t) => t.logs.length >= 1)).toBe(true);
  });
});
