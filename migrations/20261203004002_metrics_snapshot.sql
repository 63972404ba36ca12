-- GET /metrics reads one function: metrics_snapshot(), a single SQL statement, so every number in a
-- scrape comes from one snapshot of the database (queue depths, durations, counters agree with each
-- other, and with any query a caller runs in the same snapshot). Rows are (metric, labels, value);
-- functions/_shared/metrics.ts gives them HELP/TYPE and the text format. No secret is read: labels are
-- task types, statuses, reasons, bucket, concurrency key and schedule names.

-- The Notion and AI buckets' state, alone in its own small function: the token buckets of
-- orchestrator.rate_limits (the Notion client's per-request buckets and flow control's rate keys) and
-- flow control's concurrency keys (the AI cap is the key "ai").
create function orchestrator.metrics_flow_control()
returns table (metric text, labels jsonb, value double precision)
language sql stable as $$
  -- How far ahead of now a bucket's theoretical arrival time is: the wait a new request has (0 = free).
  select 'orchestrator_rate_limit_backlog_seconds', jsonb_build_object('bucket', r.bucket),
         greatest(extract(epoch from r.tat - now()), 0)::float8
  from orchestrator.rate_limits r
  union all
  select 'orchestrator_rate_limit_granted_total', jsonb_build_object('bucket', r.bucket), r.granted::float8
  from orchestrator.rate_limits r
  union all
  -- Flow control's concurrency keys (20261203001000_flow_control.sql; the AI cap is the key "ai"):
  -- running and parked tasks, and the limit, per key with either. A type's limit is the key "type:<type>".
  select m.metric, jsonb_build_object('key', k.key), m.value
  from (
    select coalesce(r.key, p.key) as key, coalesce(r.running, 0) as running, coalesce(p.parked, 0) as parked,
           coalesce(r.lim, p.lim) as lim
    from (select 'key:' || concurrency_key as key, count(*) as running, max(concurrency_limit) as lim
            from orchestrator.tasks where status = 'running' and concurrency_key is not null group by 1
          union all
          select 'type:' || type, count(*), max(type_concurrency_limit)
            from orchestrator.tasks where status = 'running' and type_concurrency_limit is not null group by 1) r
    full join (select parked_on as key, count(*) as parked,
                      max(case when parked_on like 'key:%' then concurrency_limit else type_concurrency_limit end) as lim
                 from orchestrator.tasks where status = 'queued' and parked_on is not null group by 1) p on p.key = r.key
  ) k
  cross join lateral (values ('orchestrator_concurrency_running', k.running::float8),
                             ('orchestrator_concurrency_parked', k.parked::float8),
                             ('orchestrator_concurrency_limit', k.lim::float8)) as m(metric, value)
$$;

create function orchestrator.metrics_snapshot()
returns table (metric text, labels jsonb, value double precision)
language sql stable as $$
  with by_type_status as (
    select t.type, t.status::text as status, count(*) as n,
           sum(case when t.status = 'queued' then t.attempts else greatest(t.attempts - 1, 0) end) as retries,
           min(t.run_at) filter (where t.status = 'queued' and t.run_at <= now()) as oldest_runnable
    from orchestrator.tasks t
    group by t.type, t.status
  ), durations as (
    select t.type, t.status::text as outcome, extract(epoch from t.finished_at - t.started_at)::float8 as s
    from orchestrator.tasks t
    where t.status in ('succeeded', 'dead', 'cancelled') and t.started_at is not null and t.finished_at >= t.started_at
  ), bounds as (
    select le::text as le, le::float8 as bound
    from unnest(array['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '30', '60', '300']) as le
  ), edge as (
    select l.context ->> 'event' as event, l.context ->> 'reason' as reason, count(*) as n
    from orchestrator.logs l
    where l.component = 'edge-runtime' and l.context ? 'reason' and l.context ->> 'event' in ('shutdown', 'retire')
    group by 1, 2
  )
  select 'orchestrator_tasks', jsonb_build_object('type', b.type, 'status', b.status), b.n::float8 from by_type_status b
  union all
  select 'orchestrator_queue_oldest_age_seconds', jsonb_build_object('type', b.type),
         greatest(extract(epoch from now() - b.oldest_runnable), 0)::float8
  from by_type_status b where b.oldest_runnable is not null
  union all
  select 'orchestrator_task_retries_total', jsonb_build_object('type', b.type), sum(b.retries)::float8
  from by_type_status b group by b.type
  union all
  select 'orchestrator_tasks_dead_total', jsonb_build_object('type', b.type), b.n::float8
  from by_type_status b where b.status = 'dead'
  union all
  select 'orchestrator_task_duration_seconds_bucket', jsonb_build_object('type', d.type, 'outcome', d.outcome, 'le', k.le),
         count(*) filter (where d.s <= k.bound)::float8
  from durations d cross join bounds k group by d.type, d.outcome, k.le
  union all
  select 'orchestrator_task_duration_seconds_bucket', jsonb_build_object('type', d.type, 'outcome', d.outcome, 'le', '+Inf'), count(*)::float8
  from durations d group by d.type, d.outcome
  union all
  select 'orchestrator_task_duration_seconds_sum', jsonb_build_object('type', d.type, 'outcome', d.outcome), sum(d.s)
  from durations d group by d.type, d.outcome
  union all
  select 'orchestrator_task_duration_seconds_count', jsonb_build_object('type', d.type, 'outcome', d.outcome), count(*)::float8
  from durations d group by d.type, d.outcome
  union all
  -- task-worker invocations through pg_net (wake-ups on insert, hand-offs, sweeps), by reason, over
  -- the 10 minutes orchestrator.wakeup_requests keeps them.
  select 'orchestrator_worker_invocations_recent', jsonb_build_object('reason', w.reason), count(*)::float8
  from orchestrator.wakeup_requests w group by w.reason
  union all
  -- User workers the runtime stopped, by reason (CPUTime, WallClockTime, Memory: limit terminations;
  -- others are ordinary ends), and isolates retired at their soft limit, over the rows logs retention keeps.
  select 'orchestrator_worker_terminations_total', jsonb_build_object('reason', e.reason), e.n::float8
  from edge e where e.event = 'shutdown'
  union all
  select 'orchestrator_worker_retirements_total', jsonb_build_object('reason', e.reason), e.n::float8
  from edge e where e.event = 'retire'
  union all
  select 'orchestrator_workers_listening', '{}'::jsonb,
         (select count(*) from orchestrator.worker_presence p where p.until > now())::float8
  union all
  select 'orchestrator_pg_net_queue_depth', '{}'::jsonb, (select count(*) from net.http_request_queue)::float8
  union all
  select 'orchestrator_schedule_enabled', jsonb_build_object('schedule', s.name), (case when s.enabled then 1 else 0 end)::float8
  from orchestrator.schedules s
  union all
  select 'orchestrator_schedule_last_tick_timestamp_seconds', jsonb_build_object('schedule', s.name), extract(epoch from max(r.tick))::float8
  from orchestrator.schedules s join orchestrator.schedule_runs r on r.schedule_id = s.id group by s.name
  union all
  select f.metric, f.labels, f.value from orchestrator.metrics_flow_control() f
$$;

comment on function orchestrator.metrics_snapshot() is
  'GET /metrics: every metric as (metric, labels, value) rows, from one statement (one snapshot).';

revoke all on function orchestrator.metrics_flow_control() from public;
revoke all on function orchestrator.metrics_snapshot() from public;
grant execute on function orchestrator.metrics_flow_control(), orchestrator.metrics_snapshot() to service_role;
