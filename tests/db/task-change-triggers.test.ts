// The change triggers on tasks exist only while something uses them
// (20261202000700_task_change_triggers_follow_tracking.sql, 20261202001100_one_change_path.sql,
// 20261207000100_change_triggers_exist_only_while_used.sql): a tracked task type makes both, an active
// subscription the update one; without them, claims and completions neither fire them nor keep the
// transition rows a trigger asks for (which a merely disabled trigger still does). Each check runs in a
// transaction that is rolled back.
import { describe, expect, it } from "vitest";
import type postgres from "postgres";
import { inRolledBackTx, sql, uniqueType } from "../helpers/stack.ts";

// Whether each trigger is there, and enabled (an absent one is false).
const state = async (tx: postgres.TransactionSql | postgres.ReservedSql) => {
  const rows = await tx<{ tgname: string; on: boolean }[]>`
    select tgname, tgenabled <> 'D' as on from pg_trigger
    where tgrelid = 'orchestrator.tasks'::regclass and tgname in ('tasks_changes_ins', 'tasks_changes_upd')`;
  const on = Object.fromEntries(rows.map((r) => [r.tgname, r.on]));
  return { tasks_changes_ins: on.tasks_changes_ins ?? false, tasks_changes_upd: on.tasks_changes_upd ?? false };
};

// The triggers on tasks that make an UPDATE keep old or new transition rows, enabled or not.
const updateTransitionTriggers = async (tx: postgres.TransactionSql) => (await tx<{ tgname: string }[]>`
  select tgname from pg_trigger
  where tgrelid = 'orchestrator.tasks'::regclass and tgtype & 16 <> 0 and (tgoldtable is not null or tgnewtable is not null)
  order by 1`).map((r) => r.tgname);

describe("task change triggers follow what is tracked", () => {
  it("off with nothing tracked; the update trigger on with an active subscription, both with a tracked type; off again when they go", async () => {
    const steps = await inRolledBackTx(async (tx) => {
      await tx`delete from orchestrator.notion_tracked_task_types`;
      await tx`delete from orchestrator.webhook_subscriptions`;
      const none = await state(tx);
      const [{ id }] = await tx<{ id: number }[]>`insert into orchestrator.webhook_subscriptions (url, events, secret, active)
        values ('https://hooks.example.test/x', '{task.*}', 'whsec_trigger_test_0123456789', true) returning id`;
      const subscribed = await state(tx);
      await tx`insert into orchestrator.notion_tracked_task_types (type) values (${uniqueType("tracked")})`;
      const tracked = await state(tx);
      await tx`update orchestrator.webhook_subscriptions set active = false where id = ${id}`;
      const inactive = await state(tx);
      await tx`delete from orchestrator.notion_tracked_task_types`;
      return { none, subscribed, tracked, inactive, untracked: await state(tx) };
    });
    expect(steps.none).toEqual({ tasks_changes_ins: false, tasks_changes_upd: false });
    expect(steps.subscribed).toEqual({ tasks_changes_ins: false, tasks_changes_upd: true });
    expect(steps.tracked).toEqual({ tasks_changes_ins: true, tasks_changes_upd: true });
    expect(steps.inactive).toEqual({ tasks_changes_ins: true, tasks_changes_upd: true });
    expect(steps.untracked).toEqual({ tasks_changes_ins: false, tasks_changes_upd: false });
  });

  it("with nothing tracked, no trigger on tasks keeps an UPDATE's transition rows; one left disabled by the older migration is dropped", async () => {
    const seen = await inRolledBackTx(async (tx) => {
      await tx`delete from orchestrator.notion_tracked_task_types`;
      await tx`delete from orchestrator.webhook_subscriptions`;
      const untracked = await updateTransitionTriggers(tx);
      // The state 20261202000700 left behind: the trigger present but disabled.
      await tx`create trigger tasks_changes_upd after update on orchestrator.tasks
        referencing old table as old_rows new table as new_rows
        for each statement execute function orchestrator.propagate_changes('task', 'notion', 'webhooks')`;
      await tx`alter table orchestrator.tasks disable trigger tasks_changes_upd`;
      const disabled = await updateTransitionTriggers(tx);
      await tx`select orchestrator.tasks_change_triggers_sync()`;
      return { untracked, disabled, synced: await updateTransitionTriggers(tx) };
    });
    expect(seen).toEqual({ untracked: [], disabled: ["tasks_changes_upd"], synced: [] });
  });

  it("a drop waits for a subscription being added and not yet committed, and then keeps the update trigger", async () => {
    // Events no test emits: the subscription, committed for a moment, delivers nothing.
    const url = `https://hooks.example.test/${uniqueType("race")}`;
    const adder = await sql().reserve();
    const deleter = await sql().reserve();
    try {
      // A committed subscription, so the update trigger is there (committed) before the race.
      await sql()`insert into orchestrator.webhook_subscriptions (url, events, secret, active)
        values (${url + "-first"}, '{test.never-emitted}', 'whsec_trigger_test_0123456789', true)`;
      await adder`begin`;
      await adder`insert into orchestrator.webhook_subscriptions (url, events, secret, active)
        values (${url}, '{test.never-emitted}', 'whsec_trigger_test_0123456789', true)`;
      await deleter`begin`;
      await deleter`delete from orchestrator.notion_tracked_task_types`;
      // The deleter's snapshot has no subscription left (the first one goes, the adder's is not
      // committed): it would drop the update trigger, and waits (200 ms at most) for the adder first.
      // (execute(): a postgres.js query is sent when awaited, and this one must be under way first.)
      const deleting = deleter`delete from orchestrator.webhook_subscriptions where url <> ${url}`.execute();
      await new Promise((r) => setTimeout(r, 50));
      await adder`commit`;
      await deleting;
      expect(await state(deleter)).toEqual({ tasks_changes_ins: false, tasks_changes_upd: true });
    } finally {
      await deleter`rollback`.catch(() => {});
      await adder`rollback`.catch(() => {});
      deleter.release();
      adder.release();
      await sql()`delete from orchestrator.webhook_subscriptions where url in (${url}, ${url + "-first"})`;
    }
  });

  it("an active subscription made in the same transaction as a task's end still gets its task event", async () => {
    const type = uniqueType("hooked");
    const events = await inRolledBackTx(async (tx) => {
      await tx`delete from orchestrator.webhook_subscriptions`;
      const [{ id: taskId }] = await tx<{ id: number }[]>`select (r.task).id from orchestrator.enqueue(${type}, '{}', '{"run_at": "2099-01-01T00:00:00Z"}') r`;
      const [{ id: sub }] = await tx<{ id: number }[]>`insert into orchestrator.webhook_subscriptions (url, events, secret, active)
        values ('https://hooks.example.test/y', '{task.dead}', 'whsec_trigger_test_0123456789', true) returning id`;
      await tx`update orchestrator.tasks set status = 'dead', last_error = 'boom', finished_at = now() where id = ${taskId}`;
      return await tx<{ event: string }[]>`select event from orchestrator.webhook_deliveries where subscription_id = ${sub}`;
    });
    expect(events.map((e) => e.event)).toEqual(["task.dead"]);
  });
});
