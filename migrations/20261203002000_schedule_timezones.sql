-- Schedules in IANA time zones: "30 2 * * *" with timezone Europe/Berlin runs at 02:30 Berlin wall-clock time.
--
-- pg_cron stays the clock, and pg_cron 1.4 knows only UTC minutes. So a UTC schedule keeps its exact job
-- (its cron expression, ticking only when due: nothing changes for it), while a zoned schedule's job ticks every
-- minute and SQL decides whether a fire is due: orchestrator.cron_fires() lists a schedule's fire instants, and
-- schedule_tick() fires when the latest of them within the last minutes is not yet in schedule_runs (unique per
-- tick, so a repeated tick never fires twice). GET /schedules/:name lists the next fires with the same function.
--
-- Daylight saving time, one rule each way:
-- * a wall time that does not exist (spring forward: 02:30 on 2027-03-28 in Berlin) fires once, right after the
--   gap (03:00 local = 01:00 UTC); several missing wall times (*/15 2 * * *) fire once together there;
-- * a wall time that exists twice (fall back: 02:30 on 2027-10-31) fires once, at its first occurrence (CEST).
-- Postgres itself reads both as the later offset (02:30 -> 03:30 CEST, and the CET 02:30), so the mapping below
-- does not lean on `timestamp at time zone`'s choice.

-- The time zone's canonical name (pg_timezone_names' spelling, whatever the case it was given in), or 22023
-- saying what to send. Names only: not POSIX strings ("UTC+3"), abbreviations Postgres knows but the IANA
-- database does not name, or the system's posix/ copies and localtime.
create function orchestrator.timezone_canonical(p_timezone text)
returns text
language plpgsql stable as $$
declare
  v_name text;
begin
  -- The default, without reading pg_timezone_names (which stats every zone file: ~40 ms).
  if p_timezone = 'UTC' then
    return 'UTC';
  end if;
  select z.name into v_name
    from pg_timezone_names z
   where lower(z.name) = lower(btrim(coalesce(p_timezone, '')))
     and z.name not like 'posix/%' and z.name not like 'right/%'
     and z.name not in ('localtime', 'posixrules', 'Factory')
   order by z.name = p_timezone desc
   limit 1;
  if v_name is null then
    raise exception using errcode = '22023',
      message = format('unknown time zone %s: use an IANA name such as Europe/Berlin, America/New_York or UTC (the list: select name from pg_timezone_names)',
                       coalesce(quote_literal(p_timezone), 'null'));
  end if;
  return v_name;
end
$$;

-- The instant a schedule fires for the wall-clock minute p_local in p_timezone: its only occurrence; the first
-- of two (fall back); the end of the gap when it does not exist (spring forward). Offsets are read a day either
-- side, which holds wherever two transitions are more than two days apart (every zone since 1970 but a few
-- historical oddities; then Postgres's own reading is used).
create function orchestrator.zoned_instant(p_local timestamp, p_timezone text)
returns timestamptz
language plpgsql stable as $$
declare
  v_as_utc timestamptz := p_local at time zone 'UTC';
  v_offset_before interval := ((v_as_utc - interval '1 day') at time zone p_timezone) - (v_as_utc - interval '1 day') at time zone 'UTC';
  v_offset_after interval := ((v_as_utc + interval '1 day') at time zone p_timezone) - (v_as_utc + interval '1 day') at time zone 'UTC';
  v_early timestamptz := v_as_utc - greatest(v_offset_before, v_offset_after);
  v_late timestamptz := v_as_utc - least(v_offset_before, v_offset_after);
begin
  if v_offset_before = v_offset_after then
    return case when (v_early at time zone p_timezone) = p_local then v_early else p_local at time zone p_timezone end;
  end if;
  -- The earlier reading that shows p_local on the wall clock (both do when it exists twice).
  if (v_early at time zone p_timezone) = p_local then
    return v_early;
  elsif (v_late at time zone p_timezone) = p_local then
    return v_late;
  end if;
  -- In the gap: the first instant whose wall clock is past p_local, i.e. the transition itself.
  return (select min(t) from generate_series(v_early, v_late, interval '1 minute') t where (t at time zone p_timezone) > p_local);
end
$$;

-- An instant as local ISO 8601 with its offset in p_timezone: 2027-03-28T03:00:00+02:00.
create function orchestrator.zoned_iso(p_at timestamptz, p_timezone text)
returns text
language sql stable as $$
  with o as (select (p_at at time zone p_timezone) as local_at,
                    extract(epoch from (p_at at time zone p_timezone) - (p_at at time zone 'UTC'))::integer as secs)
  select to_char(local_at, 'YYYY-MM-DD"T"HH24:MI:SS')
         || case when secs < 0 then '-' else '+' end
         || lpad((abs(secs) / 3600)::text, 2, '0') || ':' || lpad((abs(secs) % 3600 / 60)::text, 2, '0')
  from o
$$;

-- cron_fires(cron, timezone, after, count, until) -> the fire instants strictly after p_after and at or before
-- p_until, earliest first, at most p_count, looking at most ~5 years ahead. The one truth of when a schedule
-- fires: the tick asks it whether a fire is due, GET /schedules/:name shows its next ones. For UTC it is
-- plain cron (every matching UTC minute).
create function orchestrator.cron_fires(
  p_cron text,
  p_timezone text,
  p_after timestamptz,
  p_count integer default 5,
  p_until timestamptz default 'infinity'
) returns table (fire_at timestamptz, local_time text)
language plpgsql stable as $$
declare
  v_cron jsonb := orchestrator.cron_parse(p_cron);
  v_minutes integer[] := array(
    select h::int * 60 + m::int
      from jsonb_array_elements_text(v_cron -> 'hour') h, jsonb_array_elements_text(v_cron -> 'minute') m
     order by 1);
  -- Wall-clock bounds outside which no minute can fire inside (p_after, p_until]: the instants read with the
  -- smallest / largest offset nearby (see zoned_instant).
  v_wall_from timestamp := (p_after at time zone 'UTC') + least(
    ((p_after - interval '1 day') at time zone p_timezone) - ((p_after - interval '1 day') at time zone 'UTC'),
    ((p_after + interval '1 day') at time zone p_timezone) - ((p_after + interval '1 day') at time zone 'UTC'));
  v_wall_until timestamp;
  v_day date;
  v_last_day date;
  v_local timestamp;
  v_fire timestamptz;
  v_previous timestamptz;
  v_found integer := 0;
begin
  if p_count < 1 then
    return;
  end if;
  v_day := v_wall_from::date;
  v_last_day := v_day + 5 * 366;
  if p_until < 'infinity' then
    v_wall_until := (p_until at time zone 'UTC') + greatest(
      ((p_until - interval '1 day') at time zone p_timezone) - ((p_until - interval '1 day') at time zone 'UTC'),
      ((p_until + interval '1 day') at time zone p_timezone) - ((p_until + interval '1 day') at time zone 'UTC'));
    v_last_day := least(v_last_day, v_wall_until::date);
  end if;
  while v_day <= v_last_day loop
    -- The day fields (Vixie rule) through cron_matches, at the day's first matching hour and minute.
    if orchestrator.cron_matches(v_cron, (v_day + v_minutes[1] * interval '1 minute') at time zone 'UTC') then
      for v_local in
        select v_day + m * interval '1 minute' from unnest(v_minutes) m
         where v_day + m * interval '1 minute' >= v_wall_from
           and (v_wall_until is null or v_day + m * interval '1 minute' <= v_wall_until)
         order by m
      loop
        v_fire := case when p_timezone = 'UTC' then v_local at time zone 'UTC' else orchestrator.zoned_instant(v_local, p_timezone) end;
        -- Wall minutes map to instants in order; equal instants (a gap's minutes) fire once.
        continue when v_fire <= p_after or v_fire > p_until or v_fire = v_previous;
        v_previous := v_fire;
        fire_at := v_fire;
        local_time := orchestrator.zoned_iso(v_fire, p_timezone);
        return next;
        v_found := v_found + 1;
        if v_found >= p_count then
          return;
        end if;
      end loop;
    end if;
    v_day := v_day + 1;
  end loop;
end
$$;

-- What pg_cron runs a schedule on: its own cron for UTC (exactly as before), every minute in another zone.
create function orchestrator.schedule_job_cron(p_cron text, p_timezone text)
returns text
language sql immutable as $$ select case when p_timezone = 'UTC' then p_cron else '* * * * *' end $$;

-- A schedule's next fires from p_from, as [{utc, local}] (none while disabled): what GET /schedules shows.
create function orchestrator.schedule_next_fires(p_schedule_id bigint, p_from timestamptz default now(), p_count integer default 5)
returns jsonb
language sql stable as $$
  select coalesce(jsonb_agg(jsonb_build_object(
           'utc', to_char(f.fire_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           'local', f.local_time) order by f.fire_at), '[]'::jsonb)
    from orchestrator.schedules s
    cross join lateral orchestrator.cron_fires(s.cron, s.timezone, p_from, p_count) f
   where s.id = p_schedule_id and s.enabled
$$;

alter table orchestrator.schedules drop constraint schedules_timezone_check;
comment on column orchestrator.schedules.timezone is
  'IANA time zone the cron expression is read in (canonical pg_timezone_names spelling); UTC by default.';

create or replace function orchestrator.schedules_normalize()
returns trigger
language plpgsql as $$
begin
  new.cron := orchestrator.cron_parse(new.cron) ->> 'expression';
  if tg_op = 'INSERT' or new.timezone is distinct from old.timezone then
    new.timezone := orchestrator.timezone_canonical(new.timezone);
  end if;
  if tg_op = 'UPDATE' then
    new.updated_at := now();
    new.created_at := old.created_at;
  end if;
  return new;
end
$$;

create or replace function orchestrator.schedules_sync_cron()
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
     and (tg_op = 'INSERT' or old.name <> new.name or old.cron <> new.cron or old.timezone <> new.timezone or not old.enabled) then
    perform cron.schedule(orchestrator.schedule_job_name(new.name), orchestrator.schedule_job_cron(new.cron, new.timezone),
                          format('select orchestrator.schedule_tick(%s)', new.id));
  end if;
  return null;
end
$$;

-- schedule_tick gains p_now (default now()), so a test can drive the clock; pg_cron calls it as before,
-- `select orchestrator.schedule_tick(<id>)`. A UTC schedule's tick is unchanged. A zoned schedule's cron tick
-- (every minute) fires the latest fire instant in the last 10 minutes (a tick pg_cron delivered late, or
-- skipped, still fires) that is not before the schedule's last change (no fire from before it was written), and
-- nothing when that instant already ran: a doubled delivery of the due minute counts as a duplicate, the
-- following minutes' ticks pass quietly.
drop function orchestrator.schedule_tick(bigint, timestamptz, text);
create function orchestrator.schedule_tick(
  p_schedule_id bigint,
  p_tick timestamptz default null,
  p_trigger text default 'cron',
  p_now timestamptz default now()
) returns bigint
language plpgsql as $$
declare
  v_s orchestrator.schedules;
  v_tick timestamptz;
  v_now timestamptz := date_trunc('minute', p_now);
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
  elsif v_s.timezone <> 'UTC' then
    select max(f.fire_at) into v_tick
      from orchestrator.cron_fires(v_s.cron, v_s.timezone,
             greatest(v_now - interval '10 minutes', date_trunc('minute', v_s.updated_at) - interval '1 minute'),
             100, v_now) f;
    if v_tick is null then
      return null;
    end if;
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
    -- A zoned schedule's later minutes find the fire they already made: not a second delivery of it.
    if p_tick is not null or v_s.timezone = 'UTC' or v_tick = v_now then
      update orchestrator.schedule_runs
         set duplicates = duplicates + 1, last_duplicate_at = clock_timestamp()
       where schedule_id = v_s.id and tick = v_tick;
    end if;
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

revoke all on function orchestrator.schedule_tick(bigint, timestamptz, text, timestamptz) from public;
revoke all on function orchestrator.timezone_canonical(text) from public;
revoke all on function orchestrator.zoned_instant(timestamp, text) from public;
revoke all on function orchestrator.zoned_iso(timestamptz, text) from public;
revoke all on function orchestrator.cron_fires(text, text, timestamptz, integer, timestamptz) from public;
revoke all on function orchestrator.schedule_job_cron(text, text) from public;
revoke all on function orchestrator.schedule_next_fires(bigint, timestamptz, integer) from public;
grant execute on function orchestrator.schedule_tick(bigint, timestamptz, text, timestamptz) to service_role;
grant execute on function orchestrator.timezone_canonical(text) to service_role;
grant execute on function orchestrator.zoned_instant(timestamp, text) to service_role;
grant execute on function orchestrator.zoned_iso(timestamptz, text) to service_role;
grant execute on function orchestrator.cron_fires(text, text, timestamptz, integer, timestamptz) to service_role;
grant execute on function orchestrator.schedule_job_cron(text, text) to service_role;
grant execute on function orchestrator.schedule_next_fires(bigint, timestamptz, integer) to service_role;
