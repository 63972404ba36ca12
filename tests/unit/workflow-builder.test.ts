// Workflows in TypeScript (functions/_shared/workflows/builder.ts): the builder's JSON is what
// POST /workflows takes, checked by the API's own schema, and the types catch a wrong payload, an
// unknown step, and a result field a task type does not return (tsc checks the @ts-expect-error lines
// in `npm run check`: each must be an error).
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { workflow } from "../../functions/_shared/workflows/builder.ts";
import { createWorkflowSchema } from "../../functions/_shared/workflows/schemas.ts";

describe("the workflow builder", () => {
  it("writes the graph as the REST API's JSON, placeholders where the engine fills values in", () => {
    const def = workflow("refund-review", z.object({ ticket_id: z.number(), orders: z.array(z.string()) }), "Refunds, reviewed")
      .task("gather", "incident.gather", ({ input }) => ({ ticket_id: input.ticket_id }), { after: [] })
      .task("knisoci", "incident.evidence", ({ input }) => ({ ticket_id: input.ticket_id, app: "knisoci" }), { after: [] })
      .map("check", "noop", ({ input }) => input.orders, ({ item, index }) => ({ echo: { order: item, at: index } }), { after: ["gather"], parallelism: 5 })
      .waitForEvent("paid", { source: "candyland", type: "payment.succeeded", match: ({ input }) => ({ ticket: input.ticket_id }) }, { timeout_seconds: 3600, after: ["check"] })
      .approval("ok", ({ steps }) => ({ title: `Refund ${steps.gather.ticket.title}? (${steps.knisoci.count} KniSoci events)` }), { timeout_seconds: 600, after: ["paid", "knisoci"] })
      .sleep("cool-off", { seconds: 30 })
      .task("tell", "notify", ({ steps }) => ({ event: "refund.reviewed", subject: `Approved by ${steps.ok.by}`, data: { paid: steps.paid.payload } }),
        { when: ({ steps }) => ({ equals: [steps.ok.decision, "approved"] }) })
      .build();
    expect(def).toEqual({
      name: "refund-review",
      description: "Refunds, reviewed",
      steps: [
        { name: "gather", after: [], type: "incident.gather", input: { ticket_id: "{{input.ticket_id}}" } },
        { name: "knisoci", after: [], type: "incident.evidence", input: { ticket_id: "{{input.ticket_id}}", app: "knisoci" } },
        { name: "check", after: ["gather"], type: "noop", map: { over: "{{input.orders}}", parallelism: 5 }, input: { echo: { order: "{{item}}", at: "{{index}}" } } },
        { name: "paid", after: ["check"], kind: "wait_for_event", event: { source: "candyland", type: "payment.succeeded", match: { ticket: "{{input.ticket_id}}" } }, timeout_seconds: 3600 },
        { name: "ok", after: ["paid", "knisoci"], kind: "approval", title: "Refund {{steps.gather.result.ticket.title}}? ({{steps.knisoci.result.count}} KniSoci events)", timeout_seconds: 600 },
        { name: "cool-off", kind: "sleep", seconds: 30 },
        { name: "tell", when: { equals: ["{{steps.ok.result.decision}}", "approved"] }, type: "notify",
          input: { event: "refund.reviewed", subject: "Approved by {{steps.ok.result.by}}", data: { paid: "{{steps.paid.result.payload}}" } } },
      ],
    });
    expect(createWorkflowSchema.safeParse(def).success).toBe(true);
  });

  it("refuses what the API would refuse, with the path", () => {
    const bad = workflow("bad", z.object({}))
      .task("a", "noop", () => ({}))
      .task("b", "noop", ({ steps }) => ({ echo: steps.a.echo }), { after: [] }); // "a" is not upstream of b
    expect(() => bad.build()).toThrow(/steps\.1\.input\.echo: \{\{steps\.a\.result\.echo\}\}: "a" is not upstream of "b"/);
  });

  it("types a step's input from its task type and its result from the result schema", () => {
    const w = workflow("typed", z.object({ n: z.number() }));
    // @ts-expect-error noop's delay_ms is a number
    w.task("x", "noop", () => ({ delay_ms: "soon" }));
    // @ts-expect-error there is no task type "no.such.type"
    w.task("x", "no.such.type", () => ({}));
    const one = w.task("gather", "incident.gather", ({ input }) => ({ ticket_id: input.n }));
    // @ts-expect-error incident.gather's result has no field "nope"
    one.task("next", "noop", ({ steps }) => ({ echo: steps.gather.nope }));
    // @ts-expect-error "missing" is not a step of this workflow
    one.task("next", "noop", () => ({}), { after: ["missing"] });
    expect(one.task("next", "noop", ({ steps }) => ({ echo: steps.gather.ticket.title })).build().steps[1].input).toEqual({ echo: "{{steps.gather.result.ticket.title}}" });
  });
});
