-- Flow control in the queue (issue 17): concurrency limits per key and per task type, rate limits
-- (token buckets), debounce, throttle, fairness between groups, and cancel by event.
--
-- All of it lives in the queue's SQL (enqueue, claim, the end of a run, the events trigger), so every
-- claimer, and every way of enqueuing (REST, rules, workflows, schedules, psql), shares one truth. A
-- task carries what it asked for, resolved at enqueue (keys rendered from its payload, a task type's
-- defaults filled in); the claim decides.
--
-- The claim's cost for a queue with no flow control is one more index probe (the group bounds):
-- a picked batch with no flow columns goes straight to the UPDATE, as before.
--
-- Concurrency (`concurrency: {key, limit}` and a limit per task type):
--   * The claim counts a key's running tasks (a partial index holds running keyed tasks only) under an
--     exclusive advisory lock on the key, taken with try: a claimer never waits, a key another claimer
--     is deciding is passed over this time. The count's statement starts after the lock, so it sees
--     every claim of that key that committed before.
--   * A task over its limit is PARKED (parked_on = the key), which takes it out of the claim index: a
--     backlog of 100,000 tasks on one key costs later claims nothing. A run of a keyed task that ends
--     (any way: complete, fail, reap, cancel) unparks the next one of its key, under a SHARED lock on
--     the key: the end waits for a claimer deciding that key (which never waits itself, so no cycle),
--     and ends never block each other (no deadlock between batches of ends). Unparking one too many
--     is harmless (the claim counts again); the sweep unparks any key with room left, as a safety net
--     (a limit raised, or a parked task whose key has no running task).
-- Rate (`rate: {key, limit, period_seconds, burst}`): a GCRA token bucket in orchestrator.rate_limits,
--   the table the Notion client's per-request bucket already used: one row per key, one arithmetic
--   (rate_take). A task whose token is not due yet gets run_at = when it is due, spaced one interval
--   after the previous deferral of that key, so a backlog does not come due all at once. The bucket is
--   decided with now(), the claim's transaction time, which is the task's started_at: the limit holds
--   on the recorded start times exactly.
-- Debounce (`debounce: {key, seconds}`): one queued task per key; an enqueue within the window replaces
--   its payload and moves its run_at to now + seconds. Throttle (`throttle: {key, seconds, mode}`): at
--   most one run per key per window; mode 'drop' answers with the window's task, 'coalesce' keeps one
--   queued task for the window's end with the latest payload.
-- Fairness (`group`): the claim takes round-robin across the groups that have queued tasks, starting at
--   a rotating group (a sequence, no shared row to update).
-- Cancel by event (`cancel_on: {source, type, match}`): an event whose source and type are equal and
--   whose payload contains `match` cancels the queued and running tasks that asked for it, in one
--   statement per statement of events; running ones are told on orchestrator_task_cancelled, and the
--   worker aborts their AbortSignal.

-- 1. What a task carries ------------------------------------------------------------------------
alter table orchestrator.tasks
  add column concurrency_key text,
  add column concurrency_limit integer,
  add column type_concurrency_limit integer,
  add column rate_key text,
  add column group_key text not null default '',
  add column debounce_key text,
  add column cancel_on jsonb,
  add column parked_on text,
  add constraint tasks_concurrency_check check (
    (concurrency_key is null) = (concurrency_limit is null)
    and concurrency_limit between 1 and 10000 and length(concurrency_key) between 1 and 200),
  add constraint tasks_type_concurrency_limit_check check (type_concurrency_limit between 1 and 10000),
  add constraint tasks_rate_key_check check (length(rate_key) between 1 and 200),
  add constraint tasks_group_key_check check (length(group_key) <= 100),
  add constraint tasks_debounce_key_check check (length(debounce_key) between 1 and 220),
  add constraint tasks_cancel_on_check check (jsonb_typeof(cancel_on) = 'object');

comment on column orchestrator.tasks.parked_on is
  'Set while a queued task waits for room under a concurrency limit: "key:<concurrency_key>" or "type:<type>". Parked tasks are outside the claim index; the end of a run of that key unparks the next.';

-- The claim index, per group: a group's head is one probe, and min/max(group_key) are the group bounds.
drop index orchestrator.tasks_claim_idx;
create index tasks_claim_idx on orchestrator.tasks (group_key, priority desc, run_at, id)
  where status = 'queued' and parked_on is null;
create index tasks_running_concurrency_idx on orchestrator.tasks (concurrency_key)
  where status = 'running' and concurrency_key is not null;
create index tasks_running_type_limited_idx on orchestrator.tasks (type)
  where status = 'running' and type_concurrency_limit is not null;
create index tasks_parked_idx on orchestrator.tasks (parked_on, priority desc, run_at, id)
  where status = 'queued' and parked_on is not null;
create unique index tasks_debounce_key_idx on orchestrator.tasks (debounce_key)
  where status = 'queued' and debounce_key is not null;
create index tasks_cancel_on_idx on orchestrator.tasks ((cancel_on ->> 'source'), (cancel_on ->> 'type'))
  where cancel_on is not null and status in ('queued', 'running');

-- Rate buckets: the Notion client's table, with a bucket's declared shape and its deferral cursor.
alter table orchestrator.rate_limits
  add column interval_seconds double precision,
  add column tolerance_seconds double precision,
  add column deferred_until timestamptz;

create table orchestrator.throttle_windows (
  key text primary key check (length(key) between 1 and 200),
  window_ends_at timestamptz not null,
  task_id bigint
);

-- A task type's flow-control defaults, for every way a task of that type is enqueued.
create table orchestrator.task_type_flow (
  type text primary key check (type ~ '^[a-z][a-z0-9_.:-]{0,63}$'),
  defaults jsonb not null check (jsonb_typeof(defaults) = 'object'),
  updated_at timestamptz not null default now()
);

create sequence orchestrator.claim_rotation as bigint cycle;

-- 2. Reading the options --------------------------------------------------------------------------
-- A key: a string, rendered against {payload: …}; a placeholder with no value is the caller's error.
create function orchestrator.flow_key(p_path text, p_template jsonb, p_payload jsonb)
returns text
language plpgsql stable as $$
declare
  r record;
  v text;
begin
  if p_template is null or jsonb_typeof(p_template) <> 'string' then
    raise exception using errcode = '22023', message = format('%s: a key must be a string (text, or {{payload.path}} placeholders)', p_path);
  end if;
  select * into r from orchestrator.render_template(p_template, jsonb_build_object('payload', coalesce(p_payload, '{}'::jsonb)));
  if cardinality(r.missing) > 0 then
    raise exception using errcode = '22023',
      message = format('%s: %s has no value in this task''s payload', p_path, array_to_string(r.missing, ', ')),
      hint = 'A key placeholder reads the payload: {{payload.ticket_id}}.';
  end if;
  v := case when jsonb_typeof(r.value) = 'string' then r.value #>> '{}' else r.value::text end;
  if length(v) not between 1 and 200 then
    raise exception using errcode = '22023', message = format('%s: the key must be 1-200 characters, got %s', p_path, length(v));
  end if;
  return v;
end
$$;

create function orchestrator.flow_number(p_path text, p_value jsonb, p_min numeric, p_max numeric, p_whole boolean default true)
returns numeric
language plpgsql immutable as $$
declare
  v numeric;
begin
  if p_value is null or jsonb_typeof(p_value) <> 'number' then
    raise exception using errcode = '22023', message = format('%s must be a number from %s to %s', p_path, p_min, p_max);
  end if;
  v := (p_value #>> '{}')::numeric;
  if v < p_min or v > p_max or (p_whole and v <> trunc(v)) then
    raise exception using errcode = '22023',
      message = format('%s must be a %s from %s to %s, got %s', p_path, case when p_whole then 'whole number' else 'number' end, p_min, p_max, v);
  end if;
  return v;
end
$$;

create function orchestrator.flow_object(p_path text, p_value jsonb, p_allowed text[], p_required text[])
returns jsonb
language plpgsql immutable as $$
declare
  k text;
begin
  if p_value is null or jsonb_typeof(p_value) = 'null' then
    return null;
  end if;
  if jsonb_typeof(p_value) <> 'object' then
    raise exception using errcode = '22023', message = format('%s must be an object with %s', p_path, array_to_string(p_allowed, ', '));
  end if;
  for k in select jsonb_object_keys(p_value) loop
    if not k = any (p_allowed) then
      raise exception using errcode = '22023', message = format('%s.%s is not a field; use %s', p_path, k, array_to_string(p_allowed, ', '));
    end if;
  end loop;
  foreach k in array p_required loop
    if not p_value ? k then
      raise exception using errcode = '22023', message = format('%s.%s is required', p_path, k);
    end if;
  end loop;
  return p_value;
end
$$;

-- flow_resolve(type, payload, opts): the flow control a task gets, its type's defaults under its own
-- options, validated and rendered. Every error names the field: `concurrency.limit must be …`.
create function orchestrator.flow_resolve(p_type text, p_payload jsonb, p_opts jsonb)
returns jsonb
language plpgsql stable as $$
declare
  d jsonb := coalesce((select defaults from orchestrator.task_type_flow where type = p_type), '{}'::jsonb);
  o jsonb;
  c jsonb;
  r jsonb;
  out jsonb := '{}'::jsonb;
  v_limit numeric;
  v_period numeric;
  v_burst numeric;
  v_mode text;
begin
  o := d || (coalesce(p_opts, '{}'::jsonb) - 'type_concurrency_limit');
  c := orchestrator.flow_object('concurrency', o -> 'concurrency', array['key', 'limit'], array['key', 'limit']);
  if c is not null then
    out := out || jsonb_build_object(
      'concurrency_key', orchestrator.flow_key('concurrency.key', c -> 'key', p_payload),
      'concurrency_limit', orchestrator.flow_number('concurrency.limit', c -> 'limit', 1, 10000));
  end if;
  if d ? 'type_concurrency_limit' then
    out := out || jsonb_build_object('type_concurrency_limit', orchestrator.flow_number('type_concurrency_limit', d -> 'type_concurrency_limit', 1, 10000));
  end if;
  r := orchestrator.flow_object('rate', o -> 'rate', array['key', 'limit', 'period_seconds', 'burst'], array['key', 'limit', 'period_seconds']);
  if r is not null then
    v_limit := orchestrator.flow_number('rate.limit', r -> 'limit', 1, 100000);
    v_period := orchestrator.flow_number('rate.period_seconds', r -> 'period_seconds', 0.001, 86400, false);
    v_burst := case when r ? 'burst' then orchestrator.flow_number('rate.burst', r -> 'burst', 1, 100000) else 1 end;
    out := out || jsonb_build_object(
      'rate_key', orchestrator.flow_key('rate.key', r -> 'key', p_payload),
      'rate_interval', v_period / v_limit,
      'rate_tolerance', (v_period / v_limit) * (v_burst - 1));
  end if;
  r := orchestrator.flow_object('debounce', o -> 'debounce', array['key', 'seconds'], array['key', 'seconds']);
  if r is not null then
    out := out || jsonb_build_object(
      'debounce_key', orchestrator.flow_key('debounce.key', r -> 'key', p_payload),
      'debounce_seconds', orchestrator.flow_number('debounce.seconds', r -> 'seconds', 0.001, 86400, false));
  end if;
  r := orchestrator.flow_object('throttle', o -> 'throttle', array['key', 'seconds', 'mode'], array['key', 'seconds']);
  if r is not null then
    v_mode := coalesce(r ->> 'mode', 'drop');
    if v_mode not in ('drop', 'coalesce') then
      raise exception using errcode = '22023', message = format('throttle.mode must be "drop" or "coalesce", got %s', r -> 'mode');
    end if;
    out := out || jsonb_build_object(
      'throttle_key', orchestrator.flow_key('throttle.key', r -> 'key', p_payload),
      'throttle_seconds', orchestrator.flow_number('throttle.seconds', r -> 'seconds', 0.001, 86400, false),
      'throttle_mode', v_mode);
  end if;
  if out ? 'debounce_key' and out ? 'throttle_key' then
    raise exception using errcode = '22023', message = 'debounce and throttle: choose one (debounce runs the last enqueue after a quiet window, throttle the first of each window)';
  end if;
  if (out ? 'debounce_key' or out ? 'throttle_key') and coalesce(p_opts ->> 'dedupe_key', '') <> '' then
    raise exception using errcode = '22023', message = 'dedupe_key cannot be combined with debounce or throttle (each already keeps one task per key)';
  end if;
  if o ? 'group' and jsonb_typeof(o -> 'group') <> 'null' then
    out := out || jsonb_build_object('group_key', orchestrator.flow_key('group', o -> 'group', p_payload));
  end if;
  r := orchestrator.flow_object('cancel_on', o -> 'cancel_on', array['source', 'type', 'match'], array['source', 'type']);
  if r is not null then
    if jsonb_typeof(r -> 'source') <> 'string' or jsonb_typeof(r -> 'type') <> 'string' then
      raise exception using errcode = '22023', message = 'cancel_on.source and cancel_on.type must be strings (an event''s source and type)';
    end if;
    if r ? 'match' and jsonb_typeof(r -> 'match') <> 'object' then
      raise exception using errcode = '22023', message = 'cancel_on.match must be an object the event''s payload contains';
    end if;
    declare
      m record;
    begin
      select * into m from orchestrator.render_template(coalesce(r -> 'match', '{}'::jsonb), jsonb_build_object('payload', coalesce(p_payload, '{}'::jsonb)));
      if cardinality(m.missing) > 0 then
        raise exception using errcode = '22023', message = format('cancel_on.match: %s has no value in this task''s payload', array_to_string(m.missing, ', '));
      end if;
      out := out || jsonb_build_object('cancel_on', jsonb_build_object('source', r ->> 'source', 'type', r ->> 'type', 'match', m.value));
    end;
  end if;
  return out;
end
$$;

-- set_task_type_flow(type, defaults): a type's defaults (validated as a task's options would be, with
-- `type_concurrency_limit` for a limit over all its tasks). Queued tasks of the type take the new type
-- limit at once; `null` removes the defaults.
create function orchestrator.set_task_type_flow(p_type text, p_defaults jsonb)
returns jsonb
language plpgsql as $$
declare
  k text;
begin
  if p_defaults is null or p_defaults = '{}'::jsonb then
    delete from orchestrator.task_type_flow where type = p_type;
    update orchestrator.tasks set type_concurrency_limit = null where type = p_type and status = 'queued' and type_concurrency_limit is not null;
    return null;
  end if;
  if jsonb_typeof(p_defaults) <> 'object' then
    raise exception using errcode = '22023', message = 'a task type''s flow defaults must be a JSON object';
  end if;
  for k in select jsonb_object_keys(p_defaults) loop
    if k not in ('concurrency', 'type_concurrency_limit', 'rate', 'debounce', 'throttle', 'group', 'cancel_on') then
      raise exception using errcode = '22023', message = format('%s is not a flow-control field; use concurrency, type_concurrency_limit, rate, debounce, throttle, group, cancel_on', k);
    end if;
  end loop;
  insert into orchestrator.task_type_flow (type, defaults) values (p_type, p_defaults)
  on conflict (type) do update set defaults = excluded.defaults, updated_at = now();
  -- Validate now (keys with placeholders are checked against each task's payload at its enqueue).
  if p_defaults ? 'type_concurrency_limit' then
    perform orchestrator.flow_number('type_concurrency_limit', p_defaults -> 'type_concurrency_limit', 1, 10000);
  end if;
  -- The rest of the defaults, as an enqueue of a task with an empty payload would read them.
  perform orchestrator.flow_resolve(p_type, '{}'::jsonb, '{}'::jsonb)
   where not (p_defaults::text like '%{{%');
  update orchestrator.tasks set type_concurrency_limit = (p_defaults ->> 'type_concurrency_limit')::integer
   where type = p_type and status = 'queued'
     and type_concurrency_limit is distinct from (p_defaults ->> 'type_concurrency_limit')::integer;
  perform orchestrator.flow_unpark_all();
  return p_defaults;
end
$$;

-- 3. Rate buckets ------------------------------------------------------------------------------
-- rate_take(bucket, tat, interval, tolerance, at): GCRA. Null when a token is granted at `at` (the bucket
-- moves on one interval), else when the next token is due. The caller has locked the bucket row and read
-- its tat with the lock.
create function orchestrator.rate_take(p_bucket text, p_tat timestamptz, p_interval double precision, p_tolerance double precision, p_at timestamptz)
returns timestamptz
language plpgsql as $$
declare
  v_tat timestamptz := p_tat;
  v_due timestamptz;
begin
  v_due := v_tat - make_interval(secs => p_tolerance);
  if v_due <= p_at then
    update orchestrator.rate_limits
       set tat = greatest(v_tat, p_at) + make_interval(secs => p_interval), granted = granted + 1, updated_at = p_at
     where bucket = p_bucket;
    return null;
  end if;
  return v_due;
end
$$;

-- The Notion client's per-request bucket, on the same arithmetic (same contract as before: the seconds
-- to wait for this caller's slot, or minus the wait when it is over p_max_wait_seconds).
create or replace function orchestrator.rate_limit_take(p_bucket text, p_rate double precision, p_burst integer default 1, p_max_wait_seconds double precision default 60)
returns double precision
language plpgsql as $$
declare
  v_interval double precision;
  v_tolerance double precision;
  v_now timestamptz;
  v_tat timestamptz;
  v_due timestamptz;
  v_wait double precision;
begin
  if p_rate is null or p_rate <= 0 then
    raise exception using errcode = '22023', message = format('rate must be > 0, got %s', p_rate);
  end if;
  v_interval := 1.0 / p_rate;
  v_tolerance := v_interval * (greatest(coalesce(p_burst, 1), 1) - 1);
  insert into orchestrator.rate_limits (bucket, tat) values (p_bucket, clock_timestamp())
  on conflict (bucket) do nothing;
  select tat into v_tat from orchestrator.rate_limits where bucket = p_bucket for update;
  v_now := clock_timestamp();
  v_due := orchestrator.rate_take(p_bucket, v_tat, v_interval, v_tolerance, v_now);
  if v_due is null then
    return 0;
  end if;
  v_wait := extract(epoch from v_due - v_now);
  if v_wait > coalesce(p_max_wait_seconds, 60) then
    return -v_wait;
  end if;
  -- A caller that waits holds the slot it waits for.
  perform orchestrator.rate_take(p_bucket, v_tat, v_interval, v_tolerance, v_due);
  return v_wait;
end
$$;

-- 4. Enqueue -------------------------------------------------------------------------------------
create or replace function orchestrator.enqueue(p_type text, p_payload jsonb default '{}'::jsonb, p_opts jsonb default '{}'::jsonb,
  out task orchestrator.tasks, out created boolean)
language plpgsql as $$
declare
  v_opts jsonb := coalesce(p_opts, '{}'::jsonb);
  v_key text;
  f jsonb;
  v_run_at timestamptz;
  v_id bigint;
  w orchestrator.throttle_windows;
begin
  if p_type is null or p_type !~ '^[a-z][a-z0-9_.:-]{0,63}$' then
    raise exception using errcode = '22023',
      message = format('invalid task type %L', p_type),
      hint = 'A task type is 1-64 characters: a lowercase letter, then lowercase letters, digits, "_", ".", ":" or "-".';
  end if;
  if jsonb_typeof(v_opts) <> 'object' then
    raise exception using errcode = '22023', message = 'enqueue options must be a JSON object';
  end if;
  if p_payload is not null and jsonb_typeof(p_payload) <> 'object' then
    raise exception using errcode = '22023', message = 'task payload must be a JSON object';
  end if;
  v_key := v_opts ->> 'dedupe_key';
  f := orchestrator.flow_resolve(p_type, p_payload, v_opts);
  v_run_at := coalesce((v_opts ->> 'run_at')::timestamptz, now());

  if f ? 'rate_key' then
    insert into orchestrator.rate_limits (bucket, tat, interval_seconds, tolerance_seconds)
    values (f ->> 'rate_key', now(), (f ->> 'rate_interval')::float8, (f ->> 'rate_tolerance')::float8)
    on conflict (bucket) do update
      set interval_seconds = excluded.interval_seconds, tolerance_seconds = excluded.tolerance_seconds
      where orchestrator.rate_limits.interval_seconds is distinct from excluded.interval_seconds
         or orchestrator.rate_limits.tolerance_seconds is distinct from excluded.tolerance_seconds;
  end if;

  if f ? 'debounce_key' then
    -- The last enqueue within the window wins: one queued task per key, its payload the latest, its
    -- run_at the end of a quiet window.
    v_run_at := greatest(v_run_at, now() + make_interval(secs => (f ->> 'debounce_seconds')::float8));
    f := f || jsonb_build_object('debounce_key', 'debounce:' || (f ->> 'debounce_key'));
  elsif f ? 'throttle_key' then
    insert into orchestrator.throttle_windows (key, window_ends_at) values (f ->> 'throttle_key', '-infinity')
    on conflict (key) do nothing;
    select * into w from orchestrator.throttle_windows where key = f ->> 'throttle_key' for update;
    if now() >= w.window_ends_at or (w.task_id is not null and not exists (select 1 from orchestrator.tasks where id = w.task_id)) then
      -- The window is open: this one runs, and a new window begins.
      f := f - 'throttle_key';
    elsif f ->> 'throttle_mode' = 'drop' then
      select * into task from orchestrator.tasks where id = w.task_id;
      created := false;
      return;
    else
      -- Coalesce: one queued task at the window's end, with the latest payload.
      update orchestrator.tasks set payload = coalesce(p_payload, '{}'::jsonb), updated_at = now()
       where debounce_key = 'throttle:' || w.key and status = 'queued'
      returning * into task;
      if found then
        created := false;
        return;
      end if;
      v_run_at := w.window_ends_at;
      f := f || jsonb_build_object('debounce_key', 'throttle:' || w.key);
    end if;
  end if;

  loop
    insert into orchestrator.tasks as t (type, payload, priority, run_at, max_attempts, backoff_base_seconds, dedupe_key, source, parent_id,
                                         concurrency_key, concurrency_limit, type_concurrency_limit, rate_key, group_key, debounce_key, cancel_on)
    values (
      p_type,
      coalesce(p_payload, '{}'::jsonb),
      coalesce((v_opts ->> 'priority')::integer, 0),
      v_run_at,
      coalesce((v_opts ->> 'max_attempts')::integer, 5),
      coalesce((v_opts ->> 'backoff_base_seconds')::numeric, 2),
      v_key,
      coalesce(v_opts ->> 'source', 'sql'),
      (v_opts ->> 'parent_id')::bigint,
      f ->> 'concurrency_key',
      (f ->> 'concurrency_limit')::integer,
      (f ->> 'type_concurrency_limit')::integer,
      f ->> 'rate_key',
      coalesce(f ->> 'group_key', ''),
      f ->> 'debounce_key',
      f -> 'cancel_on'
    )
    on conflict do nothing
    returning t.id into v_id;
    if v_id is not null then
      select * into task from orchestrator.tasks where id = v_id;
      created := true;
      if w.key is not null then
        update orchestrator.throttle_windows
           set window_ends_at = greatest(now(), w.window_ends_at) + make_interval(secs => (f ->> 'throttle_seconds')::float8),
               task_id = v_id
         where key = w.key;
      end if;
      return;
    end if;

    if f ? 'debounce_key' then
      update orchestrator.tasks
         set payload = coalesce(p_payload, '{}'::jsonb),
             run_at = case when (f ->> 'debounce_key') like 'debounce:%' then v_run_at else run_at end,
             updated_at = now()
       where debounce_key = f ->> 'debounce_key' and status = 'queued'
      returning * into task;
      if found then
        created := false;
        return;
      end if;
    elsif v_key is not null then
      select * into task from orchestrator.tasks
      where dedupe_key = v_key and status in ('queued', 'running');
      if found then
        created := false;
        return;
      end if;
    end if;
    -- The holder of the key started or finished between our insert and our look: insert again.
  end loop;
end
$$;

-- Flow control on a batch: a type's defaults only (per-task keys need enqueue()). Types with
-- defaults that debounce, throttle or render keys from the payload go through enqueue() one by one.
create or replace function orchestrator.enqueue_many(p_type text, p_payloads jsonb[], p_opts jsonb default '{}'::jsonb)
returns setof orchestrator.tasks
language plpgsql as $$
declare
  p jsonb;
  v orchestrator.tasks;
begin
  if not exists (select 1 from orchestrator.task_type_flow where type = p_type)
     and not (coalesce(p_opts, '{}'::jsonb) ?| array['concurrency', 'rate', 'debounce', 'throttle', 'group', 'cancel_on']) then
    return query
    insert into orchestrator.tasks (type, payload, priority, run_at, max_attempts, backoff_base_seconds, source)
    select p_type, coalesce(x, '{}'::jsonb),
           coalesce((p_opts ->> 'priority')::integer, 0),
           coalesce((p_opts ->> 'run_at')::timestamptz, now()),
           coalesce((p_opts ->> 'max_attempts')::integer, 5),
           coalesce((p_opts ->> 'backoff_base_seconds')::numeric, 2),
           coalesce(p_opts ->> 'source', 'sql')
    from unnest(p_payloads) as x
    returning *;
    return;
  end if;
  if exists (select 1 from orchestrator.task_type_flow where type = p_type and defaults ?| array['debounce', 'throttle', 'rate'])
     or coalesce(p_opts, '{}'::jsonb) ?| array['debounce', 'throttle', 'rate'] then
    -- Each of these decides against the one before (a window, a bucket row): one by one.
    foreach p in array p_payloads loop
      select (e.task).* into v from orchestrator.enqueue(p_type, p, p_opts) e;
      return next v;
    end loop;
    return;
  end if;
  -- Concurrency, type limits, groups and cancel_on: each row's options resolved, still one INSERT.
  return query
  insert into orchestrator.tasks (type, payload, priority, run_at, max_attempts, backoff_base_seconds, source,
                                  concurrency_key, concurrency_limit, type_concurrency_limit, rate_key, group_key, cancel_on)
  select p_type, coalesce(x, '{}'::jsonb),
         coalesce((p_opts ->> 'priority')::integer, 0),
         coalesce((p_opts ->> 'run_at')::timestamptz, now()),
         coalesce((p_opts ->> 'max_attempts')::integer, 5),
         coalesce((p_opts ->> 'backoff_base_seconds')::numeric, 2),
         coalesce(p_opts ->> 'source', 'sql'),
         f ->> 'concurrency_key', (f ->> 'concurrency_limit')::integer, (f ->> 'type_concurrency_limit')::integer,
         f ->> 'rate_key', coalesce(f ->> 'group_key', ''), f -> 'cancel_on'
  from unnest(p_payloads) as x, orchestrator.flow_resolve(p_type, x, p_opts) as f
  returning *;
end
$$;

-- 5. The claim ------------------------------------------------------------------------------------
-- claim_pick_ids(max, types, take_suspect): the ids to claim, locked, fair across groups, within every
-- limit; with take_suspect, the first runnable suspect in the batch's last slot (20261202000300), through
-- the same limits as the rest (one filter over the whole batch, so the batch counts it).
drop function orchestrator.claim_pick_ids(integer, text[]);
create function orchestrator.claim_pick_ids(p_max_count integer, p_types text[], p_take_suspect boolean)
returns bigint[]
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set enable_sort = off
-- The settings above price the round-robin's small sorts at disable_cost (1e10), past jit_above_cost:
-- JIT then compiled the query on every claim (2.4 s for a 0.2 ms query). No claim wants JIT.
set jit = off
as $$
declare
  v_max integer := greatest(least(coalesce(p_max_count, 1), 1000), 0);
  v_lo text;
  v_hi text;
  v_ids bigint[];
  v_flow boolean;
  v_rot bigint;
  v_ckeys text[];
  v_climits integer[];
  v_typenames text[];
  v_tlimits integer[];
  v_rkeys text[];
  v_s record;
  v_n integer;
begin
  if v_max = 0 then
    return '{}';
  end if;
  select min(group_key), max(group_key) into v_lo, v_hi
    from orchestrator.tasks where status = 'queued' and parked_on is null;
  if v_lo is null then
    return '{}';
  end if;
  if v_lo = v_hi then
    select array_agg(s.id), bool_or(s.flow), array_agg(s.concurrency_key), array_agg(s.concurrency_limit), array_agg(s.type),
           array_agg(s.type_concurrency_limit), array_agg(s.rate_key)
      into v_ids, v_flow, v_ckeys, v_climits, v_typenames, v_tlimits, v_rkeys from (
      select id, (concurrency_key is not null or type_concurrency_limit is not null or rate_key is not null) as flow,
             concurrency_key, concurrency_limit, type, type_concurrency_limit, rate_key
      from orchestrator.tasks
      where status = 'queued' and parked_on is null and group_key = v_lo and run_at <= now() and not suspect
        and (p_types is null or type = any (p_types))
      order by priority desc, run_at, id
      limit v_max
      for update skip locked) s;
  else
    -- Round-robin across the groups: each group's head, then each group's second, …, starting at a
    -- rotating group. Rows locked here and not taken are unlocked at commit.
    v_rot := nextval('orchestrator.claim_rotation');
    with recursive groups(g) as (
      select v_lo
      union all
      select (select min(t.group_key) from orchestrator.tasks t
               where t.status = 'queued' and t.parked_on is null and t.group_key > groups.g)
      from groups where groups.g < v_hi
    ), numbered as (
      select g, row_number() over (order by g) - 1 as gi from groups where g is not null
    ), heads as (
      select n.gi, c.* from numbered n cross join lateral (
        select t.id, t.priority, t.run_at,
               (t.concurrency_key is not null or t.type_concurrency_limit is not null or t.rate_key is not null) as flow,
               t.concurrency_key, t.concurrency_limit, t.type, t.type_concurrency_limit, t.rate_key
        from orchestrator.tasks t
        where t.status = 'queued' and t.parked_on is null and t.group_key = n.g and t.run_at <= now() and not t.suspect
          and (p_types is null or t.type = any (p_types))
        order by t.priority desc, t.run_at, t.id
        limit v_max
        for update skip locked) c
    ), ranked as (
      -- hgi: the group's place among the groups that have a candidate now (not among all groups).
      select *, row_number() over (partition by gi order by priority desc, run_at, id) as rn,
             dense_rank() over (order by gi) - 1 as hgi
      from heads
    ), turned as (
      select *, (hgi + v_rot) % (max(hgi) over () + 1) as turn from ranked
    )
    select array_agg(x.id), bool_or(x.flow), array_agg(x.concurrency_key), array_agg(x.concurrency_limit), array_agg(x.type),
           array_agg(x.type_concurrency_limit), array_agg(x.rate_key)
      into v_ids, v_flow, v_ckeys, v_climits, v_typenames, v_tlimits, v_rkeys
      from (select * from turned order by rn, turn limit v_max) x;
  end if;
  if p_take_suspect then
    select t.id, t.type, t.concurrency_key, t.concurrency_limit, t.type_concurrency_limit, t.rate_key into v_s
      from orchestrator.tasks t
     where t.status = 'queued' and t.suspect and t.parked_on is null and t.run_at <= now()
       and (p_types is null or t.type = any (p_types))
     order by t.priority desc, t.run_at, t.id
     limit 1
     for update skip locked;
    if v_s.id is not null then
      -- Its slot is the batch's last: the ordinary row it displaces stays queued (unlocked at commit).
      v_n := least(coalesce(cardinality(v_ids), 0), v_max - 1);
      v_ids := coalesce(v_ids[1:v_n], '{}') || v_s.id;
      v_ckeys := coalesce(v_ckeys[1:v_n], '{}') || v_s.concurrency_key;
      v_climits := coalesce(v_climits[1:v_n], '{}') || v_s.concurrency_limit;
      v_typenames := coalesce(v_typenames[1:v_n], '{}') || v_s.type;
      v_tlimits := coalesce(v_tlimits[1:v_n], '{}') || v_s.type_concurrency_limit;
      v_rkeys := coalesce(v_rkeys[1:v_n], '{}') || v_s.rate_key;
      v_flow := coalesce(v_flow, false) or v_s.concurrency_key is not null or v_s.type_concurrency_limit is not null or v_s.rate_key is not null;
    end if;
  end if;
  if v_ids is null then
    return '{}';
  end if;
  if not v_flow then
    return v_ids;
  end if;
  return orchestrator.claim_flow_filter(v_ids, v_ckeys, v_climits, v_typenames, v_tlimits, v_rkeys);
end
$$;

-- claim_flow_filter(ids): of these locked, queued ids (in claim order), the ones every limit lets
-- start now. The others are parked (over a concurrency limit), deferred (their rate token is due
-- later: run_at moves to it) or left as they are (a key another claimer is deciding).
create function orchestrator.claim_flow_filter(p_ids bigint[], p_ckeys text[], p_climits integer[], p_types text[],
                                               p_tlimits integer[], p_rkeys text[])
returns bigint[]
language plpgsql as $$
declare
  i integer;
  r_id bigint;
  r_type text;
  r_concurrency_key text;
  r_concurrency_limit integer;
  r_type_concurrency_limit integer;
  r_rate_key text;
  v_out bigint[] := '{}';
  v_locked text[] := '{}';
  v_busy text[] := '{}';
  v_taken text[] := '{}';
  v_park_ids bigint[] := '{}';
  v_park_on text[] := '{}';
  v_defer_ids bigint[] := '{}';
  v_defer_at timestamptz[] := '{}';
  v_key text;
  v_limit integer;
  v_running integer;
  v_ok boolean;
  v_due timestamptz;
  v_bucket orchestrator.rate_limits;
  v_at timestamptz;
  v_slot integer;
begin
  for i in 1..cardinality(p_ids) loop
    -- The picked rows' flow columns, as the pick read them (the rows are locked: they cannot change).
    r_id := p_ids[i];
    r_type := p_types[i];
    r_concurrency_key := p_ckeys[i];
    r_concurrency_limit := p_climits[i];
    r_type_concurrency_limit := p_tlimits[i];
    r_rate_key := p_rkeys[i];
    v_ok := true;
    -- Concurrency: the task's own key, then its type's limit.
    for v_slot in 1..2 loop
      exit when not v_ok;
      if v_slot = 1 then
        continue when r_concurrency_key is null;
        v_key := 'key:' || r_concurrency_key;
        v_limit := r_concurrency_limit;
      else
        continue when r_type_concurrency_limit is null;
        v_key := 'type:' || r_type;
        v_limit := r_type_concurrency_limit;
      end if;
      if v_key = any (v_busy) then
        v_ok := false;
        continue;
      end if;
      if not v_key = any (v_locked) then
        if not pg_try_advisory_xact_lock(1718382881, hashtext(v_key)) then
          v_busy := v_busy || v_key;
          v_ok := false;
          continue;
        end if;
        v_locked := v_locked || v_key;
      end if;
      if v_slot = 1 then
        select count(*) into v_running from orchestrator.tasks
         where status = 'running' and concurrency_key = r_concurrency_key;
      else
        select count(*) into v_running from orchestrator.tasks
         where status = 'running' and type = r_type and type_concurrency_limit is not null;
      end if;
      if v_key = any (v_taken) then
        v_running := v_running + (select count(*) from unnest(v_taken) k where k = v_key);
      end if;
      if v_running >= v_limit then
        v_park_ids := v_park_ids || r_id;
        v_park_on := v_park_on || v_key;
        v_ok := false;
      end if;
    end loop;
    -- Rate: decided last, so a token is spent only on a task that starts.
    if v_ok and r_rate_key is not null then
      select * into v_bucket from orchestrator.rate_limits where bucket = r_rate_key for update skip locked;
      if not found then
        -- Another claimer holds the bucket (next time), or there is none (a row inserted without
        -- enqueue(): no bucket, no limit).
        v_ok := not exists (select 1 from orchestrator.rate_limits where bucket = r_rate_key);
      else
        v_due := orchestrator.rate_take(r_rate_key, v_bucket.tat, coalesce(v_bucket.interval_seconds, 1), coalesce(v_bucket.tolerance_seconds, 0), now());
        if v_due is not null then
          v_at := greatest(v_due, coalesce(v_bucket.deferred_until, v_due));
          update orchestrator.rate_limits
             set deferred_until = v_at + make_interval(secs => coalesce(v_bucket.interval_seconds, 1))
           where bucket = r_rate_key;
          v_defer_ids := v_defer_ids || r_id;
          v_defer_at := v_defer_at || v_at;
          v_ok := false;
        end if;
      end if;
    end if;
    if v_ok then
      v_out := v_out || r_id;
      if r_concurrency_key is not null then v_taken := v_taken || ('key:' || r_concurrency_key); end if;
      if r_type_concurrency_limit is not null then v_taken := v_taken || ('type:' || r_type); end if;
    end if;
  end loop;
  if cardinality(v_park_ids) > 0 then
    update orchestrator.tasks t set parked_on = p.on_key, updated_at = now()
      from unnest(v_park_ids, v_park_on) as p(id, on_key) where t.id = p.id;
  end if;
  if cardinality(v_defer_ids) > 0 then
    update orchestrator.tasks t set run_at = d.at, updated_at = now()
      from unnest(v_defer_ids, v_defer_at) as d(id, at) where t.id = d.id;
  end if;
  return v_out;
end
$$;

-- claim(): the contract of 20261202000600, its suspect probe now inside claim_pick_ids.
create or replace function orchestrator.claim(
  p_worker text,
  p_max_count integer default 1,
  p_lease_seconds numeric default 60,
  p_types text[] default null,
  p_type_leases jsonb default null,
  p_take_suspect boolean default false
) returns setof orchestrator.tasks
language plpgsql as $$
declare
  v_ids bigint[];
  v_max integer := greatest(least(coalesce(p_max_count, 1), 1000), 0);
begin
  v_ids := orchestrator.claim_pick_ids(v_max, p_types, coalesce(p_take_suspect, false) and v_max > 0);
  if cardinality(v_ids) = 0 then
    return;
  end if;
  return query
  update orchestrator.tasks t
     set status = 'running',
         attempts = t.attempts + 1,
         locked_by = p_worker,
         locked_until = now() + make_interval(secs => greatest(
           coalesce((p_type_leases ->> t.type)::numeric, p_lease_seconds, 60), 1)),
         lease_token = gen_random_uuid(),
         started_at = now(),
         updated_at = now()
   where t.id = any (v_ids)
  returning t.*;
end
$$;

-- 6. The end of a keyed run unparks the next task of its key ------------------------------------
create function orchestrator.flow_unpark(p_key text, p_count integer default 1)
returns integer
language plpgsql as $$
declare
  n integer;
begin
  -- Shared: ends never wait for each other; a claimer deciding this key (exclusive) is waited for, so
  -- a task it parks is seen here.
  perform pg_advisory_xact_lock_shared(1718382881, hashtext(p_key));
  update orchestrator.tasks t set parked_on = null, updated_at = now()
   where t.id in (select id from orchestrator.tasks
                   where status = 'queued' and parked_on = p_key
                   order by priority desc, run_at, id
                   limit p_count
                   for update skip locked);
  get diagnostics n = row_count;
  if n > 0 then
    perform pg_notify('orchestrator_task_ready', '');
  end if;
  return n;
end
$$;

-- The consumer "flow" of propagate_changes (the one change path, 20261202001100): the rows as they
-- were before the run ended.
create function orchestrator.flow_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray)
returns void
language plpgsql as $$
declare
  o orchestrator.tasks;
begin
  if p_entity <> 'task' or p_op <> 'UPDATE' then
    return;
  end if;
  foreach o in array p_old::orchestrator.tasks[] loop
    if o.concurrency_key is not null then
      perform orchestrator.flow_unpark('key:' || o.concurrency_key);
    end if;
    if o.type_concurrency_limit is not null then
      perform orchestrator.flow_unpark('type:' || o.type);
    end if;
  end loop;
end
$$;

-- Per row, with a WHEN: only a keyed task's run that ends pays anything (a statement trigger on tasks
-- would copy every claimed and completed row into its transition tables).
create trigger tasks_flow_run_ended after update of status on orchestrator.tasks
  for each row
  when (old.status = 'running' and new.status <> 'running'
        and (old.concurrency_key is not null or old.type_concurrency_limit is not null))
  execute function orchestrator.propagate_changes('task', 'flow');

-- flow_unpark_all(): the safety net, from the sweep (and after a limit changes): every key with
-- parked tasks and room under its limit gets that many unparked.
create function orchestrator.flow_unpark_all()
returns integer
language plpgsql as $$
declare
  r record;
  n integer := 0;
  v_running integer;
  v_limit integer;
begin
  for r in select distinct parked_on from orchestrator.tasks where status = 'queued' and parked_on is not null loop
    if r.parked_on like 'key:%' then
      select count(*) into v_running from orchestrator.tasks
       where status = 'running' and concurrency_key = substr(r.parked_on, 5);
      select max(concurrency_limit) into v_limit from orchestrator.tasks
       where status = 'queued' and parked_on = r.parked_on;
    else
      select count(*) into v_running from orchestrator.tasks
       where status = 'running' and type = substr(r.parked_on, 6) and type_concurrency_limit is not null;
      select max(type_concurrency_limit) into v_limit from orchestrator.tasks
       where status = 'queued' and parked_on = r.parked_on;
    end if;
    if v_running < coalesce(v_limit, 1) then
      n := n + orchestrator.flow_unpark(r.parked_on, v_limit - v_running);
    end if;
  end loop;
  return n;
end
$$;

create or replace function orchestrator.sweep()
returns bigint
language plpgsql as $$
begin
  perform orchestrator.check_wakeups();
  perform orchestrator.reap();
  perform orchestrator.flow_unpark_all();
  if exists (select 1 from orchestrator.tasks where status = 'queued' and parked_on is null and run_at <= now()) then
    return orchestrator.wake_worker('cron');
  end if;
  return null;
end
$$;

-- 7. Cancel by event ----------------------------------------------------------------------------
create function orchestrator.tasks_cancel_on_events(p_entity text, p_op text, p_new anyarray, p_old anyarray)
returns void
language plpgsql as $$
declare
  v_running bigint[];
begin
  if p_entity <> 'event' or p_op <> 'INSERT' then
    return;
  end if;
  with hit as (
    select distinct on (t.id) t.id, e.id as event_id, e.source, e.type, t.status as was
    from unnest(p_new::orchestrator.events[]) e
    join orchestrator.tasks t
      on t.cancel_on is not null and t.status in ('queued', 'running')
     and (t.cancel_on ->> 'source') = e.source and (t.cancel_on ->> 'type') = e.type
     and e.payload @> coalesce(t.cancel_on -> 'match', '{}'::jsonb)
    order by t.id, e.id
  ), cancelled as (
    update orchestrator.tasks t
       set status = 'cancelled', finished_at = now(), updated_at = now(),
           locked_by = null, locked_until = null, lease_token = null,
           last_error = format('cancelled by event %s (%s %s), as its cancel_on asked', hit.event_id, hit.source, hit.type)
      from hit
     where t.id = hit.id and t.status in ('queued', 'running')
    returning t.id, hit.was
  )
  select array_agg(id) filter (where was = 'running') into v_running from cancelled;
  if v_running is not null then
    perform pg_notify('orchestrator_task_cancelled', array_to_string(v_running, ','));
  end if;
end
$$;

create or replace function orchestrator.propagate_to(p_entity text, p_consumers text[], p_op text, p_new anyarray, p_old anyarray)
returns void
language plpgsql as $$
declare
  v_consumer text;
begin
  if coalesce(cardinality(p_new), 0) = 0 then
    return;
  end if;
  foreach v_consumer in array p_consumers loop
    case v_consumer
      when 'notion' then perform orchestrator.notion_on_changes(p_entity, p_op, p_new, p_old);
      when 'webhooks' then perform orchestrator.webhook_on_changes(p_entity, p_op, p_new, p_old);
      when 'events' then perform orchestrator.events_on_changes(p_entity, p_op, p_new, p_old);
      when 'workflows' then perform orchestrator.workflow_on_changes(p_entity, p_op, p_new, p_old);
      when 'cancel_on' then perform orchestrator.tasks_cancel_on_events(p_entity, p_op, p_new, p_old);
      when 'flow' then perform orchestrator.flow_on_changes(p_entity, p_op, p_new, p_old);
      else raise exception 'propagate_changes(): unknown consumer "%" (entity %)', v_consumer, p_entity;
    end case;
  end loop;
end
$$;

drop trigger events_changes_ins on orchestrator.events;
create trigger events_changes_ins after insert on orchestrator.events
  referencing new table as new_rows
  for each statement execute function orchestrator.propagate_changes('event', 'workflows', 'cancel_on');

-- 8. Why a queued task waits ------------------------------------------------------------------------
-- task_wait_reason(task): null for a task that is not queued or can start now; else {kind, …, until?}.
create function orchestrator.task_wait_reason(t orchestrator.tasks)
returns jsonb
language plpgsql stable as $$
declare
  v_running integer;
begin
  if t.status <> 'queued' then
    return null;
  end if;
  if t.parked_on like 'key:%' then
    select count(*) into v_running from orchestrator.tasks where status = 'running' and concurrency_key = t.concurrency_key;
    return jsonb_build_object('kind', 'concurrency', 'key', t.concurrency_key, 'limit', t.concurrency_limit, 'running', v_running,
      'message', format('concurrency key %s is at its limit (%s running of %s)', t.concurrency_key, v_running, t.concurrency_limit));
  elsif t.parked_on like 'type:%' then
    select count(*) into v_running from orchestrator.tasks where status = 'running' and type = t.type and type_concurrency_limit is not null;
    return jsonb_build_object('kind', 'type_concurrency', 'type', t.type, 'limit', t.type_concurrency_limit, 'running', v_running,
      'message', format('task type %s is at its limit (%s running of %s)', t.type, v_running, t.type_concurrency_limit));
  end if;
  if t.run_at > now() then
    if t.debounce_key like 'debounce:%' then
      return jsonb_build_object('kind', 'debounce', 'key', substr(t.debounce_key, 10), 'until', t.run_at,
        'message', format('debounce window for %s ends at %s', substr(t.debounce_key, 10), t.run_at));
    elsif t.debounce_key like 'throttle:%' then
      return jsonb_build_object('kind', 'throttle', 'key', substr(t.debounce_key, 10), 'until', t.run_at,
        'message', format('throttle window for %s ends at %s', substr(t.debounce_key, 10), t.run_at));
    elsif t.rate_key is not null and exists (select 1 from orchestrator.rate_limits b where b.bucket = t.rate_key and b.deferred_until >= t.run_at) then
      return jsonb_build_object('kind', 'rate', 'key', t.rate_key, 'until', t.run_at,
        'message', format('rate token for %s is due at %s', t.rate_key, t.run_at));
    end if;
    return jsonb_build_object('kind', 'run_at', 'until', t.run_at, 'message', format('run_at is %s', t.run_at));
  end if;
  return null;
end
$$;

revoke all on function orchestrator.flow_key(text, jsonb, jsonb) from public;
revoke all on function orchestrator.flow_number(text, jsonb, numeric, numeric, boolean) from public;
revoke all on function orchestrator.flow_object(text, jsonb, text[], text[]) from public;
revoke all on function orchestrator.flow_resolve(text, jsonb, jsonb) from public;
revoke all on function orchestrator.set_task_type_flow(text, jsonb) from public;
revoke all on function orchestrator.rate_take(text, timestamptz, double precision, double precision, timestamptz) from public;
revoke all on function orchestrator.claim_flow_filter(bigint[], text[], integer[], text[], integer[], text[]) from public;
revoke all on function orchestrator.flow_unpark(text, integer) from public;
revoke all on function orchestrator.flow_unpark_all() from public;
revoke all on function orchestrator.flow_on_changes(text, text, anyarray, anyarray) from public;
revoke all on function orchestrator.tasks_cancel_on_events(text, text, anyarray, anyarray) from public;
revoke all on function orchestrator.task_wait_reason(orchestrator.tasks) from public;
grant execute on function orchestrator.flow_key(text, jsonb, jsonb) to service_role;
grant execute on function orchestrator.flow_number(text, jsonb, numeric, numeric, boolean) to service_role;
grant execute on function orchestrator.flow_object(text, jsonb, text[], text[]) to service_role;
grant execute on function orchestrator.flow_resolve(text, jsonb, jsonb) to service_role;
grant execute on function orchestrator.set_task_type_flow(text, jsonb) to service_role;
grant execute on function orchestrator.rate_take(text, timestamptz, double precision, double precision, timestamptz) to service_role;
grant execute on function orchestrator.claim_flow_filter(bigint[], text[], integer[], text[], integer[], text[]) to service_role;
grant execute on function orchestrator.flow_unpark(text, integer) to service_role;
grant execute on function orchestrator.flow_unpark_all() to service_role;
grant execute on function orchestrator.flow_on_changes(text, text, anyarray, anyarray) to service_role;
grant execute on function orchestrator.tasks_cancel_on_events(text, text, anyarray, anyarray) to service_role;
grant execute on function orchestrator.task_wait_reason(orchestrator.tasks) to service_role;
alter table orchestrator.task_type_flow enable row level security;
alter table orchestrator.throttle_windows enable row level security;
grant select, insert, update, delete on orchestrator.task_type_flow, orchestrator.throttle_windows to service_role;
grant usage on sequence orchestrator.claim_rotation to service_role;
revoke all on function orchestrator.claim_pick_ids(integer, text[], boolean) from public;
grant execute on function orchestrator.claim_pick_ids(integer, text[], boolean) to service_role;
