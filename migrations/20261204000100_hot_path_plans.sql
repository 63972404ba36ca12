-- The claim's statements planned once per session, not on every call (issue 13); the batch ops stay
-- planned per call (2. below).
--
-- Measured on one private stack with 1,000,000 queued tasks, each step in its own transaction
-- (a DO loop that commits, so no client round trip in the figures), asynchronous commit as the
-- worker's claim uses:
--
-- 1. claim_pick_ids() picks with `limit v_max` and `type = any(p_types)`. PostgreSQL's plan cache
--    weighs a generic plan (any LIMIT: it assumes 10 % of the queue) against the plans for the
--    actual values, finds the generic one dearer, and so plans the statement again on every call.
--    tasks has fourteen indexes, and planning a statement on it was ~40 % of a claim. The claim's
--    own UPDATE fared the same (`id = any(v_ids)`: a generic plan assumes ten ids, a custom one sees
--    one). Both now use their generic plan: claim(1) 260-310 → 140-180 µs.
-- 2. Not the batch ops (complete_many, extend_leases, release_tasks): SQL functions, planned on
--    every call for the arrays at hand. Tried as PL/pgSQL with a generic plan, complete_many of one
--    took 120-126 µs instead of 270-290, but the generic plan knows neither the batch's size nor, with
--    stale statistics, how many tasks run: with 2,000 running, one plan hashed every running task
--    for each call (0.6-1.2 ms for one task), and bounded by the ids, another nested-looped 1,000
--    completions over 1,000 ids (152 ms instead of 10). The per-call plan is the safe one there.
-- 3. The group probe read min(group_key) from the claim index's left end, where every claimed
--    row leaves an entry until VACUUM: ~100 index pages stepped over per claim after 20,000 claims,
--    twice (the probe, then the pick). It now reads the right end (see claim_pick_ids below).
--
-- force_generic_plan is set per function. A SET clause also holds inside the triggers the
-- function's UPDATE fires, so propagate_changes() (the one trigger function behind the change
-- triggers on tasks) sets plan_cache_mode back to auto: the consumers it calls keep the planner's
-- usual choice. (claim_pick_ids' other settings stay on it alone, as 20261124050000_claim_plan.sql
-- explains: it fires no trigger.)

create or replace function orchestrator.claim_pick_ids(p_max_count integer, p_types text[], p_take_suspect boolean)
returns bigint[]
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set enable_sort = off
set jit = off
set plan_cache_mode = force_generic_plan
as $$
declare
  v_max integer := greatest(least(coalesce(p_max_count, 1), 1000), 0);
  v_lo text;
  v_hi text;
  v_ids bigint[];
  v_flow boolean;
  v_rot bigint;
  v_ckeys text[];
  v_climits integer[];
  v_typenames text[];
  v_tlimits integer[];
  v_rkeys text[];
  v_s record;
  v_n integer;
begin
  if v_max = 0 then
    return '{}';
  end if;
  -- The groups' range. The highest first, from the claim index's right end: claims take rows from
  -- its left, which holds the entries of claimed rows until VACUUM, so a scan from there steps over
  -- them. '' sorts before any other text: a highest group of '' is the only one. Otherwise the next
  -- group down, read just below the highest's first entry, says whether there is more than one; only
  -- then is the least read from the left end, for the round robin.
  select max(group_key) into v_hi
    from orchestrator.tasks where status = 'queued' and parked_on is null;
  if v_hi is null then
    return '{}';
  end if;
  v_lo := v_hi;
  if v_hi <> '' then
    select max(group_key) into v_lo
      from orchestrator.tasks where status = 'queued' and parked_on is null and group_key < v_hi;
    if v_lo is null then
      v_lo := v_hi;
    else
      select min(group_key) into v_lo
        from orchestrator.tasks where status = 'queued' and parked_on is null;
    end if;
  end if;
  if v_lo = v_hi then
    select array_agg(s.id), bool_or(s.flow), array_agg(s.concurrency_key), array_agg(s.concurrency_limit), array_agg(s.type),
           array_agg(s.type_concurrency_limit), array_agg(s.rate_key)
      into v_ids, v_flow, v_ckeys, v_climits, v_typenames, v_tlimits, v_rkeys from (
      select id, (concurrency_key is not null or type_concurrency_limit is not null or rate_key is not null) as flow,
             concurrency_key, concurrency_limit, type, type_concurrency_limit, rate_key
      from orchestrator.tasks
      where status = 'queued' and parked_on is null and group_key = v_lo and run_at <= now() and not suspect
        and (p_types is null or type = any (p_types))
      order by priority desc, run_at, id
      limit v_max
      for update skip locked) s;
  else
    -- Round-robin across the groups: each group's head, then each group's second, …, starting at a
    -- rotating group. Rows locked here and not taken are unlocked at commit.
    v_rot := nextval('orchestrator.claim_rotation');
    with recursive groups(g) as (
      select v_lo
      union all
      select (select min(t.group_key) from orchestrator.tasks t
               where t.status = 'queued' and t.parked_on is null and t.group_key > groups.g)
      from groups where groups.g < v_hi
    ), numbered as (
      select g, row_number() over (order by g) - 1 as gi from groups where g is not null
    ), heads as (
      select n.gi, c.* from numbered n cross join lateral (
        select t.id, t.priority, t.run_at,
               (t.concurrency_key is not null or t.type_concurrency_limit is not null or t.rate_key is not null) as flow,
               t.concurrency_key, t.concurrency_limit, t.type, t.type_concurrency_limit, t.rate_key
        from orchestrator.tasks t
        where t.status = 'queued' and t.parked_on is null and t.group_key = n.g and t.run_at <= now() and not t.suspect
          and (p_types is null or t.type = any (p_types))
        order by t.priority desc, t.run_at, t.id
        limit v_max
        for update skip locked) c
    ), ranked as (
      -- hgi: the group's place among the groups that have a candidate now (not among all groups).
      select *, row_number() over (partition by gi order by priority desc, run_at, id) as rn,
             dense_rank() over (order by gi) - 1 as hgi
      from heads
    ), turned as (
      select *, (hgi + v_rot) % (max(hgi) over () + 1) as turn from ranked
    )
    select array_agg(x.id), bool_or(x.flow), array_agg(x.concurrency_key), array_agg(x.concurrency_limit), array_agg(x.type),
           array_agg(x.type_concurrency_limit), array_agg(x.rate_key)
      into v_ids, v_flow, v_ckeys, v_climits, v_typenames, v_tlimits, v_rkeys
      from (select * from turned order by rn, turn limit v_max) x;
  end if;
  if p_take_suspect then
    select t.id, t.type, t.concurrency_key, t.concurrency_limit, t.type_concurrency_limit, t.rate_key into v_s
      from orchestrator.tasks t
     where t.status = 'queued' and t.suspect and t.parked_on is null and t.run_at <= now()
       and (p_types is null or t.type = any (p_types))
     order by t.priority desc, t.run_at, t.id
     limit 1
     for update skip locked;
    if v_s.id is not null then
      -- Its slot is the batch's last: the ordinary row it displaces stays queued (unlocked at commit).
      v_n := least(coalesce(cardinality(v_ids), 0), v_max - 1);
      v_ids := coalesce(v_ids[1:v_n], '{}') || v_s.id;
      v_ckeys := coalesce(v_ckeys[1:v_n], '{}') || v_s.concurrency_key;
      v_climits := coalesce(v_climits[1:v_n], '{}') || v_s.concurrency_limit;
      v_typenames := coalesce(v_typenames[1:v_n], '{}') || v_s.type;
      v_tlimits := coalesce(v_tlimits[1:v_n], '{}') || v_s.type_concurrency_limit;
      v_rkeys := coalesce(v_rkeys[1:v_n], '{}') || v_s.rate_key;
      v_flow := coalesce(v_flow, false) or v_s.concurrency_key is not null or v_s.type_concurrency_limit is not null or v_s.rate_key is not null;
    end if;
  end if;
  if v_ids is null then
    return '{}';
  end if;
  if not v_flow then
    return v_ids;
  end if;
  return orchestrator.claim_flow_filter(v_ids, v_ckeys, v_climits, v_typenames, v_tlimits, v_rkeys);
end
$$;

alter function orchestrator.claim(text, integer, numeric, text[], jsonb, boolean)
  set plan_cache_mode = force_generic_plan;

alter function orchestrator.propagate_changes() set plan_cache_mode = auto;
