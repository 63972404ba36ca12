-- The checks on a task's fields move from CHECK constraints into one check per statement that sets
-- those fields (issue 13). Same rules, same constraint names, same error code (23514).
--
-- PostgreSQL prepares every CHECK constraint of a table again for each INSERT or UPDATE statement,
-- whichever columns the statement sets: about 3 µs per constraint. tasks had seventeen, so every
-- claim, completion and failure (one-row UPDATEs, in the latency run) paid 50-70 µs for checks of
-- fields it does not touch. Measured on copies of tasks (one UPDATE per transaction, DO loop): no
-- checks 14 µs, the seventeen 64-88 µs, the seventeen ANDed into one constraint 63-87 µs (the cost
-- is the expressions, not their number).
--
-- So the rules on fields that only inserts set, and a few updates (debounce's payload, a
-- reprioritisation), are one expression, task_field_violation(), checked:
--   - after each INSERT statement, over its new rows (one query per statement, any row count);
--   - before an UPDATE that sets one of those columns (UPDATE OF: a claim or a completion sets none).
-- The three rules on what a claim or a completion does change stay CHECK constraints:
-- attempts >= 0, attempts <= max_attempts, and running ⇔ a lease token.

create function orchestrator.task_field_violation(t orchestrator.tasks)
returns text
language sql immutable
as $$
  -- The first rule the row breaks, by its former constraint's name; null when it breaks none. As for
  -- a CHECK constraint, a rule whose value is null (a null column) holds.
  select case
    when not (t.type ~ '^[a-z][a-z0-9_.:-]{0,63}$') then 'tasks_type_check'
    when not (jsonb_typeof(t.payload) = 'object') then 'tasks_payload_check'
    when not (length(t.source) between 1 and 100) then 'tasks_source_check'
    when not (t.priority between -1000 and 1000) then 'tasks_priority_check'
    when not (t.max_attempts between 1 and 100) then 'tasks_max_attempts_check'
    when not (t.backoff_base_seconds between 0 and 3600) then 'tasks_backoff_base_seconds_check'
    when not (length(t.dedupe_key) between 1 and 200) then 'tasks_dedupe_key_check'
    when not ((t.concurrency_key is null) = (t.concurrency_limit is null)
              and t.concurrency_limit between 1 and 10000
              and length(t.concurrency_key) between 1 and 200) then 'tasks_concurrency_check'
    when not (t.type_concurrency_limit between 1 and 10000) then 'tasks_type_concurrency_limit_check'
    when not (length(t.rate_key) between 1 and 200) then 'tasks_rate_key_check'
    when not (length(t.group_key) <= 100) then 'tasks_group_key_check'
    when not (length(t.debounce_key) between 1 and 220) then 'tasks_debounce_key_check'
    when not (jsonb_typeof(t.cancel_on) = 'object') then 'tasks_cancel_on_check'
  end
$$;

comment on function orchestrator.task_field_violation(orchestrator.tasks) is
  'The rules on a task''s fields (type, payload, source, priority, attempts limit, backoff, keys, group, cancel_on): the name of the first one the row breaks, or null. Checked by the tasks_check_fields triggers; see 20261204000200_task_field_checks.sql.';

create function orchestrator.tasks_check_fields()
returns trigger
language plpgsql
as $$
declare
  v_violation text;
  v_id bigint;
begin
  if tg_level = 'ROW' then
    v_violation := orchestrator.task_field_violation(new);
    v_id := new.id;
  else
    select x.violation, x.id into v_violation, v_id
      from (select orchestrator.task_field_violation(row(n.*)::orchestrator.tasks) as violation, n.id from new_rows n) x
     where x.violation is not null
     limit 1;
  end if;
  if v_violation is not null then
    -- PostgreSQL's own wording for a CHECK constraint, without its detail (the whole row: a payload
    -- may hold what logs must not).
    raise exception using errcode = 'check_violation', schema = 'orchestrator', table = 'tasks', constraint = v_violation,
      message = format('new row for relation "tasks" violates check constraint "%s"', v_violation),
      detail = format('The task with id %s breaks it.', v_id);
  end if;
  return case when tg_level = 'ROW' then new end;
end
$$;

create trigger tasks_check_fields_ins
  after insert on orchestrator.tasks
  referencing new table as new_rows
  for each statement execute function orchestrator.tasks_check_fields();

create trigger tasks_check_fields_upd
  before update of type, payload, source, priority, max_attempts, backoff_base_seconds, dedupe_key,
                   concurrency_key, concurrency_limit, type_concurrency_limit, rate_key, group_key,
                   debounce_key, cancel_on
  on orchestrator.tasks
  for each row execute function orchestrator.tasks_check_fields();

alter table orchestrator.tasks
  drop constraint tasks_type_check,
  drop constraint tasks_payload_check,
  drop constraint tasks_source_check,
  drop constraint tasks_priority_check,
  drop constraint tasks_max_attempts_check,
  drop constraint tasks_backoff_base_seconds_check,
  drop constraint tasks_dedupe_key_check,
  drop constraint tasks_concurrency_check,
  drop constraint tasks_type_concurrency_limit_check,
  drop constraint tasks_rate_key_check,
  drop constraint tasks_group_key_check,
  drop constraint tasks_debounce_key_check,
  drop constraint tasks_cancel_on_check;

revoke all on function orchestrator.task_field_violation(orchestrator.tasks) from public;
revoke all on function orchestrator.tasks_check_fields() from public;
grant execute on function orchestrator.task_field_violation(orchestrator.tasks) to service_role;
