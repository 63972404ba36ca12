// One template renderer for rules and workflows (20261202000900_one_template_renderer.sql), with one
// rule for a placeholder that has no value: listed in `missing`; as a whole value its key is left out
// (an array keeps the slot as null); inside text it is "".
import { describe, expect, it } from "vitest";
import { sql } from "../helpers/stack.ts";

const render = async (template: unknown, context: unknown) =>
  (await sql()`select (r).value, (r).missing from (select orchestrator.render_template(${sql().json(template as never)}, ${sql().json(context as never)}) as r) x`)[0];
const workflowRender = async (template: unknown, context: unknown) =>
  (await sql()`select orchestrator.workflow_render(${sql().json(template as never)}, ${sql().json(context as never)}) as v`)[0].v;

describe("render_template, for rules and workflows alike", () => {
  const ctx = { record: { id: 7, name: "Ada", tags: ["a"], gone: null }, event: { level: "error" } };
  const template = {
    id: "{{record.id}}", who: "user {{record.name}} ({{record.nope}})", tags: "{{record.tags}}", absent: "{{record.nope}}",
    nulled: "{{record.gone}}", list: ["{{record.id}}", "{{record.nope}}"], nested: { level: "{{event.level}}", x: "{{event.x}}" }, plain: 3,
  };

  it("fills whole values as JSON and text as text; a missing whole value leaves its key out, and every missing placeholder is listed", async () => {
    const { value, missing } = await render(template, ctx);
    expect(value).toEqual({ id: 7, who: "user Ada ()", tags: ["a"], nulled: null, list: [7, null], nested: { level: "error" }, plain: 3 });
    expect(missing.sort()).toEqual(["{{event.x}}", "{{record.nope}}", "{{record.nope}}", "{{record.nope}}"].sort());
  });

  it("workflow_render is the same renderer's value", async () => {
    expect(await workflowRender(template, ctx)).toEqual((await render(template, ctx)).value);
    // A whole input that resolves to nothing is null: the workflow skips the step.
    expect(await workflowRender("{{steps.a.result.none}}", {})).toBeNull();
  });
});
