-- Workflows (issue 16), continued: approvals. {"kind": "approval", "title", "body"} asks a person to
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

alter table orchestrator.workflow_steps drop constraint workflow_steps_kind_check;
alter table orchestrator.workflow_steps add constraint workflow_steps_kind_check
  check (kind in ('task', 'sleep', 'wait_for_event', 'workflow', 'approval'));
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

-- A wait for an event: takes one that came since the run started, or waits (20261202001300's lock).
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

-- The workflows consumer (20261202001300), now for approval tickets too: resolved approves, closed rejects.
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
