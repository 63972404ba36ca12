-- Table watchers: one SQL call attaches the orchestrator to an app's table.
--
--   select orchestrator.watch_table('knisoci.activity_logs', 'knisoci', 'activity_log',
--     '{"level_column": "level", "message_column": "message", "occurred_at_column": "created_at"}');
--
-- installs an AFTER INSERT ... FOR EACH STATEMENT trigger with a transition table:
-- a bulk insert of 10,000 rows costs one trigger call and one INSERT ... SELECT into
-- orchestrator.events. The trigger function is generated per table with the column
-- list compiled in, so a column added to the table later is never copied until
-- watch_table runs again (and a secret-named column never is).
--
-- Options (all optional):
--   level_column        column holding the level word (error, WARNING, crit…; see to_level)
--   level               the level when there is no level column or its value is unknown (default info)
--   message_column      column holding the message (the fingerprint is made from it)
--   occurred_at_column  timestamp column for occurred_at (default: the insert time)
--   keep                only these columns go into payload.record
--   drop                these columns never go into payload.record
-- Secret-named columns (password, token, secret, api_key… see is_secret_name) are
-- never copied; naming one in keep or as the message column is an error.
--
-- A watcher never makes the app's insert fail: if capture breaks (a dropped
-- column, a constraint), the app's rows land, no events are made, and the
-- failure is written to orchestrator.logs (component 'watcher', level error).

create function orchestrator.watch_table(
  p_table regclass,
  p_source text,
  p_event_type text,
  p_options jsonb default '{}'::jsonb
) returns jsonb
language plpgsql as $$
declare
  v_opts jsonb := coalesce(p_options, '{}'::jsonb);
  v_known constant text[] := array['level_column', 'level', 'message_column', 'occurred_at_column', 'keep', 'drop'];
  v_unknown text[];
  v_schema text;
  v_table text;
  v_kind "char";
  v_qualified text;
  v_columns text[];
  v_keep text[];
  v_drop text[];
  v_secret text[];
  v_payload text[];
  v_missing text[];
  v_level_col text := v_opts ->> 'level_column';
  v_msg_col text := v_opts ->> 'message_column';
  v_ts_col text := v_opts ->> 'occurred_at_column';
  v_ts_type text;
  v_default_level orchestrator.log_level;
  v_fn text;
  v_record text;
  v_chunks text[] := '{}';
  v_pairs text[];
  i integer;
begin
  if jsonb_typeof(v_opts) <> 'object' then
    raise exception using errcode = '22023', message = 'watch_table options must be a JSON object';
  end if;
  select array_agg(k order by k) into v_unknown from jsonb_object_keys(v_opts) k where k <> all (v_known);
  if v_unknown is not null then
    raise exception using errcode = '22023',
      message = format('unknown watch_table option(s): %s', array_to_string(v_unknown, ', ')),
      hint = format('Known options: %s.', array_to_string(v_known, ', '));
  end if;
  if p_source is null or p_source !~ '^[a-z0-9][a-z0-9_.-]{0,63}$' then
    raise exception using errcode = '22023', message = format('invalid event source %L', p_source),
      hint = 'A source is 1-64 characters: lowercase letters, digits, "_", "." or "-", starting with a letter or digit.';
  end if;
  if p_event_type is null or p_event_type !~ '^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$' then
    raise exception using errcode = '22023', message = format('invalid event type %L', p_event_type),
      hint = 'An event type is 1-100 characters: letters, digits, "_", ".", ":", "/" or "-".';
  end if;
  if v_opts ? 'level' then
    v_default_level := orchestrator.to_level(v_opts ->> 'level');
    if v_default_level is null then
      raise exception using errcode = '22023', message = format('unknown level %L', v_opts ->> 'level'),
        hint = 'Use debug, info, warn, error or fatal.';
    end if;
  else
    v_default_level := 'info';
  end if;
  foreach v_fn in array array['keep', 'drop'] loop
    if v_opts ? v_fn and (jsonb_typeof(v_opts -> v_fn) <> 'array'
        or exists (select 1 from jsonb_array_elements(v_opts -> v_fn) x where jsonb_typeof(x) <> 'string')) then
      raise exception using errcode = '22023', message = format('watch_table option %s must be an array of column names', v_fn);
    end if;
  end loop;

  select n.nspname, c.relname, c.relkind into v_schema, v_table, v_kind
  from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = p_table;
  if v_kind not in ('r', 'p') then
    raise exception using errcode = '42809', message = format('%s is not a table; only tables can be watched', p_table);
  end if;
  if v_schema = 'orchestrator' then
    raise exception using errcode = '42809', message = format('%s belongs to the orchestrator itself and cannot be watched', p_table);
  end if;
  v_qualified := format('%I.%I', v_schema, v_table);

  select array_agg(attname::text order by attnum) into v_columns
  from pg_attribute where attrelid = p_table and attnum > 0 and not attisdropped;
  v_keep := case when v_opts ? 'keep' then array(select jsonb_array_elements_text(v_opts -> 'keep')) end;
  v_drop := coalesce(array(select jsonb_array_elements_text(v_opts -> 'drop')), '{}');

  select array_agg(c) into v_missing
  from unnest(coalesce(v_keep, '{}') || v_drop || array_remove(array[v_level_col, v_msg_col, v_ts_col], null)) c
  where c <> all (v_columns);
  if v_missing is not null then
    raise exception using errcode = '42703',
      message = format('%s has no column(s) %s', v_qualified, array_to_string(v_missing, ', ')),
      hint = format('Its columns: %s.', array_to_string(v_columns, ', '));
  end if;
  select array_agg(c) into v_missing from unnest(coalesce(v_keep, '{}') || array_remove(array[v_msg_col], null)) c
  where orchestrator.is_secret_name(c);
  if v_missing is not null then
    raise exception using errcode = '22023',
      message = format('column(s) %s look like secrets and are never copied into events', array_to_string(v_missing, ', ')),
      hint = 'Remove them from keep / message_column.';
  end if;
  if v_ts_col is not null then
    select format_type(atttypid, null) into v_ts_type from pg_attribute where attrelid = p_table and attname = v_ts_col;
    if v_ts_type not in ('timestamp with time zone', 'timestamp without time zone', 'date') then
      raise exception using errcode = '42804',
        message = format('occurred_at_column %s is %s; it must be a timestamp, timestamptz or date column', v_ts_col, v_ts_type);
    end if;
  end if;

  v_secret := array(select c from unnest(v_columns) c where orchestrator.is_secret_name(c));
  v_payload := array(select c from unnest(coalesce(v_keep, v_columns)) c
                     where c <> all (v_drop) and not orchestrator.is_secret_name(c));

  -- payload.record as jsonb_build_object over the kept columns, 50 per call
  -- (a function takes at most 100 arguments).
  i := 1;
  while i <= coalesce(array_length(v_payload, 1), 0) loop
    select array_agg(format('%L, r.%I', c, c) order by n) into v_pairs
    from unnest(v_payload[i:i + 49]) with ordinality as u(c, n);
    v_chunks := v_chunks || format('jsonb_build_object(%s)', array_to_string(v_pairs, ', '));
    i := i + 50;
  end loop;
  v_record := coalesce(nullif(array_to_string(v_chunks, ' || '), ''), '''{}''::jsonb');

  v_fn := format('capture_%s', p_table::oid);
  execute format($fn$
    create or replace function orchestrator.%1$I() returns trigger
    language plpgsql security definer set search_path = pg_catalog, pg_temp as $body$
    -- Generated by orchestrator.watch_table for %2$s: re-run watch_table to change it.
    declare
      v_state text;
      v_error text;
    begin
      insert into orchestrator.events (source, type, level, message, payload, occurred_at, via)
      select %3$L, %4$L, %5$s, %6$s,
             jsonb_build_object('schema', %7$L, 'table', %8$L, 'op', 'INSERT', 'record', %9$s),
             %10$s, 'watcher'
      from orchestrator_new_rows r;
      return null;
    exception when others then
      get stacked diagnostics v_state = returned_sqlstate, v_error = message_text;
      begin
        insert into orchestrator.logs (level, component, message, context)
        values ('error', 'watcher',
                format('watcher on %%s could not record events (the app''s rows were inserted, no events were made): %%s', %2$L, v_error),
                jsonb_build_object('table', %2$L, 'source', %3$L, 'event_type', %4$L, 'sqlstate', v_state,
                                   'hint', 'if the table changed, run orchestrator.watch_table again'));
      exception when others then
        raise warning 'orchestrator watcher on %%: capture failed (%%) and could not be logged', %2$L, v_error;
      end;
      return null;
    end
    $body$
  $fn$,
    v_fn, v_qualified, p_source, p_event_type,
    case when v_level_col is null then format('%L::orchestrator.log_level', v_default_level)
         else format('coalesce(orchestrator.to_level(r.%I::text), %L::orchestrator.log_level)', v_level_col, v_default_level) end,
    case when v_msg_col is null then 'null::text' else format('left(r.%I::text, 10000)', v_msg_col) end,
    v_schema, v_table, v_record,
    case when v_ts_col is null then 'now()' else format('coalesce(r.%I::timestamptz, now())', v_ts_col) end);
  execute format('revoke all on function orchestrator.%I() from public', v_fn);

  execute format('drop trigger if exists orchestrator_watch on %s', v_qualified);
  execute format('create trigger orchestrator_watch after insert on %s referencing new table as orchestrator_new_rows '
                 'for each statement execute function orchestrator.%I()', v_qualified, v_fn);

  insert into orchestrator.watchers (relid, table_name, source, event_type, options, columns, secret_columns, function_name)
  values (p_table::oid, v_qualified, p_source, p_event_type, v_opts, v_payload, v_secret, v_fn)
  on conflict (relid) do update
    set table_name = excluded.table_name, source = excluded.source, event_type = excluded.event_type,
        options = excluded.options, columns = excluded.columns, secret_columns = excluded.secret_columns,
        function_name = excluded.function_name, updated_at = now();

  return jsonb_build_object(
    'table', v_qualified, 'source', p_source, 'event_type', p_event_type, 'trigger', 'orchestrator_watch',
    'function', 'orchestrator.' || v_fn, 'columns', to_jsonb(v_payload), 'secret_columns_skipped', to_jsonb(v_secret),
    'level_column', v_level_col, 'message_column', v_msg_col, 'occurred_at_column', v_ts_col, 'default_level', v_default_level);
end
$$;

-- unwatch_table(table) -> true when a watcher was removed.
create function orchestrator.unwatch_table(p_table regclass)
returns boolean
language plpgsql as $$
declare
  v_fn text;
  v_trigger boolean;
begin
  select exists (select 1 from pg_trigger where tgrelid = p_table and tgname = 'orchestrator_watch') into v_trigger;
  execute format('drop trigger if exists orchestrator_watch on %s', p_table);
  delete from orchestrator.watchers where relid = p_table::oid returning function_name into v_fn;
  execute format('drop function if exists orchestrator.%I()', coalesce(v_fn, format('capture_%s', p_table::oid)));
  return v_trigger or v_fn is not null;
end
$$;

-- Watchers and whether their trigger is still in place.
create view orchestrator.watcher_status as
  select w.table_name, w.source, w.event_type, w.columns, w.secret_columns, w.options,
         exists (select 1 from pg_trigger t where t.tgrelid = w.relid and t.tgname = 'orchestrator_watch') as active,
         w.created_at, w.updated_at
  from orchestrator.watchers w;

revoke all on function orchestrator.watch_table(regclass, text, text, jsonb) from public;
revoke all on function orchestrator.unwatch_table(regclass) from public;
grant select on orchestrator.watcher_status to service_role;
