-- Events get a retention too. A watched KniSoci or Candyland table writes one
-- event per inserted row, so without it orchestrator.events only grows.
--
-- retention.events_days (default 30): routed events received before that are
-- deleted by the hourly maintenance-prune. Unrouted events (processed_at null,
-- retried by the events job) stay whatever their age. Tickets keep their own
-- occurrence counts and first/last seen times, so no count is lost; a sender's
-- external_id older than the retention is no longer remembered as a repeat.
-- The same job forgets watchers whose table was dropped.
insert into orchestrator.settings (key, value, description) values
  ('retention.events_days', '30', 'Routed events are deleted this many days after they were received (tickets keep their counts).')
on conflict (key) do nothing;

create function orchestrator.prune_events(p_opts jsonb default '{}'::jsonb)
returns jsonb
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_days integer := greatest(1, coalesce((coalesce(p_opts, '{}'::jsonb) ->> 'events_days')::integer,
                                         (orchestrator.setting('retention.events_days') #>> '{}')::integer, 30));
  v_n bigint;
  v_fn text;
  v_dropped integer := 0;
begin
  delete from orchestrator.events where processed_at is not null and received_at < now() - make_interval(days => v_days);
  get diagnostics v_n = row_count;
  -- A dropped watched table takes its trigger with it but leaves its watcher row
  -- and capture function behind: forget both.
  for v_fn in
    delete from orchestrator.watchers w where not exists (select 1 from pg_class c where c.oid = w.relid)
    returning w.function_name
  loop
    execute format('drop function if exists orchestrator.%I()', v_fn);
    v_dropped := v_dropped + 1;
  end loop;
  return jsonb_build_object('events', jsonb_build_object('deleted', v_n, 'days', v_days),
                            'watchers_of_dropped_tables', jsonb_build_object('deleted', v_dropped));
end
$$;

-- prune_history stays the one entry point (maintenance.prune, psql): it is now
-- the run history (the earlier function, renamed, unchanged) plus events.
alter function orchestrator.prune_history(jsonb) rename to prune_run_history;

create function orchestrator.prune_history(p_opts jsonb default '{}'::jsonb)
returns jsonb
language sql security definer
set search_path = pg_catalog, pg_temp
as $$
  select orchestrator.prune_run_history(p_opts) || orchestrator.prune_events(p_opts)
$$;

revoke all on function orchestrator.prune_events(jsonb), orchestrator.prune_run_history(jsonb), orchestrator.prune_history(jsonb) from public;
grant execute on function orchestrator.prune_events(jsonb), orchestrator.prune_run_history(jsonb), orchestrator.prune_history(jsonb) to service_role;

update orchestrator.schedules
   set description = 'Deletes finished tasks, logs, schedule runs, workflow runs, routed events, pg_cron run history and pg_net responses past their retention (settings retention.*).'
 where name = 'maintenance-prune'
   and description = 'Deletes finished tasks, logs, schedule runs, workflow runs, pg_cron run history and pg_net responses past their retention (settings retention.*).';
