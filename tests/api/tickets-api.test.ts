// /tickets handlers in-process against the real database.
import { describe, expect, it } from "vitest";
import tickets from "../../functions/tickets/index.ts";
import { request, sql } from "../helpers/stack.ts";

const rand = () => Math.random().toString(36).slice(2, 10).replace(/[0-9]/g, "t");
const call = (path: string, init: Parameters<typeof request>[1] = {}) => tickets.fetch(request(path, init));
const json = (method: string, body: unknown) => ({ method, body: JSON.stringify(body) });

async function make(body: Record<string, unknown>) {
  const res = await call("/tickets", json("POST", body));
  expect(res.status).toBe(201);
  return await res.json();
}

describe("tickets API", () => {
  it("creates by hand, lists with filters and a cursor, reads one", async () => {
    const source = `tk-${rand()}`;
    const a = await make({ title: "Refund flow broken", priority: "high", source });
    const b = await make({ title: "Slow feed on mobile", source, description: "since Tuesday" });
    const c = await make({ title: "Refund emails late", priority: "low", source });
    expect(a).toMatchObject({ status: "open", priority: "high", occurrences: 1, fingerprint: null });
    const list = async (q: string) => (await (await call(`/tickets?source=${source}&${q}`)).json()).tickets.map((t: any) => t.id);
    expect(await list("")).toEqual([c.id, b.id, a.id]);
    expect(await list("priority=high,low")).toEqual([c.id, a.id]);
    expect(await list("q=refund")).toEqual([c.id, a.id]);
    const page = await (await call(`/tickets?source=${source}&limit=2`)).json();
    expect(page.tickets.map((t: any) => t.id)).toEqual([c.id, b.id]);
    const rest = await (await call(`/tickets?source=${source}&limit=2&cursor=${page.next_cursor}`)).json();
    expect(rest.tickets.map((t: any) => t.id)).toEqual([a.id]);
    expect(rest.next_cursor).toBeNull();
    const one = await (await call(`/tickets/${b.id}`)).json();
    expect(one).toMatchObject({ id: b.id, description: "since Tuesday", recent_events: [], task: null });
  });

  it("a ticket from events shows its recent events and the task that opened it", async () => {
    const source = `tk-${rand()}`;
    const [ev] = await sql()`insert into orchestrator.events (source, type, level, message) values (${source}, 'log', 'warn', 'Cache miss storm 42') returning id`;
    const [t] = await sql()`select * from orchestrator.open_ticket(${ev.id}, null, null, null)`;
    const one = await (await call(`/tickets/${t.ticket_id}`)).json();
    expect(one.recent_events).toEqual([expect.objectContaining({ id: ev.id, message: "Cache miss storm 42", level: "warn" })]);
    expect((await (await call(`/tickets?fingerprint=${one.fingerprint}`)).json()).tickets.map((x: any) => x.id)).toEqual([t.ticket_id]);
  });

  it("PATCH moves status and stamps resolved_at / closed_at; back to open clears them", async () => {
    const t = await make({ title: `Status dance ${rand()}` });
    const patch = async (body: unknown) => {
      const res = await call(`/tickets/${t.id}`, json("PATCH", body));
      expect(res.status).toBe(200);
      return await res.json();
    };
    const resolved = await patch({ status: "resolved" });
    expect(resolved.resolved_at).not.toBeNull();
    expect(resolved.closed_at).toBeNull();
    const reopened = await patch({ status: "in_progress", priority: "urgent", title: "Renamed" });
    expect(reopened).toMatchObject({ status: "in_progress", priority: "urgent", title: "Renamed", resolved_at: null });
    const closed = await patch({ status: "closed" });
    expect(closed.closed_at).not.toBeNull();
    const described = await patch({ description: "notes" });
    expect(described).toMatchObject({ status: "closed", description: "notes", closed_at: closed.closed_at });
    expect((await patch({ description: null })).description).toBeNull();
  });

  it("reopening a closed ticket whose fingerprint has a live ticket -> 409", async () => {
    const source = `tk-${rand()}`;
    const [e1] = await sql()`insert into orchestrator.events (source, type, level, message) values (${source}, 'log', 'warn', 'Retry budget exhausted 1') returning id`;
    const [first] = await sql()`select * from orchestrator.open_ticket(${e1.id}, null, null, null)`;
    await call(`/tickets/${first.ticket_id}`, json("PATCH", { status: "closed" }));
    const [e2] = await sql()`insert into orchestrator.events (source, type, level, message) values (${source}, 'log', 'warn', 'Retry budget exhausted 2') returning id`;
    await sql()`select * from orchestrator.open_ticket(${e2.id}, null, null, null)`;
    const res = await call(`/tickets/${first.ticket_id}`, json("PATCH", { status: "open" }));
    expect(res.status).toBe(409);
    expect((await res.json()).error.message).toMatch(/another ticket that is not closed already tracks the same fingerprint/);
  });

  it("bad input -> 400 and nothing changes; unknown -> 404; no key -> 401", async () => {
    const t = await make({ title: `Guarded ${rand()}` });
    for (const body of [{}, { status: "done" }, { priority: "p1" }, { title: "" }, { owner: "me" }]) {
      const res = await call(`/tickets/${t.id}`, json("PATCH", body));
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect(await (await call(`/tickets/${t.id}`)).json()).toMatchObject({ status: "open", priority: "normal", title: t.title });
    for (const body of [{}, { title: "x", priority: "p1" }, { title: "x".repeat(501) }]) {
      expect((await call("/tickets", json("POST", body))).status, JSON.stringify(body)).toBe(400);
    }
    for (const q of ["status=done", "limit=1000", "fingerprint=nope", "cursor=%%"]) {
      expect((await call(`/tickets?${q}`)).status, q).toBe(400);
    }
    expect((await call("/tickets/999999999")).status).toBe(404);
    expect((await call("/tickets/x1")).status).toBe(400);
    expect((await call("/tickets", { key: "none" })).status).toBe(401);
  });
});
