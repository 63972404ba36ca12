-- Outbound webhooks: other tools (Slack, Discord, anything with a URL) hear
-- about task, ticket and SOP events.
--
--   row change --trigger--> webhook_emit(events) --> one webhook_deliveries row
--   per matching subscription + one webhook.deliver task each --> signed POST,
--   retried with backoff through the queue, dead after the subscription's max attempts.

create table orchestrator.webhook_subscriptions (
  id bigint generated always as identity primary key,
  url text not null check (url ~ '^https?://' and length(url) <= 2000),
  -- Globs over event names: '*', 'task.*', 'ticket.opened', 'sop.created'.
  events text[] not null default '{*}'
    check (cardinality(events) between 1 and 50 and array_to_string(events, ',') ~ '^[a-z0-9_.*,-]+$'),
  -- The HMAC-SHA256 key of the signature header. Never returned after creation.
  secret text not null check (length(secret) between 16 and 200),
  format text not null default 'json' check (format in ('json', 'slack')),
  description text check (length(description) <= 500),
  active boolean not null default true,
  max_attempts integer not null default 6 check (max_attempts between 1 and 20),
  backoff_base_seconds numeric not null default 10 check (backoff_base_seconds >= 0 and backoff_base_seconds <= 3600),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table orchestrator.webhook_deliveries (
  id bigint generated always as identity primary key,
  subscription_id bigint not null references orchestrator.webhook_subscriptions (id) on delete cascade,
  event text not null,
  -- The event envelope: {event, occurred_at, data}.
  payload jsonb not null,
  status text not null default 'pending' check (status in ('pending', 'retrying', 'delivered', 'dead')),
  attempts integer not null default 0,
  task_id bigint,
  last_status_code integer,
  last_error text,
  last_attempt_at timestamptz,
  delivered_at timestamptz,
  response_ms integer,
  -- One entry per attempt: {at, status_code, error, ms} (the last 20).
  attempt_log jsonb not null default '[]'::jsonb,
  created_at timestamptz not null default now()
);
create index webhook_deliveries_sub_idx on orchestrator.webhook_deliveries (subscription_id, id desc);
create index webhook_deliveries_created_idx on orchestrator.webhook_deliveries (created_at);
create index webhook_deliveries_status_idx on orchestrator.webhook_deliveries (status, id desc);

-- Does an event name match any of the globs? '*' matches any run of characters.
create function orchestrator.webhook_event_matches(p_patterns text[], p_event text)
returns boolean
language sql immutable as $$
  select exists (
    select 1 from unnest(p_patterns) p
    where p_event like replace(replace(replace(p, '\', '\\'), '_', '\_'), '*', '%')
  )
$$;

-- A row as an event payload: long text values are cut so one event never
-- becomes a huge request (the full row stays readable over the API).
create function orchestrator.webhook_compact(p_row jsonb)
returns jsonb
language sql immutable as $$
  select coalesce(jsonb_object_agg(key, case
           when jsonb_typeof(value) = 'string' and length(value #>> '{}') > 2000
             then to_jsonb(left(value #>> '{}', 2000) || format('… [%s characters]', length(value #>> '{}')))
           when jsonb_typeof(value) in ('object', 'array') and length(value::text) > 8000
             then to_jsonb(format('[omitted: %s bytes]', length(value::text)))
           else value end), '{}'::jsonb)
  from jsonb_each(p_row)
  where key not in ('lease_token')
$$;

-- webhook_emit(events): events is a JSON array of {event, data}. One delivery per
-- matching active subscription, each with its webhook.deliver task (one INSERT,
-- one worker wake-up). Returns how many deliveries it created.
create function orchestrator.webhook_emit(p_events jsonb)
returns integer
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
    insert into orchestrator.tasks (type, payload, max_attempts, backoff_base_seconds, source)
    select 'webhook.deliver', jsonb_build_object('delivery_id', d.id), s.max_attempts, s.backoff_base_seconds, 'webhook'
    from orchestrator.webhook_deliveries d join orchestrator.webhook_subscriptions s on s.id = d.subscription_id
    where d.id = any (v_ids)
    returning id, (payload ->> 'delivery_id')::bigint as delivery_id
  )
  update orchestrator.webhook_deliveries d set task_id = t.id from t where d.id = t.delivery_id;
  return cardinality(v_ids);
end
$$;

-- Task events: task.succeeded, task.dead, task.cancelled. Deliveries themselves
-- never emit events (a failed delivery must not announce itself by webhook).
create function orchestrator.tasks_webhook_events()
returns trigger
language plpgsql as $$
declare
  v_events jsonb;
begin
  if not exists (select 1 from orchestrator.webhook_subscriptions where active) then
    return null;
  end if;
  select jsonb_agg(jsonb_build_object('event', 'task.' || n.status, 'data', jsonb_build_object('task',
           orchestrator.webhook_compact(jsonb_build_object(
             'id', n.id, 'type', n.type, 'status', n.status, 'attempts', n.attempts, 'max_attempts', n.max_attempts,
             'last_error', n.last_error, 'result', n.result, 'source', n.source, 'priority', n.priority,
             'created_at', n.created_at, 'finished_at', n.finished_at)))) order by n.id)
    into v_events
    from new_rows n join old_rows o using (id)
   where n.status is distinct from o.status
     and n.status in ('succeeded', 'dead', 'cancelled')
     and n.type <> 'webhook.deliver';
  perform orchestrator.webhook_emit(v_events);
  return null;
end
$$;

create trigger tasks_webhook_events
  after update on orchestrator.tasks
  referencing old table as old_rows new table as new_rows
  for each statement execute function orchestrator.tasks_webhook_events();

-- Generic row events for other tables (tickets, SOPs). tg_argv[0] is the entity:
-- an insert is '<entity>.<insert verb>' (ticket.opened, sop.created); a change of
-- the status column is '<entity>.<new status>' (ticket.resolved, ticket.closed…),
-- and back to open after being resolved or closed is '<entity>.reopened'.
create function orchestrator.webhook_rows_inserted()
returns trigger
language plpgsql as $$
declare
  v_entity text := tg_argv[0];
  v_verb text := coalesce(tg_argv[1], 'created');
  v_events jsonb;
begin
  if not exists (select 1 from orchestrator.webhook_subscriptions where active) then
    return null;
  end if;
  select jsonb_agg(jsonb_build_object('event', v_entity || '.' || v_verb,
                   'data', jsonb_build_object(v_entity, orchestrator.webhook_compact(to_jsonb(n)))))
    into v_events from new_rows n;
  perform orchestrator.webhook_emit(v_events);
  return null;
end
$$;

create function orchestrator.webhook_rows_updated()
returns trigger
language plpgsql as $$
declare
  v_entity text := tg_argv[0];
  v_events jsonb;
begin
  if not exists (select 1 from orchestrator.webhook_subscriptions where active) then
    return null;
  end if;
  select jsonb_agg(jsonb_build_object(
           'event', v_entity || '.' || case when nn.nj ->> 'status' = 'open' and oo.oj ->> 'status' in ('resolved', 'closed')
                                            then 'reopened' else nn.nj ->> 'status' end,
           'data', jsonb_build_object(v_entity, orchestrator.webhook_compact(nn.nj),
                                      'previous_status', oo.oj ->> 'status')))
    into v_events
    from (select to_jsonb(n) as nj from new_rows n) nn
    join (select to_jsonb(o) as oj from old_rows o) oo on oo.oj -> 'id' = nn.nj -> 'id'
   where nn.nj ->> 'status' is distinct from oo.oj ->> 'status' and nn.nj ->> 'status' is not null;
  perform orchestrator.webhook_emit(v_events);
  return null;
end
$$;

-- webhook_attach(table, entity, insert verb): installs the event triggers on a
-- table (re-running replaces them). Status-change events need `id` and `status` columns.
create function orchestrator.webhook_attach(p_table regclass, p_entity text, p_insert_verb text default 'created')
returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if p_entity !~ '^[a-z][a-z0-9_]{0,30}$' or p_insert_verb !~ '^[a-z][a-z0-9_]{0,30}$' then
    raise exception using errcode = '22023', message = 'webhook_attach: entity and verb are lowercase words';
  end if;
  execute format('drop trigger if exists webhook_events_ins on %s', p_table);
  execute format('drop trigger if exists webhook_events_upd on %s', p_table);
  execute format('create trigger webhook_events_ins after insert on %s referencing new table as new_rows '
                 'for each statement execute function orchestrator.webhook_rows_inserted(%L, %L)', p_table, p_entity, p_insert_verb);
  if exists (select 1 from pg_attribute where attrelid = p_table and attname = 'status' and not attisdropped)
     and exists (select 1 from pg_attribute where attrelid = p_table and attname = 'id' and not attisdropped) then
    execute format('create trigger webhook_events_upd after update on %s referencing old table as old_rows new table as new_rows '
                   'for each statement execute function orchestrator.webhook_rows_updated(%L)', p_table, p_entity);
  end if;
  return true;
end
$$;

-- The attach-at-run-time hook now covers webhooks too.
create or replace function orchestrator.sync_attach_known_tables()
returns text[]
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_done text[] := '{}';
begin
  if to_regclass('orchestrator.tickets') is not null then
    if not exists (select 1 from pg_trigger where tgrelid = 'orchestrator.tickets'::regclass and tgname = 'notion_push_ins') then
      perform orchestrator.notion_attach('orchestrator.tickets', 'ticket', 'id',
        array(select f from unnest(array['title', 'status', 'priority']) f
              where exists (select 1 from pg_attribute where attrelid = 'orchestrator.tickets'::regclass and attname = f and not attisdropped)));
      v_done := v_done || 'notion:tickets'::text;
    end if;
    if not exists (select 1 from pg_trigger where tgrelid = 'orchestrator.tickets'::regclass and tgname = 'webhook_events_ins') then
      perform orchestrator.webhook_attach('orchestrator.tickets', 'ticket', 'opened');
      v_done := v_done || 'webhook:tickets'::text;
    end if;
  end if;
  if to_regclass('orchestrator.sops') is not null then
    if not exists (select 1 from pg_trigger where tgrelid = 'orchestrator.sops'::regclass and tgname = 'notion_push_ins') then
      perform orchestrator.notion_attach('orchestrator.sops', 'sop', 'slug', '{}');
      v_done := v_done || 'notion:sops'::text;
    end if;
    if not exists (select 1 from pg_trigger where tgrelid = 'orchestrator.sops'::regclass and tgname = 'webhook_events_ins') then
      perform orchestrator.webhook_attach('orchestrator.sops', 'sop', 'created');
      v_done := v_done || 'webhook:sops'::text;
    end if;
  end if;
  return v_done;
end
$$;

select orchestrator.sync_attach_known_tables();

alter table orchestrator.webhook_subscriptions enable row level security;
alter table orchestrator.webhook_deliveries enable row level security;
grant select, insert, update, delete on orchestrator.webhook_subscriptions, orchestrator.webhook_deliveries to service_role;

revoke all on function orchestrator.webhook_event_matches(text[], text) from public;
revoke all on function orchestrator.webhook_compact(jsonb) from public;
revoke all on function orchestrator.webhook_emit(jsonb) from public;
revoke all on function orchestrator.tasks_webhook_events() from public;
revoke all on function orchestrator.webhook_rows_inserted() from public;
revoke all on function orchestrator.webhook_rows_updated() from public;
revoke all on function orchestrator.webhook_attach(regclass, text, text) from public;
grant execute on function orchestrator.webhook_event_matches(text[], text) to service_role;
grant execute on function orchestrator.webhook_compact(jsonb) to service_role;
grant execute on function orchestrator.webhook_emit(jsonb) to service_role;
