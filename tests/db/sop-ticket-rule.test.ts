// The shipped-disabled rule "ticket resolved -> sop.generate", on a real PostgreSQL.
// Everything that enables the rule runs inside a rolled-back transaction, so no
// other test (or the stack's worker) ever sees it enabled.
import { describe, expect, it } from "vitest";
import { inRolledBackTx as inRollback, sql } from "../helpers/stack.ts";

describe("rule sop-on-ticket-resolved", () => {
  it("is installed, disabled, and targets sop.generate", async () => {
    const [rule] = await sql()`select enabled, source, type, task_type, payload_template, dedupe_key from orchestrator.event_rules where name = 'sop-on-ticket-resolved'`;
    expect(rule).toEqual({
      enabled: false,
      source: "orchestrator",
      type: "ticket.resolved",
      task_type: "sop.generate",
      payload_template: { topic: "{{payload.title}}", ticket_id: "{{payload.ticket_id}}", slug: "ticket-{{payload.ticket_id}}" },
      dedupe_key: "sop:ticket:{{payload.ticket_id}}",
    });
  });

  it("disabled (the default): resolving a ticket writes no event and no task", async () => {
    const out = await inRollback(async (tx) => {
      const [t] = await tx`insert into orchestrator.tickets (title, source) values ('Disk full on candyland-db', 'candyland') returning id`;
      await tx`update orchestrator.tickets set status = 'resolved' where id = ${t.id}`;
      const events = await tx`select 1 from orchestrator.events where type = 'ticket.resolved' and payload ->> 'ticket_id' = ${String(t.id)}`;
      const tasks = await tx`select 1 from orchestrator.tasks where type = 'sop.generate' and payload ->> 'ticket_id' = ${String(t.id)}`;
      return { events: events.length, tasks: tasks.length };
    });
    expect(out).toEqual({ events: 0, tasks: 0 });
  });

  it("enabled: a resolution becomes a ticket.resolved event and one sop.generate task for that ticket", async () => {
    const out = await inRollback(async (tx) => {
      await tx`update orchestrator.event_rules set enabled = true where name = 'sop-on-ticket-resolved'`;
      const [a] = await tx`insert into orchestrator.tickets (title, source, fingerprint) values ('Payment timeouts', 'candyland', 'fp-sop-rule') returning id`;
      const [b] = await tx`insert into orchestrator.tickets (title, source, status) values ('Slow feed', 'knisoci', 'in_progress') returning id`;
      // One statement resolving two tickets, and one that does not change status.
      await tx`update orchestrator.tickets set status = 'resolved' where id in (${a.id}, ${b.id})`;
      await tx`update orchestrator.tickets set priority = 'high' where id = ${a.id}`;
      const events = await tx`select source, type, level::text as level, message, payload, matched_rules from orchestrator.events
                              where type = 'ticket.resolved' and (payload ->> 'ticket_id')::bigint in (${a.id}, ${b.id}) order by id`;
      const tasks = await tx`select payload, dedupe_key, source, status::text as status from orchestrator.tasks
                             where type = 'sop.generate' and (payload ->> 'ticket_id')::bigint in (${a.id}, ${b.id}) order by id`;
      return { a: a.id, b: b.id, events, tasks };
    });
    expect(out.events).toHaveLength(2);
    expect(out.events[0]).toMatchObject({
      source: "orchestrator", type: "ticket.resolved", level: "info", message: `ticket #${out.a} resolved: Payment timeouts`,
      payload: { ticket_id: out.a, title: "Payment timeouts", fingerprint: "fp-sop-rule", source: "candyland", priority: "normal" },
      matched_rules: ["sop-on-ticket-resolved"],
    });
    expect(out.tasks).toEqual([
      { payload: { topic: "Payment timeouts", ticket_id: out.a, slug: `ticket-${out.a}` }, dedupe_key: `sop:ticket:${out.a}`, source: "rule:sop-on-ticket-resolved", status: "queued" },
      { payload: { topic: "Slow feed", ticket_id: out.b, slug: `ticket-${out.b}` }, dedupe_key: `sop:ticket:${out.b}`, source: "rule:sop-on-ticket-resolved", status: "queued" },
    ]);
    // Rolled back: nothing of it is left.
    const [{ enabled }] = await sql()`select enabled from orchestrator.event_rules where name = 'sop-on-ticket-resolved'`;
    expect(enabled).toBe(false);
  });
});
