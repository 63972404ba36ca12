-- The claim's group probes read one entry of the claim index, whatever the statistics say (issue 13).
--
-- claim_pick_ids() found the groups' range with max(group_key) and min(group_key). PostgreSQL
-- answers those from one end of an index only when it expects that to be cheaper than reading the
-- whole index; with statistics that say the table is (nearly) empty, as they do after a truncate
-- or in a fresh project until autovacuum's first ANALYZE, both plans cost the same and it reads
-- every queued task's entry instead. The plan is kept for the session (hot_path_plans), so every
-- claim paid it: 7 ms for one probe with 20,000 queued, 91-152 ms of the 760-920 ms that 20 claims
-- of a 20,000-task run took (pg_stat_statements, one private stack). Written as ORDER BY … LIMIT 1
-- over the claim index, each probe reads one entry under any statistics: 0.05-0.14 ms.
--
-- Nothing else changes: the function is 20261204000100_hot_path_plans.sql's with its probes rewritten.

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
  select group_key into v_hi
    from orchestrator.tasks where status = 'queued' and parked_on is null
   order by group_key desc limit 1;
  if v_hi is null then
    return '{}';
  end if;
  v_lo := v_hi;
  if v_hi <> '' then
    select group_key into v_lo
      from orchestrator.tasks where status = 'queued' and parked_on is null and group_key < v_hi
     order by group_key desc limit 1;
    if v_lo is null then
      v_lo := v_hi;
    else
      select group_key into v_lo
        from orchestrator.tasks where status = 'queued' and parked_on is null
       order by group_key limit 1;
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
      select (select t.group_key from orchestrator.tasks t
               where t.status = 'queued' and t.parked_on is null and t.group_key > groups.g
               order by t.group_key limit 1)
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
