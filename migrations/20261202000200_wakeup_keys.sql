-- Wake-ups with either key system, and no silent 401 (issue 12, "keys as hosted").
--
-- The new API keys (sb_secret_…) are not JWTs: they travel in the `apikey` header, and a
-- function reached with them has verify_jwt = false and checks the key itself. The wake-up used
-- to send only `Authorization: Bearer <key>`, so after the key migration every wake-up was a
-- 401 that nobody saw: pg_net records the answer in net._http_response and moves on.
-- Now:
--   - wake_worker sends the Vault key as `apikey` always, and as `Authorization: Bearer` too
--     when it is a JWT (a legacy service_role key; a function with verify_jwt = true needs it);
--   - each wake-up's pg_net request id is remembered (orchestrator.wakeup_requests), and
--     check_wakeups(), run by every sweep, reads their answers: a refused one (401/403) is an
--     error row in orchestrator.logs (component 'wakeup') that says what to fix, other failures
--     (5xx, timeouts, connection errors) a warn row; wakeup_status() sums them up for /health.

-- Unlogged like pg_net's own queue: after a crash the ids are gone, and so are the requests.
create unlogged table orchestrator.wakeup_requests (
  request_id bigint primary key,
  reason text not null,
  sent_at timestamptz not null default now()
);
alter table orchestrator.wakeup_requests enable row level security;

-- What the checks found, kept for /health (one row per answered wake-up that failed).
create table orchestrator.wakeup_failures (
  request_id bigint primary key,
  reason text not null,
  sent_at timestamptz not null,
  answered_at timestamptz not null,
  status_code integer,
  error text
);
create index wakeup_failures_answered_idx on orchestrator.wakeup_failures (answered_at);
alter table orchestrator.wakeup_failures enable row level security;

-- A JWT is three base64url parts; the new keys (sb_secret_…) are not.
create function orchestrator.is_jwt(p_key text)
returns boolean
language sql immutable as $$
  select p_key ~ '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$'
$$;

create or replace function orchestrator.wake_worker(p_reason text default 'manual')
returns bigint
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_url text;
  v_key text;
  v_headers jsonb;
  v_id bigint;
begin
  select decrypted_secret into v_url from vault.decrypted_secrets where name = 'project_url';
  select decrypted_secret into v_key from vault.decrypted_secrets where name = 'service_role_key';
  if v_url is null or v_key is null then
    return null;
  end if;
  v_headers := jsonb_build_object('Content-Type', 'application/json', 'apikey', v_key);
  if orchestrator.is_jwt(v_key) then
    v_headers := v_headers || jsonb_build_object('Authorization', 'Bearer ' || v_key);
  end if;
  v_id := net.http_post(
    url := rtrim(v_url, '/') || '/functions/v1/task-worker',
    body := jsonb_build_object('reason', p_reason, 'background', true),
    headers := v_headers,
    timeout_milliseconds := 5000
  );
  insert into orchestrator.wakeup_requests (request_id, reason) values (v_id, p_reason)
  on conflict (request_id) do nothing;
  return v_id;
exception when others then
  raise warning 'orchestrator.wake_worker(%): could not send the wake-up: %', p_reason, sqlerrm;
  return null;
end
$$;

-- Reads the answers to the wake-ups sent so far: every failed one becomes a log row (refused:
-- error; other failures: warn) and a wakeup_failures row. Answered ids are forgotten; ids with no
-- answer after 10 minutes too (pg_net gave up on them, or the dispatcher lost them in a crash).
-- Returns how many were refused (401/403). pg_net indexes net._http_response by `created` only (six hours
-- of answers), so it reads only the window since the oldest open wake-up: an answer comes after its request.
create function orchestrator.check_wakeups()
returns integer
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_refused integer := 0;
  r record;
begin
  for r in
    with answered as (
      delete from orchestrator.wakeup_requests w
      using net._http_response h
      where h.id = w.request_id
        -- pg_net indexes its responses by time only: read just the window since the oldest wake-up still open.
        and h.created >= (select min(sent_at) from orchestrator.wakeup_requests)
      returning w.request_id, w.reason, w.sent_at, h.status_code, h.timed_out, h.error_msg, left(h.content, 500) as content, h.created
    )
    select * from answered
    where status_code is null or status_code >= 400 or timed_out or error_msg is not null
  loop
    insert into orchestrator.wakeup_failures (request_id, reason, sent_at, answered_at, status_code, error)
    values (r.request_id, r.reason, r.sent_at, r.created, r.status_code, coalesce(r.error_msg, r.content))
    on conflict (request_id) do nothing;
    if r.status_code in (401, 403) then
      v_refused := v_refused + 1;
      insert into orchestrator.logs (level, component, message, context)
      values ('error', 'wakeup',
        format('wake-up refused with %s by task-worker: no task runs from wake-ups until this is fixed. '
          || 'Store a key the function accepts with orchestrator.set_worker_endpoint(<project url>, <key>): '
          || 'the secret key (sb_secret_…) or the legacy service_role key; with the new keys task-worker '
          || 'needs verify_jwt = false (supabase/config.toml).', r.status_code),
        jsonb_build_object('request_id', r.request_id, 'reason', r.reason, 'status', r.status_code,
          'sent_at', r.sent_at, 'response', left(r.content, 300)));
    else
      insert into orchestrator.logs (level, component, message, context)
      values ('warn', 'wakeup',
        format('wake-up failed (%s): the sweep retries it', coalesce(r.status_code::text, case when r.timed_out then 'timed out' else 'no answer' end)),
        jsonb_build_object('request_id', r.request_id, 'reason', r.reason, 'status', r.status_code,
          'error', coalesce(r.error_msg, left(r.content, 300))));
    end if;
  end loop;
  delete from orchestrator.wakeup_requests where sent_at < now() - interval '10 minutes';
  delete from orchestrator.wakeup_failures where answered_at < now() - interval '7 days';
  return v_refused;
end
$$;

-- For /health: refused and failed wake-ups in the last hour, and the latest refusal.
create function orchestrator.wakeup_status()
returns jsonb
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
  select jsonb_build_object(
    'refused_last_hour', count(*) filter (where status_code in (401, 403) and answered_at > now() - interval '1 hour'),
    'failed_last_hour', count(*) filter (where answered_at > now() - interval '1 hour'),
    'last_refused_at', max(answered_at) filter (where status_code in (401, 403)),
    'last_refused_status', (array_agg(status_code order by answered_at desc) filter (where status_code in (401, 403)))[1]
  )
  from orchestrator.wakeup_failures
$$;

-- The sweep (pg_cron every 10 s, or the local stack's ticker) reads the wake-ups' answers first.
create or replace function orchestrator.sweep()
returns bigint
language plpgsql as $$
begin
  perform orchestrator.check_wakeups();
  perform orchestrator.reap();
  if exists (select 1 from orchestrator.tasks where status = 'queued' and run_at <= now()) then
    return orchestrator.wake_worker('cron');
  end if;
  return null;
end
$$;

revoke all on table orchestrator.wakeup_requests, orchestrator.wakeup_failures from public, anon, authenticated;
grant select on table orchestrator.wakeup_failures to service_role;
revoke all on function orchestrator.is_jwt(text) from public;
revoke all on function orchestrator.wake_worker(text) from public;
revoke all on function orchestrator.check_wakeups() from public;
revoke all on function orchestrator.wakeup_status() from public;
revoke all on function orchestrator.sweep() from public;
grant execute on function orchestrator.wake_worker(text), orchestrator.check_wakeups(), orchestrator.wakeup_status(),
  orchestrator.sweep(), orchestrator.is_jwt(text) to service_role;
