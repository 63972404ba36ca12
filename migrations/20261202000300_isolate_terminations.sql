-- Tasks in an isolate the platform terminated (CPUTime, WallClockTime, Memory).
--
-- Without this, a task whose handler killed its isolate died as "lease expired", and
-- every attempt killed another isolate and held the tasks claimed beside it (36 in the
-- CPU-kill fault) for a full lease. Now:
--   * A task that was running in a terminated isolate becomes a suspect (tasks.suspect).
--     An isolate runs at most one suspect at a time, beside ordinary tasks: a claim takes
--     at most one, and only when its worker says its isolate has none (p_take_suspect).
--   * When the runtime tells us (isolate_terminated(), called by the local gateway the
--     moment it kills a worker), the tasks it held are back at once instead of a lease
--     later, and judged: the one suspect there (or the only task there) caused it, so its
--     attempt fails with the reason as its error, and it ends dead after its attempts like
--     any failing task. The others do not lose the attempt; they become suspects, and their
--     next attempt will tell. Innocent tasks thus never die of another task's kills, and
--     the queue keeps moving while suspects are cleared one per isolate.
--   * Hosted Supabase does not tell anyone; there the lease expires, and reap()'s error now
--     says what to look for. It does not make suspects: leases also expire together when a
--     worker loses its database or the function server restarts, and forty suspects would
--     then re-run one at a time.

alter table orchestrator.tasks add column suspect boolean not null default false;
comment on column orchestrator.tasks.suspect is
  'Set when the task was running in an isolate that was terminated or whose lease expired: an isolate runs at most one suspect at a time, so the next termination names its cause.';

-- Which isolate holds a lease: the task worker names itself edge:<SB_EXECUTION_ID>/<run>,
-- SB_EXECUTION_ID being the user worker's own id (edge-runtime sets it per worker).
create function orchestrator.lease_isolate(p_locked_by text)
returns text
language sql immutable as $$
  select case when p_locked_by like 'edge:%/%' then split_part(substr(p_locked_by, 6), '/', 1) end
$$;

drop function orchestrator.claim(text, integer, numeric, text[], jsonb);

-- As before (see 20261124050000_claim_plan.sql for why the planner settings), passing over
-- suspects: a claim takes one only through claim_pick_suspect().
create or replace function orchestrator.claim_pick_ids(p_max_count integer, p_types text[])
returns bigint[]
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set enable_sort = off
as $$
begin
  return array(
    select id from orchestrator.tasks
    where status = 'queued' and run_at <= now() and not suspect
      and (p_types is null or type = any (p_types))
    order by priority desc, run_at, id
    limit greatest(least(coalesce(p_max_count, 1), 1000), 0)
    for update skip locked);
end
$$;

-- Queued suspects, in claim order: almost always empty, so the probe every claim makes costs
-- one look at an empty index.
create index tasks_suspect_claim_idx on orchestrator.tasks (priority desc, run_at, id)
  where status = 'queued' and suspect;

-- The first runnable suspect of these types, locked (SKIP LOCKED), or null.
create function orchestrator.claim_pick_suspect(p_types text[])
returns bigint
language sql as $$
  select id from orchestrator.tasks
  where status = 'queued' and suspect and run_at <= now()
    and (p_types is null or type = any (p_types))
  order by priority desc, run_at, id
  limit 1
  for update skip locked
$$;

-- p_take_suspect: the claimer's isolate runs no suspect now. Then the first runnable suspect
-- is claimed too, in the batch's last slot; further suspects stay queued for another isolate
-- or a later claim.
create function orchestrator.claim(
  p_worker text,
  p_max_count integer default 1,
  p_lease_seconds numeric default 60,
  p_types text[] default null,
  p_type_leases jsonb default null,
  p_take_suspect boolean default false
) returns setof orchestrator.tasks
language plpgsql as $$
declare
  v_ids bigint[];
  v_suspect bigint;
  v_max integer := greatest(least(coalesce(p_max_count, 1), 1000), 0);
begin
  v_ids := orchestrator.claim_pick_ids(v_max, p_types);
  if p_take_suspect and v_max > 0 then
    v_suspect := orchestrator.claim_pick_suspect(p_types);
    if v_suspect is not null then
      -- Its slot is the batch's last: the ordinary row it displaces stays queued (unlocked at commit).
      v_ids := v_ids[1:v_max - 1] || v_suspect;
    end if;
  end if;
  if cardinality(v_ids) = 0 then
    return;
  end if;
  return query
  update orchestrator.tasks t
     set status = 'running',
         attempts = t.attempts + 1,
         locked_by = p_worker,
         locked_until = now() + make_interval(secs => greatest(
           coalesce((p_type_leases ->> t.type)::numeric, p_lease_seconds, 60), 1)),
         lease_token = gen_random_uuid(),
         started_at = now(),
         updated_at = now()
   where t.id = any (v_ids)
  returning t.*;
end
$$;

-- isolate_terminated(execution id, reason, detail) -> the tasks its workers held, and
-- what became of each. Called by the runtime that killed the isolate (the local
-- gateway does; hosted, reap() takes them back when their lease expires).
--   * the isolate's suspect, or the only task there: it caused the kill. The attempt
--     failed, with the reason as its error; retried with backoff, or dead after its last
--     attempt, as fail() does. (More than one suspect, which only a race can bring: each
--     is blamed, so no task is spared forever.)
--   * the others: queued again at once, the attempt not counted, now suspects.
-- Then one wake-up for what is runnable again.
create function orchestrator.isolate_terminated(p_execution_id text, p_reason text, p_detail text default null)
returns table (id bigint, status orchestrator.task_status, attempt_counted boolean)
language plpgsql as $$
#variable_conflict use_column
declare
  v_wake boolean := false;
  v_why text := p_reason || coalesce(' (' || p_detail || ')', '');
begin
  if p_execution_id is null or p_execution_id = '' or p_reason is null or p_reason = '' then
    raise exception using errcode = '22023',
      message = 'isolate_terminated needs the execution id of the terminated isolate and the shutdown reason';
  end if;
  for id, status, attempt_counted in
    with held as (
      select t.id, t.suspect from orchestrator.tasks t
       where t.status = 'running' and orchestrator.lease_isolate(t.locked_by) = p_execution_id
       for update
    ), held_count as (
      select count(*)::integer as n from held
    ), judged as (
      select h.id, (c.n = 1 or h.suspect) as counted, h.suspect, c.n from held h, held_count c
    )
    update orchestrator.tasks t
       set status = case when j.counted and t.attempts >= t.max_attempts
                         then 'dead'::orchestrator.task_status else 'queued'::orchestrator.task_status end,
           attempts = case when j.counted then t.attempts else t.attempts - 1 end,
           run_at = case when not j.counted then now()
                         when t.attempts < t.max_attempts then now() + orchestrator.retry_delay(t.attempts, t.backoff_base_seconds)
                         else t.run_at end,
           finished_at = case when j.counted and t.attempts >= t.max_attempts then now() end,
           last_error = case when j.counted
             then format('isolate terminated: %s, during attempt %s of %s, as the only %s there: this task caused it',
                         v_why, t.attempts, t.max_attempts, case when j.suspect then 'suspect' else 'task' end)
             else format('isolate terminated: %s, while this task ran beside %s other task(s); attempt %s not counted, it runs as a suspect next',
                         v_why, j.n - 1, t.attempts) end,
           suspect = true,
           locked_by = null, locked_until = null, lease_token = null, updated_at = now()
      from judged j
     where t.id = j.id
    returning t.id, t.status, j.counted
  loop
    v_wake := v_wake or (status = 'queued' and not attempt_counted);
    return next;
  end loop;
  if v_wake then
    perform orchestrator.wake_worker('isolate_terminated');
  end if;
end
$$;

-- reap() as before; hosted, an expired lease is how a terminated isolate shows (nothing
-- tells us), so the error says where to look.
create or replace function orchestrator.reap()
returns integer
language sql as $$
  with expired as (
    select id from orchestrator.tasks
    where status = 'running' and locked_until < now()
    for update skip locked
  ), moved as (
    update orchestrator.tasks t
       set status = case when t.attempts >= t.max_attempts
                         then 'dead'::orchestrator.task_status else 'queued'::orchestrator.task_status end,
           finished_at = case when t.attempts >= t.max_attempts then now() else null end,
           last_error = format('lease expired: worker %s did not finish attempt %s before %s. Its isolate was likely '
                               'terminated (CPUTime, WallClockTime or Memory in the function''s logs) or it lost the '
                               'database',
                               coalesce(t.locked_by, '?'), t.attempts, t.locked_until),
           run_at = now(),
           locked_by = null, locked_until = null, lease_token = null, updated_at = now()
      from expired
     where t.id = expired.id
    returning 1
  )
  select count(*)::integer from moved
$$;

revoke all on function orchestrator.claim_pick_suspect(text[]) from public;
revoke all on function orchestrator.claim(text, integer, numeric, text[], jsonb, boolean) from public;
revoke all on function orchestrator.isolate_terminated(text, text, text) from public;
revoke all on function orchestrator.lease_isolate(text) from public;
grant execute on function orchestrator.claim_pick_suspect(text[]) to service_role;
grant execute on function orchestrator.claim(text, integer, numeric, text[], jsonb, boolean) to service_role;
grant execute on function orchestrator.isolate_terminated(text, text, text) to service_role;
grant execute on function orchestrator.lease_isolate(text) to service_role;
