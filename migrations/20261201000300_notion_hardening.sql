-- Notion sync hardening (issue 14).
--
-- 1. The webhook verification handshake. Notion sends its verification token
--    once, unsigned, so nothing in the request can prove it came from Notion.
--    Before, any caller could overwrite the token kept in Vault at will. Now a
--    token is accepted only inside a short window an operator opens with the
--    service key, at most one per window (the first one closes it), and a stored
--    token is never overwritten unless the operator opened the window with
--    replace = true (or cleared the token first).
-- 2. Re-pushing what died of a broken configuration, in one call, coalescing
--    with pushes already queued for the same row (orchestrator.retry would hit
--    the live dedupe key and answer 409).
-- 3. sync_state.enabled_at: /notion/status judges "ok" on what happened since
--    the sync was last (re-)enabled, so a fixed configuration reads as fixed.

-- ---- 1. verification window ---------------------------------------------------

-- One row: there is one Notion webhook subscription per deployment.
create table orchestrator.notion_webhook_verification (
  singleton boolean primary key default true check (singleton),
  -- A token is accepted while now() < open_until; null: closed.
  open_until timestamptz,
  opened_at timestamptz,
  -- The operator allowed a token arriving in this window to replace the stored one.
  replace_allowed boolean not null default false,
  token_received_at timestamptz,
  updated_at timestamptz not null default now()
);
insert into orchestrator.notion_webhook_verification default values;
alter table orchestrator.notion_webhook_verification enable row level security;
grant select on orchestrator.notion_webhook_verification to service_role;

-- No path stores a token without a window any more.
drop function orchestrator.store_notion_verification_token(text, text);

-- notion_verification_open(seconds, replace) -> 'opened' | 'token_stored'
-- ('token_stored': a token is kept and replace was not asked for; nothing changed).
create function orchestrator.notion_verification_open(p_seconds integer, p_replace boolean default false)
returns table (outcome text, open_until timestamptz, token_received_at timestamptz)
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_stored boolean;
  v_row orchestrator.notion_webhook_verification;
begin
  if p_seconds is null or p_seconds not between 10 and 3600 then
    raise exception using errcode = '22023', message = format('open_for_seconds must be 10..3600, got %s', p_seconds);
  end if;
  select * into v_row from orchestrator.notion_webhook_verification where singleton for update;
  v_stored := exists (select 1 from vault.secrets where name = 'notion_webhook_verification_token');
  if v_stored and not coalesce(p_replace, false) then
    return query select 'token_stored'::text, v_row.open_until, v_row.token_received_at;
    return;
  end if;
  update orchestrator.notion_webhook_verification v
     set open_until = now() + make_interval(secs => p_seconds), opened_at = now(),
         replace_allowed = coalesce(p_replace, false), updated_at = now()
   where v.singleton
  returning * into v_row;
  return query select 'opened'::text, v_row.open_until, v_row.token_received_at;
end
$$;

-- notion_verification_clear() -> whether a token was stored. Closes any window too.
create function orchestrator.notion_verification_clear()
returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_n integer;
begin
  update orchestrator.notion_webhook_verification
     set open_until = null, replace_allowed = false, token_received_at = null, updated_at = now()
   where singleton;
  delete from vault.secrets where name = 'notion_webhook_verification_token';
  get diagnostics v_n = row_count;
  update orchestrator.sync_state set webhook_token_received_at = null, updated_at = now() where webhook_token_received_at is not null;
  return v_n > 0;
end
$$;

-- notion_verification_offer(token, database id) -> 'stored' | 'closed' | 'token_stored'.
-- Called for an unauthenticated request: outside a window it reads one row and
-- writes nothing.
create function orchestrator.notion_verification_offer(p_token text, p_database_id text default null)
returns text
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_row orchestrator.notion_webhook_verification;
  v_id uuid;
begin
  if p_token is null or length(p_token) not between 8 and 500 then
    raise exception using errcode = '22023', message = 'verification token has an unexpected length';
  end if;
  -- Cheap refusal first, without a lock: the usual case for an attacker.
  if not exists (select 1 from orchestrator.notion_webhook_verification where singleton and open_until > now()) then
    return 'closed';
  end if;
  select * into v_row from orchestrator.notion_webhook_verification where singleton for update;
  if v_row.open_until is null or v_row.open_until <= now() then
    return 'closed'; -- another offer took the window meanwhile
  end if;
  select id into v_id from vault.secrets where name = 'notion_webhook_verification_token';
  if v_id is not null and not v_row.replace_allowed then
    return 'token_stored';
  end if;
  if v_id is null then
    perform vault.create_secret(p_token, 'notion_webhook_verification_token',
      'Notion webhook verification token: paste it into Notion''s Verify dialog and set NOTION_WEBHOOK_SECRET to it');
  else
    perform vault.update_secret(v_id, p_token);
  end if;
  -- One token per window: the first closes it.
  update orchestrator.notion_webhook_verification
     set open_until = null, replace_allowed = false, token_received_at = now(), updated_at = now()
   where singleton;
  if p_database_id is not null then
    insert into orchestrator.sync_state (database_id, webhook_token_received_at) values (p_database_id, now())
    on conflict (database_id) do update set webhook_token_received_at = now(), updated_at = now();
  end if;
  return 'stored';
end
$$;

-- What /notion/status shows of the handshake (never the token).
create function orchestrator.notion_verification_state()
returns table (window_open_until timestamptz, replace_allowed boolean, token_stored boolean, token_received_at timestamptz)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
  select case when v.open_until > now() then v.open_until end, v.replace_allowed,
         exists (select 1 from vault.secrets where name = 'notion_webhook_verification_token'), v.token_received_at
  from orchestrator.notion_webhook_verification v where v.singleton
$$;

revoke all on function orchestrator.notion_verification_open(integer, boolean) from public;
revoke all on function orchestrator.notion_verification_clear() from public;
revoke all on function orchestrator.notion_verification_offer(text, text) from public;
revoke all on function orchestrator.notion_verification_state() from public;
grant execute on function orchestrator.notion_verification_open(integer, boolean) to service_role;
grant execute on function orchestrator.notion_verification_clear() to service_role;
grant execute on function orchestrator.notion_verification_offer(text, text) to service_role;
grant execute on function orchestrator.notion_verification_state() to service_role;

-- ---- 2. re-push the dead ---------------------------------------------------------

-- The row a notion.push is for: its dedupe key without the ":next" suffix
-- (what the triggers and the SOP generator set), else entity:key from the payload.
create function orchestrator.notion_push_target(p_dedupe_key text, p_payload jsonb)
returns text
language sql immutable as $$
  select coalesce(regexp_replace(p_dedupe_key, ':next$', ''),
                  'notion.push:' || coalesce(p_payload ->> 'entity', p_payload ->> 'kind') || ':' || coalesce(p_payload ->> 'key', p_payload ->> 'id'))
$$;

-- notion_repush_dead() -> (requeued, coalesced): one push per row that has dead
-- pushes. A row with a queued or running push is covered by it (a queued one is
-- brought forward to now); otherwise its newest dead push is queued again with
-- its attempts reset. Every other dead push of the row is marked cancelled with
-- result {"coalesced_into": <the push that covers it>}, so none is left behind
-- to retry by hand into a 409.
create function orchestrator.notion_repush_dead()
returns table (requeued integer, coalesced integer, task_ids bigint[])
language plpgsql as $$
declare
  v_requeued bigint[];
  v_coalesced integer;
begin
  -- One statement: every part sees the same dead and live pushes.
  with dead as (
    select t.id, orchestrator.notion_push_target(t.dedupe_key, t.payload) as target,
           row_number() over (partition by orchestrator.notion_push_target(t.dedupe_key, t.payload) order by t.id desc) as rn
    from orchestrator.tasks t where t.type = 'notion.push' and t.status = 'dead'
  ), plan as (
    select d.*, (select l.id from orchestrator.tasks l
                  where l.type = 'notion.push' and l.status in ('queued', 'running')
                    and l.dedupe_key in (d.target, d.target || ':next')
                  order by l.id limit 1) as live_id
    from dead d
  ), bring_forward as (
    -- Covered rows: their queued push runs now.
    update orchestrator.tasks t set run_at = now(), updated_at = now()
     where t.id in (select live_id from plan where live_id is not null) and t.status = 'queued' and t.run_at > now()
    returning t.id
  ), requeue as (
    update orchestrator.tasks t
       set status = 'queued', attempts = 0, run_at = now(), finished_at = null, result = null,
           dedupe_key = case when t.dedupe_key is null then null else p.target end, updated_at = now()
      from plan p
     where t.id = p.id and p.rn = 1 and p.live_id is null
    returning t.id
  ), cancel as (
    update orchestrator.tasks t
       set status = 'cancelled', updated_at = now(),
           result = jsonb_build_object('coalesced_into',
             coalesce(p.live_id, (select w.id from plan w where w.target = p.target and w.rn = 1)))
      from plan p
     where t.id = p.id and (p.rn > 1 or p.live_id is not null)
    returning t.id
  )
  select (select coalesce(array_agg(id order by id), '{}') from requeue), (select count(*)::int from cancel)
    into v_requeued, v_coalesced;
  if cardinality(v_requeued) > 0 then
    perform orchestrator.wake_worker('notion.repush');
  end if;
  return query select cardinality(v_requeued), v_coalesced, v_requeued;
end
$$;

revoke all on function orchestrator.notion_push_target(text, jsonb) from public;
revoke all on function orchestrator.notion_repush_dead() from public;
grant execute on function orchestrator.notion_push_target(text, jsonb) to service_role;
grant execute on function orchestrator.notion_repush_dead() to service_role;

-- ---- 3. when the sync was last enabled --------------------------------------------

alter table orchestrator.sync_state add column enabled_at timestamptz;
update orchestrator.sync_state set enabled_at = updated_at where enabled;
