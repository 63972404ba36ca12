-- check_wakeups() reads only the responses since the oldest open wake-up.
--
-- pg_net keeps six hours of answers in net._http_response and indexes them by `created` only, so
-- joining on the request id alone scanned every kept answer on every sweep (every 10 s). An answer is
-- recorded after its request was sent, so the window from the oldest open wake-up is enough, and the
-- time index serves it.

create or replace function orchestrator.check_wakeups()
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

revoke all on function orchestrator.check_wakeups() from public;
grant execute on function orchestrator.check_wakeups() to service_role;
