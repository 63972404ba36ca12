-- Reaping as soon as a lease can be known expired (issue 14, item 9).
--
-- The sweep used to wake the worker when a lease had expired and leave the reap
-- to that worker (or to the minute-by-minute orchestrator-reap job). A lease
-- that expired at :30 then waited for a worker to be woken, and with pg_cron 1.4
-- (minute schedules only) that meant up to a minute past the lease. Now:
--   - sweep() reaps in SQL first, then wakes the worker when anything is runnable
--     (the reaped tasks included): one statement recovers a dead worker's tasks;
--   - next_sweep_in() says when the earliest live lease expires, so a caller that
--     can tick on its own (the local stack's supervisor, where pg_cron cannot run
--     sub-minute schedules) sweeps at that moment instead of on the next minute.
-- pg_cron >= 1.5 keeps its 10-second sweep schedule (wakeup_paths migration).

create or replace function orchestrator.sweep()
returns bigint
language plpgsql as $$
begin
  perform orchestrator.reap();
  if exists (select 1 from orchestrator.tasks where status = 'queued' and run_at <= now()) then
    return orchestrator.wake_worker('cron');
  end if;
  return null;
end
$$;

-- Seconds until the earliest running task's lease expires (0 when one already
-- has), capped at p_max_seconds; p_max_seconds when nothing is running.
create or replace function orchestrator.next_sweep_in(p_max_seconds double precision default 10)
returns double precision
language sql stable as $$
  select greatest(0, least(p_max_seconds,
    extract(epoch from (select min(locked_until) from orchestrator.tasks where status = 'running') - now())::float8))
$$;

revoke all on function orchestrator.sweep() from public;
revoke all on function orchestrator.next_sweep_in(double precision) from public;
grant execute on function orchestrator.sweep() to service_role;
grant execute on function orchestrator.next_sweep_in(double precision) to service_role;
