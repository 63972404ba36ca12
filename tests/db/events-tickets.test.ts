// Tickets in the database: orchestrator.open_ticket (what a ticket.open task does)
// and orchestrator.attach_to_tickets (what routing does for events whose
// fingerprint already has a ticket). Events here are 'warn' so the default rule
// (error and above) leaves them alone and these tests drive the functions directly.
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { sql, stack } from "../helpers/stack.ts";

const rand = () => Math.random().toString(36).slice(2, 10).replace(/[0-9]/g, "z");

async function emit(source: string, messages: string[], level = "warn"): Promise<number[]> {
  const rows = await sql()<{ id: number }[]>`
    insert into orchestrator.events (source, type, level, message)
    select ${source}, 'app_log', ${level}::orchestrator.log_level, m from unnest(${messages}::text[]) with ordinality as u(m, i) order by i
    returning id`;
  return rows.map((r) => r.id);
}

async function open(eventId: number, title: string | null = null, priority: string | null = null) {
  const [row] = await sql()`select * from orchestrator.open_ticket(${eventId}, ${title}, ${priority}::orchestrator.ticket_priority, null)`;
  return row as { ticket_id: number; created: boolean; reopened: boolean; attached: number; occurrences: number; status: string };
}

const ticket = async (id: number) => (await sql()`select *, status::text as status, priority::text as priority from orchestrator.tickets where id = ${id}`)[0];

describe("open_ticket", () => {
  it("opens a ticket for the event's fingerprint, with a title and a priority from the event", async () => {
    const source = `t-${rand()}`;
    const [id] = await emit(source, ["Checkout failed for cart 991"], "warn");
    const r = await open(id);
    expect(r).toMatchObject({ created: true, reopened: false, attached: 1, occurrences: 1, status: "open" });
    const t = await ticket(r.ticket_id);
    expect(t).toMatchObject({ title: `[${source}] Checkout failed for cart 991`, priority: "normal", source, first_event_id: id, last_event_id: id });
    expect(t.description).toMatch(/checkout failed for cart <n>/);
    const [ev] = await sql()`select ticket_id, fingerprint from orchestrator.events where id = ${id}`;
    expect(ev.ticket_id).toBe(r.ticket_id);
    expect(t.fingerprint).toBe(ev.fingerprint);
    // A title and priority from the rule's template win.
    const [other] = await emit(source, ["Another problem"], "warn");
    const r2 = await open(other, "Custom title", "urgent");
    expect(await ticket(r2.ticket_id)).toMatchObject({ title: "Custom title", priority: "urgent" });
  });

  it("counts an event once however often it runs (at-least-once delivery), and refuses a missing event", async () => {
    const source = `t-${rand()}`;
    const [a, b] = await emit(source, ["Timeout talking to db-3", "Timeout talking to db-7"]);
    const first = await open(a);
    expect(await open(a)).toMatchObject({ ticket_id: first.ticket_id, created: false, attached: 0, occurrences: 1 });
    expect(await open(b)).toMatchObject({ ticket_id: first.ticket_id, created: false, attached: 1, occurrences: 2 });
    expect(await open(b)).toMatchObject({ attached: 0, occurrences: 2 });
    await expect(open(987654321)).rejects.toThrow(/event 987654321 does not exist/);
  });

  it("under 20 concurrent calls for 20 events of one fingerprint: one ticket, 20 occurrences", async () => {
    const source = `t-${rand()}`;
    const ids = await emit(source, Array.from({ length: 20 }, (_, i) => `Queue stalled after ${i * 13} jobs`));
    const conns = Array.from({ length: 10 }, () => postgres(stack().DB_URL, { max: 1, onnotice: () => {} }));
    try {
      const results = await Promise.all(ids.map((id, i) =>
        conns[i % conns.length]`select * from orchestrator.open_ticket(${id}, null, null, null)`.then((r) => r[0])));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => Number(r.ticket_id))).size).toBe(1);
      const t = await ticket(Number(results[0].ticket_id));
      expect(Number(t.occurrences)).toBe(20);
      expect(results.reduce((n, r) => n + r.attached, 0)).toBe(20);
    } finally {
      await Promise.all(conns.map((c) => c.end()));
    }
  });

  it("attaches the events that wait for a ticket of the same fingerprint", async () => {
    const source = `t-${rand()}`;
    const ids = await emit(source, ["Disk full on node 1", "Disk full on node 2", "Disk full on node 3"]);
    await sql()`update orchestrator.events set wants_ticket = true where id = any(${ids}::bigint[])`;
    const r = await open(ids[0]);
    expect(r).toMatchObject({ created: true, attached: 3, occurrences: 3 });
    const t = await ticket(r.ticket_id);
    expect(t.last_event_id).toBe(ids[2]);
  });
});

describe("attach_to_tickets, reopening and closing", () => {
  it("attaches events to the ticket their fingerprint has, in one statement, and returns the rest", async () => {
    const source = `t-${rand()}`;
    const [seed] = await emit(source, ["Card declined for order 1"]);
    const { ticket_id } = await open(seed);
    const ids = await emit(source, [...Array.from({ length: 50 }, (_, i) => `Card declined for order ${i + 100}`), "Something else entirely"]);
    const [{ left }] = await sql()`select orchestrator.attach_to_tickets(${ids}::bigint[]) as left`;
    expect(left).toEqual([ids[50]]);
    expect(Number((await ticket(ticket_id)).occurrences)).toBe(51);
    const [{ waiting }] = await sql()`select wants_ticket as waiting from orchestrator.events where id = ${ids[50]}`;
    expect(waiting).toBe(true);
    // Attaching again changes nothing.
    await sql()`select orchestrator.attach_to_tickets(${ids}::bigint[])`;
    expect(Number((await ticket(ticket_id)).occurrences)).toBe(51);
  });

  it("a resolved ticket that sees its fingerprint again is reopened (and the reopening is logged)", async () => {
    const source = `t-${rand()}`;
    const [a] = await emit(source, ["Webhook 500 from partner 12"]);
    const { ticket_id } = await open(a);
    await sql()`update orchestrator.tickets set status = 'resolved', resolved_at = now() where id = ${ticket_id}`;
    const [b] = await emit(source, ["Webhook 500 from partner 99"]);
    await sql()`select orchestrator.attach_to_tickets(${[b]}::bigint[])`;
    const t = await ticket(ticket_id);
    expect(t).toMatchObject({ status: "open", reopened_count: 1, resolved_at: null });
    expect(Number(t.occurrences)).toBe(2);
    const logs = await sql()`select message from orchestrator.logs where component = 'tickets' and context ->> 'ticket_id' = ${String(ticket_id)}`;
    expect(logs.map((l) => l.message)).toEqual([`ticket #${ticket_id} reopened: its problem was seen again`]);
    // Through open_ticket too.
    await sql()`update orchestrator.tickets set status = 'resolved' where id = ${ticket_id}`;
    const [c] = await emit(source, ["Webhook 500 from partner 3"]);
    expect(await open(c)).toMatchObject({ ticket_id, created: false, reopened: true, occurrences: 3, status: "open" });
  });

  it("an in-progress ticket stays in progress; a closed ticket is final and a recurrence opens a new one", async () => {
    const source = `t-${rand()}`;
    const [a] = await emit(source, ["Image resize failed: 413"]);
    const { ticket_id } = await open(a);
    await sql()`update orchestrator.tickets set status = 'in_progress' where id = ${ticket_id}`;
    const [b] = await emit(source, ["Image resize failed: 500"]);
    expect(await open(b)).toMatchObject({ ticket_id, status: "in_progress", occurrences: 2 });
    await sql()`update orchestrator.tickets set status = 'closed' where id = ${ticket_id}`;
    const [c] = await emit(source, ["Image resize failed: 502"]);
    const next = await open(c);
    expect(next.created).toBe(true);
    expect(next.ticket_id).not.toBe(ticket_id);
    // Two tickets that are not closed cannot share a fingerprint.
    await expect(sql()`update orchestrator.tickets set status = 'open' where id = ${ticket_id}`).rejects.toThrow(/tickets_fingerprint_live_idx/);
  });
});
