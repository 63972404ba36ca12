-- No wake-up while a worker is known to be listening (issue 13).
--
-- Every statement that inserted runnable tasks sent a pg_net wake-up, so at 100 tasks/s
-- the latency bench paid one Edge invocation per task (hosted Supabase bills them), each
-- an HTTP hop, a function run and its queries, while a worker that lingered in a warm
-- isolate had already claimed the task from the orchestrator_task_ready NOTIFY.
--
-- Now a lingering worker says so: a row in worker_presence, kept fresh by its isolate
-- (`until` a few seconds ahead, renewed every second). The insert trigger sends the
-- NOTIFY always, and the wake-up only when no live presence row exists.
--
-- No task may be left with neither: a worker that stops listening ends its presence with
-- presence_end(), which deletes the row and then looks for runnable tasks, waking a worker
-- for them. The trigger reads the presence row FOR KEY SHARE, which the DELETE must wait
-- for: so every insert that saw the row (and sent no wake-up) has committed before
-- presence_end() looks, and sees its tasks; an insert after the delete sees no row and
-- wakes. SKIP LOCKED keeps an insert from waiting on a row being deleted (it counts as
-- absent: a wake-up is sent). An isolate that dies without ending its presence (a kill)
-- stops renewing it: its row is dead within PRESENCE seconds, and the local gateway ends
-- it at once (isolate_terminated's report); the sweep wakes a worker for what is queued.

create unlogged table orchestrator.worker_presence (
  isolate text primary key,
  until timestamptz not null,
  since timestamptz not null default now()
);
alter table orchestrator.worker_presence enable row level security;
comment on table orchestrator.worker_presence is
  'Isolates whose worker listens for orchestrator_task_ready now: while one is live (until > now()), inserts send no wake-up.';

-- Starts or renews the presence of an isolate's listening worker for p_seconds.
create function orchestrator.presence_renew(p_isolate text, p_seconds numeric default 3)
returns void
language sql as $$
  insert into orchestrator.worker_presence (isolate, until)
  values (p_isolate, now() + make_interval(secs => least(greatest(p_seconds, 0.5), 30)))
  on conflict (isolate) do update set until = excluded.until
$$;

-- Ends it; then, if any task is runnable now, wakes a worker (p_reason) for it. Returns
-- whether one was woken.
create function orchestrator.presence_end(p_isolate text, p_reason text default 'presence_end')
returns boolean
language plpgsql as $$
begin
  delete from orchestrator.worker_presence where isolate = p_isolate;
  -- A new statement, a new snapshot: it sees every insert that held the row.
  if exists (select 1 from orchestrator.tasks where status = 'queued' and run_at <= now()) then
    return orchestrator.wake_worker(p_reason) is not null;
  end if;
  return false;
end
$$;

-- Whether a worker listens now, holding its presence row FOR KEY SHARE until the caller's
-- transaction ends (see above). Security definer: the apps' roles insert tasks through their
-- triggers, and they have no rights on worker_presence (a row lock needs UPDATE rights).
create function orchestrator.worker_listening()
returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform 1 from orchestrator.worker_presence where until > now() limit 1 for key share skip locked;
  return found;
end
$$;

create or replace function orchestrator.tasks_wake_on_insert()
returns trigger
language plpgsql as $$
begin
  if exists (select 1 from new_tasks where status = 'queued' and run_at <= now()) then
    if not orchestrator.worker_listening() then
      perform orchestrator.wake_worker('insert');
    end if;
    perform pg_notify('orchestrator_task_ready', '');
  end if;
  return null;
end
$$;

revoke all on table orchestrator.worker_presence from public, anon, authenticated;
grant select on table orchestrator.worker_presence to service_role;
revoke all on function orchestrator.presence_renew(text, numeric) from public;
revoke all on function orchestrator.presence_end(text, text) from public;
revoke all on function orchestrator.worker_listening() from public;
grant execute on function orchestrator.presence_renew(text, numeric), orchestrator.presence_end(text, text),
  orchestrator.worker_listening() to service_role;
