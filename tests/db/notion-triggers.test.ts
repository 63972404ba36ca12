// What enqueues Notion sync work in the database: push triggers on tasks of
// tracked types, tickets and SOPs, and the pull tick. Every test runs in a
// transaction that is rolled back, so enabling the sync here never reaches the
// shared stack's worker (uncommitted rows are invisible to it).
import { describe, expect, it } from "vitest";
import type postgres from "postgres";
import { sql, uniqueType } from "../helpers/stack.ts";

class Rollback extends Error {}

async function inRollback(fn: (tx: postgres.TransactionSql) => Promise<void>): Promise<void> {
  await expect(sql().begin(async (tx) => {
    await fn(tx);
    throw new Rollback("rollback");
  })).rejects.toBeInstanceOf(Rollback);
}

async function enable(tx: postgres.TransactionSql, trackedType?: string) {
  await tx`insert into orchestrator.sync_state (database_id, enabled) values (${`db-${Math.random()}`}, true)`;
  if (trackedType) await tx`insert into orchestrator.notion_tracked_task_types (type) values (${trackedType})`;
}

const pushes = (tx: postgres.TransactionSql, entity: string) => tx<{ id: number; dedupe_key: string; payload: { entity: string; key: string }; status: string }[]>`
  select id, dedupe_key, payload, status::text from orchestrator.tasks
  where type = 'notion.push' and payload ->> 'entity' = ${entity} order by id`;

describe("task push triggers", () => {
  it("enqueue one notion.push per tracked task in one statement; nothing while the sync is off", async () => {
    const type = uniqueType("notion");
    await inRollback(async (tx) => {
      await tx`insert into orchestrator.notion_tracked_task_types (type) values (${type})`;
      const off = await tx<{ id: number }[]>`select id from orchestrator.enqueue_many(${type}, array['{}'::jsonb, '{}'::jsonb])`;
      expect((await pushes(tx, "task")).filter((p) => off.some((r) => p.payload.key === String(r.id)))).toHaveLength(0);
    });
    await inRollback(async (tx) => {
      await enable(tx, type);
      const before = Number((await tx`select coalesce(max(id), 0) as m from net.http_request_queue`)[0].m);
      const rows = await tx<{ id: number }[]>`select id from orchestrator.enqueue_many(${type}, array['{}'::jsonb, '{}'::jsonb, '{}'::jsonb])`;
      const [{ id: untracked }] = await tx<{ id: number }[]>`select (r.task).id from orchestrator.enqueue(${uniqueType("untracked")}) r`;
      const p = await pushes(tx, "task");
      const ours = p.filter((x) => rows.some((r) => x.payload.key === String(r.id)));
      expect(ours.map((x) => x.dedupe_key).sort()).toEqual(rows.map((r) => `notion.push:task:${r.id}`).sort());
      expect(p.filter((x) => x.payload.key === String(untracked))).toHaveLength(0);
      // Two statements (the tasks, then their pushes) -> wake-ups stay per statement, not per row.
      const [{ n }] = await tx`select count(*)::int as n from net.http_request_queue where id > ${before}`;
      expect(n).toBeLessThanOrEqual(3);
    });
  });

  it("a change while a push is queued is covered by it; while it runs, one more is queued behind it", async () => {
    const type = uniqueType("notion");
    await inRollback(async (tx) => {
      await enable(tx, type);
      const [{ id }] = await tx<{ id: number }[]>`select (r.task).id from orchestrator.enqueue(${type}) r`;
      expect(await pushes(tx, "task").then((p) => p.filter((x) => x.payload.key === String(id)))).toHaveLength(1);
      await tx`update orchestrator.tasks set priority = 5 where id = ${id}`;
      let mine = (await pushes(tx, "task")).filter((x) => x.payload.key === String(id));
      expect(mine).toHaveLength(1);
      // The push starts running; the task changes again.
      await tx`update orchestrator.tasks set status = 'running', lease_token = gen_random_uuid(), attempts = 1 where id = ${mine[0].id}`;
      await tx`update orchestrator.tasks set priority = 6 where id = ${id}`;
      await tx`update orchestrator.tasks set priority = 7 where id = ${id}`;
      mine = (await pushes(tx, "task")).filter((x) => x.payload.key === String(id));
      expect(mine.map((m) => m.dedupe_key)).toEqual([`notion.push:task:${id}`, `notion.push:task:${id}:next`]);
      // Changes to columns the page does not show enqueue nothing.
      await tx`update orchestrator.tasks set result = '{"x":1}' where id = ${id}`;
      expect((await pushes(tx, "task")).filter((x) => x.payload.key === String(id))).toHaveLength(2);
    });
  });

  it("records per-field change times for rows that have a page, and skips writes made by the pull", async () => {
    const type = uniqueType("notion");
    await inRollback(async (tx) => {
      await enable(tx, type);
      const [{ id }] = await tx<{ id: number }[]>`select (r.task).id from orchestrator.enqueue(${type}) r`;
      await tx`insert into orchestrator.notion_pages (entity, row_key, page_id) values ('task', ${String(id)}, ${`page-${id}`})`;
      await tx`update orchestrator.tasks set priority = 3 where id = ${id}`;
      const [{ field_times }] = await tx`select field_times from orchestrator.notion_pages where entity = 'task' and row_key = ${String(id)}`;
      expect(Object.keys(field_times)).toEqual(["priority"]);
      await tx`delete from orchestrator.tasks where type = 'notion.push' and payload ->> 'key' = ${String(id)}`;
      await tx`select set_config('orchestrator.sync_origin', 'notion', true)`;
      await tx`update orchestrator.tasks set status = 'cancelled', finished_at = now() where id = ${id}`;
      expect((await pushes(tx, "task")).filter((x) => x.payload.key === String(id))).toHaveLength(0);
    });
  });

  it("the sync's own task types cannot be tracked", async () => {
    await expect(sql()`insert into orchestrator.notion_tracked_task_types (type) values ('notion.push')`).rejects.toThrow(/check constraint/);
    await expect(sql()`insert into orchestrator.notion_tracked_task_types (type) values ('webhook.deliver')`).rejects.toThrow(/check constraint/);
  });
});

describe("tickets and SOPs", () => {
  it("have their change triggers from the migrations, all on propagate_changes(), and nothing attaches triggers at run time", async () => {
    // Every non-internal trigger on our tables that runs propagate_changes(), with the consumers it names.
    const triggers = (await sql()<{ t: string; name: string; def: string }[]>`
      select c.relname as t, g.tgname as name, pg_get_triggerdef(g.oid) as def
      from pg_trigger g join pg_class c on c.oid = g.tgrelid
      where c.relnamespace = 'orchestrator'::regnamespace and not g.tgisinternal
        and g.tgfoid = 'orchestrator.propagate_changes()'::regprocedure
      order by 1, 2`).map((r) => ({ ...r, args: /propagate_changes\(([^)]*)\)/.exec(r.def)![1].replace(/['\s]/g, "") }));
    expect(triggers.map((r) => `${r.t}.${r.name}(${r.args})`)).toEqual([
      "events.events_changes_ins(event,workflows,cancel_on)",
      "sops.sops_changes_ins(sop,notion,webhooks)",
      "tasks.tasks_changes_ins(task,notion)", "tasks.tasks_changes_upd(task,notion,webhooks)", "tasks.tasks_flow_run_ended(task,flow)",
      "tasks.tasks_workflow_hooks(task,workflows)",
      "tickets.tickets_changes_ins(ticket,notion,webhooks)", "tickets.tickets_changes_upd(ticket,notion,webhooks,events,workflows)",
    ]);
    // No other trigger on tasks, tickets or SOPs but the queue's wake-up and the task field rules.
    const others = await sql()<{ name: string }[]>`
      select c.relname || '.' || g.tgname as name from pg_trigger g join pg_class c on c.oid = g.tgrelid
      where c.relnamespace = 'orchestrator'::regnamespace and not g.tgisinternal and c.relname in ('tasks', 'tickets', 'sops')
        and g.tgfoid <> 'orchestrator.propagate_changes()'::regprocedure
      order by 1`;
    expect(others.map((r) => r.name)).toEqual(["tasks.tasks_check_fields_ins", "tasks.tasks_check_fields_upd", "tasks.tasks_wake_worker"]);
    const [gone] = await sql()`select to_regprocedure('orchestrator.sync_attach_known_tables()') as sync_attach,
      to_regprocedure('orchestrator.notion_attach(regclass, text, text, text[])') as notion_attach,
      to_regprocedure('orchestrator.webhook_attach(regclass, text, text)') as webhook_attach`;
    expect(gone).toEqual({ sync_attach: null, notion_attach: null, webhook_attach: null });
  });

  it("a new ticket and a title/status/priority change push; an occurrence bump does not", async () => {
    const [{ exists }] = await sql()`select to_regclass('orchestrator.tickets') is not null as exists`;
    expect(exists).toBe(true);
    await inRollback(async (tx) => {
      await enable(tx);
      const [{ id }] = await tx<{ id: number }[]>`insert into orchestrator.tickets (title) values ('Checkout fails') returning id`;
      let mine = (await pushes(tx, "ticket")).filter((x) => x.payload.key === String(id));
      expect(mine.map((m) => m.dedupe_key)).toEqual([`notion.push:ticket:${id}`]);
      await tx`update orchestrator.tasks set status = 'succeeded', finished_at = now() where id = ${mine[0].id}`;
      await tx`update orchestrator.tickets set occurrences = occurrences + 1, last_seen = now() where id = ${id}`;
      expect((await pushes(tx, "ticket")).filter((x) => x.payload.key === String(id) && x.status === "queued")).toHaveLength(0);
      await tx`update orchestrator.tickets set status = 'resolved' where id = ${id}`;
      mine = (await pushes(tx, "ticket")).filter((x) => x.payload.key === String(id) && x.status === "queued");
      expect(mine).toHaveLength(1);
    });
  });

  it("each new SOP version pushes its slug", async () => {
    const [{ exists }] = await sql()`select to_regclass('orchestrator.sops') is not null as exists`;
    expect(exists).toBe(true);
    await inRollback(async (tx) => {
      await enable(tx);
      const slug = `notion-${Math.random().toString(36).slice(2, 8)}`;
      await tx`select orchestrator.sop_insert(${slug}, 'Reset a password', '{}'::jsonb, '# Reset', 'template', '{}'::jsonb)`;
      const mine = (await pushes(tx, "sop")).filter((x) => x.payload.key === slug);
      expect(mine.map((m) => m.dedupe_key)).toEqual([`notion.push:sop:${slug}`]);
    });
  });
});

describe("pull tick", () => {
  it("does nothing while the sync is off; one pull per minute while it is on", async () => {
    await inRollback(async (tx) => {
      await tx`update orchestrator.sync_state set enabled = false`;
      const [{ id }] = await tx`select orchestrator.notion_cron_tick() as id`;
      expect(id).toBeNull();
      await enable(tx);
      const [{ id: a }] = await tx`select orchestrator.notion_cron_tick() as id`;
      const [{ id: b }] = await tx`select orchestrator.notion_cron_tick() as id`;
      expect(a).toBeGreaterThan(0);
      expect(b).toBe(a);
      const [t] = await tx`select type, dedupe_key, source from orchestrator.tasks where id = ${a}`;
      expect(t.type).toBe("notion.pull");
      expect(t.dedupe_key).toMatch(/^notion\.pull:\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/);
      expect(t.source).toBe("cron");
    });
  });

  it("is scheduled every minute by pg_cron", async () => {
    const [job] = await sql()`select schedule, command from cron.job where jobname = 'orchestrator-notion-pull'`;
    expect(job).toEqual({ schedule: "* * * * *", command: "select orchestrator.notion_cron_tick()" });
  });
});
