-- claim(): the same contract, a plan that stays on the claim index at any queue
-- depth and with any statistics.
--
-- 1. A non-inlined SQL function is planned with its arguments as parameters, so
--    the planner cannot see p_max_count and assumes the LIMIT keeps 10% of the
--    queue. The old `update … from picked where t.id = picked.id` then hashed the
--    whole tasks table on every claim: 0.9 ms with 1,000 queued tasks, 24 ms with
--    100,000 (npm run bench, depth workload). Now the picked ids are one array,
--    computed once, and the update finds each row by primary key.
-- 2. Right after a large batch is enqueued, the column statistics still describe
--    the queue as it was at the last ANALYZE (often: no queued rows at all), so the
--    planner read every queued row with a bitmap scan and sorted them, on every
--    claim: 7 ms for 25 tasks out of 10,000 queued. The claim index IS the claim
--    order, so the picking query is planned with bitmap scans, sequential scans
--    and sorts off: it walks tasks_claim_idx in order and stops after LIMIT rows,
--    whatever the statistics say. Those settings live on claim_pick_ids() alone, a
--    SELECT … FOR UPDATE that fires no trigger: a SET clause on the UPDATE itself
--    would also apply inside the AFTER triggers other features put on tasks, and
--    made one of them 20-75 ms slower per call.

create function orchestrator.claim_pick_ids(p_max_count integer, p_types text[])
returns bigint[]
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set enable_sort = off
as $$
begin
  return array(
    select id from orchestrator.tasks
    where status = 'queued' and run_at <= now()
      and (p_types is null or type = any (p_types))
    order by priority desc, run_at, id
    limit greatest(least(coalesce(p_max_count, 1), 1000), 0)
    for update skip locked);
end
$$;

-- PL/pgSQL rather than SQL: a session plans each statement once and reuses the plan
-- (a SQL function is planned again on every call).
create or replace function orchestrator.claim(
  p_worker text,
  p_max_count integer default 1,
  p_lease_seconds numeric default 60,
  p_types text[] default null,
  p_type_leases jsonb default null
) returns setof orchestrator.tasks
language plpgsql as $$
declare
  v_ids bigint[];
begin
  -- claim_pick_ids locks the rows it picks (SKIP LOCKED: rows another claim holds
  -- are passed over), so they are still queued when the update reaches them.
  v_ids := orchestrator.claim_pick_ids(p_max_count, p_types);
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

revoke all on function orchestrator.claim_pick_ids(integer, text[]) from public;
grant execute on function orchestrator.claim_pick_ids(integer, text[]) to service_role;
