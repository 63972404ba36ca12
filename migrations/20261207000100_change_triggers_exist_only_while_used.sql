-- The change triggers on orchestrator.tasks exist only while something uses them; disabled is not
-- enough (issue 13).
--
-- 20261202000700_task_change_triggers_follow_tracking.sql disabled tasks_changes_ins/_upd while no
-- task type is tracked in Notion and no webhook subscription is active, on the belief that a
-- disabled trigger keeps no transition rows. It does keep them: PostgreSQL decides whether an
-- INSERT or UPDATE captures transition tables from the flags of all the table's triggers, enabled
-- or not (SetTriggerFlags in trigger.c does not look at tgenabled); whether a trigger is enabled
-- is only asked when its event fires. So every claim and every completion still stored each row's
-- old and new versions for a trigger that never ran. Measured with 1,000,000 queued tasks, each
-- claim taken in turn with graphile-worker's own claim on the same cluster (noise cancels): the
-- backend CPU of our claim went from 0.44-0.48x graphile-worker's to 0.55-0.58x with the two
-- disabled triggers gone.
--
-- Now the triggers are created when their first user appears and dropped when the last one goes.
-- The definitions are those of 20261202001100_one_change_path.sql; they live in this one function.
-- Creating takes the SHARE ROW EXCLUSIVE lock on tasks that enabling took. Dropping takes ACCESS
-- EXCLUSIVE (readers of tasks wait too), with the same 200 ms give-up as disabling had: a trigger
-- left in place is always correct, and the next tracking change drops it.
--
-- Two tracking changes at once could each decide on what the other has not committed: one deletes
-- the last subscription it sees and drops the update trigger, while the other's new subscription,
-- not yet committed, needs it. So every tracking change that wants the triggers holds a shared
-- advisory lock on "the task change triggers" until it commits, and a drop first takes that lock
-- exclusively (at most 200 ms, as above), then decides again on what is committed by then. The
-- shared lock blocks no claim and no other tracking change.

create or replace function orchestrator.tasks_trigger_set(p_trigger name, p_enabled boolean)
returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_lock_timeout text := current_setting('lock_timeout');
  v_state "char" := (select tgenabled from pg_trigger
                      where tgrelid = 'orchestrator.tasks'::regclass and tgname = p_trigger);
begin
  if p_trigger not in ('tasks_changes_ins', 'tasks_changes_upd') then
    raise exception 'tasks_trigger_set(): unknown trigger "%"', p_trigger
      using hint = 'only tasks_changes_ins and tasks_changes_upd follow what is tracked';
  end if;
  if p_enabled then
    -- Present and enabled already: nothing to do (and no lock taken). Present but disabled, as the
    -- older migration left it: replaced, which also enables it.
    if v_state is not null and v_state <> 'D' then
      return;
    end if;
    if p_trigger = 'tasks_changes_ins' then
      create or replace trigger tasks_changes_ins after insert on orchestrator.tasks
        referencing new table as new_rows
        for each statement execute function orchestrator.propagate_changes('task', 'notion');
    else
      create or replace trigger tasks_changes_upd after update on orchestrator.tasks
        referencing old table as old_rows new table as new_rows
        for each statement execute function orchestrator.propagate_changes('task', 'notion', 'webhooks');
    end if;
    return;
  end if;
  if v_state is null then
    return;
  end if;
  perform set_config('lock_timeout', '200ms', true);
  begin
    execute format('drop trigger if exists %I on orchestrator.tasks', p_trigger);
  exception when lock_not_available then
    raise notice 'orchestrator: trigger % stays (tasks was busy); the next tracking change drops it', p_trigger;
  end;
  perform set_config('lock_timeout', v_lock_timeout, true);
end
$$;

create or replace function orchestrator.tasks_change_triggers_sync()
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_notion boolean := exists (select 1 from orchestrator.notion_tracked_task_types);
  v_webhooks boolean := exists (select 1 from orchestrator.webhook_subscriptions where active);
  v_have_ins boolean := exists (select 1 from pg_trigger where tgrelid = 'orchestrator.tasks'::regclass and tgname = 'tasks_changes_ins');
  v_have_upd boolean := exists (select 1 from pg_trigger where tgrelid = 'orchestrator.tasks'::regclass and tgname = 'tasks_changes_upd');
  v_lock_timeout text := current_setting('lock_timeout');
begin
  if v_notion or v_webhooks then
    perform pg_advisory_xact_lock_shared(hashtext('orchestrator.tasks_change_triggers'), 0);
  end if;
  if (v_have_ins and not v_notion) or (v_have_upd and not (v_notion or v_webhooks)) then
    -- A trigger may go: wait for the tracking changes not committed yet, then decide again.
    perform set_config('lock_timeout', '200ms', true);
    begin
      perform pg_advisory_xact_lock(hashtext('orchestrator.tasks_change_triggers'), 0);
    exception when lock_not_available then
      perform set_config('lock_timeout', v_lock_timeout, true);
      raise notice 'orchestrator: the task change triggers stay (another tracking change is under way); the next one drops them';
      return;
    end;
    perform set_config('lock_timeout', v_lock_timeout, true);
    v_notion := exists (select 1 from orchestrator.notion_tracked_task_types);
    v_webhooks := exists (select 1 from orchestrator.webhook_subscriptions where active);
  end if;
  perform orchestrator.tasks_trigger_set('tasks_changes_ins', v_notion);
  perform orchestrator.tasks_trigger_set('tasks_changes_upd', v_notion or v_webhooks);
end
$$;

select orchestrator.tasks_change_triggers_sync();
