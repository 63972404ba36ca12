-- Workflows as durable graphs (issue 16): dependencies between steps, map steps, conditions, durable
-- waits (sleep, wait_for_event, approval), awaited child workflows, re-runs from a step, and the
-- versions of each definition, each part in its section below. Runs and steps stay rows, every change
-- is an SQL function, and a step's end advances its run in the transaction that ends it (the task's
-- completion, or the wake-up below).
--
-- A step (workflows.steps[i], checked by functions/_shared/workflows/schemas.ts on write):
--   after          the steps it waits for (names): it starts once each of them succeeded or was
--                  skipped. Without `after`, the previous step (so a list runs as before); `after: []`
--                  starts with the run.
--   when           a JSON condition (workflow_condition below); false skips the step, and a step all of
--                  whose dependencies were skipped that way is skipped too. (A step skipped for another
--                  reason, an optional type this deployment lacks or an input that resolved to null,
--                  lets its dependents run, as in a list.)
--   map            {"over": "{{path}}", "parallelism": N}: the step's task runs once per element of the
--                  array at that path ({{item}}, {{index}} in its input), at most N at a time; its
--                  result is the array of the elements' results, in order. An element dead after its
--                  retries fails the step, unless "continue_on_error": true (its slot is then null).
--   kind "sleep"   {"seconds": N} or {"until": "<timestamp or {{path}}>"}.
--   kind "wait_for_event"  {"event": {"source", "type", "match": {…}}}: the first event since the run
--                  started with that source and type whose payload contains `match` (rendered from the
--                  run) is the step's result.
--   timeout_seconds, on_timeout ("fail" | "continue"): a wait that outlives its timeout fails the run,
--                  or succeeds with {"timed_out": true} and the run goes on.
--
-- A waiting step holds no worker and no connection: it is a row in status 'waiting', and the clock
-- is the queue itself. A sleep's end and a timeout are `workflow.wake` tasks with that run_at (the
-- worker's due-soon wait and the sweeps pick them up, as any scheduled task); an event that matches
-- a waiting step enqueues one at once. Each wake-up calls workflow_wake(), which does the step's work
-- under the run's lock.
--
-- No event is missed between "the step looks for it" and "the event looks for the step": both take
-- an advisory lock on the event's (source, type), shared for events (they never wait on each other)
-- and exclusive for a step that begins to wait, which then sees every event whose transaction held
-- it. An event transaction that began after the step's sees the step. Events never lock a run (they
-- only enqueue a wake-up), so the two cannot deadlock.

alter table orchestrator.workflow_steps
  add column kind text not null default 'task' check (kind in ('task', 'sleep', 'wait_for_event', 'workflow', 'approval')),
  add column after_steps integer[] not null default '{}',
  add column condition jsonb,
  add column skipped_by_condition boolean not null default false,
  add column map_over jsonb,
  add column map_parallelism integer check (map_parallelism between 1 and 1000),
  add column continue_on_error boolean not null default false,
  add column map_total integer check (map_total between 0 and 10000),
  add column map_started integer not null default 0,
  add column map_finished integer not null default 0,
  add column map_failed integer not null default 0,
  add column wait jsonb,
  add column waiting_for jsonb,
  add column timeout_at timestamptz;

comment on column orchestrator.workflow_steps.after_steps is 'The step_index of each step this one waits for (resolved from the names in `after` when the run started).';
comment on column orchestrator.workflow_steps.waiting_for is 'What a waiting step waits for, rendered when it began: {"until": …} or {"event": {"source", "type", "match"}}.';

create index workflow_steps_waiting_idx on orchestrator.workflow_steps (kind) where status = 'waiting';

-- One row per element of a map step.
create table orchestrator.workflow_map_elements (
  run_id bigint not null,
  step_index integer not null,
  idx integer not null check (idx >= 0),
  item jsonb not null,
  status orchestrator.workflow_step_status not null default 'pending',
  task_id bigint references orchestrator.tasks (id) on delete set null,
  result jsonb,
  error text,
  primary key (run_id, step_index, idx),
  foreign key (run_id, step_index) references orchestrator.workflow_steps (run_id, step_index) on delete cascade
);
create unique index workflow_map_elements_task_idx on orchestrator.workflow_map_elements (task_id) where task_id is not null;
alter table orchestrator.workflow_map_elements enable row level security; -- as every orchestrator table: the API keys' roles see none of it
grant select, insert, update, delete on orchestrator.workflow_map_elements to service_role;

-- The advisory lock key of an event (source, type): see the head of this file.
create or replace function orchestrator.workflow_event_lock_key(p_source text, p_type text)
returns integer
language sql immutable parallel safe as $$
  select hashtext(p_source || E'\x1f' || p_type)
$$;

-- A `when` condition, over rendered {{paths}} (render_template: a whole-value placeholder with no
-- value is null):
--   {"equals": [a, b]}   a and b equal as JSON
--   {"in": [a, [b, c, …]]}   a equals one of them
--   {"exists": a}        a is present and not null
--   {"not": c}, {"all": [c, …]}, {"any": [c, …]}
-- Anything else raises 22023 (the API refuses it on write; this is the engine's own guard).
create or replace function orchestrator.workflow_condition(p_cond jsonb, p_ctx jsonb)
returns boolean
language plpgsql immutable as $$
declare
  v_op text;
  v_arg jsonb;
  v_a jsonb;
  v_c jsonb;
begin
  if jsonb_typeof(p_cond) <> 'object' or (select count(*) from jsonb_object_keys(p_cond)) <> 1 then
    raise exception using errcode = '22023', message = format('a condition is an object with one operator, got %s', p_cond);
  end if;
  select key, value into v_op, v_arg from jsonb_each(p_cond);
  case v_op
    when 'equals' then
      if jsonb_typeof(v_arg) <> 'array' or jsonb_array_length(v_arg) <> 2 then
        raise exception using errcode = '22023', message = 'equals takes [a, b]';
      end if;
      return coalesce(orchestrator.workflow_render(v_arg -> 0, p_ctx), 'null') = coalesce(orchestrator.workflow_render(v_arg -> 1, p_ctx), 'null');
    when 'in' then
      if jsonb_typeof(v_arg) <> 'array' or jsonb_array_length(v_arg) <> 2 then
        raise exception using errcode = '22023', message = 'in takes [a, [b, c, …]]';
      end if;
      v_a := coalesce(orchestrator.workflow_render(v_arg -> 0, p_ctx), 'null');
      v_c := orchestrator.workflow_render(v_arg -> 1, p_ctx);
      if jsonb_typeof(v_c) <> 'array' then
        return false;
      end if;
      return exists (select 1 from jsonb_array_elements(v_c) e where e = v_a);
    when 'exists' then
      v_a := orchestrator.workflow_render(v_arg, p_ctx);
      return v_a is not null and jsonb_typeof(v_a) <> 'null';
    when 'not' then
      return not orchestrator.workflow_condition(v_arg, p_ctx);
    when 'all' then
      if jsonb_typeof(v_arg) <> 'array' then
        raise exception using errcode = '22023', message = 'all takes a list of conditions';
      end if;
      for v_c in select e from jsonb_array_elements(v_arg) e loop
        if not orchestrator.workflow_condition(v_c, p_ctx) then
          return false;
        end if;
      end loop;
      return true;
    when 'any' then
      if jsonb_typeof(v_arg) <> 'array' then
        raise exception using errcode = '22023', message = 'any takes a list of conditions';
      end if;
      for v_c in select e from jsonb_array_elements(v_arg) e loop
        if orchestrator.workflow_condition(v_c, p_ctx) then
          return true;
        end if;
      end loop;
      return false;
    else
      raise exception using errcode = '22023', message = format('unknown condition operator %s (equals, in, exists, not, all, any)', v_op);
  end case;
end
$$;

-- A wake-up for a step: a workflow.wake task due at p_at (a sleep's end, a timeout, an event that
-- may match). A sleep's and a timeout's are scheduled once (a dedupe key); an event's has none: one
-- that is running may have looked before this event committed, so another one always follows.
create or replace function orchestrator.workflow_schedule_wake(p_run_id bigint, p_step_index integer, p_reason text, p_at timestamptz)
returns void
language sql as $$
  select from orchestrator.enqueue('workflow.wake',
    jsonb_build_object('run_id', p_run_id, 'step_index', p_step_index, 'reason', p_reason),
    jsonb_build_object('run_at', p_at, 'source', 'workflow-timer', 'max_attempts', 10, 'priority', 5,
                       'dedupe_key', case when p_reason <> 'event' then format('workflow.wake:%s:%s:%s', p_run_id, p_step_index, p_reason) end))
$$;

-- The first event since the run started that a waiting step's spec matches, or null.
create or replace function orchestrator.workflow_matching_event(p_run_id bigint, p_spec jsonb)
returns orchestrator.events
language sql stable as $$
  select e.* from orchestrator.events e, orchestrator.workflow_runs r
   where r.id = p_run_id
     and e.source = p_spec ->> 'source' and e.type = p_spec ->> 'type'
     and e.received_at >= r.created_at
     and e.payload @> coalesce(p_spec -> 'match', '{}'::jsonb)
   order by e.received_at, e.id
   limit 1
$$;

-- Ends a step (succeeded, with its result) and moves the run on.
create or replace function orchestrator.workflow_step_succeeded(p_run_id bigint, p_step_index integer, p_result jsonb)
returns void
language sql as $$
  update orchestrator.workflow_steps
     set status = 'succeeded', result = p_result, error = null, finished_at = now()
   where run_id = p_run_id and step_index = p_step_index;
  select orchestrator.workflow_advance(p_run_id);
$$;

-- Fails a step and its run.
create or replace function orchestrator.workflow_step_failed(p_run_id bigint, p_step_index integer, p_error text)
returns void
language plpgsql as $$
declare
  v_step orchestrator.workflow_steps;
begin
  update orchestrator.workflow_steps
     set status = 'failed', error = left(p_error, 10000), finished_at = now()
   where run_id = p_run_id and step_index = p_step_index
  returning * into v_step;
  perform orchestrator.workflow_finish_run(p_run_id, 'failed',
    format('step %s (%s) %s', v_step.name, v_step.type, p_error), v_step.name);
end
$$;

-- Starts one element of a map step: its task, with {{item}} and {{index}} in the input.
create or replace function orchestrator.workflow_start_element(p_run_id bigint, p_step orchestrator.workflow_steps, p_idx integer, p_ctx jsonb)
returns void
language plpgsql as $$
declare
  v_item jsonb;
  v_input jsonb;
  v_run orchestrator.workflow_runs;
  v_task_id bigint;
begin
  select item into v_item from orchestrator.workflow_map_elements where run_id = p_run_id and step_index = p_step.step_index and idx = p_idx;
  v_input := orchestrator.workflow_render(p_step.input_template, p_ctx || jsonb_build_object('item', v_item, 'index', p_idx));
  if v_input is null or jsonb_typeof(v_input) <> 'object' then
    raise exception using errcode = '22023',
      message = format('element %s: its input must be a JSON object, got %s', p_idx, coalesce(jsonb_typeof(v_input), 'nothing'));
  end if;
  select * into v_run from orchestrator.workflow_runs where id = p_run_id;
  select (e.task).id into v_task_id
  from orchestrator.enqueue(p_step.type, v_input, jsonb_build_object(
    'source', left('workflow:' || v_run.workflow_name, 100),
    'dedupe_key', format('workflow:%s:%s:%s', p_run_id, p_step.step_index, p_idx),
    'max_attempts', p_step.options -> 'max_attempts',
    'priority', p_step.options -> 'priority',
    'backoff_base_seconds', p_step.options -> 'backoff_base_seconds')) e;
  update orchestrator.workflow_map_elements set status = 'running', task_id = v_task_id
   where run_id = p_run_id and step_index = p_step.step_index and idx = p_idx;
  update orchestrator.workflow_steps set map_started = map_started + 1
   where run_id = p_run_id and step_index = p_step.step_index;
end
$$;


-- Whether a step with these dependencies may start: each succeeded or was skipped, and a skipped one's
-- own dependencies are done too (a step skipped from the start, an optional type this deployment
-- lacks, keeps its place in the order: what follows it waits for what precedes it).
create or replace function orchestrator.workflow_deps_done(p_run_id bigint, p_after integer[])
returns boolean
language sql stable as $$
  with recursive needed(idx) as (
    select unnest(p_after)
    union
    select unnest(d.after_steps) from needed n
      join orchestrator.workflow_steps d on d.run_id = p_run_id and d.step_index = n.idx and d.status = 'skipped'
  )
  select not exists (
    select 1 from needed n join orchestrator.workflow_steps d on d.run_id = p_run_id and d.step_index = n.idx
     where d.status not in ('succeeded', 'skipped'))
$$;



-- What the workflow.wake task does: under the run's lock, a sleep ends, a timeout fires, or a waiting
-- step takes the event that matches it. Returns what happened (for the task's result and log).
create or replace function orchestrator.workflow_wake(p_run_id bigint, p_step_index integer, p_reason text)
returns text
language plpgsql as $$
declare
  v_run orchestrator.workflow_runs;
  v_step orchestrator.workflow_steps;
  v_event orchestrator.events;
begin
  select * into v_run from orchestrator.workflow_runs where id = p_run_id for update;
  if not found or v_run.status <> 'running' then
    return 'the run is not running';
  end if;
  select * into v_step from orchestrator.workflow_steps where run_id = p_run_id and step_index = p_step_index;
  if not found or v_step.status <> 'waiting' then
    return 'the step is not waiting';
  end if;
  if p_reason = 'sleep' then
    if (v_step.waiting_for ->> 'until')::timestamptz > now() then
      return 'not yet';
    end if;
    perform orchestrator.workflow_step_succeeded(p_run_id, p_step_index, jsonb_build_object('slept_until', v_step.waiting_for -> 'until'));
    return 'slept';
  elsif p_reason = 'event' then
    v_event := orchestrator.workflow_matching_event(p_run_id, v_step.waiting_for -> 'event');
    if v_event.id is null then
      return 'no matching event';
    end if;
    perform orchestrator.workflow_step_succeeded(p_run_id, p_step_index, to_jsonb(v_event));
    return 'event ' || v_event.id;
  elsif p_reason = 'timeout' then
    if v_step.timeout_at > now() then
      return 'not yet';
    end if;
    if coalesce(v_step.wait ->> 'on_timeout', 'fail') = 'continue' then
      perform orchestrator.workflow_step_succeeded(p_run_id, p_step_index, jsonb_build_object('timed_out', true, 'at', now()));
      return 'timed out; the run goes on';
    end if;
    perform orchestrator.workflow_step_failed(p_run_id, p_step_index,
      format('timed out after %s s waiting for %s', v_step.wait ->> 'timeout_seconds', v_step.waiting_for));
    return 'timed out; the run failed';
  end if;
  raise exception using errcode = '22023', message = format('workflow_wake: unknown reason %s', p_reason);
end
$$;


create trigger events_changes_ins after insert on orchestrator.events
  referencing new table as new_rows
  for each statement execute function orchestrator.propagate_changes('event', 'workflows');


-- cancel_workflow_run: the run's lock first, then workflow_finish_run, which cancels the tasks of its
-- running steps and elements that no other transaction is finishing (SKIP LOCKED: one that is sees
-- the run cancelled and moves nothing).
create or replace function orchestrator.cancel_workflow_run(p_run_id bigint)
returns setof orchestrator.workflow_runs
language plpgsql as $$
declare
  v_run orchestrator.workflow_runs;
begin
  select * into v_run from orchestrator.workflow_runs where id = p_run_id for update;
  if not found then
    return;
  end if;
  if v_run.status = 'running' then
    perform orchestrator.workflow_finish_run(p_run_id, 'cancelled', 'cancelled on request', null);
  end if;
  return query select * from orchestrator.workflow_runs where id = p_run_id;
end
$$;



-- ------------------------------------------------------------------------------------------------
-- Awaited child workflows, re-running a run from a step, and the
-- versions of each definition.
--
-- {"kind": "workflow", "workflow": "<name>", "input": {…}} starts a run of that workflow and waits for
-- it, holding nothing (the step is 'waiting'). The child's end ends the step in the child's last
-- transaction: its output is the step's result, a failed or cancelled child fails the step. A run is
-- nested at most 5 deep (the parent, its child, …); the API refuses a definition whose children lead
-- back to it. Lock order is child -> parent (the child's end moves the parent); a parent that ends
-- cancels its running children that no other transaction holds (SKIP LOCKED), and a child whose
-- parent has ended cancels itself the next time it moves.
--
-- workflow_rerun(run, from) re-runs a finished run from one step: a NEW run (rerun_of, rerun_from),
-- with the original's steps as the original ran them (its definition version). Steps that are neither
-- `from` nor downstream of it and had succeeded or been skipped keep their outcome (reused, no task);
-- every other step runs again. The original run keeps its history.
--
-- workflow_versions keeps every version of a definition's steps (a trigger on workflows), so
-- GET /workflows/:name lists them; a run names the version it started with and keeps its steps.

-- Up to 200 steps (was 50): a 100-wide fan-out and its join is one definition.
alter table orchestrator.workflows drop constraint workflows_steps_check;
alter table orchestrator.workflows add constraint workflows_steps_check
  check (jsonb_typeof(steps) = 'array' and jsonb_array_length(steps) between 1 and 200);

alter table orchestrator.workflow_steps
  add column child_run_id bigint,
  add column reused boolean not null default false;
comment on column orchestrator.workflow_steps.reused is 'A re-run kept this step''s outcome from the run it re-runs (workflow_rerun): it did not run again.';

alter table orchestrator.workflow_runs
  add column parent_run_id bigint references orchestrator.workflow_runs (id) on delete set null,
  add column parent_step_index integer,
  add column depth integer not null default 0 check (depth between 0 and 4),
  add column available_types text[],
  add column rerun_of bigint references orchestrator.workflow_runs (id) on delete set null,
  add column rerun_from text;
create index workflow_runs_parent_idx on orchestrator.workflow_runs (parent_run_id) where parent_run_id is not null;

create table orchestrator.workflow_versions (
  workflow_id bigint not null references orchestrator.workflows (id) on delete cascade,
  version integer not null,
  steps jsonb not null,
  created_at timestamptz not null default now(),
  primary key (workflow_id, version)
);
alter table orchestrator.workflow_versions enable row level security;
grant select, insert, update, delete on orchestrator.workflow_versions to service_role;
insert into orchestrator.workflow_versions (workflow_id, version, steps, created_at)
select id, version, steps, updated_at from orchestrator.workflows;

create or replace function orchestrator.workflow_keep_version()
returns trigger
language plpgsql as $$
begin
  insert into orchestrator.workflow_versions (workflow_id, version, steps)
  values (new.id, new.version, new.steps)
  on conflict (workflow_id, version) do update set steps = excluded.steps;
  return null;
end
$$;
create trigger workflows_keep_version after insert or update of steps, version on orchestrator.workflows
  for each row execute function orchestrator.workflow_keep_version();

-- A child run ended: its parent's step ends with it (in this transaction), and the parent moves on.
create or replace function orchestrator.workflow_child_finished(p_child bigint)
returns void
language plpgsql as $$
declare
  v_child orchestrator.workflow_runs;
  v_parent orchestrator.workflow_runs;
  v_step orchestrator.workflow_steps;
begin
  select * into v_child from orchestrator.workflow_runs where id = p_child;
  if v_child.parent_run_id is null or v_child.status = 'running' then
    return;
  end if;
  select * into v_parent from orchestrator.workflow_runs where id = v_child.parent_run_id for update;
  if not found or v_parent.status <> 'running' then
    return;
  end if;
  select * into v_step from orchestrator.workflow_steps where run_id = v_parent.id and step_index = v_child.parent_step_index;
  if v_step.status <> 'waiting' or v_step.child_run_id is distinct from v_child.id then
    return;
  end if;
  if v_child.status = 'succeeded' then
    perform orchestrator.workflow_step_succeeded(v_parent.id, v_step.step_index, v_child.output);
  else
    perform orchestrator.workflow_step_failed(v_parent.id, v_step.step_index,
      format('failed: its child run %s (%s) %s: %s', v_child.id, v_child.workflow_name, v_child.status, coalesce(v_child.error, 'no error recorded')));
  end if;
end
$$;

-- start_workflow_run: as before (20261124030100_workflows.sql), with the steps' graph fields, and a child run records its parent,
-- its depth and the types its deployment runs (a child inherits them from the parent's run).
create or replace function orchestrator.start_workflow_run(p_name text, p_input jsonb default '{}'::jsonb, p_opts jsonb default '{}'::jsonb,
  out run orchestrator.workflow_runs, out created boolean)
returns record
language plpgsql as $$
declare
  v_wf orchestrator.workflows;
  v_opts jsonb := coalesce(p_opts, '{}'::jsonb);
  v_available text[];
  v_key text := v_opts ->> 'dedupe_key';
  v_missing text;
  v_unknown text;
  v_parent orchestrator.workflow_runs;
begin
  select * into v_wf from orchestrator.workflows where name = p_name;
  if not found then
    raise exception using errcode = 'P0002', message = format('workflow %L does not exist', p_name);
  end if;
  if not v_wf.enabled then
    raise exception using errcode = '55000', message = format('workflow %L is disabled', p_name);
  end if;
  if p_input is not null and jsonb_typeof(p_input) <> 'object' then
    raise exception using errcode = '22023', message = 'workflow input must be a JSON object';
  end if;
  if v_opts ? 'parent_run_id' then
    select * into v_parent from orchestrator.workflow_runs where id = (v_opts ->> 'parent_run_id')::bigint;
    if v_parent.depth >= 4 then
      raise exception using errcode = '22023', message = format('workflow %L would be nested more than 5 runs deep (run %s is at depth %s)', p_name, v_parent.id, v_parent.depth + 1);
    end if;
    v_available := v_parent.available_types;
  end if;
  if jsonb_typeof(v_opts -> 'available_types') = 'array' then
    v_available := array(select jsonb_array_elements_text(v_opts -> 'available_types'));
  end if;
  if v_available is not null then
    select string_agg(format('%s (%s)', s ->> 'name', s ->> 'type'), ', ') into v_missing
      from jsonb_array_elements(v_wf.steps) s
     where coalesce(s ->> 'kind', 'task') = 'task'
       and not coalesce((s ->> 'optional')::boolean, false) and not (s ->> 'type' = any (v_available));
    if v_missing is not null then
      raise exception using errcode = '22023',
        message = format('workflow %L cannot run here: required steps use task types this deployment does not register: %s', p_name, v_missing);
    end if;
  end if;
  select string_agg(format('%s -> %s', s ->> 'name', d), ', ') into v_unknown
    from jsonb_array_elements(v_wf.steps) s, jsonb_array_elements_text(coalesce(s -> 'after', '[]'::jsonb)) d
   where not exists (select 1 from jsonb_array_elements(v_wf.steps) x where x ->> 'name' = d);
  if v_unknown is not null then
    raise exception using errcode = '22023', message = format('workflow %L: unknown steps in after: %s', p_name, v_unknown);
  end if;

  loop
    insert into orchestrator.workflow_runs (workflow_id, workflow_name, workflow_version, input, source, dedupe_key,
                                            parent_run_id, parent_step_index, depth, available_types)
    values (v_wf.id, v_wf.name, v_wf.version, coalesce(p_input, '{}'::jsonb), coalesce(v_opts ->> 'source', 'sql'), v_key,
            v_parent.id, (v_opts ->> 'parent_step_index')::integer, coalesce(v_parent.depth + 1, 0), v_available)
    on conflict (workflow_name, dedupe_key) where dedupe_key is not null and status = 'running' do nothing
    returning * into run;
    if found then
      created := true;
      exit;
    end if;
    select * into run from orchestrator.workflow_runs
     where workflow_name = v_wf.name and dedupe_key = v_key and status = 'running';
    if found then
      created := false;
      return;
    end if;
  end loop;

  insert into orchestrator.workflow_steps (run_id, step_index, name, type, kind, optional, status, input_template, options, error, finished_at,
                                           after_steps, condition, map_over, map_parallelism, continue_on_error, wait)
  select run.id, (n - 1)::integer, s ->> 'name', coalesce(s ->> 'type', s ->> 'kind'), coalesce(s ->> 'kind', 'task'),
         coalesce((s ->> 'optional')::boolean, false),
         case when v_available is not null and coalesce(s ->> 'kind', 'task') = 'task' and not (s ->> 'type' = any (v_available))
              then 'skipped'::orchestrator.workflow_step_status else 'pending'::orchestrator.workflow_step_status end,
         coalesce(s -> 'input', '{}'::jsonb),
         jsonb_strip_nulls(jsonb_build_object('max_attempts', s -> 'max_attempts', 'priority', s -> 'priority',
                                              'backoff_base_seconds', s -> 'backoff_base_seconds')),
         case when v_available is not null and coalesce(s ->> 'kind', 'task') = 'task' and not (s ->> 'type' = any (v_available))
              then format('task type %s is not registered in this deployment', s ->> 'type') end,
         case when v_available is not null and coalesce(s ->> 'kind', 'task') = 'task' and not (s ->> 'type' = any (v_available)) then now() end,
         case when s ? 'after' then array(select (x.n - 1)::integer
                                            from jsonb_array_elements_text(s -> 'after') with ordinality a(dep, k)
                                            join jsonb_array_elements(v_wf.steps) with ordinality x(d, n) on x.d ->> 'name' = a.dep
                                           order by a.k)
              when n = 1 then '{}'::integer[] else array[(n - 2)::integer] end,
         s -> 'when',
         s #> '{map,over}',
         (s #>> '{map,parallelism}')::integer,
         coalesce((s ->> 'continue_on_error')::boolean, false),
         nullif(jsonb_strip_nulls(jsonb_build_object('seconds', s -> 'seconds', 'until', s -> 'until', 'event', s -> 'event',
                                                     'timeout_seconds', s -> 'timeout_seconds', 'on_timeout', s -> 'on_timeout',
                                                     'workflow', s -> 'workflow', 'title', s -> 'title', 'body', s -> 'body',
                                                     'on_reject', s -> 'on_reject')), '{}'::jsonb)
  from jsonb_array_elements(v_wf.steps) with ordinality a(s, n);

  perform orchestrator.workflow_advance(run.id);
  select * into run from orchestrator.workflow_runs where id = run.id;
end
$$;

-- A child workflow step: the step waits (first, so the child's end, which may come at once, finds
-- it waiting), then the child starts.
create or replace function orchestrator.workflow_start_child(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb)
returns void
language plpgsql as $$
declare
  v_run orchestrator.workflow_runs;
  v_input jsonb;
  v_child orchestrator.workflow_runs;
begin
  select * into v_run from orchestrator.workflow_runs where id = p_run_id;
  v_input := coalesce(orchestrator.workflow_render(p_step.input_template, p_ctx), '{}'::jsonb);
  if jsonb_typeof(v_input) <> 'object' then
    raise exception using errcode = '22023', message = format('its input must be a JSON object, got %s', jsonb_typeof(v_input));
  end if;
  update orchestrator.workflow_steps
     set status = 'waiting', input = v_input, started_at = now(),
         waiting_for = jsonb_build_object('workflow', p_step.wait ->> 'workflow')
   where run_id = p_run_id and step_index = p_step.step_index;
  select (r.run).* into v_child
  from orchestrator.start_workflow_run(p_step.wait ->> 'workflow', v_input, jsonb_build_object(
    'source', left('workflow:' || v_run.workflow_name, 100), 'parent_run_id', p_run_id, 'parent_step_index', p_step.step_index)) r;
  update orchestrator.workflow_steps
     set child_run_id = v_child.id,
         waiting_for = jsonb_build_object('workflow', p_step.wait ->> 'workflow', 'run_id', v_child.id)
   where run_id = p_run_id and step_index = p_step.step_index and status = 'waiting';
  -- It ended as it started (before child_run_id was set): its end found no step to end, so end it now.
  if v_child.status <> 'running' then
    perform orchestrator.workflow_child_finished(v_child.id);
  end if;
end
$$;


-- Moves a run on: starts every step whose dependencies are done, skips what its condition (or its
-- dependencies' skipping) rules out, and ends the run when nothing is left, telling its parent. A child
-- whose parent has ended stops. Takes the run's lock.
create or replace function orchestrator.workflow_advance(p_run_id bigint)
returns void
language plpgsql as $$
declare
  v_run orchestrator.workflow_runs;
  v_step orchestrator.workflow_steps;
  v_ctx jsonb;
  v_progress boolean;
begin
  select * into v_run from orchestrator.workflow_runs where id = p_run_id for update;
  if not found or v_run.status <> 'running' then
    return;
  end if;
  if v_run.parent_run_id is not null
     and (select status from orchestrator.workflow_runs where id = v_run.parent_run_id) is distinct from 'running' then
    perform orchestrator.workflow_finish_run(p_run_id, 'cancelled', 'its parent run ended', null);
    return;
  end if;
  loop
    v_progress := false;
    v_ctx := orchestrator.workflow_context(p_run_id);
    for v_step in
      select s.* from orchestrator.workflow_steps s
       where s.run_id = p_run_id and s.status = 'pending' and orchestrator.workflow_deps_done(p_run_id, s.after_steps)
       order by s.step_index
    loop
      -- A step that ended as it started advanced the run itself (workflow_step_succeeded), and may have
      -- started some of these meanwhile.
      if (select status from orchestrator.workflow_steps where run_id = p_run_id and step_index = v_step.step_index) <> 'pending' then
        continue;
      end if;
      v_progress := true;
      if cardinality(v_step.after_steps) > 0 and not exists (
           select 1 from orchestrator.workflow_steps d
            where d.run_id = p_run_id and d.step_index = any (v_step.after_steps) and not d.skipped_by_condition) then
        update orchestrator.workflow_steps
           set status = 'skipped', skipped_by_condition = true, error = 'every step it depends on was skipped by its condition', finished_at = now()
         where run_id = p_run_id and step_index = v_step.step_index;
        continue;
      end if;
      begin
        if v_step.condition is not null and not orchestrator.workflow_condition(v_step.condition, v_ctx) then
          update orchestrator.workflow_steps
             set status = 'skipped', skipped_by_condition = true, error = 'its condition (when) is false', finished_at = now()
           where run_id = p_run_id and step_index = v_step.step_index;
          continue;
        end if;
        perform orchestrator.workflow_start_step(p_run_id, v_step, v_ctx);
      exception when others then
        perform orchestrator.workflow_step_failed(p_run_id, v_step.step_index, format('could not start: %s', sqlerrm));
        return;
      end;
      select * into v_run from orchestrator.workflow_runs where id = p_run_id;
      if v_run.status <> 'running' then
        return;
      end if;
    end loop;
    exit when not v_progress;
  end loop;
  if not exists (select 1 from orchestrator.workflow_steps where run_id = p_run_id and status in ('pending', 'running', 'waiting')) then
    update orchestrator.workflow_runs
       set status = 'succeeded', finished_at = now(), updated_at = now(),
           output = coalesce((select jsonb_object_agg(name, result) from orchestrator.workflow_steps
                               where run_id = p_run_id and status = 'succeeded'), '{}'::jsonb)
     where id = p_run_id and status = 'running';
    perform orchestrator.workflow_child_finished(p_run_id);
  else
    update orchestrator.workflow_runs set updated_at = now() where id = p_run_id;
  end if;
end
$$;

-- Ends a run (failed or cancelled): pending steps are skipped (or cancelled), running and waiting ones
-- cancelled with their tasks, elements and running children, and its parent told. A task or child
-- another transaction is finishing right now is left to it (SKIP LOCKED): its outcome is recorded on
-- its step and moves nothing.
create or replace function orchestrator.workflow_finish_run(p_run_id bigint, p_status orchestrator.workflow_run_status, p_error text, p_failed_step text default null)
returns void
language plpgsql as $$
declare
  v_task bigint;
  v_child bigint;
begin
  update orchestrator.workflow_runs
     set status = p_status, error = left(p_error, 10000), failed_step = p_failed_step,
         finished_at = now(), updated_at = now()
   where id = p_run_id and status = 'running';
  update orchestrator.workflow_steps
     set status = case when p_status = 'cancelled' then 'cancelled'::orchestrator.workflow_step_status
                       else 'skipped'::orchestrator.workflow_step_status end,
         error = case when p_status = 'cancelled' then 'run cancelled'
                      else format('not run: the run failed at step %s', coalesce(p_failed_step, '?')) end,
         finished_at = now()
   where run_id = p_run_id and status = 'pending';
  update orchestrator.workflow_steps
     set status = 'cancelled',
         error = case when p_status = 'cancelled' then 'run cancelled'
                      else format('stopped: the run failed at step %s', coalesce(p_failed_step, '?')) end,
         finished_at = now()
   where run_id = p_run_id and status in ('running', 'waiting') and name is distinct from p_failed_step;
  update orchestrator.workflow_map_elements set status = 'cancelled'
   where run_id = p_run_id and status in ('pending', 'running');
  for v_task in
    select t.id from orchestrator.tasks t
     where t.status in ('queued', 'running')
       and t.id in (select s.task_id from orchestrator.workflow_steps s where s.run_id = p_run_id and s.task_id is not null
                    union all
                    select e.task_id from orchestrator.workflow_map_elements e where e.run_id = p_run_id and e.task_id is not null)
     for update of t skip locked
  loop
    perform orchestrator.cancel(v_task);
  end loop;
  update orchestrator.tasks set status = 'cancelled', finished_at = now(), updated_at = now()
   where type = 'workflow.wake' and status = 'queued' and payload @> jsonb_build_object('run_id', p_run_id);
  -- Children no other transaction holds stop now; one that is busy stops the next time it moves.
  for v_child in
    select c.id from orchestrator.workflow_runs c where c.parent_run_id = p_run_id and c.status = 'running' for update skip locked
  loop
    perform orchestrator.workflow_finish_run(v_child, 'cancelled', 'its parent run ended', null);
  end loop;
  perform orchestrator.workflow_child_finished(p_run_id);
end
$$;

-- Re-runs a finished run from one step (see the head of this file). Returns the new run.
create or replace function orchestrator.workflow_rerun(p_run_id bigint, p_from text)
returns orchestrator.workflow_runs
language plpgsql as $$
declare
  v_old orchestrator.workflow_runs;
  v_from integer;
  v_new orchestrator.workflow_runs;
begin
  select * into v_old from orchestrator.workflow_runs where id = p_run_id for update;
  if not found then
    raise exception using errcode = 'P0002', message = format('run %s does not exist', p_run_id);
  end if;
  if v_old.status = 'running' then
    raise exception using errcode = '55000', message = format('run %s is still running; cancel it first, or wait for it to end', p_run_id);
  end if;
  select step_index into v_from from orchestrator.workflow_steps where run_id = p_run_id and name = p_from;
  if not found then
    raise exception using errcode = 'P0002', message = format('run %s has no step %L', p_run_id, p_from);
  end if;
  insert into orchestrator.workflow_runs (workflow_id, workflow_name, workflow_version, input, source, depth, available_types, rerun_of, rerun_from)
  values (v_old.workflow_id, v_old.workflow_name, v_old.workflow_version, v_old.input, 'rerun', 0, v_old.available_types, v_old.id, p_from)
  returning * into v_new;
  with recursive downstream(idx) as (
    select v_from
    union
    select s.step_index from orchestrator.workflow_steps s join downstream d on d.idx = any (s.after_steps)
     where s.run_id = p_run_id
  )
  insert into orchestrator.workflow_steps (run_id, step_index, name, type, kind, optional, status, input_template, options, after_steps,
                                           condition, map_over, map_parallelism, continue_on_error, wait,
                                           input, result, error, skipped_by_condition, started_at, finished_at, reused)
  select v_new.id, s.step_index, s.name, s.type, s.kind, s.optional,
         case when keep then s.status else 'pending'::orchestrator.workflow_step_status end,
         s.input_template, s.options, s.after_steps, s.condition, s.map_over, s.map_parallelism, s.continue_on_error, s.wait,
         case when keep then s.input end, case when keep then s.result end, case when keep then s.error end,
         keep and s.skipped_by_condition, case when keep then s.started_at end, case when keep then s.finished_at end, keep
    from (select s.*, s.step_index not in (select idx from downstream) and s.status in ('succeeded', 'skipped') as keep
            from orchestrator.workflow_steps s where s.run_id = p_run_id) s;
  perform orchestrator.workflow_advance(v_new.id);
  select * into v_new from orchestrator.workflow_runs where id = v_new.id;
  return v_new;
end
$$;

revoke all on function orchestrator.workflow_keep_version() from public;
revoke all on function orchestrator.workflow_child_finished(bigint) from public;
revoke all on function orchestrator.workflow_start_child(bigint, orchestrator.workflow_steps, jsonb) from public;
revoke all on function orchestrator.workflow_rerun(bigint, text) from public;
grant execute on function orchestrator.workflow_rerun(bigint, text) to service_role;

-- ------------------------------------------------------------------------------------------------
-- Approvals. {"kind": "approval", "title", "body"} asks a person to
-- approve or reject: the step waits, holding nothing, on a ticket opened for it (source 'workflow',
-- priority high), which the Notion sync pushes as a page where Notion is configured (tickets always
-- ship, so an approval always has a place to be decided). It is decided by
--   POST /workflows/:name/runs/:id/steps/:step/approve | reject {"by"?, "comment"?}, or
--   the ticket: resolved is approved, closed is rejected (a Status change in Notion, pulled or sent by
--   its webhook, changes the ticket: the one change path's `workflows` consumer hears it).
-- The step's result says who decided and when: {decision, by, at, comment?, ticket_id}. A rejection
-- fails the step (and the run), unless "on_reject": "continue" (the result then says rejected).
-- timeout_seconds is required (at most 30 days), with on_timeout as for the other waits.
--
-- The step's start is now one function per kind, chosen by workflow_start_step(): a new kind adds a
-- function and a line there.

alter table orchestrator.workflow_steps add column approval_ticket_id bigint;
create unique index workflow_steps_approval_ticket_idx on orchestrator.workflow_steps (approval_ticket_id) where approval_ticket_id is not null;

-- A task step: its task, with the input rendered.
create or replace function orchestrator.workflow_start_task(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb)
returns void
language plpgsql as $$
declare
  v_run orchestrator.workflow_runs;
  v_input jsonb;
  v_task_id bigint;
begin
  select * into v_run from orchestrator.workflow_runs where id = p_run_id;
  v_input := orchestrator.workflow_render(p_step.input_template, p_ctx);
  if v_input is null or jsonb_typeof(v_input) = 'null' then
    update orchestrator.workflow_steps set status = 'skipped', error = 'input resolved to null', finished_at = now()
     where run_id = p_run_id and step_index = p_step.step_index;
    return;
  end if;
  if jsonb_typeof(v_input) <> 'object' then
    raise exception using errcode = '22023', message = format('its input must be a JSON object, got %s', jsonb_typeof(v_input));
  end if;
  select (e.task).id into v_task_id
  from orchestrator.enqueue(p_step.type, v_input, jsonb_build_object(
    'source', left('workflow:' || v_run.workflow_name, 100),
    'dedupe_key', format('workflow:%s:%s', p_run_id, p_step.step_index),
    'max_attempts', p_step.options -> 'max_attempts',
    'priority', p_step.options -> 'priority',
    'backoff_base_seconds', p_step.options -> 'backoff_base_seconds')) e;
  update orchestrator.workflow_steps set status = 'running', input = v_input, task_id = v_task_id, started_at = now()
   where run_id = p_run_id and step_index = p_step.step_index;
end
$$;

-- A map step: its elements, and the first `parallelism` of their tasks.
create or replace function orchestrator.workflow_start_map(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb)
returns void
language plpgsql as $$
declare
  v_over jsonb;
  i integer;
begin
  v_over := orchestrator.workflow_render(p_step.map_over, p_ctx);
  if v_over is null or jsonb_typeof(v_over) <> 'array' then
    raise exception using errcode = '22023',
      message = format('map over %s: not an array (%s)', p_step.map_over #>> '{}', coalesce(jsonb_typeof(v_over), 'no value'));
  end if;
  if jsonb_array_length(v_over) > 10000 then
    raise exception using errcode = '22023', message = format('map over %s: %s elements, at most 10,000', p_step.map_over #>> '{}', jsonb_array_length(v_over));
  end if;
  insert into orchestrator.workflow_map_elements (run_id, step_index, idx, item)
  select p_run_id, p_step.step_index, (n - 1)::integer, x from jsonb_array_elements(v_over) with ordinality a(x, n);
  update orchestrator.workflow_steps
     set status = 'running', input = jsonb_build_object('over', v_over), map_total = jsonb_array_length(v_over), started_at = now()
   where run_id = p_run_id and step_index = p_step.step_index
  returning * into p_step;
  if p_step.map_total = 0 then
    perform orchestrator.workflow_step_succeeded(p_run_id, p_step.step_index, '[]'::jsonb);
    return;
  end if;
  for i in 0 .. least(coalesce(p_step.map_parallelism, 10), p_step.map_total) - 1 loop
    perform orchestrator.workflow_start_element(p_run_id, p_step, i, p_ctx);
  end loop;
end
$$;

-- A sleep: waits until its time, which a workflow.wake task then ends.
create or replace function orchestrator.workflow_start_sleep(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb)
returns void
language plpgsql as $$
declare
  v_until timestamptz;
  v_timeout numeric := (p_step.wait ->> 'timeout_seconds')::numeric;
begin
  v_until := case when p_step.wait ? 'seconds' then now() + make_interval(secs => (p_step.wait ->> 'seconds')::numeric)
                  else (orchestrator.workflow_render(p_step.wait -> 'until', p_ctx) #>> '{}')::timestamptz end;
  if v_until is null then
    raise exception using errcode = '22023', message = format('sleep until %s: no time', p_step.wait -> 'until');
  end if;
  if v_until > now() + interval '30 days' then
    raise exception using errcode = '22023', message = format('sleep until %s: more than 30 days away', v_until);
  end if;
  update orchestrator.workflow_steps
     set status = 'waiting', waiting_for = jsonb_build_object('until', v_until), started_at = now(),
         timeout_at = case when v_timeout is not null then now() + make_interval(secs => v_timeout) end
   where run_id = p_run_id and step_index = p_step.step_index;
  perform orchestrator.workflow_schedule_wake(p_run_id, p_step.step_index, 'sleep', v_until);
  if v_timeout is not null then
    perform orchestrator.workflow_schedule_wake(p_run_id, p_step.step_index, 'timeout', now() + make_interval(secs => v_timeout));
  end if;
end
$$;

-- A wait for an event: takes one that came since the run started, or waits (the lock at the head of this file).
create or replace function orchestrator.workflow_start_event_wait(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb)
returns void
language plpgsql as $$
declare
  v_spec jsonb;
  v_event orchestrator.events;
  v_timeout numeric := (p_step.wait ->> 'timeout_seconds')::numeric;
begin
  v_spec := jsonb_build_object('source', p_step.wait #>> '{event,source}', 'type', p_step.wait #>> '{event,type}',
                               'match', coalesce(orchestrator.workflow_render(p_step.wait #> '{event,match}', p_ctx), '{}'::jsonb));
  -- Every event of this source and type whose transaction is still open commits first (20261202001300).
  perform pg_advisory_xact_lock(hashtext('orchestrator.workflow_events'), orchestrator.workflow_event_lock_key(v_spec ->> 'source', v_spec ->> 'type'));
  update orchestrator.workflow_steps
     set status = 'waiting', waiting_for = jsonb_build_object('event', v_spec), started_at = now(),
         timeout_at = case when v_timeout is not null then now() + make_interval(secs => v_timeout) end
   where run_id = p_run_id and step_index = p_step.step_index;
  v_event := orchestrator.workflow_matching_event(p_run_id, v_spec);
  if v_event.id is not null then
    perform orchestrator.workflow_step_succeeded(p_run_id, p_step.step_index, to_jsonb(v_event));
    return;
  end if;
  if v_timeout is not null then
    perform orchestrator.workflow_schedule_wake(p_run_id, p_step.step_index, 'timeout', now() + make_interval(secs => v_timeout));
  end if;
end
$$;

-- An approval: a ticket asks for the decision, and the step waits for it (see the head of this file).
create or replace function orchestrator.workflow_start_approval(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb)
returns void
language plpgsql as $$
declare
  v_run orchestrator.workflow_runs;
  v_title text;
  v_body text;
  v_ticket bigint;
  v_timeout numeric := (p_step.wait ->> 'timeout_seconds')::numeric;
begin
  select * into v_run from orchestrator.workflow_runs where id = p_run_id;
  v_title := orchestrator.workflow_render(p_step.wait -> 'title', p_ctx) #>> '{}';
  v_body := orchestrator.workflow_render(p_step.wait -> 'body', p_ctx) #>> '{}';
  if coalesce(btrim(v_title), '') = '' then
    raise exception using errcode = '22023', message = 'its approval title resolved to nothing';
  end if;
  insert into orchestrator.tickets (title, description, priority, source, fingerprint)
  values (left('Approve: ' || v_title, 500),
          left(concat_ws(E'\n\n', v_body,
            format('Workflow %s, run %s, step %s. Resolve this ticket (Done in Notion) to approve it, close it to reject it, or '
                   'POST /workflows/%s/runs/%s/steps/%s/approve (or /reject).', v_run.workflow_name, p_run_id, p_step.name,
                   v_run.workflow_name, p_run_id, p_step.name)), 20000),
          'high', 'workflow', format('workflow-approval:%s:%s', p_run_id, p_step.step_index))
  returning id into v_ticket;
  update orchestrator.workflow_steps
     set status = 'waiting', approval_ticket_id = v_ticket, started_at = now(),
         waiting_for = jsonb_build_object('approval', jsonb_build_object('ticket_id', v_ticket, 'title', v_title)),
         timeout_at = now() + make_interval(secs => v_timeout)
   where run_id = p_run_id and step_index = p_step.step_index;
  perform orchestrator.workflow_schedule_wake(p_run_id, p_step.step_index, 'timeout', now() + make_interval(secs => v_timeout));
end
$$;

-- Starts a ready step: the function of its kind. Raises on what cannot start.
create or replace function orchestrator.workflow_start_step(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb)
returns void
language plpgsql as $$
begin
  case
    when p_step.kind = 'task' and p_step.map_over is null then perform orchestrator.workflow_start_task(p_run_id, p_step, p_ctx);
    when p_step.kind = 'task' then perform orchestrator.workflow_start_map(p_run_id, p_step, p_ctx);
    when p_step.kind = 'sleep' then perform orchestrator.workflow_start_sleep(p_run_id, p_step, p_ctx);
    when p_step.kind = 'wait_for_event' then perform orchestrator.workflow_start_event_wait(p_run_id, p_step, p_ctx);
    when p_step.kind = 'workflow' then perform orchestrator.workflow_start_child(p_run_id, p_step, p_ctx);
    when p_step.kind = 'approval' then perform orchestrator.workflow_start_approval(p_run_id, p_step, p_ctx);
  end case;
end
$$;

-- A decision on a waiting approval: from the API (p_by: who, as the caller says) or from its ticket.
-- Returns what happened. The ticket follows (resolved or closed) unless another transaction holds it
-- right now (SKIP LOCKED: that one is changing it, and its change finds the step decided).
create or replace function orchestrator.workflow_decide(p_run_id bigint, p_step_name text, p_decision text, p_by text, p_comment text default null)
returns text
language plpgsql as $$
declare
  v_run orchestrator.workflow_runs;
  v_step orchestrator.workflow_steps;
  v_result jsonb;
begin
  if p_decision not in ('approved', 'rejected') then
    raise exception using errcode = '22023', message = format('a decision is approved or rejected, not %s', p_decision);
  end if;
  select * into v_run from orchestrator.workflow_runs where id = p_run_id for update;
  if not found then
    raise exception using errcode = 'P0002', message = format('run %s does not exist', p_run_id);
  end if;
  select * into v_step from orchestrator.workflow_steps where run_id = p_run_id and name = p_step_name;
  if not found then
    raise exception using errcode = 'P0002', message = format('run %s has no step %L', p_run_id, p_step_name);
  end if;
  if v_step.kind <> 'approval' or v_step.status <> 'waiting' or v_run.status <> 'running' then
    raise exception using errcode = '55000',
      message = format('step %s of run %s is not waiting for a decision (%s %s, run %s)', p_step_name, p_run_id, v_step.kind, v_step.status, v_run.status);
  end if;
  v_result := jsonb_strip_nulls(jsonb_build_object('decision', p_decision, 'by', left(coalesce(p_by, 'unknown'), 200), 'at', now(),
                                                   'comment', left(p_comment, 2000), 'ticket_id', v_step.approval_ticket_id));
  -- The step first: the ticket's change below reaches the workflows consumer, which must find it decided.
  if p_decision = 'approved' or v_step.wait ->> 'on_reject' = 'continue' then
    perform orchestrator.workflow_step_succeeded(p_run_id, v_step.step_index, v_result);
  else
    update orchestrator.workflow_steps set result = v_result where run_id = p_run_id and step_index = v_step.step_index;
    perform orchestrator.workflow_step_failed(p_run_id, v_step.step_index, format('was rejected by %s', v_result ->> 'by'));
  end if;
  update orchestrator.tickets set status = case when p_decision = 'approved' then 'resolved'::orchestrator.ticket_status else 'closed'::orchestrator.ticket_status end,
         updated_at = now()
   where id = (select id from orchestrator.tickets where id = v_step.approval_ticket_id and status in ('open', 'in_progress') for update skip locked);
  return p_decision;
end
$$;

-- The workflows consumer (the head of this file), now for approval tickets too: resolved approves, closed rejects.
create or replace function orchestrator.workflow_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray)
returns void
language plpgsql as $$
declare
  v_task record;
  v_event record;
  v_step orchestrator.workflow_steps;
  v_elem orchestrator.workflow_map_elements;
  v_run orchestrator.workflow_runs;
  v_key record;
begin
  if p_entity = 'event' and p_op = 'INSERT' then
    -- Shared locks on each (source, type) inserted, then the waiting steps they may match: each gets a wake-up.
    for v_key in select distinct n.source, n.type from unnest(p_new) n loop
      perform pg_advisory_xact_lock_shared(hashtext('orchestrator.workflow_events'), orchestrator.workflow_event_lock_key(v_key.source, v_key.type));
    end loop;
    for v_event in
      select distinct s.run_id, s.step_index
        from orchestrator.workflow_steps s
        join unnest(p_new) n on n.source = s.waiting_for #>> '{event,source}' and n.type = s.waiting_for #>> '{event,type}'
                            and n.payload @> coalesce(s.waiting_for #> '{event,match}', '{}'::jsonb)
       where s.status = 'waiting' and s.kind = 'wait_for_event'
    loop
      perform orchestrator.workflow_schedule_wake(v_event.run_id, v_event.step_index, 'event', now());
    end loop;
    return;
  end if;
  if p_entity = 'ticket' and p_op = 'UPDATE' then
    -- An approval's ticket resolved (approved) or closed (rejected): in Notion, by hand, or by the API.
    for v_key in
      select s.run_id, s.name, n.status::text as status
        from unnest(p_new) n join unnest(p_old) o on o.id = n.id
        join orchestrator.workflow_steps s on s.approval_ticket_id = n.id and s.status = 'waiting'
       where n.status is distinct from o.status and n.status in ('resolved', 'closed')
    loop
      begin
        perform orchestrator.workflow_decide(v_key.run_id, v_key.name, case when v_key.status = 'resolved' then 'approved' else 'rejected' end,
          case when current_setting('orchestrator.sync_origin', true) = 'notion' then 'notion' else 'ticket' end);
      exception when sqlstate '55000' then
        null; -- decided or ended meanwhile
      end;
    end loop;
    return;
  end if;
  if p_entity <> 'task' or p_op <> 'UPDATE' then
    return;
  end if;
  for v_task in
    select n.* from unnest(p_new) n join unnest(p_old) o on o.id = n.id
     where n.source like 'workflow:%' and n.status in ('succeeded', 'dead', 'cancelled')
       and o.status is distinct from n.status
     order by n.id
  loop
    select * into v_elem from orchestrator.workflow_map_elements where task_id = v_task.id;
    if found then
      select * into v_run from orchestrator.workflow_runs where id = v_elem.run_id for update;
      update orchestrator.workflow_map_elements
         set status = case v_task.status when 'succeeded' then 'succeeded'::orchestrator.workflow_step_status
                                         when 'dead' then 'failed'::orchestrator.workflow_step_status
                                         else 'cancelled'::orchestrator.workflow_step_status end,
             result = case when v_task.status = 'succeeded' then v_task.result end,
             error = case when v_task.status = 'dead' then v_task.last_error when v_task.status = 'cancelled' then 'task cancelled' end
       where run_id = v_elem.run_id and step_index = v_elem.step_index and idx = v_elem.idx;
      if v_run.status <> 'running' or v_elem.status <> 'running' then
        continue;
      end if;
      update orchestrator.workflow_steps
         set map_finished = map_finished + 1, map_failed = map_failed + (v_task.status <> 'succeeded')::integer
       where run_id = v_elem.run_id and step_index = v_elem.step_index
      returning * into v_step;
      if v_task.status <> 'succeeded' and not v_step.continue_on_error then
        perform orchestrator.workflow_step_failed(v_elem.run_id, v_elem.step_index,
          format('failed: element %s %s after %s attempt%s: %s', v_elem.idx,
                 case when v_task.status = 'dead' then 'failed' else 'was cancelled' end, v_task.attempts,
                 case when v_task.attempts = 1 then '' else 's' end, coalesce(v_task.last_error, 'no error recorded')));
        continue;
      end if;
      if v_step.map_started < v_step.map_total then
        begin
          perform orchestrator.workflow_start_element(v_elem.run_id, v_step, v_step.map_started, orchestrator.workflow_context(v_elem.run_id));
        exception when others then
          perform orchestrator.workflow_step_failed(v_elem.run_id, v_elem.step_index, format('could not start: %s', sqlerrm));
        end;
        continue;
      end if;
      if v_step.map_finished = v_step.map_total then
        perform orchestrator.workflow_step_succeeded(v_elem.run_id, v_elem.step_index,
          (select jsonb_agg(e.result order by e.idx) from orchestrator.workflow_map_elements e
            where e.run_id = v_elem.run_id and e.step_index = v_elem.step_index));
      end if;
      continue;
    end if;
    select * into v_step from orchestrator.workflow_steps where task_id = v_task.id;
    if not found then
      continue;
    end if;
    select * into v_run from orchestrator.workflow_runs where id = v_step.run_id for update;
    update orchestrator.workflow_steps
       set status = case v_task.status when 'succeeded' then 'succeeded'::orchestrator.workflow_step_status
                                       when 'dead' then 'failed'::orchestrator.workflow_step_status
                                       else 'cancelled'::orchestrator.workflow_step_status end,
           result = case when v_task.status = 'succeeded' then v_task.result else result end,
           error = case when v_task.status = 'dead' then v_task.last_error
                        when v_task.status = 'cancelled' then 'task cancelled' else null end,
           finished_at = now()
     where run_id = v_step.run_id and step_index = v_step.step_index;
    -- A late outcome (the run already ended) is recorded on its step and moves nothing.
    if v_run.status <> 'running' or v_step.status <> 'running' then
      continue;
    end if;
    if v_task.status = 'succeeded' then
      perform orchestrator.workflow_advance(v_run.id);
    elsif v_task.status = 'dead' then
      perform orchestrator.workflow_finish_run(v_run.id, 'failed',
        format('step %s (%s) failed after %s attempt%s: %s', v_step.name, v_step.type, v_task.attempts,
               case when v_task.attempts = 1 then '' else 's' end, coalesce(v_task.last_error, 'no error recorded')),
        v_step.name);
    else
      perform orchestrator.workflow_finish_run(v_run.id, 'cancelled',
        format('step %s (%s): its task %s was cancelled', v_step.name, v_step.type, v_task.id), v_step.name);
    end if;
  end loop;
end
$$;

drop trigger tickets_changes_upd on orchestrator.tickets;
create trigger tickets_changes_upd after update on orchestrator.tickets
  referencing old table as old_rows new table as new_rows
  for each statement execute function orchestrator.propagate_changes('ticket', 'notion', 'webhooks', 'events', 'workflows');

revoke all on function orchestrator.workflow_start_task(bigint, orchestrator.workflow_steps, jsonb) from public;
revoke all on function orchestrator.workflow_start_map(bigint, orchestrator.workflow_steps, jsonb) from public;
revoke all on function orchestrator.workflow_start_sleep(bigint, orchestrator.workflow_steps, jsonb) from public;
revoke all on function orchestrator.workflow_start_event_wait(bigint, orchestrator.workflow_steps, jsonb) from public;
revoke all on function orchestrator.workflow_start_approval(bigint, orchestrator.workflow_steps, jsonb) from public;
revoke all on function orchestrator.workflow_decide(bigint, text, text, text, text) from public;
grant execute on function orchestrator.workflow_decide(bigint, text, text, text, text) to service_role;

-- ------------------------------------------------------------------------------------------------
-- Privileges: the API keys' roles run none of these; service_role (the functions) runs what it calls.
revoke all on function orchestrator.workflow_event_lock_key(text, text) from public;
revoke all on function orchestrator.workflow_condition(jsonb, jsonb) from public;
revoke all on function orchestrator.workflow_deps_done(bigint, integer[]) from public;
revoke all on function orchestrator.workflow_schedule_wake(bigint, integer, text, timestamptz) from public;
revoke all on function orchestrator.workflow_matching_event(bigint, jsonb) from public;
revoke all on function orchestrator.workflow_step_succeeded(bigint, integer, jsonb) from public;
revoke all on function orchestrator.workflow_step_failed(bigint, integer, text) from public;
revoke all on function orchestrator.workflow_start_element(bigint, orchestrator.workflow_steps, integer, jsonb) from public;
revoke all on function orchestrator.workflow_start_step(bigint, orchestrator.workflow_steps, jsonb) from public;
revoke all on function orchestrator.workflow_wake(bigint, integer, text) from public;
grant execute on function orchestrator.workflow_wake(bigint, integer, text), orchestrator.workflow_condition(jsonb, jsonb) to service_role;
