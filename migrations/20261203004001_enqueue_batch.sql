-- enqueue_batch(items): bulk enqueue for POST /tasks with a JSON array, up to 1,000 tasks.
--
-- One INSERT … SELECT over the items, so the whole batch is one statement in one transaction and
-- the statement-level tasks_wake_worker trigger sends one NOTIFY and at most one wake-up for all of
-- it (enqueue() per item would send one per item). Each item is what a single POST /tasks body is
-- ({type, payload, priority, run_at, dedupe_key, max_attempts, backoff_base_seconds}, already checked
-- by the API's zod schema) and gets enqueue()'s defaults and its dedupe semantics: an item whose
-- dedupe_key a queued or running task holds is not inserted (on conflict do nothing) and answers
-- that task with created = false; so does a later item repeating an earlier item's key in the batch.
--
-- Ids are drawn from the tasks' sequence before the insert, so each inserted row is known to be its
-- item's (RETURNING cannot name the item it came from). Returns one row per item (its 0-based index,
-- whether it was created, the task); the caller orders them.
create function orchestrator.enqueue_batch(p_items jsonb, p_source text default 'api')
returns table (item integer, created boolean, task orchestrator.tasks)
language plpgsql as $$
declare
  v_bad record;
  v_left record;
  v_one record;
  v_row record;
  v_done integer[] := '{}';
begin
  if p_items is null or jsonb_typeof(p_items) <> 'array' then
    raise exception using errcode = '22023', message = 'enqueue_batch takes a JSON array of tasks';
  end if;
  if jsonb_array_length(p_items) > 1000 then
    raise exception using errcode = '22023',
      message = format('enqueue_batch takes at most 1000 tasks at once; this batch has %s', jsonb_array_length(p_items));
  end if;
  -- The checks enqueue() makes, per item, before anything is stored (the API checked them already;
  -- a SQL caller gets the same refusals, naming the item).
  select x.i - 1 as idx, x.e into v_bad
  from jsonb_array_elements(p_items) with ordinality as x(e, i)
  where jsonb_typeof(x.e) <> 'object'
     or coalesce(x.e ->> 'type', '') !~ '^[a-z][a-z0-9_.:-]{0,63}$'
     or jsonb_typeof(coalesce(x.e -> 'payload', '{}'::jsonb)) not in ('object', 'null')
  order by x.i limit 1;
  if found then
    raise exception using errcode = '22023',
      message = format('item %s: a task is an object with a type (a lowercase letter then up to 63 of a-z 0-9 _ . : -) and an object payload', v_bad.idx);
  end if;

  for v_row in
    -- materialized: nextval() runs once per item, and every branch below sees the same ids.
    -- Flow control (20261203001000_flow_control.sql): each item's resolved in the same INSERT; an item
    -- that debounces, throttles or takes a rate token decides against the one before it, so it goes
    -- through enqueue() below, one by one.
    with items as materialized (
      select (x.i - 1)::integer as item, nextval('orchestrator.tasks_id_seq') as id, x.e,
             -- Only an item that asks for flow control, or whose type has defaults, pays for resolving it.
             case when x.e ?| array['concurrency', 'rate', 'debounce', 'throttle', 'group', 'cancel_on']
                    or exists (select 1 from orchestrator.task_type_flow d where d.type = x.e ->> 'type')
                  then orchestrator.flow_resolve(x.e ->> 'type', coalesce(nullif(x.e -> 'payload', 'null'::jsonb), '{}'::jsonb), x.e)
                  else '{}'::jsonb end as f,
             (x.e ?| array['debounce', 'throttle', 'rate']
              or exists (select 1 from orchestrator.task_type_flow d
                          where d.type = x.e ->> 'type' and d.defaults ?| array['debounce', 'throttle', 'rate'])) as one_by_one
      from jsonb_array_elements(p_items) with ordinality as x(e, i)
    ), inserted as (
      insert into orchestrator.tasks (id, type, payload, priority, run_at, max_attempts, backoff_base_seconds, dedupe_key, source, parent_id,
                                      concurrency_key, concurrency_limit, type_concurrency_limit, group_key, cancel_on)
      overriding system value
      select b.id, b.e ->> 'type',
             coalesce(nullif(b.e -> 'payload', 'null'::jsonb), '{}'::jsonb),
             coalesce((b.e ->> 'priority')::integer, 0),
             coalesce((b.e ->> 'run_at')::timestamptz, now()),
             coalesce((b.e ->> 'max_attempts')::integer, 5),
             coalesce((b.e ->> 'backoff_base_seconds')::numeric, 2),
             b.e ->> 'dedupe_key',
             coalesce(b.e ->> 'source', p_source, 'sql'),
             (b.e ->> 'parent_id')::bigint,
             b.f ->> 'concurrency_key', (b.f ->> 'concurrency_limit')::integer, (b.f ->> 'type_concurrency_limit')::integer,
             coalesce(b.f ->> 'group_key', ''), b.f -> 'cancel_on'
      from items b
      where not b.one_by_one
      order by b.item
      on conflict (dedupe_key) where dedupe_key is not null and status in ('queued', 'running') do nothing
      returning *
    )
    select b.item, true as created, row(t.*)::orchestrator.tasks as task
    from items b join inserted t on t.id = b.id
    union all
    -- Not inserted: its dedupe_key is held by a task inserted just now (an earlier item of this batch)…
    select b.item, false, row(t.*)::orchestrator.tasks
    from items b
    join lateral (select i.* from inserted i where i.dedupe_key = b.e ->> 'dedupe_key' order by i.id limit 1) t on true
    where not b.one_by_one and not exists (select 1 from inserted i where i.id = b.id)
    union all
    -- …or by a live task from before this statement.
    select b.item, false, t
    from items b
    join orchestrator.tasks t on t.dedupe_key = b.e ->> 'dedupe_key' and t.status in ('queued', 'running')
    where not b.one_by_one and not exists (select 1 from inserted i where i.id = b.id or i.dedupe_key = b.e ->> 'dedupe_key')
  loop
    item := v_row.item;
    created := v_row.created;
    task := v_row.task;
    v_done := v_done || v_row.item;
    return next;
  end loop;

  -- An item that debounces, throttles or takes a rate token (above), or, rarely, one neither inserted
  -- nor answered because the live holder of its key committed or finished while the insert ran
  -- (outside this statement's snapshot): enqueue() takes each such item, in order; in the common case
  -- there is none and the batch stays one INSERT.
  for v_left in
    select (x.i - 1)::integer as item, x.e from jsonb_array_elements(p_items) with ordinality as x(e, i)
    where (x.i - 1)::integer <> all (v_done)
    order by x.i
  loop
    select * into v_one from orchestrator.enqueue(v_left.e ->> 'type', coalesce(nullif(v_left.e -> 'payload', 'null'::jsonb), '{}'::jsonb),
      (v_left.e - 'type' - 'payload') || jsonb_build_object('source', coalesce(v_left.e ->> 'source', p_source, 'sql')));
    item := v_left.item;
    created := v_one.created;
    task := v_one.task;
    return next;
  end loop;
end
$$;

comment on function orchestrator.enqueue_batch(jsonb, text) is
  'Bulk enqueue (POST /tasks with an array): one INSERT for up to 1000 tasks, enqueue()''s defaults and dedupe semantics; one row per item (item index, created, task).';

revoke all on function orchestrator.enqueue_batch(jsonb, text) from public;
grant execute on function orchestrator.enqueue_batch(jsonb, text) to service_role;
