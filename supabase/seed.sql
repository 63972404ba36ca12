-- Local demo data, loaded by `npm start` after the migrations on every start (and
-- by `supabase db reset` where Docker runs), and by the test stack. Idempotent.
--
-- Tables shaped like the two SugarStudio apps', each with a watcher, so a local
-- run has something to watch:
--   insert into knisoci.activity_logs (level, message) values ('error', 'Payment failed for order 123');
--   -> an event -> the default rule -> a ticket.open task -> an open ticket (GET /tickets)

-- ---------------------------------------------------------------- KniSoci
create schema if not exists knisoci;

create table if not exists knisoci.activity_logs (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  level text not null default 'info',
  message text not null,
  user_id uuid,
  meta jsonb not null default '{}'::jsonb,
  -- Looks like a secret: the watcher never copies it into events.
  session_token text
);

create table if not exists knisoci.signups (
  id uuid primary key default gen_random_uuid(),
  created_at timestamptz not null default now(),
  email text not null,
  display_name text,
  referral_code text,
  password_hash text
);

-- ---------------------------------------------------------------- Candyland
create schema if not exists candyland;

create table if not exists candyland.orders (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  customer_email text not null,
  total_cents integer not null check (total_cents >= 0),
  currency text not null default 'EUR',
  status text not null default 'pending',
  items jsonb not null default '[]'::jsonb,
  payment_token text
);

create table if not exists candyland.app_logs (
  id bigint generated always as identity primary key,
  logged_at timestamptz not null default now(),
  severity text not null default 'INFO',
  msg text not null,
  context jsonb not null default '{}'::jsonb,
  api_key text
);

-- The apps write with the secret key (service_role) or as signed-in users; RLS on,
-- as the apps' own tables would have it.
alter table knisoci.activity_logs enable row level security;
alter table knisoci.signups enable row level security;
alter table candyland.orders enable row level security;
alter table candyland.app_logs enable row level security;
grant usage on schema knisoci, candyland to service_role;
grant select, insert, update, delete on all tables in schema knisoci to service_role;
grant select, insert, update, delete on all tables in schema candyland to service_role;

-- ---------------------------------------------------------------- watchers (re-running replaces them)
select orchestrator.watch_table('knisoci.activity_logs', 'knisoci', 'activity_log',
  '{"level_column": "level", "message_column": "message", "occurred_at_column": "created_at"}');
select orchestrator.watch_table('knisoci.signups', 'knisoci', 'user.signup',
  '{"occurred_at_column": "created_at", "keep": ["id", "created_at", "display_name", "referral_code"]}');
select orchestrator.watch_table('candyland.orders', 'candyland', 'order.created',
  '{"occurred_at_column": "created_at"}');
select orchestrator.watch_table('candyland.app_logs', 'candyland', 'app_log',
  '{"level_column": "severity", "message_column": "msg", "occurred_at_column": "logged_at"}');

-- ---------------------------------------------------------------- demo rules
-- (The default rule "errors-open-tickets" comes with the migrations.)
insert into orchestrator.event_rules (name, description, source, type, task_type, payload_template, dedupe_key)
values
  ('candyland-order-created',
   'Demo: a new Candyland order starts its follow-up (a noop echoing the order; point it at a real task type).',
   'candyland', 'order.created', 'noop',
   '{"echo": {"order_id": "{{record.id}}", "total_cents": "{{record.total_cents}}", "currency": "{{record.currency}}"}}',
   'candyland-order:{{record.id}}'),
  ('knisoci-signup',
   'Demo: a KniSoci sign-up starts the welcome flow (a noop echoing the user).',
   'knisoci', 'user.signup', 'noop',
   '{"echo": {"user_id": "{{record.id}}", "name": "{{record.display_name}}"}}',
   null)
on conflict (name) do nothing;
