-- Workflows: a named list of steps, each a task type whose input is a template
-- over the workflow input and earlier steps' results. A run is a row in
-- workflow_runs with one workflow_steps row per step; each started step points
-- at its task (workflow_steps.task_id). The queue stays unaware of workflows:
-- an AFTER UPDATE trigger on tasks sees a step's task finish and, in the same
-- transaction as that complete()/complete_many()/fail()/cancel(), enqueues the
-- next step, or fails or cancels the run.
--
-- Why a link table and not tasks.parent_id: a run is not a task, a step may be
-- skipped and have no task at all, and the run needs per-step state (rendered
-- input, result, error) that does not belong on the task row.
--
-- Step definition (validated with zod by the API, functions/_shared/workflows):
--   { "name": "sop", "type": "sop.generate", "input": {...} | "{{path}}",
--     "optional": false, "max_attempts": 3, "priority": 0, "backoff_base_seconds": 2 }
-- Templates: a string that is exactly "{{path}}" becomes the value at path (any
-- JSON type; a missing value drops the key); "{{path}}" inside a longer string is
-- replaced by its text. Paths start at input, steps.<name>.result, run, workflow.
-- An input that resolves to null skips the step; `optional` steps whose task type
-- this deployment does not register are skipped when the run starts.

create type orchestrator.workflow_run_status as enum ('running', 'succeeded', 'failed', 'cancelled');
create type orchestrator.workflow_step_status as enum ('pending', 'skipped', 'running', 'succeeded', 'failed', 'cancelled');

create table orchestrator.workflows (
  id bigint generated always as identity primary key,
  name text not null unique check (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
  description text not null default '' check (length(description) <= 2000),
  steps jsonb not null check (jsonb_typeof(steps) = 'array' and jsonb_array_length(steps) between 1 and 50),
  enabled boolean not null default true,
  builtin boolean not null default false,
  version integer not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table orchestrator.workflow_runs (
  id bigint generated always as identity primary key,
  workflow_id bigint references orchestrator.workflows (id) on delete set null,
  workflow_name text not null,
  workflow_version integer not null,
  status orchestrator.workflow_run_status not null default 'running',
  input jsonb not null default '{}'::jsonb check (jsonb_typeof(input) = 'object'),
  -- On success: each step's result by step name.
  output jsonb,
  error text,
  failed_step text,
  source text not null default 'api' check (length(source) between 1 and 100),
  dedupe_key text check (length(dedupe_key) between 1 and 200),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  finished_at timestamptz
);
-- One running run per (workflow, dedupe key): an event delivered twice starts one run.
create unique index workflow_runs_dedupe_idx on orchestrator.workflow_runs (workflow_name, dedupe_key)
  where dedupe_key is not null and status = 'running';
create index workflow_runs_name_idx on orchestrator.workflow_runs (workflow_name, id desc);
create index workflow_runs_finished_idx on orchestrator.workflow_runs (finished_at) where status <> 'running';

create table orchestrator.workflow_steps (
  run_id bigint not null references orchestrator.workflow_runs (id) on delete cascade,
  step_index integer not null check (step_index >= 0),
  name text not null,
  type text not null,
  optional boolean not null default false,
  status orchestrator.workflow_step_status not null default 'pending',
  input_template jsonb not null,
  -- Enqueue options: max_attempts, priority, backoff_base_seconds.
  options jsonb not null default '{}'::jsonb,
  -- The input as rendered when the step started.
  input jsonb,
  task_id bigint references orchestrator.tasks (id) on delete set null,
  result jsonb,
  error text,
  started_at timestamptz,
  finished_at timestamptz,
  primary key (run_id, step_index),
  unique (run_id, name)
);
create unique index workflow_steps_task_idx on orchestrator.workflow_steps (task_id) where task_id is not null;

create function orchestrator.workflow_value_text(p_value jsonb)
returns text
language sql immutable as $$
  select case when p_value is null or jsonb_typeof(p_value) = 'null' then ''
              when jsonb_typeof(p_value) = 'string' then p_value #>> '{}'
              else p_value::text end
$$;

-- workflow_render(template, context) -> the template with its placeholders filled.
create function orchestrator.workflow_render(p_template jsonb, p_ctx jsonb)
returns jsonb
language plpgsql immutable as $$
declare
  v_text text;
  v_match text[];
  v_out text := '';
  v_key text;
  v_elem jsonb;
  v_val jsonb;
  v_res jsonb;
  i integer;
  j integer;
begin
  case jsonb_typeof(p_template)
  when 'object' then
    v_res := '{}'::jsonb;
    for v_key, v_elem in select key, value from jsonb_each(p_template) loop
      v_val := orchestrator.workflow_render(v_elem, p_ctx);
      if v_val is not null then
        v_res := v_res || jsonb_build_object(v_key, v_val);
      end if;
    end loop;
    return v_res;
  when 'array' then
    return coalesce((
      select jsonb_agg(coalesce(orchestrator.workflow_render(e, p_ctx), 'null'::jsonb) order by n)
      from jsonb_array_elements(p_template) with ordinality a(e, n)), '[]'::jsonb);
  when 'string' then
    v_text := p_template #>> '{}';
    v_match := regexp_match(v_text, '^\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}$');
    if v_match is not null then
      return p_ctx #> string_to_array(v_match[1], '.');
    end if;
    if position('{{' in v_text) = 0 then
      return p_template;
    end if;
    loop
      i := position('{{' in v_text);
      exit when i = 0;
      j := position('}}' in substr(v_text, i + 2));
      exit when j = 0;
      v_key := btrim(substr(v_text, i + 2, j - 1));
      v_out := v_out || substr(v_text, 1, i - 1)
               || orchestrator.workflow_value_text(p_ctx #> string_to_array(v_key, '.'));
      v_text := substr(v_text, i + j + 3);
    end loop;
    return to_jsonb(v_out || v_text);
  else
    return p_template;
  end case;
end
$$;

-- What a step's template can see.
create function orchestrator.workflow_context(p_run_id bigint)
returns jsonb
language sql stable as $$
  select jsonb_build_object(
    'input', r.input,
    'run', jsonb_build_object('id', r.id, 'created_at', r.created_at, 'source', r.source),
    'workflow', jsonb_build_object('name', r.workflow_name, 'version', r.workflow_version),
    'steps', coalesce((
      select jsonb_object_agg(s.name, jsonb_build_object('result', s.result, 'status', s.status, 'task_id', s.task_id))
      from orchestrator.workflow_steps s where s.run_id = r.id), '{}'::jsonb))
  from orchestrator.workflow_runs r where r.id = p_run_id
$$;

-- Ends a running run as failed (p_status 'failed') or cancelled; steps not yet started
-- are marked skipped (failure) or cancelled.
create function orchestrator.workflow_finish_run(
  p_run_id bigint,
  p_status orchestrator.workflow_run_status,
  p_error text,
  p_failed_step text default null
) returns void
language plpgsql as $$
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
end
$$;

-- Starts the next pending step of a running run (enqueues its task), skipping
-- steps whose input resolves to null; with no step left, the run succeeds.
-- Never raises for a bad step: a template or enqueue error fails the run instead,
-- so the complete() that called this still commits.
create function orchestrator.workflow_advance(p_run_id bigint)
returns void
language plpgsql as $$
declare
  v_run orchestrator.workflow_runs;
  v_step orchestrator.workflow_steps;
  v_input jsonb;
  v_task_id bigint;
begin
  select * into v_run from orchestrator.workflow_runs where id = p_run_id for update;
  if not found or v_run.status <> 'running' then
    return;
  end if;
  loop
    select * into v_step from orchestrator.workflow_steps
     where run_id = p_run_id and status = 'pending' order by step_index limit 1;
    if not found then
      update orchestrator.workflow_runs
         set status = 'succeeded', finished_at = now(), updated_at = now(),
             output = coalesce((select jsonb_object_agg(name, result) from orchestrator.workflow_steps
                                 where run_id = p_run_id and status = 'succeeded'), '{}'::jsonb)
       where id = p_run_id;
      return;
    end if;
    begin
      v_input := orchestrator.workflow_render(v_step.input_template, orchestrator.workflow_context(p_run_id));
      if v_input is null or jsonb_typeof(v_input) = 'null' then
        update orchestrator.workflow_steps
           set status = 'skipped', error = 'input resolved to null', finished_at = now()
         where run_id = p_run_id and step_index = v_step.step_index;
        continue;
      end if;
      if jsonb_typeof(v_input) <> 'object' then
        raise exception using errcode = '22023',
          message = format('its input must be a JSON object, got %s', jsonb_typeof(v_input));
      end if;
      select (e.task).id into v_task_id
      from orchestrator.enqueue(v_step.type, v_input, jsonb_build_object(
        'source', left('workflow:' || v_run.workflow_name, 100),
        'dedupe_key', format('workflow:%s:%s', p_run_id, v_step.step_index),
        'max_attempts', v_step.options -> 'max_attempts',
        'priority', v_step.options -> 'priority',
        'backoff_base_seconds', v_step.options -> 'backoff_base_seconds')) e;
    exception when others then
      update orchestrator.workflow_steps
         set status = 'failed', error = format('could not start: %s', sqlerrm), finished_at = now()
       where run_id = p_run_id and step_index = v_step.step_index;
      perform orchestrator.workflow_finish_run(p_run_id, 'failed',
        format('step %s (%s) could not start: %s', v_step.name, v_step.type, sqlerrm), v_step.name);
      return;
    end;
    update orchestrator.workflow_steps
       set status = 'running', input = v_input, task_id = v_task_id, started_at = now()
     where run_id = p_run_id and step_index = v_step.step_index;
    update orchestrator.workflow_runs set updated_at = now() where id = p_run_id;
    return;
  end loop;
end
$$;

-- start_workflow_run(name, input, opts) -> (run, created)
-- opts: source, dedupe_key, available_types (JSON array: the task types this
-- deployment registers; optional steps of other types are skipped, a required one
-- is an error; omitted = all available). The first step is enqueued before this returns.
create function orchestrator.start_workflow_run(
  p_name text,
  p_input jsonb default '{}'::jsonb,
  p_opts jsonb default '{}'::jsonb,
  out run orchestrator.workflow_runs,
  out created boolean
)
language plpgsql as $$
declare
  v_wf orchestrator.workflows;
  v_opts jsonb := coalesce(p_opts, '{}'::jsonb);
  v_available text[];
  v_key text := v_opts ->> 'dedupe_key';
  v_missing text;
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
  if jsonb_typeof(v_opts -> 'available_types') = 'array' then
    v_available := array(select jsonb_array_elements_text(v_opts -> 'available_types'));
    select string_agg(format('%s (%s)', s ->> 'name', s ->> 'type'), ', ') into v_missing
      from jsonb_array_elements(v_wf.steps) s
     where not coalesce((s ->> 'optional')::boolean, false) and not (s ->> 'type' = any (v_available));
    if v_missing is not null then
      raise exception using errcode = '22023',
        message = format('workflow %L cannot run here: required steps use task types this deployment does not register: %s', p_name, v_missing);
    end if;
  end if;

  loop
    insert into orchestrator.workflow_runs (workflow_id, workflow_name, workflow_version, input, source, dedupe_key)
    values (v_wf.id, v_wf.name, v_wf.version, coalesce(p_input, '{}'::jsonb), coalesce(v_opts ->> 'source', 'sql'), v_key)
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

  insert into orchestrator.workflow_steps (run_id, step_index, name, type, optional, status, input_template, options, error, finished_at)
  select run.id, (n - 1)::integer, s ->> 'name', s ->> 'type', coalesce((s ->> 'optional')::boolean, false),
         case when v_available is not null and not (s ->> 'type' = any (v_available))
              then 'skipped'::orchestrator.workflow_step_status else 'pending'::orchestrator.workflow_step_status end,
         coalesce(s -> 'input', '{}'::jsonb),
         jsonb_strip_nulls(jsonb_build_object('max_attempts', s -> 'max_attempts', 'priority', s -> 'priority',
                                              'backoff_base_seconds', s -> 'backoff_base_seconds')),
         case when v_available is not null and not (s ->> 'type' = any (v_available))
              then format('task type %s is not registered in this deployment', s ->> 'type') end,
         case when v_available is not null and not (s ->> 'type' = any (v_available)) then now() end
  from jsonb_array_elements(v_wf.steps) with ordinality a(s, n);

  perform orchestrator.workflow_advance(run.id);
  select * into run from orchestrator.workflow_runs where id = run.id;
end
$$;

-- A step's task reached succeeded, dead or cancelled: record it on the step and
-- move its run on. Runs inside the statement that finished the task.
create function orchestrator.workflow_on_task_finished()
returns trigger
language plpgsql as $$
declare
  v_step orchestrator.workflow_steps;
  v_run orchestrator.workflow_runs;
begin
  select * into v_step from orchestrator.workflow_steps where task_id = new.id;
  if not found then
    return null;
  end if;
  select * into v_run from orchestrator.workflow_runs where id = v_step.run_id for update;
  update orchestrator.workflow_steps
     set status = case new.status when 'succeeded' then 'succeeded'::orchestrator.workflow_step_status
                                  when 'dead' then 'failed'::orchestrator.workflow_step_status
                                  else 'cancelled'::orchestrator.workflow_step_status end,
         result = case when new.status = 'succeeded' then new.result else result end,
         error = case when new.status = 'dead' then new.last_error
                      when new.status = 'cancelled' then 'task cancelled' else null end,
         finished_at = now()
   where run_id = v_step.run_id and step_index = v_step.step_index;
  -- A late outcome (the run already failed or was cancelled) is recorded on its step and moves nothing.
  if v_run.status <> 'running' or v_step.status <> 'running' then
    return null;
  end if;
  if new.status = 'succeeded' then
    perform orchestrator.workflow_advance(v_run.id);
  elsif new.status = 'dead' then
    perform orchestrator.workflow_finish_run(v_run.id, 'failed',
      format('step %s (%s) failed after %s attempt%s: %s', v_step.name, v_step.type, new.attempts,
             case when new.attempts = 1 then '' else 's' end, coalesce(new.last_error, 'no error recorded')),
      v_step.name);
  else
    perform orchestrator.workflow_finish_run(v_run.id, 'cancelled',
      format('step %s (%s): its task %s was cancelled', v_step.name, v_step.type, new.id), v_step.name);
  end if;
  return null;
end
$$;

-- Row-level with a WHEN clause rather than statement-level with transition
-- tables: the WHEN test runs in the executor before any function call, so the
-- hot path (claim, complete and fail of ordinary tasks) pays nothing and keeps no
-- transition tuplestores; only a workflow step's task reaching an end calls in.
create trigger tasks_workflow_advance
  after update of status on orchestrator.tasks
  for each row
  when (new.source like 'workflow:%' and old.status is distinct from new.status
        and new.status in ('succeeded', 'dead', 'cancelled'))
  execute function orchestrator.workflow_on_task_finished();

-- cancel_workflow_run(id) -> the run (cancelled, or as it was when it had already
-- ended; no row when it does not exist). The running step's task is cancelled
-- (its worker's complete() becomes a no-op) and no further step starts.
create function orchestrator.cancel_workflow_run(p_run_id bigint)
returns setof orchestrator.workflow_runs
language plpgsql as $$
declare
  v_task bigint;
  v_again bigint;
  v_run orchestrator.workflow_runs;
begin
  loop
    -- Lock order task -> run, the same order a worker's complete() takes.
    select task_id into v_task from orchestrator.workflow_steps where run_id = p_run_id and status = 'running' limit 1;
    if v_task is not null then
      perform 1 from orchestrator.tasks where id = v_task for update;
    end if;
    select * into v_run from orchestrator.workflow_runs where id = p_run_id for update;
    if not found then
      return;
    end if;
    if v_run.status <> 'running' then
      return next v_run;
      return;
    end if;
    select task_id into v_again from orchestrator.workflow_steps where run_id = p_run_id and status = 'running' limit 1;
    exit when v_again is not distinct from v_task;
  end loop;
  perform orchestrator.workflow_finish_run(p_run_id, 'cancelled', 'cancelled on request', null);
  if v_task is not null then
    perform orchestrator.cancel(v_task);
  end if;
  return query select * from orchestrator.workflow_runs where id = p_run_id;
end
$$;

alter table orchestrator.workflows enable row level security;
alter table orchestrator.workflow_runs enable row level security;
alter table orchestrator.workflow_steps enable row level security;
grant select, insert, update, delete on orchestrator.workflows, orchestrator.workflow_runs, orchestrator.workflow_steps to service_role;

revoke all on function orchestrator.workflow_on_task_finished() from public;
revoke all on function orchestrator.workflow_value_text(jsonb) from public;
revoke all on function orchestrator.workflow_render(jsonb, jsonb) from public;
revoke all on function orchestrator.workflow_context(bigint) from public;
revoke all on function orchestrator.workflow_finish_run(bigint, orchestrator.workflow_run_status, text, text) from public;
revoke all on function orchestrator.workflow_advance(bigint) from public;
revoke all on function orchestrator.start_workflow_run(text, jsonb, jsonb) from public;
revoke all on function orchestrator.cancel_workflow_run(bigint) from public;
grant execute on function orchestrator.workflow_render(jsonb, jsonb) to service_role;
grant execute on function orchestrator.workflow_context(bigint) to service_role;
grant execute on function orchestrator.start_workflow_run(text, jsonb, jsonb) to service_role;
grant execute on function orchestrator.cancel_workflow_run(bigint) to service_role;
