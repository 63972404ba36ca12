-- claim() in one statement for the common case, and its rows in claim order (issue 13).
--
-- 1. The common case: one group (every task's group_key is ''), no suspect wanted, and no
--    flow-controlled task (concurrency key, type limit or rate key) among the rows at the queue's
--    head. claim() used to take three statements and two functions for it: claim_pick_ids() probed
--    the groups' range, then picked and locked the ids, then claim() updated them. Now one statement
--    picks, locks and updates, as graphile-worker's claim does; whether another group has queued
--    tasks is a probe inside it (an index seek past the '' entries). When it claims nothing (an
--    empty queue, several groups, a flow-controlled row at the head), claim_pick_ids() decides as
--    before. Measured with 1,000,000 queued tasks, each claim taken in turn with the old claim and
--    graphile-worker's (noise cancels): backend CPU per claim 754-784 -> 666-693 µs.
--    The ids go to the UPDATE as an array (`id = any(array(...))`), not as a join: with the
--    generic plan the LIMIT's row count is unknown, and the join was planned as a hash join over
--    every task (330 ms a claim). The planner settings are claim_pick_ids' (20261124050000_claim_plan.sql),
--    so a plan made while the queue is small still walks the claim index once it is large.
--    A suspect to take (p_take_suspect, and one queued) also goes down the general path: a probe
--    of the small partial index tasks_suspect_claim_idx says so.
-- 2. In the common case the rows come back in claim order: priority, then run_at, then id. Before,
--    they came in the UPDATE's order, and a worker started a batch's tasks in an order the claim had
--    not chosen (seen as a flaky fairness test: 9, 10, 11, 12, 8). The general path still returns
--    them in the UPDATE's order: ordering them by their place in claim_pick_ids' array was planned
--    as a nested loop (a batch of 500 compared 250,000 pairs) and halved the bench's throughput.
--
-- claim()'s planner settings hold in the triggers its UPDATE fires: propagate_changes() (every
-- change trigger on tasks) sets them back, as it already did plan_cache_mode.

create or replace function orchestrator.claim(
  p_worker text,
  p_max_count integer default 1,
  p_lease_seconds numeric default 60,
  p_types text[] default null,
  p_type_leases jsonb default null,
  p_take_suspect boolean default false
) returns setof orchestrator.tasks
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set enable_sort = off
set jit = off
set plan_cache_mode = force_generic_plan
as $$
declare
  v_ids bigint[];
  v_max integer := greatest(least(coalesce(p_max_count, 1), 1000), 0);
  v_n bigint;
begin
  if v_max = 0 then
    return;
  end if;
  -- The common case in one statement: one group (''), no suspect to take, and no flow-controlled
  -- task among the rows at the head. Otherwise, or when it finds nothing, the general path below
  -- (the rows this statement locked stay locked by this transaction and are picked again there).
  begin
    return query
    with picked as (
      select t.id, (t.concurrency_key is not null or t.type_concurrency_limit is not null or t.rate_key is not null) as flow
      from orchestrator.tasks t
      where t.status = 'queued' and t.parked_on is null and t.group_key = '' and t.run_at <= now() and not t.suspect
        and (p_types is null or t.type = any (p_types))
        and not exists (select 1 from orchestrator.tasks g where g.status = 'queued' and g.parked_on is null and g.group_key > '')
        and not (coalesce(p_take_suspect, false) and exists (
          select 1 from orchestrator.tasks s
           where s.status = 'queued' and s.suspect and s.parked_on is null and s.run_at <= now()
             and (p_types is null or s.type = any (p_types))))
      order by t.priority desc, t.run_at, t.id
      limit v_max
      for update skip locked
    ), claimed as (
      update orchestrator.tasks t
         set status = 'running',
             attempts = t.attempts + 1,
             locked_by = p_worker,
             locked_until = now() + make_interval(secs => greatest(
               coalesce((p_type_leases ->> t.type)::numeric, p_lease_seconds, 60), 1)),
             lease_token = gen_random_uuid(),
             started_at = now(),
             updated_at = now()
       where t.id = any (array(select p.id from picked p)) and not exists (select 1 from picked f where f.flow)
      returning t.*
    )
    select * from claimed c order by c.priority desc, c.run_at, c.id;
    get diagnostics v_n = row_count;
    if v_n > 0 then
      return;
    end if;
  end;
  -- The general path: groups in turn, suspects, flow limits (claim_pick_ids).
  v_ids := orchestrator.claim_pick_ids(v_max, p_types, coalesce(p_take_suspect, false));
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

alter function orchestrator.propagate_changes()
  set enable_seqscan = on
  set enable_bitmapscan = on
  set enable_sort = on;
