-- W3C trace context (issue "For callers and operators", part 5): one trace id on a piece of work and on
-- everything it causes, so GET /logs?trace_id=… shows it end to end.
--
-- The trace id travels in a transaction-local setting, orchestrator.trace_id, that the functions set first
-- in every transaction they run under a trace (functions/_shared/db.ts: set_config(…, true)). The
-- trace_id columns default to it, so rows made in that transaction by triggers and rules (an event's
-- ticket.open task, a ticket's notion.push and webhook.deliver tasks, a workflow's first steps) take it
-- without any queue function changing its signature. Where Postgres makes work in a later transaction,
-- from a row (a workflow step started when the previous one is completed, a Notion push or a webhook
-- delivery enqueued from a change the worker's completion made), the trace id is copied from that row.
--
-- Where a trace starts:
--   * a request: the caller's traceparent, or a new trace (functions/_shared/router.ts);
--   * an app's insert into a watched table (no header): the session may set orchestrator.trace_id
--     itself; otherwise the first event the transaction stores starts a trace and names it for the rest
--     of the transaction (trace_id_or_start), so its ticket.open task joins it;
--   * a task enqueued outside any trace (pg_cron: schedules, sweeps): a trace of its own.
--
-- The hot path: tasks gets a nullable column whose default is a function call at insert (no trigger,
-- no index, no CHECK: a CHECK would be evaluated again on every claim and completion UPDATE); claim and
-- complete are untouched (claim returns the column with the row it already returns).

-- The trace id this transaction works under, when it is one (32 lowercase hex digits, not all zeros):
-- a session that sets a malformed value starts no broken trace, it is ignored. One expression without a
-- FROM, so the planner inlines it (and trace_id_or_new) into the column default: no function call per row.
create or replace function orchestrator.current_trace_id() returns text
language sql volatile parallel safe as $$
  select case when current_setting('orchestrator.trace_id', true) ~ '^[0-9a-f]{32}$'
               and current_setting('orchestrator.trace_id', true) <> '00000000000000000000000000000000'
              then current_setting('orchestrator.trace_id', true) end
$$;
comment on function orchestrator.current_trace_id() is
  'The W3C trace id this transaction works under (set_config(''orchestrator.trace_id'', …, true)), or null.';

-- 128 random bits as 32 hex digits (gen_random_uuid: 122 of them random, never all zeros).
create or replace function orchestrator.new_trace_id() returns text
language sql volatile parallel safe as $$
  select replace(gen_random_uuid()::text, '-', '')
$$;

-- A task's default: the transaction's trace, else one of its own (a batch enqueued outside a trace is
-- that many independent pieces of work, not one).
create or replace function orchestrator.trace_id_or_new() returns text
language sql volatile parallel safe as $$
  select coalesce(orchestrator.current_trace_id(), orchestrator.new_trace_id())
$$;

-- An event's, ticket's or workflow run's default: the transaction's trace, else a new one that the rest
-- of the transaction joins (the rules' tasks, the ticket's push).
create or replace function orchestrator.trace_id_or_start() returns text
language plpgsql volatile as $$
declare
  v text := orchestrator.current_trace_id();
begin
  if v is null then
    v := orchestrator.new_trace_id();
    perform set_config('orchestrator.trace_id', v, true);
  end if;
  return v;
end
$$;

revoke all on function orchestrator.current_trace_id(), orchestrator.new_trace_id(), orchestrator.trace_id_or_new(),
  orchestrator.trace_id_or_start() from public;
grant execute on function orchestrator.current_trace_id(), orchestrator.new_trace_id(), orchestrator.trace_id_or_new(),
  orchestrator.trace_id_or_start() to service_role;

-- Added without a default, then given one: existing rows stay null (no rewrite of a large table under
-- an exclusive lock); only new rows take the default.
alter table orchestrator.tasks add column trace_id text;
alter table orchestrator.tasks alter column trace_id set default orchestrator.trace_id_or_new();
alter table orchestrator.events add column trace_id text;
alter table orchestrator.events alter column trace_id set default orchestrator.trace_id_or_start();
alter table orchestrator.tickets add column trace_id text;
alter table orchestrator.tickets alter column trace_id set default orchestrator.trace_id_or_start();
alter table orchestrator.workflow_runs add column trace_id text;
alter table orchestrator.workflow_runs alter column trace_id set default orchestrator.trace_id_or_start();
alter table orchestrator.logs add column trace_id text;
alter table orchestrator.logs alter column trace_id set default orchestrator.current_trace_id();

comment on column orchestrator.tasks.trace_id is
  'W3C trace id (32 hex): the request, event or schedule the task comes from; its handler''s logs, writes and outbound calls carry it.';
comment on column orchestrator.logs.trace_id is 'W3C trace id of the work the row is about: GET /logs?trace_id=…';

-- GET /logs?trace_id=…, newest first (keyset on id); rows outside any trace are not indexed.
create index logs_trace_id_idx on orchestrator.logs (trace_id, id desc) where trace_id is not null;

-- A workflow step starts in the transaction that ended the step before it (the worker's complete_many,
-- a pg_cron wake-up), which works under no trace or another one: the step's tasks, child run and
-- approval ticket take the run's trace instead, for the length of the start. (A failed start rolls
-- back its subtransaction in workflow_advance, the setting with it.)
create or replace function orchestrator.workflow_start_step(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb)
returns void language plpgsql as $$
declare
  v_outer text := current_setting('orchestrator.trace_id', true);
  v_trace text;
begin
  select trace_id into v_trace from orchestrator.workflow_runs where id = p_run_id;
  if v_trace is not null then
    perform set_config('orchestrator.trace_id', v_trace, true);
  end if;
  case
    when p_step.kind = 'task' and p_step.map_over is null then perform orchestrator.workflow_start_task(p_run_id, p_step, p_ctx);
    when p_step.kind = 'task' then perform orchestrator.workflow_start_map(p_run_id, p_step, p_ctx);
    when p_step.kind = 'sleep' then perform orchestrator.workflow_start_sleep(p_run_id, p_step, p_ctx);
    when p_step.kind = 'wait_for_event' then perform orchestrator.workflow_start_event_wait(p_run_id, p_step, p_ctx);
    when p_step.kind = 'workflow' then perform orchestrator.workflow_start_child(p_run_id, p_step, p_ctx);
    when p_step.kind = 'approval' then perform orchestrator.workflow_start_approval(p_run_id, p_step, p_ctx);
  end case;
  if v_trace is not null then
    perform set_config('orchestrator.trace_id', coalesce(v_outer, ''), true);
  end if;
end
$$;

-- The Notion push of a row: under the transaction's trace when it has one (a request, a handler), else
-- (a change the worker's completion made, a pg_cron re-push) the trace of the row it pushes.
create or replace function orchestrator.notion_enqueue_pushes(p_entity text, p_keys text[]) returns integer
language plpgsql as $$
declare
  v_count integer;
begin
  insert into orchestrator.tasks (type, payload, priority, max_attempts, backoff_base_seconds, dedupe_key, source, trace_id)
  select 'notion.push', jsonb_build_object('entity', p_entity, 'key', k), -10, 8, 5,
         case when exists (select 1 from orchestrator.tasks t
                           where t.dedupe_key = format('notion.push:%s:%s', p_entity, k) and t.status = 'running')
              then format('notion.push:%s:%s:next', p_entity, k)
              else format('notion.push:%s:%s', p_entity, k) end,
         'notion-sync',
         coalesce(orchestrator.current_trace_id(),
                  case p_entity
                    when 'ticket' then (select tk.trace_id from orchestrator.tickets tk where tk.id = case when k ~ '^[0-9]{1,18}$' then k::bigint end)
                    when 'task' then (select t.trace_id from orchestrator.tasks t where t.id = case when k ~ '^[0-9]{1,18}$' then k::bigint end)
                  end,
                  orchestrator.new_trace_id())
  from (select distinct k from unnest(p_keys) k where k is not null) x
  on conflict (dedupe_key) where dedupe_key is not null and status in ('queued', 'running') do nothing;
  get diagnostics v_count = row_count;
  return v_count;
end
$$;

-- A webhook delivery: under the transaction's trace, else the trace of the task or ticket the event is
-- about (task.succeeded is emitted in the worker's completion, which works under no trace).
create or replace function orchestrator.webhook_emit(p_events jsonb) returns integer
language plpgsql as $$
declare
  v_ids bigint[];
begin
  if p_events is null or jsonb_typeof(p_events) <> 'array' or jsonb_array_length(p_events) = 0
     or not exists (select 1 from orchestrator.webhook_subscriptions where active) then
    return 0;
  end if;
  with ev as (
    select e ->> 'event' as event, coalesce(e -> 'data', '{}'::jsonb) as data, ord
    from jsonb_array_elements(p_events) with ordinality as x(e, ord)
    where e ->> 'event' is not null
  ), ins as (
    insert into orchestrator.webhook_deliveries (subscription_id, event, payload)
    select s.id, ev.event, jsonb_build_object('event', ev.event, 'occurred_at', now(), 'data', ev.data)
    from ev join orchestrator.webhook_subscriptions s
      on s.active and orchestrator.webhook_event_matches(s.events, ev.event)
    order by ev.ord, s.id
    returning id
  )
  select array_agg(id) into v_ids from ins;
  if v_ids is null then
    return 0;
  end if;
  with t as (
    insert into orchestrator.tasks (type, payload, max_attempts, backoff_base_seconds, source, trace_id)
    select 'webhook.deliver', jsonb_build_object('delivery_id', d.id), s.max_attempts, s.backoff_base_seconds, 'webhook',
           coalesce(orchestrator.current_trace_id(),
                    (select tk.trace_id from orchestrator.tasks tk
                      where tk.id = case when d.payload #>> '{data,task,id}' ~ '^[0-9]{1,18}$' then (d.payload #>> '{data,task,id}')::bigint end),
                    (select ti.trace_id from orchestrator.tickets ti
                      where ti.id = case when d.payload #>> '{data,ticket,id}' ~ '^[0-9]{1,18}$' then (d.payload #>> '{data,ticket,id}')::bigint end),
                    orchestrator.new_trace_id())
    from orchestrator.webhook_deliveries d join orchestrator.webhook_subscriptions s on s.id = d.subscription_id
    where d.id = any (v_ids)
    returning id, (payload ->> 'delivery_id')::bigint as delivery_id
  )
  update orchestrator.webhook_deliveries d set task_id = t.id from t where d.id = t.delivery_id;
  return cardinality(v_ids);
end
$$;
