-- The orchestrator schema: tasks and logs. Never exposed to anon/authenticated:
-- RLS is on for every table with no policy for them, and only service_role
-- (the Edge Functions' key) and the owner get grants. Supabase no longer
-- auto-grants new tables, so every grant here is explicit.

create extension if not exists pg_cron;
create extension if not exists pg_trgm with schema extensions;
-- pg_net is a hosted-Supabase extension; the local stack provides a compatible
-- `net` schema instead (supabase/compat/compat.sql).
do $$
begin
  if exists (select 1 from pg_available_extensions where name = 'pg_net') then
    create extension if not exists pg_net with schema extensions;
  end if;
end
$$;

create schema if not exists orchestrator;
revoke all on schema orchestrator from public;
revoke all on schema orchestrator from anon, authenticated;
grant usage on schema orchestrator to service_role;

create type orchestrator.task_status as enum ('queued', 'running', 'succeeded', 'dead', 'cancelled');
-- Enum order is severity order, so `level >= 'warn'` means "warn and above".
create type orchestrator.log_level as enum ('debug', 'info', 'warn', 'error', 'fatal');

create table orchestrator.tasks (
  id bigint generated always as identity primary key,
  type text not null check (type ~ '^[a-z][a-z0-9_.:-]{0,63}$'),
  payload jsonb not null default '{}'::jsonb check (jsonb_typeof(payload) = 'object'),
  status orchestrator.task_status not null default 'queued',
  -- Higher runs first; ties go to the earliest run_at, then the oldest id.
  priority integer not null default 0 check (priority between -1000 and 1000),
  run_at timestamptz not null default now(),
  attempts integer not null default 0 check (attempts >= 0),
  max_attempts integer not null default 5 check (max_attempts between 1 and 100),
  -- Base of the exponential retry backoff, in seconds (see orchestrator.fail).
  backoff_base_seconds numeric not null default 2 check (backoff_base_seconds >= 0 and backoff_base_seconds <= 3600),
  dedupe_key text check (length(dedupe_key) between 1 and 200),
  locked_by text,
  locked_until timestamptz,
  lease_token uuid,
  last_error text,
  result jsonb,
  source text not null default 'api' check (length(source) between 1 and 100),
  parent_id bigint references orchestrator.tasks (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  check (attempts <= max_attempts),
  check ((status = 'running') = (lease_token is not null))
);

-- The claim path: only queued rows, in claim order.
create index tasks_claim_idx on orchestrator.tasks (priority desc, run_at, id) where status = 'queued';
-- One live task per dedupe key; finished tasks free the key.
create unique index tasks_dedupe_key_live_idx on orchestrator.tasks (dedupe_key)
  where dedupe_key is not null and status in ('queued', 'running');
-- reap(): expired leases.
create index tasks_lease_idx on orchestrator.tasks (locked_until) where status = 'running';
-- GET /tasks filters and cursor (newest first).
create index tasks_status_id_idx on orchestrator.tasks (status, id desc);
create index tasks_type_id_idx on orchestrator.tasks (type, id desc);
create index tasks_created_at_idx on orchestrator.tasks (created_at);
create index tasks_parent_idx on orchestrator.tasks (parent_id) where parent_id is not null;

create table orchestrator.logs (
  id bigint generated always as identity primary key,
  at timestamptz not null default clock_timestamp(),
  level orchestrator.log_level not null default 'info',
  component text not null default 'orchestrator',
  message text not null,
  context jsonb not null default '{}'::jsonb,
  -- No foreign key: logs outlive pruned tasks.
  task_id bigint,
  request_id text
);
create index logs_at_idx on orchestrator.logs (at);
create index logs_task_idx on orchestrator.logs (task_id, id) where task_id is not null;
create index logs_request_idx on orchestrator.logs (request_id, id) where request_id is not null;
create index logs_component_idx on orchestrator.logs (component, id);
create index logs_level_idx on orchestrator.logs (level, id);
create index logs_message_trgm_idx on orchestrator.logs using gin (message extensions.gin_trgm_ops);

alter table orchestrator.tasks enable row level security;
alter table orchestrator.logs enable row level security;

grant select, insert, update, delete on all tables in schema orchestrator to service_role;
grant usage, select on all sequences in schema orchestrator to service_role;
