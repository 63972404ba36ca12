// The whole local stack: a KniSoci row inserted with SQL becomes an event, the
// default rule enqueues ticket.open, the task runs through the real wake-up path
// (insert trigger -> pg_net -> task-worker), the ticket opens, and the task's logs
// are read back over GET /logs. Then 1,000 more rows of the same problem.
import { describe, expect, it } from "vitest";
import { http, sql, waitFor } from "../helpers/stack.ts";

const tag = () => Math.random().toString(36).slice(2, 12).replace(/[0-9]/g, "x");
/** SQL for the message of row g: the same problem, with order numbers, user uuids, timestamps and hex refs that vary. */
function messageSql(t: string) {
  return `format('Payment declined for order %s (user %s) at %s, gateway ref 0x%s [${t}]',
    100000 + g * 37, gen_random_uuid(), now() - g * interval '17 seconds', to_hex(g * 7919 + 40960))`;
}

async function ticketOpenTasks(fingerprint: string) {
  return await sql()<{ id: number; status: string }[]>`
    select t.id, t.status::text as status from orchestrator.tasks t
    where t.type = 'ticket.open' and (t.payload ->> 'event_id')::bigint in (select id from orchestrator.events where fingerprint = ${fingerprint})`;
}

describe("KniSoci error -> event -> ticket.open -> ticket", () => {
  it("one error row opens one ticket through the wake-up path; 1,000 more rows of the same problem make it 1,001 occurrences", async () => {
    const t = tag();
    const started = performance.now();
    const [row] = await sql()<{ id: number }[]>`
      insert into knisoci.activity_logs (level, message, user_id, meta, session_token)
      values ('error', ${`Payment declined for order 4821 (user 2b9a0c1e-57d4-4a43-9f0e-0c5a6b1d2e3f) at ${new Date().toISOString()}, gateway ref 0x9f3ab2 [${t}]`},
              gen_random_uuid(), '{"plan": "pro"}', 'sess_0123456789abcdef')
      returning id`;

    // The event, made in the same transaction as the row.
    const [ev] = await sql()`
      select id, level::text as level, fingerprint, matched_rules, wants_ticket, payload, processed_at
      from orchestrator.events where source = 'knisoci' and type = 'activity_log' and (payload -> 'record' ->> 'id')::bigint = ${row.id}`;
    // (wants_ticket is not checked here: the woken worker may already have attached the ticket and cleared it.)
    expect(ev).toMatchObject({ level: "error", matched_rules: ["errors-open-tickets"], processed_at: expect.any(Date) });
    expect(ev.payload.record).toMatchObject({ id: row.id, meta: { plan: "pro" } });
    expect(ev.payload.record).not.toHaveProperty("session_token");

    // The ticket.open task, run by the task-worker the insert woke.
    const task = await waitFor(async () => {
      const [x] = await sql()`select id, status::text as status, result, source from orchestrator.tasks where type = 'ticket.open' and (payload ->> 'event_id')::bigint = ${ev.id}`;
      return x?.status === "succeeded" ? x : undefined;
    }, "the ticket.open task to succeed", 30_000);
    const openMs = performance.now() - started;
    expect(task.source).toBe("rule:errors-open-tickets");
    expect(task.result).toMatchObject({ created: true, attached: 1, occurrences: 1 });

    const [ticket] = await sql()`select id, status::text as status, priority::text as priority, occurrences, task_id, title from orchestrator.tickets where fingerprint = ${ev.fingerprint}`;
    expect(ticket).toMatchObject({ status: "open", priority: "high", occurrences: 1, task_id: task.id });
    expect(ticket.title).toMatch(/^\[knisoci\] Payment declined for order 4821/);

    // The task's logs, over HTTP.
    const logsRes = await http(`/logs?task_id=${task.id}`);
    expect(logsRes.status).toBe(200);
    const messages = (await logsRes.json()).logs.map((l: { message: string }) => l.message);
    expect(messages).toContain(`ticket #${ticket.id} opened for event ${ev.id}`);
    const viaHttp = await (await http(`/tickets/${ticket.id}`)).json();
    expect(viaHttp).toMatchObject({ id: ticket.id, status: "open", task: { id: task.id, status: "succeeded" } });

    // 1,000 more: same message, different ids, numbers, timestamps and hex.
    const bulkStarted = performance.now();
    await sql().unsafe(`insert into knisoci.activity_logs (level, message, user_id)
      select 'error', ${messageSql(t)}, gen_random_uuid() from generate_series(1, 1000) g`);
    const bulkMs = performance.now() - bulkStarted;
    const after = await sql()`select id, occurrences, status::text as status from orchestrator.tickets where fingerprint = ${ev.fingerprint}`;
    expect(after).toEqual([{ id: ticket.id, occurrences: 1001, status: "open" }]);
    const [links] = await sql()`
      select count(*)::int as events, count(*) filter (where ticket_id = ${ticket.id})::int as linked
      from orchestrator.events where fingerprint = ${ev.fingerprint}`;
    expect(links).toEqual({ events: 1001, linked: 1001 });
    // Counted in the database as they arrived: no further ticket.open task was needed.
    expect(await ticketOpenTasks(ev.fingerprint)).toHaveLength(1);
    console.log(`[e2e knisoci] row -> open ticket via wake-up: ${openMs.toFixed(0)} ms; 1,000 more rows -> occurrences 1,001 in the insert itself: ${bulkMs.toFixed(0)} ms`);
  });

  it("a burst before the ticket exists (one big insert + 5 concurrent ones) still ends as one ticket with every occurrence", async () => {
    const t = tag();
    const statements = [300, 50, 50, 50, 50, 50];
    await Promise.all(statements.map((n) => sql().unsafe(`insert into knisoci.activity_logs (level, message)
      select 'fatal', ${messageSql(t)} from generate_series(1, ${n}) g`)));
    const [{ fp }] = await sql()`select fingerprint as fp from orchestrator.events where source = 'knisoci' and message like ${"%[" + t + "]"} limit 1`;
    const done = await waitFor(async () => {
      const rows = await sql()`select id, occurrences, priority::text as priority from orchestrator.tickets where fingerprint = ${fp}`;
      return rows.length === 1 && Number(rows[0].occurrences) === 550 ? rows[0] : undefined;
    }, "one ticket with 550 occurrences", 30_000);
    expect(done.priority).toBe("urgent");
    const [{ unlinked }] = await sql()`select count(*)::int as unlinked from orchestrator.events where fingerprint = ${fp} and ticket_id is distinct from ${done.id}`;
    expect(unlinked).toBe(0);
    // At most one ticket.open task per statement (one per fingerprint), all succeeded.
    const tasks = await waitFor(async () => {
      const ts = await ticketOpenTasks(fp);
      return ts.every((x) => x.status === "succeeded") ? ts : undefined;
    }, "the ticket.open tasks to finish", 30_000);
    expect(tasks.length).toBeGreaterThanOrEqual(1);
    expect(tasks.length).toBeLessThanOrEqual(statements.length);
    console.log(`[e2e knisoci] burst of ${statements.length} statements / 550 rows before any ticket: 1 ticket, ${tasks.length} ticket.open tasks`);
  });

  it("a ticket resolved over PATCH /tickets reopens when its problem comes back", async () => {
    const t = tag();
    await sql().unsafe(`insert into knisoci.activity_logs (level, message) select 'error', ${messageSql(t)} from generate_series(1, 1) g`);
    const [{ fp }] = await sql()`select fingerprint as fp from orchestrator.events where message like ${"%[" + t + "]"} limit 1`;
    const ticket = await waitFor(async () => (await sql()`select id from orchestrator.tickets where fingerprint = ${fp}`)[0], "the ticket", 30_000);
    const res = await http(`/tickets/${ticket.id}`, { method: "PATCH", body: JSON.stringify({ status: "resolved" }) });
    expect(res.status).toBe(200);
    expect((await res.json()).status).toBe("resolved");
    await sql().unsafe(`insert into knisoci.activity_logs (level, message) select 'error', ${messageSql(t)} from generate_series(5, 6) g`);
    const [after] = await sql()`select status::text as status, occurrences, reopened_count, resolved_at from orchestrator.tickets where id = ${ticket.id}`;
    expect(after).toEqual({ status: "open", occurrences: 3, reopened_count: 1, resolved_at: null });
  });
});
