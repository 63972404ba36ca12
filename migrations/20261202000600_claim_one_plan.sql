-- claim(): the same contract (20261202000300_isolate_terminations.sql), one function call
-- fewer per claim (issue 13).
--
-- The suspect probe was a SQL function, claim_pick_suspect(): PostgreSQL plans a non-inlined
-- SQL function again on every call, so every claim paid a planning of it, though the index it
-- reads is almost always empty. It is now a statement of claim() itself, which PL/pgSQL plans
-- once per session. claim_pick_ids() keeps its planner settings (see 20261124050000_claim_plan.sql
-- for why they must not reach the UPDATE). With 1,000,000 queued tasks, claim p50 0.93 → 0.79 ms
-- in one session, measured side by side.

create or replace function orchestrator.claim(
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
    -- The first runnable suspect (tasks_suspect_claim_idx), locked (SKIP LOCKED).
    select t.id into v_suspect from orchestrator.tasks t
     where t.status = 'queued' and t.suspect and t.run_at <= now()
       and (p_types is null or t.type = any (p_types))
     order by t.priority desc, t.run_at, t.id
     limit 1
     for update skip locked;
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

drop function orchestrator.claim_pick_suspect(text[]);
