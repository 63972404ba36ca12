// sop.generate from a real ticket and its events (the events issue's tables),
// written by the template generator, in-process against the real database.
import { beforeAll, describe, expect, it } from "vitest";
import { sql, uniqueType } from "../helpers/stack.ts";
import { runInProcess } from "./sop-run.ts";

beforeAll(() => {
  for (const k of ["AI_BASE_URL", "AI_API_KEY", "AI_MODEL"]) delete process.env[k];
});

describe("sop.generate from a ticket", () => {
  it("gathers the ticket, its events and the tasks that name it; steps come from them", async () => {
    const tag = Math.random().toString(36).slice(2, 8);
    const [ticket] = await sql()`insert into orchestrator.tickets (title, source, status, occurrences, fingerprint)
      values (${`Checkout fails with 502 ${tag}`}, 'candyland', 'resolved', 3, ${`fp-${tag}`}) returning id`;
    // warn-level events (the default rule only opens tickets for error and fatal), linked to the ticket.
    const events = await sql()`insert into orchestrator.events (source, type, level, message, payload, ticket_id) values
      ('candyland', 'app_log', 'warn', ${`upstream 502 from payments ${tag}`}, '{"order_id": 17, "api_key": "sk-should-not-appear-123456"}', ${ticket.id}),
      ('candyland', 'app_log', 'warn', ${`upstream 502 from payments ${tag}`}, '{"order_id": 18}', ${ticket.id})
      returning id`;
    const [task] = await sql()`select (r.task).id from orchestrator.enqueue(${uniqueType()}, ${sql().json({ ticket_id: ticket.id })}) r`;
    await sql()`update orchestrator.tasks set status = 'dead', attempts = 1, max_attempts = 1, last_error = 'payments API returned 502', finished_at = now() where id = ${task.id}`;

    const out = await runInProcess("sop.generate", { topic: "Checkout 502s", ticket_id: ticket.id, notion: false });
    expect(out.status).toBe("succeeded");
    expect(out.result.sources).toEqual({ ticket_ids: [ticket.id], event_ids: events.map((e) => e.id).sort((a, b) => a - b), task_ids: [task.id] });
    const [sop] = await sql()`select content, body_md, ticket_ids, event_ids, task_ids from orchestrator.sops where id = ${out.result.sop.id}`;
    expect(sop.ticket_ids).toEqual([ticket.id]);
    expect(sop.content.purpose).toContain(`ticket #${ticket.id}, 3 occurrences from candyland`);
    const actions = sop.content.steps.map((s: { action: string }) => s.action);
    expect(actions[0]).toMatch(new RegExp(`^Take ticket #${ticket.id} "Checkout fails with 502`));
    expect(actions[1]).toContain(`upstream 502 from payments ${tag}" (2 occurrences`);
    expect(actions[2]).toContain(`Find why task #${task.id}`);
    expect(actions.at(-1)).toMatch(new RegExp(`^Write down the cause and the fix in ticket #${ticket.id}`));
    expect(sop.body_md).not.toContain("sk-should-not-appear");
    // The default slug comes from the topic.
    expect(out.result.sop.slug).toBe("checkout-502s");
  });
});
