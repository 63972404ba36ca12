-- Events, rules and tickets: what the apps emit, which events become tasks, and
-- the human work items errors open. Behaviour (watchers, routing, tickets) comes
-- in the next migrations; this one holds the tables and the pure helpers.
--
--   app row --watcher trigger--> events --rules (set-based, same transaction)--> tasks
--                                   \--error/fatal (default rule)--> ticket.open --> tickets

-- ---------------------------------------------------------------------------
-- Pure helpers (immutable; one place each, unit-tested in tests/db/events-fingerprint.test.ts)
-- ---------------------------------------------------------------------------

-- Lower case, runs of whitespace as one space (the regex pass only when there is
-- a double space, tab or newline to collapse).
create function orchestrator.lower_collapsed(p_text text)
returns text
language sql immutable parallel safe as $$
  select case when strpos(p_text, '  ') > 0 or strpos(p_text, E'\t') > 0 or strpos(p_text, E'\n') > 0 or strpos(p_text, E'\r') > 0
              then regexp_replace(lower(p_text), '[[:space:]]+', ' ', 'g') else lower(p_text) end
$$;

-- The message pattern a fingerprint is made of: lower case, whitespace collapsed,
-- with the parts that change from one occurrence to the next replaced, in order:
--   timestamps, dates and clock times -> <ts>, uuids -> <uuid>, hex (0x…, or a word
--   mixing hex letters and digits) -> <hex>, remaining digit runs -> <n>.
-- This runs for every event (a generated column), so passes that cannot match are
-- skipped: no digit, no replacement at all; no "-" or ":", no timestamp or uuid.
-- (Plain SQL with no FROM, so Postgres inlines it into the insert.)
create function orchestrator.normalize_message(p_message text)
returns text
language sql immutable parallel safe as $$
  select btrim(case
    when p_message is null then ''
    when p_message !~ '[0-9]' then orchestrator.lower_collapsed(p_message)
    else regexp_replace(
      regexp_replace(
        case when strpos(p_message, '-') = 0 and strpos(p_message, ':') = 0 then orchestrator.lower_collapsed(p_message)
             else regexp_replace(
                    regexp_replace(orchestrator.lower_collapsed(p_message),
                      -- 2026-11-24, 2026-11-24T01:02:03.456Z, 2026-11-24 01:02:03+00, 01:02:03(.456)
                      '\d{4}-\d\d-\d\d([t ]\d[0-9:.]*(z|[+-][0-9:]+)?)?|\d?\d:\d\d:\d\d[0-9.]*', '<ts>', 'g'),
                    '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g')
        end,
        '0x[0-9a-f]+|(^|[^0-9a-z])[0-9a-f]*([0-9][a-f]|[a-f][0-9])[0-9a-f]*(?![0-9a-z])', '\1<hex>', 'g'),
      '[0-9]+', '<n>', 'g')
  end)
$$;

-- source + type + normalised message -> 32 hex chars. Events (and tickets) with the
-- same fingerprint are "the same problem".
create function orchestrator.event_fingerprint(p_source text, p_type text, p_message text)
returns text
language sql immutable parallel safe as $$
  select md5(coalesce(p_source, '') || E'\x1f' || coalesce(p_type, '') || E'\x1f' || orchestrator.normalize_message(p_message))
$$;

-- An app's level word -> our level; null when the word is not one we know.
-- (Each branch is an enum constant: a cast of the CASE result would run per row.)
create function orchestrator.to_level(p_level text)
returns orchestrator.log_level
language sql immutable parallel safe as $$
  select case lower(btrim(p_level))
    when 'info' then 'info'::orchestrator.log_level
    when 'error' then 'error'::orchestrator.log_level
    when 'warn' then 'warn'::orchestrator.log_level
    when 'warning' then 'warn'::orchestrator.log_level
    when 'debug' then 'debug'::orchestrator.log_level
    when 'fatal' then 'fatal'::orchestrator.log_level
    when 'err' then 'error'::orchestrator.log_level
    when 'critical' then 'fatal'::orchestrator.log_level
    when 'notice' then 'info'::orchestrator.log_level
    when 'information' then 'info'::orchestrator.log_level
    when 'log' then 'info'::orchestrator.log_level
    when 'trace' then 'debug'::orchestrator.log_level
    when 'verbose' then 'debug'::orchestrator.log_level
    when 'crit' then 'fatal'::orchestrator.log_level
    when 'alert' then 'fatal'::orchestrator.log_level
    when 'emerg' then 'fatal'::orchestrator.log_level
    when 'emergency' then 'fatal'::orchestrator.log_level
    when 'panic' then 'fatal'::orchestrator.log_level
  end
$$;

-- Column and key names that look like secrets are never copied into events.
create function orchestrator.is_secret_name(p_name text)
returns boolean
language sql immutable parallel safe as $$
  select coalesce(p_name, '') ~* '(pass(word|wd|phrase)|secret|token|api[_-]?key|apikey|private[_-]?key|access[_-]?key|credential|authorization|cookie|session[_-]?id|(^|[_-])(salt|otp|pin|ssn|cvv|jwt)([_-]|$))'
$$;

-- A JSON value without secret-named keys, at any depth.
create function orchestrator.strip_secrets(p_value jsonb)
returns jsonb
language plpgsql immutable parallel safe as $$
begin
  case jsonb_typeof(p_value)
    when 'object' then
      return coalesce((
        select jsonb_object_agg(k, orchestrator.strip_secrets(v))
        from jsonb_each(p_value) as e(k, v)
        where not orchestrator.is_secret_name(k)), '{}'::jsonb);
    when 'array' then
      return coalesce((
        select jsonb_agg(orchestrator.strip_secrets(v) order by i)
        from jsonb_array_elements(p_value) with ordinality as a(v, i)), '[]'::jsonb);
    else
      return p_value;
  end case;
end
$$;

-- Rule globs (`*` any run, `?` one character) as LIKE patterns.
create function orchestrator.glob_to_like(p_glob text)
returns text
language sql immutable parallel safe as $$
  select replace(replace(replace(replace(replace(p_glob, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%'), '?', '_')
$$;

-- ---------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------

create type orchestrator.ticket_status as enum ('open', 'in_progress', 'resolved', 'closed');
create type orchestrator.ticket_priority as enum ('low', 'normal', 'high', 'urgent');

create table orchestrator.tickets (
  id bigint generated always as identity primary key,
  title text not null check (length(title) between 1 and 500),
  description text check (length(description) <= 20000),
  status orchestrator.ticket_status not null default 'open',
  priority orchestrator.ticket_priority not null default 'normal',
  source text not null default 'api' check (length(source) between 1 and 100),
  -- Tickets opened from events carry the events' fingerprint; one ticket that is
  -- not closed per fingerprint (a closed ticket is final: a recurrence opens a new one).
  fingerprint text,
  occurrences bigint not null default 1 check (occurrences >= 0),
  first_seen timestamptz not null default now(),
  last_seen timestamptz not null default now(),
  -- No foreign keys to events: events are pruned long before tickets.
  first_event_id bigint,
  last_event_id bigint,
  -- The task that opened it (ticket.open), if any.
  task_id bigint references orchestrator.tasks (id) on delete set null,
  reopened_count integer not null default 0,
  reopened_at timestamptz,
  resolved_at timestamptz,
  closed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index tickets_fingerprint_live_idx on orchestrator.tickets (fingerprint)
  where fingerprint is not null and status <> 'closed';
create index tickets_status_id_idx on orchestrator.tickets (status, id desc);
create index tickets_fingerprint_idx on orchestrator.tickets (fingerprint, id desc) where fingerprint is not null;
create index tickets_task_idx on orchestrator.tickets (task_id) where task_id is not null;

create table orchestrator.events (
  id bigint generated always as identity primary key,
  -- (`*` plus a length check: a bounded {0,63} costs ten times more per row in Postgres' regex engine.)
  source text not null check (source ~ '^[a-z0-9][a-z0-9_.-]*$' and length(source) <= 64),
  type text not null check (type ~ '^[A-Za-z0-9][A-Za-z0-9_.:/-]*$' and length(type) <= 100),
  level orchestrator.log_level not null default 'info',
  message text check (length(message) <= 10000),
  payload jsonb not null default '{}'::jsonb check (jsonb_typeof(payload) = 'object'),
  -- Computed by the database for every path in (watchers, HTTP, psql): one definition.
  fingerprint text not null generated always as (orchestrator.event_fingerprint(source, type, message)) stored,
  occurred_at timestamptz not null default now(),
  received_at timestamptz not null default now(),
  -- How it arrived: a table watcher, POST /events, POST /events/webhook, or plain SQL.
  via text not null default 'sql' check (via in ('watcher', 'api', 'webhook', 'sql')),
  -- A sender's own id for the event: a repeat of (source, external_id) is ignored.
  external_id text check (length(external_id) between 1 and 200),
  -- Processing state. Rules run in the inserting transaction (statement trigger),
  -- so a committed event has been routed: processed_at is set at insert. When
  -- routing fails it is null, route_error says why, and the events job retries.
  processed_at timestamptz default now(),
  route_error text,
  matched_rules text[] not null default '{}',
  tasks_created integer not null default 0,
  -- Matched a ticket.open rule and waits for its ticket (see orchestrator.open_ticket).
  wants_ticket boolean not null default false,
  -- No foreign key: it would queue a check per inserted row of every bulk insert.
  -- Only orchestrator.attach_to_tickets / open_ticket set it; tickets are never deleted by the orchestrator.
  ticket_id bigint
);
-- Kept few on purpose: every index is paid on each bulk insert.
create index events_fingerprint_idx on orchestrator.events (fingerprint, id);
create index events_received_brin on orchestrator.events using brin (received_at);
create index events_ticket_idx on orchestrator.events (ticket_id, id) where ticket_id is not null;
create index events_waiting_ticket_idx on orchestrator.events (fingerprint) where wants_ticket and ticket_id is null;
create index events_unprocessed_idx on orchestrator.events (id) where processed_at is null;
create unique index events_external_id_idx on orchestrator.events (source, external_id) where external_id is not null;

create table orchestrator.event_rules (
  id bigint generated always as identity primary key,
  name text not null unique check (name ~ '^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,79}$'),
  description text check (length(description) <= 2000),
  enabled boolean not null default true,
  -- Globs: `*` any run of characters, `?` one. source null = any source.
  source text check (source ~ '^[a-z0-9*?][a-z0-9_.*?-]{0,63}$'),
  type text not null default '*' check (type ~ '^[A-Za-z0-9_.:/*?-]{1,100}$'),
  -- Events at this level or above (null = any level).
  min_level orchestrator.log_level,
  -- The event's payload must contain this JSON (`payload @> match`).
  match jsonb not null default '{}'::jsonb check (jsonb_typeof(match) = 'object'),
  task_type text not null check (task_type ~ '^[a-z][a-z0-9_.:-]{0,63}$'),
  -- {{event.field}}, {{record.field}}, {{payload.field}} placeholders (see render_template).
  payload_template jsonb not null default '{}'::jsonb check (jsonb_typeof(payload_template) = 'object'),
  priority integer not null default 0 check (priority between -1000 and 1000),
  dedupe_key text check (length(dedupe_key) between 1 and 200),
  max_attempts integer check (max_attempts between 1 and 100),
  source_like text generated always as (orchestrator.glob_to_like(source)) stored,
  type_like text not null generated always as (orchestrator.glob_to_like(type)) stored,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- One watcher per table (watch_table replaces it).
create table orchestrator.watchers (
  relid oid primary key,
  table_name text not null,
  source text not null,
  event_type text not null,
  options jsonb not null default '{}'::jsonb,
  -- Copied into payload.record, and the secret-named ones that never are.
  columns text[] not null,
  secret_columns text[] not null default '{}',
  function_name text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Signatures of signed POST /events requests seen in the last minutes: a replay is refused.
create table orchestrator.event_replay_guard (
  signature text primary key,
  received_at timestamptz not null default now()
);

alter table orchestrator.tickets enable row level security;
alter table orchestrator.events enable row level security;
alter table orchestrator.event_rules enable row level security;
alter table orchestrator.watchers enable row level security;
alter table orchestrator.event_replay_guard enable row level security;

grant select, insert, update, delete on orchestrator.tickets, orchestrator.events, orchestrator.event_rules,
  orchestrator.watchers, orchestrator.event_replay_guard to service_role;
grant usage, select on all sequences in schema orchestrator to service_role;
revoke all on function orchestrator.lower_collapsed(text), orchestrator.normalize_message(text), orchestrator.event_fingerprint(text, text, text),
  orchestrator.to_level(text), orchestrator.is_secret_name(text), orchestrator.strip_secrets(jsonb),
  orchestrator.glob_to_like(text) from public;
grant execute on function orchestrator.lower_collapsed(text), orchestrator.normalize_message(text), orchestrator.event_fingerprint(text, text, text),
  orchestrator.to_level(text), orchestrator.is_secret_name(text), orchestrator.strip_secrets(jsonb),
  orchestrator.glob_to_like(text) to service_role;
