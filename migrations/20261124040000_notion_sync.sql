-- Two-way sync with a Notion database (API version 2025-09-03: data sources).
--
--   rows change here --trigger--> notion.push task --> page created/updated in Notion
--   pg_cron every minute -------> notion.pull task --> human edits applied here
--   Notion webhook -------------> targeted notion.pull for one page
--
-- What is synced: tickets and SOPs when their tables exist (attached at run time
-- by orchestrator.sync_attach_known_tables(), so it does not matter which
-- migration landed first), and tasks whose type is listed in
-- orchestrator.notion_tracked_task_types. Nothing is enqueued until the sync is
-- enabled (POST /notion/enable validates the configuration, then sets
-- sync_state.enabled): a deployment without Notion pays one indexed lookup per
-- statement and never fills the queue with tasks that cannot run.

-- One row per Notion database the sync talks to (NOTION_DATABASE_ID).
create table orchestrator.sync_state (
  database_id text primary key check (length(database_id) between 1 and 100),
  enabled boolean not null default false,
  -- Resolved and validated at first use: databases.retrieve -> data_sources[0].
  data_source_id text,
  -- users.me: pages last edited by this bot are our own edits (no echo loops).
  bot_user_id text,
  -- The validated property mapping: {field: {name, type, id}}.
  properties jsonb,
  config_error text,
  config_checked_at timestamptz,
  -- Pull watermark: the latest last_edited_time applied (Notion rounds it to the minute).
  watermark timestamptz,
  -- One pull at a time: a lease, so a crashed pull never blocks the next for long.
  pull_lock_token uuid,
  pull_locked_until timestamptz,
  last_pull_at timestamptz,
  last_pull_status text check (last_pull_status in ('ok', 'error')),
  last_pull_error text,
  last_pull_stats jsonb,
  webhook_token_received_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Row <-> page. entity + row_key is the Orchestrator ID written on the page
-- ("ticket:42", "task:7", "sop:reset-password"): a push that crashed after
-- creating the page finds it again by that ID instead of creating a second one.
create table orchestrator.notion_pages (
  entity text not null check (entity in ('task', 'ticket', 'sop')),
  row_key text not null check (length(row_key) between 1 and 200),
  orchestrator_id text generated always as (entity || ':' || row_key) stored,
  database_id text,
  page_id text unique,
  -- field -> the value both sides last agreed on (what we pushed or pulled).
  synced jsonb not null default '{}'::jsonb,
  -- field -> when it last changed here (set by the row triggers), for per-field conflicts.
  field_times jsonb not null default '{}'::jsonb,
  -- Hash of the Markdown body last written in full (SOPs); null = body must be (re)written.
  body_hash text,
  -- Set just before pages.create: a retry that finds it set looks the page up first.
  create_attempted_at timestamptz,
  -- One push per row at a time.
  lock_token uuid,
  locked_until timestamptz,
  pushed_at timestamptz,
  pulled_at timestamptz,
  -- The page's last_edited_time as last seen.
  notion_edited_at timestamptz,
  last_error text,
  last_error_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (entity, row_key)
);
create index notion_pages_pushed_idx on orchestrator.notion_pages (pushed_at desc) where pushed_at is not null;
create index notion_pages_error_idx on orchestrator.notion_pages (last_error_at desc) where last_error is not null;

-- Task types whose tasks appear in Notion. The sync's own types can never be
-- tracked (a push of a push would loop).
create table orchestrator.notion_tracked_task_types (
  type text primary key check (type ~ '^[a-z][a-z0-9_.:-]{0,63}$' and type !~ '^(notion|webhook)\.'),
  created_at timestamptz not null default now()
);

-- Rate limits shared by every worker: one row per bucket, a GCRA (a token
-- bucket kept as its "theoretical arrival time"). Each caller reserves the next
-- free slot in one locked update and sleeps until it; slots are 1/rate apart
-- whatever the number of workers.
create table orchestrator.rate_limits (
  bucket text primary key check (length(bucket) between 1 and 200),
  tat timestamptz not null,
  granted bigint not null default 0,
  updated_at timestamptz not null default now()
);

-- rate_limit_take(bucket, rate per second, burst, max wait) -> seconds to wait
-- before sending (0 = now). A wait longer than p_max_wait_seconds is not
-- reserved: the result is then negative (minus the wait), and the caller should
-- give up and retry later rather than hold a slot it will not use.
create function orchestrator.rate_limit_take(
  p_bucket text,
  p_rate double precision,
  p_burst integer default 1,
  p_max_wait_seconds double precision default 60
) returns double precision
language plpgsql as $$
declare
  v_interval interval;
  v_tolerance interval;
  v_tat timestamptz;
  v_now timestamptz;
  v_slot timestamptz;
  v_wait double precision;
begin
  if p_rate is null or p_rate <= 0 then
    raise exception using errcode = '22023', message = format('rate must be > 0, got %s', p_rate);
  end if;
  v_interval := make_interval(secs => 1.0 / p_rate);
  v_tolerance := v_interval * (greatest(coalesce(p_burst, 1), 1) - 1);
  insert into orchestrator.rate_limits (bucket, tat) values (p_bucket, clock_timestamp())
  on conflict (bucket) do nothing;
  select tat into v_tat from orchestrator.rate_limits where bucket = p_bucket for update;
  v_now := clock_timestamp();
  v_slot := greatest(v_now, v_tat - v_tolerance);
  v_wait := extract(epoch from v_slot - v_now);
  if v_wait > coalesce(p_max_wait_seconds, 60) then
    return -v_wait;
  end if;
  update orchestrator.rate_limits
     set tat = greatest(v_tat, v_slot) + v_interval, granted = granted + 1, updated_at = v_now
   where bucket = p_bucket;
  return greatest(v_wait, 0);
end
$$;

-- rate_limit_defer(bucket, seconds): the server said "429, Retry-After: n";
-- every worker waits, not only the one that was told.
create function orchestrator.rate_limit_defer(p_bucket text, p_seconds double precision)
returns void
language sql as $$
  insert into orchestrator.rate_limits (bucket, tat)
  values (p_bucket, clock_timestamp() + make_interval(secs => greatest(p_seconds, 0)))
  on conflict (bucket) do update
    set tat = greatest(orchestrator.rate_limits.tat, excluded.tat), updated_at = clock_timestamp()
$$;

create function orchestrator.notion_sync_enabled()
returns boolean
language sql stable as $$
  select exists (select 1 from orchestrator.sync_state where enabled)
$$;

-- notion_enqueue_pushes(entity, keys): one notion.push per row, in one INSERT
-- (one worker wake-up for a bulk change). A row with a queued push is already
-- covered; a row whose push is running gets one more queued behind it (":next"),
-- so a change made during a push is never lost. Returns how many were enqueued.
create function orchestrator.notion_enqueue_pushes(p_entity text, p_keys text[])
returns integer
language plpgsql as $$
declare
  v_count integer;
begin
  insert into orchestrator.tasks (type, payload, priority, max_attempts, backoff_base_seconds, dedupe_key, source)
  select 'notion.push', jsonb_build_object('entity', p_entity, 'key', k), -10, 8, 5,
         case when exists (select 1 from orchestrator.tasks t
                           where t.dedupe_key = format('notion.push:%s:%s', p_entity, k) and t.status = 'running')
              then format('notion.push:%s:%s:next', p_entity, k)
              else format('notion.push:%s:%s', p_entity, k) end,
         'notion-sync'
  from (select distinct k from unnest(p_keys) k where k is not null) x
  on conflict (dedupe_key) where dedupe_key is not null and status in ('queued', 'running') do nothing;
  get diagnostics v_count = row_count;
  return v_count;
end
$$;

-- Records which synced fields changed here and when, for rows that have a page.
create function orchestrator.notion_note_field_changes(p_entity text, p_changes jsonb)
returns void
language sql as $$
  -- p_changes: [{key, fields: [...]}]
  update orchestrator.notion_pages p
     set field_times = p.field_times || (select jsonb_object_agg(f, to_jsonb(clock_timestamp()))
                                           from jsonb_array_elements_text(c.value -> 'fields') f),
         updated_at = now()
    from jsonb_array_elements(p_changes) c
   where p.entity = p_entity and p.row_key = c.value ->> 'key'
     and jsonb_array_length(c.value -> 'fields') > 0
$$;

-- Tasks: a dedicated trigger pair (the table is hot: claims and completions
-- fire it), with a fast exit when nothing is tracked or the sync is off.
-- Changes written by the pull itself (sync_origin = 'notion') are not pushed back.
create function orchestrator.tasks_notion_inserted()
returns trigger
language plpgsql as $$
begin
  if current_setting('orchestrator.sync_origin', true) = 'notion'
     or not exists (select 1 from orchestrator.notion_tracked_task_types)
     or not orchestrator.notion_sync_enabled() then
    return null;
  end if;
  perform orchestrator.notion_enqueue_pushes('task', array_agg(n.id::text))
  from new_rows n
  where n.type in (select type from orchestrator.notion_tracked_task_types)
  having count(*) > 0;
  return null;
end
$$;

create function orchestrator.tasks_notion_updated()
returns trigger
language plpgsql as $$
declare
  v_changes jsonb;
begin
  if current_setting('orchestrator.sync_origin', true) = 'notion'
     or not exists (select 1 from orchestrator.notion_tracked_task_types)
     or not orchestrator.notion_sync_enabled() then
    return null;
  end if;
  select jsonb_agg(jsonb_build_object('key', n.id::text, 'fields',
           to_jsonb(array_remove(array[
             case when n.status is distinct from o.status then 'status' end,
             case when n.priority is distinct from o.priority then 'priority' end], null))))
    into v_changes
    from new_rows n join old_rows o using (id)
   where n.type in (select type from orchestrator.notion_tracked_task_types)
     and (n.status is distinct from o.status or n.priority is distinct from o.priority);
  if v_changes is null then
    return null;
  end if;
  perform orchestrator.notion_note_field_changes('task', v_changes);
  perform orchestrator.notion_enqueue_pushes('task', array(select c ->> 'key' from jsonb_array_elements(v_changes) c));
  return null;
end
$$;

create trigger tasks_notion_push_ins
  after insert on orchestrator.tasks
  referencing new table as new_rows
  for each statement execute function orchestrator.tasks_notion_inserted();

create trigger tasks_notion_push_upd
  after update on orchestrator.tasks
  referencing old table as old_rows new table as new_rows
  for each statement execute function orchestrator.tasks_notion_updated();

-- Generic push triggers for any other table (tickets, SOPs): arguments are the
-- entity name, the key column, then the synced columns whose change means a push.
create function orchestrator.notion_rows_inserted()
returns trigger
language plpgsql as $$
declare
  v_entity text := tg_argv[0];
  v_key_col text := tg_argv[1];
begin
  if current_setting('orchestrator.sync_origin', true) = 'notion' or not orchestrator.notion_sync_enabled() then
    return null;
  end if;
  perform orchestrator.notion_enqueue_pushes(v_entity, array_agg(to_jsonb(n) ->> v_key_col))
  from new_rows n
  having count(*) > 0;
  return null;
end
$$;

create function orchestrator.notion_rows_updated()
returns trigger
language plpgsql as $$
declare
  v_entity text := tg_argv[0];
  v_key_col text := tg_argv[1];
  v_fields text[] := tg_argv[2:];
  v_changes jsonb;
begin
  if current_setting('orchestrator.sync_origin', true) = 'notion' or not orchestrator.notion_sync_enabled() then
    return null;
  end if;
  select jsonb_agg(jsonb_build_object('key', c.key, 'fields', c.fields))
    into v_changes
    from (
      select nj ->> v_key_col as key,
             (select coalesce(jsonb_agg(f), '[]'::jsonb) from unnest(v_fields) f where nj -> f is distinct from oj -> f) as fields
        from (select to_jsonb(n) as nj from new_rows n) nn
        join (select to_jsonb(o) as oj from old_rows o) oo on oo.oj -> v_key_col = nn.nj -> v_key_col
    ) c
   where jsonb_array_length(c.fields) > 0;
  if v_changes is null then
    return null;
  end if;
  perform orchestrator.notion_note_field_changes(v_entity, v_changes);
  perform orchestrator.notion_enqueue_pushes(v_entity, array(select c ->> 'key' from jsonb_array_elements(v_changes) c));
  return null;
end
$$;

-- notion_attach(table, entity, key column, synced columns): installs the push
-- triggers on a table (re-running replaces them). Returns true when it (re)attached.
create function orchestrator.notion_attach(p_table regclass, p_entity text, p_key_column text, p_fields text[])
returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_args text;
begin
  if p_entity not in ('ticket', 'sop') then
    raise exception using errcode = '22023', message = format('notion_attach: unknown entity %L (ticket or sop)', p_entity);
  end if;
  if not exists (select 1 from pg_attribute where attrelid = p_table and attname = p_key_column and not attisdropped) then
    raise exception using errcode = '22023', message = format('notion_attach: %s has no column %I', p_table, p_key_column);
  end if;
  v_args := array_to_string(array(select quote_literal(a) from unnest(array[p_entity, p_key_column] || p_fields) a), ', ');
  execute format('drop trigger if exists notion_push_ins on %s', p_table);
  execute format('drop trigger if exists notion_push_upd on %s', p_table);
  execute format('create trigger notion_push_ins after insert on %s referencing new table as new_rows '
                 'for each statement execute function orchestrator.notion_rows_inserted(%s)', p_table, v_args);
  if cardinality(p_fields) > 0 then
    execute format('create trigger notion_push_upd after update on %s referencing old table as old_rows new table as new_rows '
                   'for each statement execute function orchestrator.notion_rows_updated(%s)', p_table, v_args);
  end if;
  return true;
end
$$;

-- sync_attach_known_tables(): attaches the sync to tickets and SOPs when their
-- tables exist and are not attached yet. Idempotent and cheap; runs at the end
-- of this migration, on every pull tick and when the sync is enabled, so the
-- order in which the tickets/SOP migrations land does not matter.
-- (Later migrations extend it, e.g. with the outbound webhook triggers.)
create function orchestrator.sync_attach_known_tables()
returns text[]
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_done text[] := '{}';
begin
  if to_regclass('orchestrator.tickets') is not null
     and not exists (select 1 from pg_trigger where tgrelid = 'orchestrator.tickets'::regclass and tgname = 'notion_push_ins') then
    perform orchestrator.notion_attach('orchestrator.tickets', 'ticket', 'id',
      array(select f from unnest(array['title', 'status', 'priority']) f
            where exists (select 1 from pg_attribute where attrelid = 'orchestrator.tickets'::regclass and attname = f and not attisdropped)));
    v_done := v_done || 'notion:tickets'::text;
  end if;
  if to_regclass('orchestrator.sops') is not null
     and not exists (select 1 from pg_trigger where tgrelid = 'orchestrator.sops'::regclass and tgname = 'notion_push_ins') then
    -- A new version is a new row: inserts push; versions are never updated in place.
    perform orchestrator.notion_attach('orchestrator.sops', 'sop', 'slug', '{}');
    v_done := v_done || 'notion:sops'::text;
  end if;
  return v_done;
end
$$;

-- The pull tick (pg_cron, every minute): attach new tables, then one notion.pull
-- per minute while the sync is enabled; nothing at all when it is not.
create function orchestrator.notion_cron_tick()
returns bigint
language plpgsql as $$
declare
  v_id bigint;
begin
  perform orchestrator.sync_attach_known_tables();
  if not orchestrator.notion_sync_enabled() then
    return null;
  end if;
  select (r.task).id into v_id
  from orchestrator.enqueue('notion.pull', '{}'::jsonb, jsonb_build_object(
    'dedupe_key', 'notion.pull:' || to_char(date_trunc('minute', now() at time zone 'UTC'), 'YYYY-MM-DD"T"HH24:MI'),
    'source', 'cron', 'max_attempts', 3, 'priority', -5)) r;
  return v_id;
end
$$;

-- Notion's webhook verification token arrives once, in an unsigned request, and
-- must be copied into Notion's Verify dialog: keep it in Vault (readable in the
-- dashboard) and note when it came. Events are then verified with
-- NOTION_WEBHOOK_SECRET, never with this stored copy.
create function orchestrator.store_notion_verification_token(p_token text, p_database_id text default null)
returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_id uuid;
begin
  if p_token is null or length(p_token) not between 8 and 500 then
    raise exception using errcode = '22023', message = 'verification token has an unexpected length';
  end if;
  select id into v_id from vault.secrets where name = 'notion_webhook_verification_token';
  if v_id is null then
    perform vault.create_secret(p_token, 'notion_webhook_verification_token',
      'Notion webhook verification token: paste it into Notion''s Verify dialog and set NOTION_WEBHOOK_SECRET to it');
  else
    perform vault.update_secret(v_id, p_token);
  end if;
  if p_database_id is not null then
    insert into orchestrator.sync_state (database_id, webhook_token_received_at) values (p_database_id, now())
    on conflict (database_id) do update set webhook_token_received_at = now(), updated_at = now();
  end if;
end
$$;

select orchestrator.sync_attach_known_tables();
select cron.schedule('orchestrator-notion-pull', '* * * * *', 'select orchestrator.notion_cron_tick()');

alter table orchestrator.sync_state enable row level security;
alter table orchestrator.notion_pages enable row level security;
alter table orchestrator.notion_tracked_task_types enable row level security;
alter table orchestrator.rate_limits enable row level security;
grant select, insert, update, delete on orchestrator.sync_state, orchestrator.notion_pages,
  orchestrator.notion_tracked_task_types, orchestrator.rate_limits to service_role;

revoke all on function orchestrator.rate_limit_take(text, double precision, integer, double precision) from public;
revoke all on function orchestrator.rate_limit_defer(text, double precision) from public;
revoke all on function orchestrator.notion_sync_enabled() from public;
revoke all on function orchestrator.notion_enqueue_pushes(text, text[]) from public;
revoke all on function orchestrator.notion_note_field_changes(text, jsonb) from public;
revoke all on function orchestrator.tasks_notion_inserted() from public;
revoke all on function orchestrator.tasks_notion_updated() from public;
revoke all on function orchestrator.notion_rows_inserted() from public;
revoke all on function orchestrator.notion_rows_updated() from public;
revoke all on function orchestrator.notion_attach(regclass, text, text, text[]) from public;
revoke all on function orchestrator.sync_attach_known_tables() from public;
revoke all on function orchestrator.notion_cron_tick() from public;
revoke all on function orchestrator.store_notion_verification_token(text, text) from public;
grant execute on function orchestrator.rate_limit_take(text, double precision, integer, double precision) to service_role;
grant execute on function orchestrator.rate_limit_defer(text, double precision) to service_role;
grant execute on function orchestrator.notion_sync_enabled() to service_role;
grant execute on function orchestrator.notion_enqueue_pushes(text, text[]) to service_role;
grant execute on function orchestrator.notion_note_field_changes(text, jsonb) to service_role;
grant execute on function orchestrator.sync_attach_known_tables() to service_role;
grant execute on function orchestrator.notion_cron_tick() to service_role;
grant execute on function orchestrator.store_notion_verification_token(text, text) to service_role;
