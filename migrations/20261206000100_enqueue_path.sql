-- The bulk enqueue's cost per row (issue 13). Measured on a private stack, 20,000 noop tasks in one
-- enqueue_many (EXPLAIN ANALYZE, in a transaction rolled back; this 2-core machine, noisy):
--   - the type rule of task_field_violation(), '^[a-z][a-z0-9_.:-]{0,63}$', took ~4 µs a row: PostgreSQL's
--     regex engine unrolls the bounded repeat. As '^[a-z][a-z0-9_.:-]*$' and length(type) <= 64, the
--     same rule (each allowed character is one byte) takes ~0.6 µs: the statement's check 77-93 -> 27-31 ms;
--   - the options (priority, run_at, attempts, backoff, source) were read from p_opts for every row, and the
--     trace_id default called trace_id_or_start() (PL/pgSQL) for every row. Read once, before the INSERT:
--     enqueue_many 533-544 -> 420 ms.
-- Same rules, same errors, same rows: every row of one call shares one trace, as before (the first row's
-- default set it for the rest of the transaction).

create or replace function orchestrator.task_field_violation(t orchestrator.tasks)
returns text
language sql immutable
as $$
  -- The first rule the row breaks, by its former constraint's name; null when it breaks none. As for
  -- a CHECK constraint, a rule whose value is null (a null column) holds.
  select case
    when not (t.type ~ '^[a-z][a-z0-9_.:-]*$' and length(t.type) <= 64) then 'tasks_type_check'
    when not (jsonb_typeof(t.payload) = 'object') then 'tasks_payload_check'
    when not (length(t.source) between 1 and 100) then 'tasks_source_check'
    when not (t.priority between -1000 and 1000) then 'tasks_priority_check'
    when not (t.max_attempts between 1 and 100) then 'tasks_max_attempts_check'
    when not (t.backoff_base_seconds between 0 and 3600) then 'tasks_backoff_base_seconds_check'
    when not (length(t.dedupe_key) between 1 and 200) then 'tasks_dedupe_key_check'
    when not ((t.concurrency_key is null) = (t.concurrency_limit is null)
              and t.concurrency_limit between 1 and 10000
              and length(t.concurrency_key) between 1 and 200) then 'tasks_concurrency_check'
    when not (t.type_concurrency_limit between 1 and 10000) then 'tasks_type_concurrency_limit_check'
    when not (length(t.rate_key) between 1 and 200) then 'tasks_rate_key_check'
    when not (length(t.group_key) <= 100) then 'tasks_group_key_check'
    when not (length(t.debounce_key) between 1 and 220) then 'tasks_debounce_key_check'
    when not (jsonb_typeof(t.cancel_on) = 'object') then 'tasks_cancel_on_check'
  end
$$;

create or replace function orchestrator.enqueue_many(p_type text, p_payloads jsonb[], p_opts jsonb default '{}'::jsonb)
returns setof orchestrator.tasks
language plpgsql as $$
declare
  p jsonb;
  v orchestrator.tasks;
  v_priority integer;
  v_run_at timestamptz;
  v_max_attempts integer;
  v_backoff numeric;
  v_source text;
  v_trace text;
begin
  if coalesce(cardinality(p_payloads), 0) = 0 then
    return; -- nothing to insert (and no option to read)
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
  -- The call's options and trace, once (see the header).
  v_priority := coalesce((p_opts ->> 'priority')::integer, 0);
  v_run_at := coalesce((p_opts ->> 'run_at')::timestamptz, now());
  v_max_attempts := coalesce((p_opts ->> 'max_attempts')::integer, 5);
  v_backoff := coalesce((p_opts ->> 'backoff_base_seconds')::numeric, 2);
  v_source := coalesce(p_opts ->> 'source', 'sql');
  v_trace := orchestrator.trace_id_or_start();
  if not exists (select 1 from orchestrator.task_type_flow where type = p_type)
     and not (coalesce(p_opts, '{}'::jsonb) ?| array['concurrency', 'group', 'cancel_on']) then
    return query
    insert into orchestrator.tasks (type, payload, priority, run_at, max_attempts, backoff_base_seconds, source, trace_id)
    select p_type, coalesce(x, '{}'::jsonb), v_priority, v_run_at, v_max_attempts, v_backoff, v_source, v_trace
    from unnest(p_payloads) as x
    returning *;
    return;
  end if;
  -- Concurrency, type limits, groups and cancel_on: each row's options resolved, still one INSERT.
  return query
  insert into orchestrator.tasks (type, payload, priority, run_at, max_attempts, backoff_base_seconds, source, trace_id,
                                  concurrency_key, concurrency_limit, type_concurrency_limit, rate_key, group_key, cancel_on)
  select p_type, coalesce(x, '{}'::jsonb), v_priority, v_run_at, v_max_attempts, v_backoff, v_source, v_trace,
         f ->> 'concurrency_key', (f ->> 'concurrency_limit')::integer, (f ->> 'type_concurrency_limit')::integer,
         f ->> 'rate_key', coalesce(f ->> 'group_key', ''), f -> 'cancel_on'
  from unnest(p_payloads) as x, orchestrator.flow_resolve(p_type, x, p_opts) as f
  returning *;
end
$$;
