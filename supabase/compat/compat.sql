-- Compat layer: what hosted Supabase provides and a Debian PostgreSQL lacks.
-- Loaded by the Docker-free local stack (scripts/stack) BEFORE migrations, so the
-- migrations stay byte-for-byte what runs on hosted Supabase. Idempotent: it is
-- re-applied on every `npm start`. Never applied to a hosted project.

-- Roles Supabase creates. service_role bypasses RLS as it does on hosted.
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;
end
$$;
grant anon, authenticated, service_role to authenticator;

create schema if not exists extensions;
grant usage on schema extensions to anon, authenticated, service_role;

-- auth.* helpers that RLS policies written for Supabase call.
create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;
create or replace function auth.jwt() returns jsonb
language sql stable as $$
  select coalesce(nullif(current_setting('request.jwt.claims', true), '')::jsonb, '{}'::jsonb)
$$;
create or replace function auth.role() returns text
language sql stable as $$ select coalesce(auth.jwt() ->> 'role', current_user::text) $$;
create or replace function auth.uid() returns uuid
language sql stable as $$ select nullif(auth.jwt() ->> 'sub', '')::uuid $$;

-- Vault shim: same names and signatures as supabase_vault, without encryption
-- (a local cluster on loopback; hosted Supabase encrypts with pgsodium keys).
create schema if not exists vault;
revoke all on schema vault from public;
create table if not exists vault.secrets (
  id uuid primary key default gen_random_uuid(),
  name text unique,
  description text not null default '',
  secret text not null,
  key_id uuid,
  nonce bytea,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create or replace view vault.decrypted_secrets as
  select id, name, description, secret, secret as decrypted_secret, key_id, nonce, created_at, updated_at
  from vault.secrets;
create or replace function vault.create_secret(
  new_secret text, new_name text default null, new_description text default '', new_key_id uuid default null
) returns uuid language sql as $$
  insert into vault.secrets (secret, name, description, key_id)
  values (new_secret, new_name, coalesce(new_description, ''), new_key_id)
  returning id
$$;
create or replace function vault.update_secret(
  secret_id uuid, new_secret text default null, new_name text default null,
  new_description text default null, new_key_id uuid default null
) returns void language sql as $$
  update vault.secrets set
    secret = coalesce(new_secret, secret),
    name = coalesce(new_name, name),
    description = coalesce(new_description, description),
    key_id = coalesce(new_key_id, key_id),
    updated_at = now()
  where id = secret_id
$$;

-- pg_net-compatible `net` schema. net.http_post only records the request; the
-- dispatcher process (scripts/pg-net-dispatcher.ts) reads committed rows, sends
-- them and writes net._http_response, exactly as pg_net's background worker does:
-- a request made in a transaction that rolls back is never sent.
create schema if not exists net;
grant usage on schema net to service_role;
create table if not exists net.http_request_queue (
  id bigserial primary key,
  method text not null,
  url text not null,
  headers jsonb not null default '{}'::jsonb,
  body bytea,
  timeout_milliseconds integer not null default 5000,
  created timestamptz not null default now()
);
create unlogged table if not exists net._http_response (
  id bigint,
  status_code integer,
  content_type text,
  headers jsonb,
  content text,
  timed_out boolean,
  error_msg text,
  created timestamptz not null default now()
);
create index if not exists _http_response_created_idx on net._http_response (created);

create or replace function net._url_with_params(url text, params jsonb) returns text
language sql immutable as $$
  select case
    when params is null or params = '{}'::jsonb then url
    else url || case when position('?' in url) > 0 then '&' else '?' end || (
      select string_agg(key || '=' || value, '&') from jsonb_each_text(params)
    )
  end
$$;

create or replace function net.http_post(
  url text,
  body jsonb default '{}'::jsonb,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds integer default 5000
) returns bigint
language plpgsql as $$
declare
  request_id bigint;
begin
  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values ('POST', net._url_with_params(url, params), headers, convert_to(body::text, 'UTF8'), timeout_milliseconds)
  returning id into request_id;
  -- A notification is delivered only on commit: the dispatcher wakes at once
  -- for committed requests and never sees rolled-back ones.
  perform pg_notify('pg_net_request', request_id::text);
  return request_id;
end
$$;

create or replace function net.http_get(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds integer default 5000
) returns bigint
language plpgsql as $$
declare
  request_id bigint;
begin
  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values ('GET', net._url_with_params(url, params), headers, null, timeout_milliseconds)
  returning id into request_id;
  perform pg_notify('pg_net_request', request_id::text);
  return request_id;
end
$$;

-- Database webhooks as the Supabase dashboard creates them:
-- trigger ... execute function supabase_functions.http_request(url, method, headers, params, timeout_ms)
create schema if not exists supabase_functions;
grant usage on schema supabase_functions to service_role;
create or replace function supabase_functions.http_request() returns trigger
language plpgsql security definer as $$
declare
  url text := tg_argv[0];
  method text := upper(coalesce(tg_argv[1], 'POST'));
  headers jsonb := coalesce(nullif(tg_argv[2], '')::jsonb, '{"Content-Type": "application/json"}'::jsonb);
  params jsonb := coalesce(nullif(tg_argv[3], '')::jsonb, '{}'::jsonb);
  timeout_ms integer := coalesce(nullif(tg_argv[4], '')::integer, 1000);
  payload jsonb;
begin
  payload := jsonb_build_object(
    'type', tg_op,
    'table', tg_table_name,
    'schema', tg_table_schema,
    'record', case when tg_op = 'DELETE' then null else to_jsonb(new) end,
    'old_record', case when tg_op = 'INSERT' then null else to_jsonb(old) end
  );
  if method = 'GET' then
    perform net.http_get(url, params, headers, timeout_ms);
  else
    perform net.http_post(url, payload, params, headers, timeout_ms);
  end if;
  return coalesce(new, old);
end
$$;

-- Local stack only (hosted Supabase has no such schema, so /health shows no
-- local_stack section there): the supervisor (scripts/stack/process-report.ts)
-- keeps one row per process it runs, so the functions, a separate Deno process,
-- can show restarts in /health. No stderr here: that stays in the terminal.
create schema if not exists local_stack;
revoke all on schema local_stack from public;
create table if not exists local_stack.processes (
  name text primary key,
  pid integer,
  state text not null check (state in ('running', 'restarting', 'stopped', 'failed')),
  restarts integer not null default 0,
  last_exit text,
  last_exit_at timestamptz,
  since timestamptz not null,
  gave_up text,
  supervisor_pid integer,
  updated_at timestamptz not null default now()
);
