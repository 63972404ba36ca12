-- Schedules: "run this task type with this payload on this cron schedule (UTC)".
-- Each enabled schedule owns one pg_cron job, kept in step by a trigger on the
-- table, so a write from the API, from psql or from a migration all schedule,
-- reschedule or unschedule the job in the same transaction. A job's command is
-- `select orchestrator.schedule_tick(<schedule id>)`; each tick records itself in
-- schedule_runs under unique (schedule_id, tick), so a late, doubled or replayed
-- tick enqueues nothing the second time, even after the first tick's task has
-- finished (the queue's own dedupe only covers live tasks).

-- Cron parsing in SQL, for callers that bypass the API (the API validates the
-- same rules first with zod and answers 400). Five fields, pg_cron 1.4 syntax:
-- `*`, n, a-b, */s, a-b/s, comma lists, month/weekday names; 0 and 7 are Sunday.
create function orchestrator.cron_value(p_raw text, p_field text, p_min integer, p_max integer, p_names text[])
returns integer
language plpgsql immutable as $$
declare
  v integer;
begin
  if p_raw ~ '^\d{1,3}$' then
    v := p_raw::integer;
    if v < p_min or v > p_max then
      raise exception using errcode = '22023',
        message = format('invalid cron expression: %s value %s is out of range %s-%s', p_field, v, p_min, p_max);
    end if;
    return v;
  end if;
  v := array_position(p_names, lower(p_raw));
  if v is not null then
    return p_min + v - 1;
  end if;
  raise exception using errcode = '22023',
    message = format('invalid cron expression: %s value %L is not a number%s', p_field, p_raw,
                     case when p_names is null then '' else ' or a name (' || array_to_string(p_names, ', ') || ')' end);
end
$$;

create function orchestrator.cron_field(p_text text, p_field text, p_min integer, p_max integer, p_names text[] default null)
returns integer[]
language plpgsql immutable as $$
declare
  v_item text;
  v_base text;
  v_step_text text;
  v_step integer;
  v_parts text[];
  v_lo integer;
  v_hi integer;
  v_out integer[] := '{}';
begin
  foreach v_item in array string_to_array(p_text, ',') loop
    if v_item = '' then
      raise exception using errcode = '22023', message = format('invalid cron expression: %s has an empty list item', p_field);
    end if;
    v_base := split_part(v_item, '/', 1);
    v_step_text := case when position('/' in v_item) > 0 then substr(v_item, position('/' in v_item) + 1) end;
    v_step := 1;
    if v_step_text is not null then
      if v_step_text !~ '^\d{1,3}$' or v_step_text::integer < 1 then
        raise exception using errcode = '22023',
          message = format('invalid cron expression: %s step in %L must be a whole number of 1 or more', p_field, v_item);
      end if;
      v_step := v_step_text::integer;
    end if;
    if v_base = '*' then
      v_lo := p_min;
      v_hi := p_max;
    else
      v_parts := string_to_array(v_base, '-');
      if cardinality(v_parts) > 2 then
        raise exception using errcode = '22023', message = format('invalid cron expression: %s %L is not a range', p_field, v_base);
      end if;
      v_lo := orchestrator.cron_value(v_parts[1], p_field, p_min, p_max, p_names);
      if cardinality(v_parts) = 2 then
        v_hi := orchestrator.cron_value(v_parts[2], p_field, p_min, p_max, p_names);
        if v_hi < v_lo then
          raise exception using errcode = '22023', message = format('invalid cron expression: %s range %L runs backwards', p_field, v_base);
        end if;
      elsif v_step_text is not null then
        raise exception using errcode = '22023',
          message = format('invalid cron expression: %s %L: a step needs a range or * before it', p_field, v_item);
      else
        v_hi := v_lo;
      end if;
    end if;
    v_out := v_out || array(select generate_series(v_lo, v_hi, v_step));
  end loop;
  return array(select distinct x from unnest(v_out) x order by x);
end
$$;

-- cron_parse(expr) -> {expression, minute[], hour[], dom[], month[], dow[] (0-6), dom_star, dow_star}
-- Raises 22023 naming the field for anything pg_cron 1.4 would refuse, and for
-- day/month combinations that never occur ("0 0 31 2 *").
create function orchestrator.cron_parse(p_expr text)
returns jsonb
language plpgsql immutable as $$
declare
  v_expr text := regexp_replace(btrim(coalesce(p_expr, '')), '\s+', ' ', 'g');
  v_parts text[];
  v_dom integer[];
  v_month integer[];
  v_dow integer[];
  v_dom_star boolean;
  v_dow_star boolean;
begin
  v_expr := case lower(v_expr)
    when '@yearly' then '0 0 1 1 *' when '@annually' then '0 0 1 1 *' when '@monthly' then '0 0 1 * *'
    when '@weekly' then '0 0 * * 0' when '@daily' then '0 0 * * *' when '@midnight' then '0 0 * * *'
    when '@hourly' then '0 * * * *' else v_expr end;
  v_parts := string_to_array(v_expr, ' ');
  if v_expr = '' or cardinality(v_parts) <> 5 then
    raise exception using errcode = '22023',
      message = format('invalid cron expression %L: write five fields (minute hour day-of-month month day-of-week), times in UTC', p_expr);
  end if;
  v_dom := orchestrator.cron_field(v_parts[3], 'day_of_month', 1, 31);
  v_month := orchestrator.cron_field(v_parts[4], 'month', 1, 12,
    array['jan','feb','mar','apr','may','jun','jul','aug','sep','oct','nov','dec']);
  v_dow := array(select distinct d % 7 from unnest(orchestrator.cron_field(v_parts[5], 'day_of_week', 0, 7,
    array['sun','mon','tue','wed','thu','fri','sat'])) d order by 1);
  v_dom_star := v_parts[3] like '*%';
  v_dow_star := v_parts[5] like '*%';
  if not v_dom_star and v_dow_star and not exists (
    select 1 from unnest(v_month) m, unnest(v_dom) d
    where d <= (array[31,29,31,30,31,30,31,31,30,31,30,31])[m]
  ) then
    raise exception using errcode = '22023',
      message = format('invalid cron expression %L: no chosen month has any of the chosen days, so it would never run', p_expr);
  end if;
  return jsonb_build_object(
    'expression', lower(v_expr),
    'minute', to_jsonb(orchestrator.cron_field(v_parts[1], 'minute', 0, 59)),
    'hour', to_jsonb(orchestrator.cron_field(v_parts[2], 'hour', 0, 23)),
    'dom', to_jsonb(v_dom), 'month', to_jsonb(v_month), 'dow', to_jsonb(v_dow),
    'dom_star', v_dom_star, 'dow_star', v_dow_star);
end
$$;

create function orchestrator.cron_is_valid(p_expr text)
returns boolean
language plpgsql immutable as $$
begin
  perform orchestrator.cron_parse(p_expr);
  return true;
exception when invalid_parameter_value then
  return false;
end
$$;

-- Whether a parsed schedule runs in the UTC minute containing p_at (Vixie cron
-- rules: when either day field starts with `*` both must match, else either).
create function orchestrator.cron_matches(p_cron jsonb, p_at timestamptz)
returns boolean
language sql immutable as $$
  with t as (select p_at at time zone 'UTC' as ts)
  select (p_cron -> 'minute') @> to_jsonb(extract(minute from ts)::int)
     and (p_cron -> 'hour') @> to_jsonb(extract(hour from ts)::int)
     and (p_cron -> 'month') @> to_jsonb(extract(month from ts)::int)
     and case when (p_cron ->> 'dom_star')::boolean or (p_cron ->> 'dow_star')::boolean
              then (p_cron -> 'dom') @> to_jsonb(extract(day from ts)::int) and (p_cron -> 'dow') @> to_jsonb(extract(dow from ts)::int)
              else (p_cron -> 'dom') @> to_jsonb(extract(day from ts)::int) or (p_cron -> 'dow') @> to_jsonb(extract(dow from ts)::int)
         end
  from t
$$;

create table orchestrator.schedules (
  id bigint generated always as identity primary key,
  name text not null unique check (name ~ '^[a-z0-9][a-z0-9_.-]{0,62}$' and name <> 'settings'),
  description text not null default '' check (length(description) <= 2000),
  -- Normalised on write (orchestrator.schedules_normalize): five fields, single spaces.
  cron text not null,
  -- pg_cron runs in UTC (1.4 always; hosted unless cron.timezone is changed): schedules say so.
  timezone text not null default 'UTC' check (timezone = 'UTC'),
  task_type text not null check (task_type ~ '^[a-z][a-z0-9_.:-]{0,63}$'),
  payload jsonb not null default '{}'::jsonb check (jsonb_typeof(payload) = 'object'),
  priority integer not null default 0 check (priority between -1000 and 1000),
  max_attempts integer not null default 5 check (max_attempts between 1 and 100),
  enabled boolean not null default true,
  -- Shipped with the orchestrator (maintenance): may be retimed or disabled, not deleted over the API.
  builtin boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table orchestrator.schedule_runs (
  id bigint generated always as identity primary key,
  schedule_id bigint not null references orchestrator.schedules (id) on delete cascade,
  -- The minute the run belongs to (a manual run: the exact instant it was asked for).
  tick timestamptz not null,
  trigger text not null default 'cron' check (trigger in ('cron', 'manual')),
  -- No foreign key: runs outlive pruned tasks.
  task_id bigint,
  -- Further deliveries of the same tick, which enqueued nothing.
  duplicates integer not null default 0,
  last_duplicate_at timestamptz,
  created_at timestamptz not null default now(),
  unique (schedule_id, tick)
);
create index schedule_runs_schedule_idx on orchestrator.schedule_runs (schedule_id, id desc);
create index schedule_runs_created_idx on orchestrator.schedule_runs (created_at);

-- The pg_cron job name of a schedule.
create function orchestrator.schedule_job_name(p_name text)
returns text
language sql immutable as $$ select 'orchestrator.schedule:' || p_name $$;

create function orchestrator.schedules_normalize()
returns trigger
language plpgsql as $$
begin
  new.cron := orchestrator.cron_parse(new.cron) ->> 'expression';
  if tg_op = 'UPDATE' then
    new.updated_at := now();
    new.created_at := old.created_at;
  end if;
  return new;
end
$$;

create trigger schedules_normalize
  before insert or update on orchestrator.schedules
  for each row execute function orchestrator.schedules_normalize();

-- Keeps pg_cron in step: one job per enabled schedule, none for a disabled or
-- deleted one. Security definer so the job always belongs to the owner of the
-- schema, whoever writes the row (pg_cron keys jobs by name and user).
create function orchestrator.schedules_sync_cron()
returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if tg_op in ('UPDATE', 'DELETE') and (tg_op = 'DELETE' or old.name <> new.name or not new.enabled) then
    perform cron.unschedule(j.jobid) from cron.job j
     where j.jobname = orchestrator.schedule_job_name(old.name) and j.username = current_user;
  end if;
  if tg_op in ('INSERT', 'UPDATE') and new.enabled
     and (tg_op = 'INSERT' or old.name <> new.name or old.cron <> new.cron or not old.enabled) then
    perform cron.schedule(orchestrator.schedule_job_name(new.name), new.cron,
                          format('select orchestrator.schedule_tick(%s)', new.id));
  end if;
  return null;
end
$$;

create trigger schedules_sync_cron
  after insert or update or delete on orchestrator.schedules
  for each row execute function orchestrator.schedules_sync_cron();

-- schedule_tick(schedule id, tick, trigger) -> the task it enqueued, or null when
-- this tick already ran (or the schedule is gone or disabled).
-- Without p_tick, the tick is the latest minute at or before now() that the
-- schedule matches (within the hour), so a tick pg_cron delivers late still
-- counts as the minute it was due and a doubled delivery finds it taken.
create function orchestrator.schedule_tick(
  p_schedule_id bigint,
  p_tick timestamptz default null,
  p_trigger text default 'cron'
) returns bigint
language plpgsql as $$
declare
  v_s orchestrator.schedules;
  v_tick timestamptz;
  v_now timestamptz := date_trunc('minute', now());
  v_run_id bigint;
  v_task orchestrator.tasks;
  v_cron jsonb;
begin
  select * into v_s from orchestrator.schedules where id = p_schedule_id;
  if not found or (not v_s.enabled and p_trigger = 'cron') then
    return null;
  end if;
  if p_tick is not null then
    v_tick := case when p_trigger = 'manual' then p_tick else date_trunc('minute', p_tick) end;
  else
    v_cron := orchestrator.cron_parse(v_s.cron);
    select m into v_tick
      from generate_series(v_now, v_now - interval '59 minutes', interval '-1 minute') m
     where orchestrator.cron_matches(v_cron, m)
     order by m desc limit 1;
    v_tick := coalesce(v_tick, v_now);
  end if;

  insert into orchestrator.schedule_runs (schedule_id, tick, trigger)
  values (v_s.id, v_tick, p_trigger)
  on conflict (schedule_id, tick) do nothing
  returning id into v_run_id;
  if v_run_id is null then
    update orchestrator.schedule_runs
       set duplicates = duplicates + 1, last_duplicate_at = clock_timestamp()
     where schedule_id = v_s.id and tick = v_tick;
    return null;
  end if;

  select (e.task).* into v_task
  from orchestrator.enqueue(v_s.task_type, v_s.payload, jsonb_build_object(
    'dedupe_key', format('schedule:%s:%s%s', v_s.name, case when p_trigger = 'manual' then 'manual:' else '' end,
                         to_char(v_tick at time zone 'UTC', case when p_trigger = 'manual'
                                 then 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' else 'YYYY-MM-DD"T"HH24:MI"Z"' end)),
    'source', 'schedule:' || v_s.name,
    'priority', v_s.priority,
    'max_attempts', v_s.max_attempts)) e;
  update orchestrator.schedule_runs set task_id = v_task.id where id = v_run_id;
  return v_task.id;
end
$$;

alter table orchestrator.schedules enable row level security;
alter table orchestrator.schedule_runs enable row level security;
grant select, insert, update, delete on orchestrator.schedules, orchestrator.schedule_runs to service_role;

revoke all on function orchestrator.schedules_sync_cron() from public;
revoke all on function orchestrator.schedules_normalize() from public;
revoke all on function orchestrator.schedule_tick(bigint, timestamptz, text) from public;
revoke all on function orchestrator.cron_value(text, text, integer, integer, text[]) from public;
revoke all on function orchestrator.cron_field(text, text, integer, integer, text[]) from public;
revoke all on function orchestrator.cron_parse(text) from public;
revoke all on function orchestrator.cron_is_valid(text) from public;
revoke all on function orchestrator.cron_matches(jsonb, timestamptz) from public;
revoke all on function orchestrator.schedule_job_name(text) from public;
grant execute on function orchestrator.schedule_tick(bigint, timestamptz, text) to service_role;
grant execute on function orchestrator.cron_parse(text) to service_role;
grant execute on function orchestrator.cron_is_valid(text) to service_role;
grant execute on function orchestrator.cron_matches(jsonb, timestamptz) to service_role;
grant execute on function orchestrator.schedule_job_name(text) to service_role;
