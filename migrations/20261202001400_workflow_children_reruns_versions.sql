-- Workflows (issue 16), continued: awaited child workflows, re-running a run from a step, and the
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

alter table orchestrator.workflow_steps drop constraint workflow_steps_kind_check;
alter table orchestrator.workflow_steps add constraint workflow_steps_kind_check
  check (kind in ('task', 'sleep', 'wait_for_event', 'workflow'));
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

-- start_workflow_run: as before (20261202001300_workflow_graphs.sql), and a child run records its parent,
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

-- workflow_start_step: as before, and a child workflow step: the step waits (first, so the child's
-- end, which may come at once, finds it waiting), then the child starts.
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

create or replace function orchestrator.workflow_start_step(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb)
returns void
language plpgsql as $$
declare
  v_run orchestrator.workflow_runs;
  v_input jsonb;
  v_over jsonb;
  v_task_id bigint;
  v_until timestamptz;
  v_spec jsonb;
  v_event orchestrator.events;
  v_timeout numeric := (p_step.wait ->> 'timeout_seconds')::numeric;
  i integer;
begin
  select * into v_run from orchestrator.workflow_runs where id = p_run_id;
  if p_step.kind = 'workflow' then
    perform orchestrator.workflow_start_child(p_run_id, p_step, p_ctx);
    return;
  end if;
  if p_step.kind = 'task' and p_step.map_over is null then
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
  elsif p_step.kind = 'task' then
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
  elsif p_step.kind = 'sleep' then
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
  else -- wait_for_event
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
  end if;
  if p_step.kind <> 'task' and v_timeout is not null then
    perform orchestrator.workflow_schedule_wake(p_run_id, p_step.step_index, 'timeout', now() + make_interval(secs => v_timeout));
  end if;
end
$$;

-- workflow_advance: as before, and a child whose parent has ended stops, and a run that ends tells its parent.
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

-- workflow_finish_run: as before, and its running children are cancelled, and its parent told.
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
