// /rules handlers in-process against the real database.
import { afterAll, describe, expect, it } from "vitest";
import rules from "../../functions/rules/index.ts";
import events from "../../functions/events/index.ts";
import { request, sql } from "../helpers/stack.ts";

const rand = () => Math.random().toString(36).slice(2, 10).replace(/[0-9]/g, "r");
const call = (path: string, init: Parameters<typeof request>[1] = {}) => rules.fetch(request(path, init));
const json = (method: string, body: unknown) => ({ method, body: JSON.stringify(body) });
const created: number[] = [];

afterAll(async () => {
  if (created.length) await sql()`delete from orchestrator.event_rules where id = any(${created}::bigint[])`;
});

async function create(body: Record<string, unknown>) {
  const res = await call("/rules", json("POST", body));
  const out = await res.json();
  if (res.status === 201) created.push(out.id);
  return { status: res.status, body: out };
}

const count = async (name: string) => (await sql()`select count(*)::int as n from orchestrator.event_rules where name = ${name}`)[0].n;

describe("rules CRUD", () => {
  it("creates with defaults, lists, reads, patches and deletes", async () => {
    const name = `crud-${rand()}`;
    const { status, body } = await create({ name, source: "candyland", type: "order.*", task_type: "noop", payload_template: { echo: "{{record.id}}" } });
    expect(status).toBe(201);
    expect(body).toMatchObject({ name, enabled: true, source: "candyland", type: "order.*", min_level: null, match: {}, priority: 0, dedupe_key: null });
    expect(body).not.toHaveProperty("type_like");

    const list = await (await call("/rules")).json();
    expect(list.rules.map((r: any) => r.name)).toContain(name);
    expect(list.rules.map((r: any) => r.name)).toContain("errors-open-tickets");
    const disabled = await (await call("/rules?enabled=false")).json();
    expect(disabled.rules.map((r: any) => r.name)).not.toContain(name);

    expect(await (await call(`/rules/${body.id}`)).json()).toMatchObject({ id: body.id, name });
    const patched = await call(`/rules/${body.id}`, json("PATCH", { enabled: false, min_level: "warn", match: { record: { status: "paid" } }, description: "paid orders" }));
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ enabled: false, min_level: "warn", match: { record: { status: "paid" } }, description: "paid orders", type: "order.*" });

    const del = await call(`/rules/${body.id}`, { method: "DELETE" });
    expect(del.status).toBe(200);
    expect((await del.json()).deleted).toBe(true);
    expect((await call(`/rules/${body.id}`)).status).toBe(404);
    expect((await call(`/rules/${body.id}`, { method: "DELETE" })).status).toBe(404);
  });

  it("a rule naming an unknown task type is a 400 that lists the known types; nothing stored", async () => {
    const name = `unknown-${rand()}`;
    const { status, body } = await create({ name, task_type: "no.such.type" });
    expect(status).toBe(400);
    expect(body.error.message).toMatch(/Unknown task type "no\.such\.type"\. Known types: .*ticket\.open/);
    expect(body.error.details.issues[0]).toMatchObject({ path: "task_type", code: "unknown_task_type" });
    expect(await count(name)).toBe(0);
    // Patching to an unknown type too.
    const ok = await create({ name: `ok-${rand()}`, task_type: "noop" });
    const res = await call(`/rules/${ok.body.id}`, json("PATCH", { task_type: "nope" }));
    expect(res.status).toBe(400);
  });

  it("template mistakes, static payloads that do not fit the task type, and bad fields are 400s with their path", async () => {
    const name = `bad-${rand()}`;
    const cases: [Record<string, unknown>, string][] = [
      [{ name, task_type: "noop", payload_template: { echo: "{{evnt.id}}" } }, "payload_template.echo"],
      [{ name, task_type: "noop", payload_template: { echo: ["{{event.nope}}"] } }, "payload_template.echo.0"],
      [{ name, task_type: "noop", dedupe_key: "k-{{record.id" }, "dedupe_key"],
      [{ name, task_type: "noop", min_level: "loud" }, "min_level"],
      [{ name, task_type: "noop", type: "has space" }, "type"],
      [{ name, task_type: "noop", match: [1] }, "match"],
      [{ name, task_type: "noop", priority: 5000 }, "priority"],
      [{ name, task_type: "noop", surprise: 1 }, ""],
      [{ task_type: "noop" }, "name"],
    ];
    for (const [body, path] of cases) {
      const res = await create(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.details.issues.map((i: any) => i.path), JSON.stringify(body)).toContain(path);
    }
    const staticBad = await create({ name, task_type: "noop", payload_template: { delay_ms: "soon" } });
    expect(staticBad.status).toBe(400);
    expect(staticBad.body.error.message).toMatch(/payload for task type "noop"/);
    expect(await count(name)).toBe(0);
  });

  it("duplicate names -> 409; bad ids -> 400; empty patch -> 400", async () => {
    const name = `dup-${rand()}`;
    expect((await create({ name, task_type: "noop" })).status).toBe(201);
    const dup = await create({ name, task_type: "noop" });
    expect(dup.status).toBe(409);
    expect(dup.body.error.message).toMatch(/already exists/);
    expect((await call("/rules/abc")).status).toBe(400);
    expect((await call(`/rules/${created[created.length - 1]}`, json("PATCH", {}))).status).toBe(400);
    expect((await call("/rules", { key: "anon" })).status).toBe(401);
  });

  it("a rule made over the API routes the next events into tasks", async () => {
    const source = `rules-${rand()}`;
    const { body: rule } = await create({
      name: `route-${rand()}`, source, type: "order.created", task_type: "noop",
      payload_template: { echo: { order: "{{record.id}}", line: "{{record.qty}} x {{record.sku}}" } },
    });
    const res = await events.fetch(request("/events", json("POST", [
      { source, type: "order.created", payload: { record: { id: 9, qty: 2, sku: "LOLLY" } } },
      { source, type: "order.cancelled", payload: { record: { id: 10 } } },
    ])));
    expect(res.status).toBe(201);
    const tasks = await sql()`select payload, source from orchestrator.tasks where source = ${"rule:" + rule.name}`;
    expect(tasks).toEqual([{ payload: { echo: { order: 9, line: "2 x LOLLY" } }, source: `rule:${rule.name}` }]);
  });
});
