-- The queue contract. Triggers, cron, Edge Functions and psql all go through
-- these functions, so there is one truth about how a task moves:
--
--   queued --claim--> running --complete--> succeeded
--                        |  \--fail(retryable, attempts < max)--> queued (run_at = now() + backoff)
--                        |   \-fail(not retryable or attempts = max)--> dead
--                        \--lease expired, reap()--> queued (or dead at max attempts)
--   queued|running --cancel--> cancelled;   dead|cancelled --retry--> queued (attempts reset)
--
-- Delivery is at least once: a task whose worker dies is run again after its
-- lease expires, so handlers must be idempotent. Only the holder of the current
-- lease token may finish a task; a stale token changes nothing and says so.

-- Retry backoff with "equal jitter":
--   delay = least(3600, base * 2^(attempts - 1)) * (0.5 + random() / 2)   seconds
-- base = tasks.backoff_base_seconds (default 2): ~1-2 s, 2-4 s, 4-8 s, 8-16 s, …, capped at one hour.
-- The jitter spreads retries of tasks that failed together (say, a provider outage).
create function orchestrator.retry_delay(p_attempts integer, p_base_seconds numeric)
returns interval
language sql volatile as $$
  select make_interval(secs => least(3600, p_base_seconds * power(2, greatest(p_attempts, 1) - 1))
                                * (0.5 + random() / 2))
$$;

-- enqueue(type, payload, opts) -> (task, created)
-- opts: priority, run_at, max_attempts, dedupe_key, source, parent_id, backoff_base_seconds.
-- With a dedupe_key that a queued or running task already holds, returns that
-- task with created = false instead of inserting.
create function orchestrator.enqueue(
  p_type text,
  p_payload jsonb default '{}'::jsonb,
  p_opts jsonb default '{}'::jsonb,
  out task orchestrator.tasks,
  out created boolean
)
language plpgsql as $$
declare
  v_opts jsonb := coalesce(p_opts, '{}'::jsonb);
  v_key text;
begin
  if p_type is null or p_type !~ '^[a-z][a-z0-9_.:-]{0,63}$' then
    raise exception using errcode = '22023',
      message = format('invalid task type %L', p_type),
      hint = 'A task type is 1-64 characters: a lowercase letter, then lowercase letters, digits, "_", ".", ":" or "-".';
  end if;
  if jsonb_typeof(v_opts) <> 'object' then
    raise exception using errcode = '22023', message = 'enqueue options must be a JSON object';
  end if;
  if p_payload is not null and jsonb_typeof(p_payload) <> 'object' then
    raise exception using errcode = '22023', message = 'task payload must be a JSON object';
  end if;
  v_key := v_opts ->> 'dedupe_key';

  loop
    insert into orchestrator.tasks (type, payload, priority, run_at, max_attempts, backoff_base_seconds, dedupe_key, source, parent_id)
    values (
      p_type,
      coalesce(p_payload, '{}'::jsonb),
      coalesce((v_opts ->> 'priority')::integer, 0),
      coalesce((v_opts ->> 'run_at')::timestamptz, now()),
      coalesce((v_opts ->> 'max_attempts')::integer, 5),
      coalesce((v_opts ->> 'backoff_base_seconds')::numeric, 2),
      v_key,
      coalesce(v_opts ->> 'source', 'sql'),
      (v_opts ->> 'parent_id')::bigint
    )
    on conflict (dedupe_key) where dedupe_key is not null and status in ('queued', 'running') do nothing
    returning * into task;
    if found then
      created := true;
      return;
    end if;

    select * into task from orchestrator.tasks
    where dedupe_key = v_key and status in ('queued', 'running');
    if found then
      created := false;
      return;
    end if;
    -- The live holder of the key finished between our insert and our select: insert again.
  end loop;
end
$$;

-- enqueue_many(type, payloads, opts): one INSERT for a batch (one wake-up for all of it).
-- No dedupe: batch producers that need dedupe call enqueue per task.
create function orchestrator.enqueue_many(
  p_type text,
  p_payloads jsonb[],
  p_opts jsonb default '{}'::jsonb
) returns setof orchestrator.tasks
language sql as $$
  insert into orchestrator.tasks (type, payload, priority, run_at, max_attempts, backoff_base_seconds, source)
  select p_type, coalesce(p, '{}'::jsonb),
         coalesce((p_opts ->> 'priority')::integer, 0),
         coalesce((p_opts ->> 'run_at')::timestamptz, now()),
         coalesce((p_opts ->> 'max_attempts')::integer, 5),
         coalesce((p_opts ->> 'backoff_base_seconds')::numeric, 2),
         coalesce(p_opts ->> 'source', 'sql')
  from unnest(p_payloads) as p
  returning *
$$;

-- claim(worker, max_count, lease_seconds, types, type_leases): one statement, a batch per call.
-- SKIP LOCKED lets any number of workers claim at once without waiting on each
-- other or taking the same row twice. type_leases ({"type": seconds}) gives a
-- type its own lease (a slow type needs a longer one); others get lease_seconds.
create function orchestrator.claim(
  p_worker text,
  p_max_count integer default 1,
  p_lease_seconds numeric default 60,
  p_types text[] default null,
  p_type_leases jsonb default null
) returns setof orchestrator.tasks
language sql as $$
  with picked as (
    select id from orchestrator.tasks
    where status = 'queued' and run_at <= now()
      and (p_types is null or type = any (p_types))
    order by priority desc, run_at, id
    limit greatest(least(coalesce(p_max_count, 1), 1000), 0)
    for update skip locked
  )
  update orchestrator.tasks t
     set status = 'running',
         attempts = t.attempts + 1,
         locked_by = p_worker,
         locked_until = now() + make_interval(secs => greatest(
           coalesce((p_type_leases ->> t.type)::numeric, p_lease_seconds, 60), 1)),
         lease_token = gen_random_uuid(),
         started_at = now(),
         updated_at = now()
    from picked
   where t.id = picked.id
  returning t.*
$$;

-- complete(id, lease_token, result) -> true when this call finished the task,
-- false (and a NOTICE) when the token is stale: lease reaped, task cancelled, or finished already.
create function orchestrator.complete(p_id bigint, p_lease_token uuid, p_result jsonb default null)
returns boolean
language plpgsql as $$
begin
  update orchestrator.tasks
     set status = 'succeeded', result = p_result, finished_at = now(), updated_at = now(),
         locked_by = null, locked_until = null, lease_token = null
   where id = p_id and status = 'running' and lease_token = p_lease_token;
  if found then
    return true;
  end if;
  raise notice 'orchestrator.complete(%): stale lease token, nothing changed (lease expired, task cancelled, or already finished)', p_id;
  return false;
end
$$;

-- complete_many: the batch form of complete for workers that finish many tasks
-- at once. Returns the ids it finished; ids missing from the result had stale tokens.
create function orchestrator.complete_many(p_ids bigint[], p_lease_tokens uuid[], p_results jsonb[])
returns setof bigint
language sql as $$
  update orchestrator.tasks t
     set status = 'succeeded', result = d.result, finished_at = now(), updated_at = now(),
         locked_by = null, locked_until = null, lease_token = null
    from unnest(p_ids, p_lease_tokens, p_results) as d(id, token, result)
   where t.id = d.id and t.status = 'running' and t.lease_token = d.token
  returning t.id
$$;

-- fail(id, lease_token, error, retryable) -> 'queued' (retry scheduled with backoff),
-- 'dead' (not retryable, or max_attempts reached), or 'stale' (nothing changed).
create function orchestrator.fail(p_id bigint, p_lease_token uuid, p_error text, p_retryable boolean default true)
returns text
language plpgsql as $$
declare
  v_status orchestrator.task_status;
begin
  update orchestrator.tasks t
     set status = case when coalesce(p_retryable, true) and t.attempts < t.max_attempts
                       then 'queued'::orchestrator.task_status else 'dead'::orchestrator.task_status end,
         run_at = case when coalesce(p_retryable, true) and t.attempts < t.max_attempts
                       then now() + orchestrator.retry_delay(t.attempts, t.backoff_base_seconds) else t.run_at end,
         finished_at = case when coalesce(p_retryable, true) and t.attempts < t.max_attempts then null else now() end,
         last_error = left(coalesce(p_error, 'unknown error'), 10000),
         locked_by = null, locked_until = null, lease_token = null, updated_at = now()
   where t.id = p_id and t.status = 'running' and t.lease_token = p_lease_token
  returning t.status into v_status;
  if found then
    return v_status::text;
  end if;
  raise notice 'orchestrator.fail(%): stale lease token, nothing changed (lease expired, task cancelled, or already finished)', p_id;
  return 'stale';
end
$$;

-- reap(): running tasks whose lease expired (their worker died or hung) go back
-- to queued, or to dead when that was their last attempt. Returns how many.
create function orchestrator.reap()
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
           last_error = format('lease expired: worker %s did not finish attempt %s before %s',
                               coalesce(t.locked_by, '?'), t.attempts, t.locked_until),
           run_at = now(),
           locked_by = null, locked_until = null, lease_token = null, updated_at = now()
      from expired
     where t.id = expired.id
    returning 1
  )
  select count(*)::integer from moved
$$;

-- cancel(id) -> the cancelled task, or no row when it is not queued/running.
-- A running task's lease is revoked, so its worker's complete/fail is a no-op.
create function orchestrator.cancel(p_id bigint)
returns setof orchestrator.tasks
language sql as $$
  update orchestrator.tasks
     set status = 'cancelled', finished_at = now(), updated_at = now(),
         locked_by = null, locked_until = null, lease_token = null
   where id = p_id and status in ('queued', 'running')
  returning *
$$;

-- The worker wake-up: one pg_net request to the task-worker function. URL and
-- key come from Vault (set them with orchestrator.set_worker_endpoint). Never
-- raises: a wake-up that cannot be sent must not fail the insert that caused it;
-- the cron sweep picks the work up instead.
create function orchestrator.wake_worker(p_reason text default 'manual')
returns bigint
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_url text;
  v_key text;
begin
  select decrypted_secret into v_url from vault.decrypted_secrets where name = 'project_url';
  select decrypted_secret into v_key from vault.decrypted_secrets where name = 'service_role_key';
  if v_url is null or v_key is null then
    return null;
  end if;
  return net.http_post(
    url := rtrim(v_url, '/') || '/functions/v1/task-worker',
    body := jsonb_build_object('reason', p_reason, 'background', true),
    headers := jsonb_build_object('Content-Type', 'application/json', 'Authorization', 'Bearer ' || v_key),
    timeout_milliseconds := 5000
  );
exception when others then
  raise warning 'orchestrator.wake_worker(%): could not send the wake-up: %', p_reason, sqlerrm;
  return null;
end
$$;

-- retry(id) -> the task queued again with a fresh set of attempts, or no row when
-- it is not dead/cancelled. Raises unique_violation if another live task now
-- holds its dedupe_key.
create function orchestrator.retry(p_id bigint)
returns setof orchestrator.tasks
language plpgsql as $$
begin
  return query
  update orchestrator.tasks
     set status = 'queued', attempts = 0, run_at = now(), finished_at = null, result = null,
         updated_at = now()
   where id = p_id and status in ('dead', 'cancelled')
  returning *;
  if found then
    perform orchestrator.wake_worker('retry');
  end if;
end
$$;

-- Where the wake-ups go: stores the project URL and the service key in Vault
-- (hosted: run once after deploying; the local stack runs it on every start).
create function orchestrator.set_worker_endpoint(p_project_url text, p_service_role_key text)
returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_id uuid;
begin
  select id into v_id from vault.secrets where name = 'project_url';
  if v_id is null then
    perform vault.create_secret(p_project_url, 'project_url', 'Orchestrator: base URL for wake-ups');
  else
    perform vault.update_secret(v_id, p_project_url);
  end if;
  select id into v_id from vault.secrets where name = 'service_role_key';
  if v_id is null then
    perform vault.create_secret(p_service_role_key, 'service_role_key', 'Orchestrator: key for wake-ups');
  else
    perform vault.update_secret(v_id, p_service_role_key);
  end if;
end
$$;

revoke all on all functions in schema orchestrator from public;
revoke all on function orchestrator.wake_worker(text) from public;
revoke all on function orchestrator.set_worker_endpoint(text, text) from public;
grant execute on all functions in schema orchestrator to service_role;
