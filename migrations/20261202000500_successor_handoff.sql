-- A warm successor before an isolate stops (issue 13).
--
-- An isolate retires at the CPU soft limit: the platform sends new requests to a fresh one,
-- and the retired one finishes what it has. The worker used to stop claiming at its CPU
-- budget and only then wake a fresh invocation: for the few hundred milliseconds that one
-- took to boot, no worker listened, so at 100 tasks/s every insert sent a wake-up (about 40
-- per hand-off) and the tasks inserted meanwhile waited for the boot (the bench's p95/p99).
--
-- Now a worker whose isolate has retired wakes its successor at once (wake_successor) and goes
-- on claiming; it stops once the successor listens (a new presence row sends
-- orchestrator_worker_present) or at its CPU ceiling. What the old one leaves (hand_off,
-- presence_end) goes to a listening worker of another isolate by NOTIFY, which costs no
-- invocation; a wake-up is sent only when no other isolate listens.

-- As before (20261202000400_worker_presence.sql); a new presence also says so on
-- orchestrator_worker_present (payload: the isolate), so the worker it succeeds can stop.
create or replace function orchestrator.presence_renew(p_isolate text, p_seconds numeric default 3)
returns void
language plpgsql as $$
declare
  v_new boolean;
begin
  insert into orchestrator.worker_presence (isolate, until)
  values (p_isolate, now() + make_interval(secs => least(greatest(p_seconds, 0.5), 30)))
  on conflict (isolate) do update set until = excluded.until
  returning xmax = 0 into v_new;
  if v_new then
    perform pg_notify('orchestrator_worker_present', p_isolate);
  end if;
end
$$;

-- Whether a worker of an isolate other than p_isolate listens now.
create function orchestrator.other_worker_listening(p_isolate text)
returns boolean
language sql stable as $$
  select exists (select 1 from orchestrator.worker_presence where isolate <> p_isolate and until > now())
$$;

-- The rest of a stopping isolate's work (tasks of p_types runnable now) goes to another: by
-- NOTIFY when another isolate's worker listens, else by a wake-up (p_reason). Returns
-- 'notified', 'woken', or 'none' (nothing runnable, or no wake-up endpoint configured).
create function orchestrator.hand_off(p_isolate text, p_types text[] default null, p_reason text default 'handoff')
returns text
language plpgsql as $$
begin
  if not exists (select 1 from orchestrator.tasks
                 where status = 'queued' and run_at <= now() and (p_types is null or type = any(p_types))) then
    return 'none';
  end if;
  if orchestrator.other_worker_listening(p_isolate) then
    perform pg_notify('orchestrator_task_ready', '');
    return 'notified';
  end if;
  return case when orchestrator.wake_worker(p_reason) is null then 'none' else 'woken' end;
end
$$;

-- Wakes the successor of a retired isolate, unless another isolate's worker listens already.
-- Returns whether one was woken.
create function orchestrator.wake_successor(p_isolate text)
returns boolean
language sql as $$
  select case when orchestrator.other_worker_listening(p_isolate) then false
              else orchestrator.wake_worker('successor') is not null end
$$;

-- As before (20261202000400_worker_presence.sql), but what is runnable goes through hand_off:
-- when the successor listens already, a NOTIFY, not an invocation.
create or replace function orchestrator.presence_end(p_isolate text, p_reason text default 'presence_end')
returns boolean
language plpgsql as $$
begin
  delete from orchestrator.worker_presence where isolate = p_isolate;
  -- A new statement, a new snapshot: it sees every insert that held the row.
  return orchestrator.hand_off(p_isolate, null, p_reason) <> 'none';
end
$$;

revoke all on function orchestrator.other_worker_listening(text) from public;
revoke all on function orchestrator.hand_off(text, text[], text) from public;
revoke all on function orchestrator.wake_successor(text) from public;
grant execute on function orchestrator.other_worker_listening(text), orchestrator.hand_off(text, text[], text),
  orchestrator.wake_successor(text) to service_role;
