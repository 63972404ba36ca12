-- Batch forms for the streaming worker (functions/_shared/worker.ts), so a
-- worker's round trips stay per batch, never per task:
--   fail_many(ids, tokens, errors, retryables)  fail() for many tasks in one call
--   extend_leases(ids, tokens, type_leases, lease_seconds)
--                                               renew the leases of claimed tasks that waited
--                                               in the worker before starting
--   release_tasks(ids, tokens)                  hand claimed-but-never-started tasks back
-- All three act only for the holder of the current lease token, like complete().

-- fail_many -> (id, status) per task: 'queued' (retry scheduled), 'dead', or 'stale'.
-- Each task goes through orchestrator.fail(), so backoff, dead-lettering and the
-- triggers behave exactly as for a single fail().
create function orchestrator.fail_many(p_ids bigint[], p_lease_tokens uuid[], p_errors text[], p_retryables boolean[])
returns table (id bigint, status text)
language sql as $$
  select d.id, orchestrator.fail(d.id, d.token, d.error, d.retryable)
  from unnest(p_ids, p_lease_tokens, p_errors, p_retryables) with ordinality as d(id, token, error, retryable, n)
  order by d.n
$$;

-- extend_leases -> (id, locked_until) for every task whose lease this call renewed;
-- a missing id lost its lease (reaped, cancelled or finished elsewhere): do not run it.
create function orchestrator.extend_leases(
  p_ids bigint[],
  p_lease_tokens uuid[],
  p_type_leases jsonb default null,
  p_lease_seconds numeric default 60
) returns table (id bigint, locked_until timestamptz)
language sql as $$
  update orchestrator.tasks t
     set locked_until = now() + make_interval(secs => greatest(
           coalesce((p_type_leases ->> t.type)::numeric, p_lease_seconds, 60), 1)),
         updated_at = now()
    from unnest(p_ids, p_lease_tokens) as d(id, token)
   where t.id = d.id and t.status = 'running' and t.lease_token = d.token
  returning t.id, t.locked_until
$$;

-- release_tasks -> the ids put back in the queue. The attempt never started, so
-- it is not counted: attempts goes back down and run_at is unchanged.
create function orchestrator.release_tasks(p_ids bigint[], p_lease_tokens uuid[])
returns setof bigint
language sql as $$
  update orchestrator.tasks t
     set status = 'queued', attempts = greatest(t.attempts - 1, 0), started_at = null,
         locked_by = null, locked_until = null, lease_token = null, updated_at = now()
    from unnest(p_ids, p_lease_tokens) as d(id, token)
   where t.id = d.id and t.status = 'running' and t.lease_token = d.token
  returning t.id
$$;

revoke all on function orchestrator.fail_many(bigint[], uuid[], text[], boolean[]) from public;
revoke all on function orchestrator.extend_leases(bigint[], uuid[], jsonb, numeric) from public;
revoke all on function orchestrator.release_tasks(bigint[], uuid[]) from public;
grant execute on function orchestrator.fail_many(bigint[], uuid[], text[], boolean[]) to service_role;
grant execute on function orchestrator.extend_leases(bigint[], uuid[], jsonb, numeric) to service_role;
grant execute on function orchestrator.release_tasks(bigint[], uuid[]) to service_role;
