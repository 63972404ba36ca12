-- claim() commits asynchronously when its caller asks, without a second statement for it (issue 13).
--
-- The worker's claim ran `select … from (select set_config('synchronous_commit', 'off', true)) as
-- async_commit, orchestrator.claim(…) as c`: the join was there only to switch the transaction to
-- asynchronous commit (why that is safe for a claim: functions/_shared/queue.ts, claimTasks), and it
-- cost a join to parse, analyze and plan on every claim, since nothing is prepared through a
-- transaction pooler. claim() now takes p_commit_async and makes the same transaction-local setting
-- itself; the default stays a durable commit, so a caller whose transaction does more than claim
-- keeps its commit as it was. Measured on one private stack with 1,000,000 queued tasks, one task a
-- claim, the two forms in turn on their own connections (medians of 7 blocks of 200):
-- backend CPU 367 → 332 µs a claim, wall p50 0.470 → 0.438 ms.
--
-- The signature changes, so the old claim() is dropped (an overload with the same leading arguments
-- would make every call ambiguous); its grants are given again below. Also: the fast path is no
-- longer wrapped in a bare BEGIN … END block, which held nothing of its own.

drop function orchestrator.claim(text, integer, numeric, text[], jsonb, boolean);

create function orchestrator.claim(
  p_worker text,
  p_max_count integer default 1,
  p_lease_seconds numeric default 60,
  p_types text[] default null,
  p_type_leases jsonb default null,
  p_take_suspect boolean default false,
  p_commit_async boolean default false
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
  if p_commit_async then
    -- Transaction-local, so it outlasts this function's own SET clauses (they cover only the
    -- settings they name) and ends with the caller's transaction.
    perform set_config('synchronous_commit', 'off', true);
  end if;
  if v_max = 0 then
    return;
  end if;
  -- The common case in one statement: one group (''), no suspect to take, and no flow-controlled
  -- task among the rows at the head. Otherwise, or when it finds nothing, the general path below
  -- (the rows this statement locked stay locked by this transaction and are picked again there).
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

revoke all on function orchestrator.claim(text, integer, numeric, text[], jsonb, boolean, boolean) from public;
grant execute on function orchestrator.claim(text, integer, numeric, text[], jsonb, boolean, boolean) to service_role;
