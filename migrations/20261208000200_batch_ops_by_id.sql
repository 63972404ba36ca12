-- The worker's batch ops find their tasks by id, whatever the statistics say about running tasks
-- (issue 13).
--
-- complete_many, extend_leases and release_tasks join their arrays to tasks on id. As SQL functions
-- they were planned on every call without the arrays' sizes (an unnest of a parameter is guessed at
-- ten rows), and with statistics from a time few tasks ran (the usual case after an ANALYZE: the
-- bench's reset, autovacuum between bursts) the planner read every running task through
-- tasks_running_id_idx and filtered them against the arrays. So a call's cost grew with the tasks
-- running anywhere, not with its own batch. Measured on one private stack, 1,000,000 queued,
-- each form in turn on its own connection (backend CPU, medians of 5 blocks):
--
--   completing 1 task,      few running: 454 → 422 µs   3,000 running: 1,145 → 435 µs
--   completing 200 tasks,   few running: 2.76 → 2.71 ms  3,000 running:  3.50 → 2.70 ms
--   completing 1,000 tasks, few running: 12.4 → 12.4 ms  3,000 running:  13.3 → 12.7 ms
--
-- Now each is PL/pgSQL with one generic plan, made once per session (no parse or plan per call), and
-- the plan can only be a nested loop from the arrays to tasks_pkey: the status test compares as text,
-- which tasks_running_id_idx's predicate (status = 'running') does not match, so the planner cannot
-- pick that index whatever it believes. The test still holds for every row (a stale token or a
-- finished task is left alone, as before). An earlier PL/pgSQL attempt (20261204000100_hot_path_plans.sql,
-- 2.) bounded the rows by `id = any(...)` and nested-looped the batch against itself; this plan looks
-- each id up once.
--
-- force_generic_plan holds inside the triggers these UPDATEs fire; propagate_changes() (every change
-- trigger on tasks) sets plan_cache_mode back to auto, as for claim().

create or replace function orchestrator.complete_many(p_ids bigint[], p_lease_tokens uuid[], p_results jsonb[])
returns setof bigint
language plpgsql
set plan_cache_mode = force_generic_plan
as $$
begin
  return query
  update orchestrator.tasks t
     set status = 'succeeded', result = d.result, finished_at = now(), updated_at = now(),
         locked_by = null, locked_until = null, lease_token = null
    from unnest(p_ids, p_lease_tokens, p_results) as d(id, token, result)
   where t.id = d.id and t.status::text = 'running' and t.lease_token = d.token
  returning t.id;
end
$$;

create or replace function orchestrator.extend_leases(
  p_ids bigint[],
  p_lease_tokens uuid[],
  p_type_leases jsonb default null,
  p_lease_seconds numeric default 60
) returns table (id bigint, locked_until timestamptz)
language plpgsql
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
begin
  return query
  update orchestrator.tasks t
     set locked_until = now() + make_interval(secs => greatest(
           coalesce((p_type_leases ->> t.type)::numeric, p_lease_seconds, 60), 1)),
         updated_at = now()
    from unnest(p_ids, p_lease_tokens) as d(id, token)
   where t.id = d.id and t.status::text = 'running' and t.lease_token = d.token
  returning t.id, t.locked_until;
end
$$;

create or replace function orchestrator.release_tasks(p_ids bigint[], p_lease_tokens uuid[])
returns setof bigint
language plpgsql
set plan_cache_mode = force_generic_plan
as $$
begin
  return query
  update orchestrator.tasks t
     set status = 'queued', attempts = greatest(t.attempts - 1, 0), started_at = null,
         locked_by = null, locked_until = null, lease_token = null, updated_at = now()
    from unnest(p_ids, p_lease_tokens) as d(id, token)
   where t.id = d.id and t.status::text = 'running' and t.lease_token = d.token
  returning t.id;
end
$$;
