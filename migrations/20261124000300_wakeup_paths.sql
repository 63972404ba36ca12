-- How work is woken.
-- 1. Insert into tasks -> one pg_net request to task-worker per statement (not per
--    row), and only when the statement inserted something runnable now.
-- 2. pg_cron sweeps: task-worker when runnable work waits (a missed or failed
--    wake-up, a retry whose backoff has passed, a task scheduled for later),
--    and reap() in SQL for expired leases.

create function orchestrator.tasks_wake_on_insert()
returns trigger
language plpgsql as $$
begin
  if exists (select 1 from new_tasks where status = 'queued' and run_at <= now()) then
    perform orchestrator.wake_worker('insert');
  end if;
  return null;
end
$$;

create trigger tasks_wake_worker
  after insert on orchestrator.tasks
  referencing new table as new_tasks
  for each statement
  execute function orchestrator.tasks_wake_on_insert();

-- The sweep wakes the worker only when there is something to run, or a lease
-- to recover (the worker reaps expired leases before it claims).
create function orchestrator.sweep()
returns bigint
language sql as $$
  select orchestrator.wake_worker('cron')
  where exists (select 1 from orchestrator.tasks where status = 'queued' and run_at <= now())
     or exists (select 1 from orchestrator.tasks where status = 'running' and locked_until < now())
$$;

-- pg_cron >= 1.5 (hosted Supabase) takes second schedules; 1.4 (Debian bookworm)
-- only minutes. Detect the installed version rather than assume it.
create function orchestrator.cron_supports_seconds()
returns boolean
language sql stable as $$
  select coalesce(
    (select string_to_array(split_part(extversion, '-', 1), '.')::int[] >= array[1, 5]
       from pg_extension where extname = 'pg_cron'),
    false)
$$;

select cron.schedule(
  'orchestrator-sweep',
  case when orchestrator.cron_supports_seconds() then '10 seconds' else '* * * * *' end,
  'select orchestrator.sweep()'
);
select cron.schedule('orchestrator-reap', '* * * * *', 'select orchestrator.reap()');

revoke all on function orchestrator.tasks_wake_on_insert() from public;
revoke all on function orchestrator.sweep() from public;
grant execute on function orchestrator.sweep() to service_role;
grant execute on function orchestrator.cron_supports_seconds() to service_role;
