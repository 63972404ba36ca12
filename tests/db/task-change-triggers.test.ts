// The change triggers on tasks are enabled only while something uses them
// (20261202000700_task_change_triggers_follow_tracking.sql, 20261202001100_one_change_path.sql): a
// tracked task type turns both on, an active subscription the update one; without them, claims and
// completions fire neither. Each check runs in a transaction that is rolled back.
import { describe, expect, it } from "vitest";
import type postgres from "postgres";
import { inRolledBackTx, uniqueType } from "../helpers/stack.ts";

const state = async (tx: postgres.TransactionSql) => Object.fromEntries((await tx<{ tgname: string; on: boolean }[]>`
  select tgname, tgenabled <> 'D' as on from pg_trigger
  where tgrelid = 'orchestrator.tasks'::regclass and tgname in ('tasks_changes_ins', 'tasks_changes_upd')`)
  .map((r) => [r.tgname, r.on]));

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
