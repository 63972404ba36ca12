-- One change-propagation path (issue 15).
--
-- Before, each consumer of a change had its own trigger functions on each table: Notion pushes
-- (notion_rows_inserted/updated for tickets and SOPs, tasks_notion_inserted/updated for tasks),
-- outbound webhooks (webhook_rows_inserted/updated, tasks_webhook_events), the ticket.resolved
-- event (tickets_emit_resolved) and the workflow hook (workflow_on_task_finished): nine functions,
-- near-copies of each other in how they read the changed rows.
--
-- Now every such trigger runs orchestrator.propagate_changes(entity, consumer, …). It hands the
-- statement's changed rows, as two arrays of the table's own row type (new, and old on UPDATE; a
-- row trigger hands one-element arrays), to the consumers its trigger names, each one SQL function
-- that decides what the change means to it:
--   notion     notion_on_changes():   notion.push tasks, and the field-change times the pull uses
--   webhooks   webhook_on_changes():  outbound webhook deliveries (ticket.opened, task.dead, …)
--   events     events_on_changes():   orchestrator events the rules act on (ticket.resolved)
--   workflows  workflow_on_changes(): a workflow step's task ended: record it, advance its run
-- The consumers are polymorphic (anyarray): PL/pgSQL compiles one per row type, and each reads the
-- columns of the entities it serves. Rows stay rows: turning every claimed or completed task into
-- jsonb before anyone looked at it doubled the cost of claims and completions while a webhook
-- subscription was active (20,000 tasks: 1.3 -> 2.9 s); as arrays it stays where it was.
-- The triggers (all below, in the open) are the map of who hears what:
--   tickets  INSERT  notion, webhooks           UPDATE  notion, webhooks, events
--   sops     INSERT  notion, webhooks
--   tasks    INSERT  notion                     UPDATE  notion, webhooks   (enabled only while a
--            task type is tracked in Notion / a webhook subscription is active, as before)
--   tasks    UPDATE OF status, per row, WHEN a workflow step's task ended: workflows
-- The workflow hook stays a row trigger with a WHEN: it must always be on, and a statement trigger
-- with transition tables on tasks would copy every claimed and completed row (5-10 % of the
-- queue's database time, measured when the tasks triggers were made to follow tracking), where
-- the WHEN lets every task that is not a workflow step through for nothing.
--
-- Behaviour is unchanged (the same pushes, deliveries, events and workflow moves; the Notion,
-- webhook, ticket and workflow tests pass as they were).

create or replace function orchestrator.propagate_changes()
returns trigger
language plpgsql as $$
begin
  if tg_level = 'ROW' then
    perform orchestrator.propagate_to(tg_argv[0], tg_argv[1:], tg_op, array[new], case when tg_op = 'UPDATE' then array[old] end);
  elsif tg_op in ('INSERT', 'UPDATE') then
    -- A transition table's rows have no named type: ROW(n.*)::<the table> gives them the table's,
    -- which the polymorphic consumers need. The table is the trigger's, so the statement is dynamic
    -- (planned once per statement that changed rows, not per row).
    execute format('select orchestrator.propagate_to($1, $2, $3, array(select row(n.*)::%1$s from new_rows n), %2$s)',
                   tg_relid::regclass,
                   case when tg_op = 'UPDATE' then format('array(select row(o.*)::%s from old_rows o)', tg_relid::regclass)
                        else format('null::%s[]', tg_relid::regclass) end)
      using tg_argv[0], tg_argv[1:], tg_op;
  else
    raise exception 'propagate_changes(): % triggers are not supported (trigger % on %)', tg_op, tg_name, tg_table_name;
  end if;
  return null;
end
$$;

comment on function orchestrator.propagate_changes() is
  'The one trigger function for changes other parts hear about: hands the changed rows (new, old) to the consumers its trigger names: propagate_changes(entity, consumer, …). See 20261202001100_one_change_path.sql.';

-- p_entity and p_consumers: the trigger's arguments (TG_ARGV counts from 0: entity, then consumers).
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
      else raise exception 'propagate_changes(): unknown consumer "%" (entity %)', v_consumer, p_entity;
    end case;
  end loop;
end
$$;

-- Notion: a new row pushes its page; a change of a field the page shows pushes it and notes when
-- that field changed (the pull resolves a conflict field by field). Changes the pull itself made
-- (orchestrator.sync_origin = 'notion') push nothing. Tasks: only the tracked types.
create or replace function orchestrator.notion_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray)
returns void
language plpgsql as $$
declare
  v_changes jsonb; -- [{key, fields: [the fields that changed]}]
begin
  if current_setting('orchestrator.sync_origin', true) = 'notion' or not orchestrator.notion_sync_enabled()
     or (p_entity = 'task' and not exists (select 1 from orchestrator.notion_tracked_task_types)) then
    return;
  end if;
  -- One statement per entity: PL/pgSQL plans a statement when it first runs it, for the row type at
  -- hand, so a statement may name only columns its entity has.
  if p_op = 'INSERT' and p_entity = 'task' then
    perform orchestrator.notion_enqueue_pushes(p_entity, array(select n.id::text from unnest(p_new) n
                                                               where n.type in (select type from orchestrator.notion_tracked_task_types)));
    return;
  elsif p_op = 'INSERT' and p_entity = 'ticket' then
    perform orchestrator.notion_enqueue_pushes(p_entity, array(select n.id::text from unnest(p_new) n));
    return;
  elsif p_op = 'INSERT' and p_entity = 'sop' then
    perform orchestrator.notion_enqueue_pushes(p_entity, array(select n.slug from unnest(p_new) n));
    return;
  end if;
  -- The fields each entity's page shows: a ticket's title, status and priority; a task's status and priority.
  if p_entity = 'ticket' then
    select jsonb_agg(jsonb_build_object('key', n.id::text, 'fields', to_jsonb(array_remove(array[
             case when n.title is distinct from o.title then 'title' end,
             case when n.status is distinct from o.status then 'status' end,
             case when n.priority is distinct from o.priority then 'priority' end], null))))
      into v_changes
      from unnest(p_new) n join unnest(p_old) o on o.id = n.id
     where n.title is distinct from o.title or n.status is distinct from o.status or n.priority is distinct from o.priority;
  elsif p_entity = 'task' then
    select jsonb_agg(jsonb_build_object('key', n.id::text, 'fields', to_jsonb(array_remove(array[
             case when n.status is distinct from o.status then 'status' end,
             case when n.priority is distinct from o.priority then 'priority' end], null))))
      into v_changes
      from unnest(p_new) n join unnest(p_old) o on o.id = n.id
     where n.type in (select type from orchestrator.notion_tracked_task_types)
       and (n.status is distinct from o.status or n.priority is distinct from o.priority);
  end if;
  if v_changes is null then
    return;
  end if;
  perform orchestrator.notion_note_field_changes(p_entity, v_changes);
  perform orchestrator.notion_enqueue_pushes(p_entity, array(select c ->> 'key' from jsonb_array_elements(v_changes) c));
end
$$;

-- Webhooks: a new ticket is ticket.opened, a new SOP sop.created; a ticket's status change is
-- ticket.<status> (ticket.reopened when it opens again after resolved/closed); a task that ended is
-- task.succeeded / task.dead / task.cancelled (not the deliveries' own tasks, which would loop).
create or replace function orchestrator.webhook_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray)
returns void
language plpgsql as $$
declare
  v_events jsonb;
begin
  if not exists (select 1 from orchestrator.webhook_subscriptions where active) then
    return;
  end if;
  if p_op = 'INSERT' and p_entity in ('ticket', 'sop') then
    select jsonb_agg(jsonb_build_object(
             'event', p_entity || '.' || case p_entity when 'ticket' then 'opened' else 'created' end,
             'data', jsonb_build_object(p_entity, orchestrator.webhook_compact(to_jsonb(n)))))
      into v_events
      from unnest(p_new) n;
  elsif p_op = 'UPDATE' and p_entity = 'ticket' then
    select jsonb_agg(jsonb_build_object(
             'event', 'ticket.' || case when n.status = 'open' and o.status in ('resolved', 'closed') then 'reopened' else n.status::text end,
             'data', jsonb_build_object('ticket', orchestrator.webhook_compact(to_jsonb(n)), 'previous_status', o.status)) order by n.id)
      into v_events
      from unnest(p_new) n join unnest(p_old) o on o.id = n.id
     where n.status is distinct from o.status and n.status is not null;
  elsif p_op = 'UPDATE' and p_entity = 'task' then
    select jsonb_agg(jsonb_build_object('event', 'task.' || n.status, 'data', jsonb_build_object('task',
             orchestrator.webhook_compact(jsonb_build_object(
               'id', n.id, 'type', n.type, 'status', n.status, 'attempts', n.attempts, 'max_attempts', n.max_attempts,
               'last_error', n.last_error, 'result', n.result, 'source', n.source, 'priority', n.priority,
               'created_at', n.created_at, 'finished_at', n.finished_at)))) order by n.id)
      into v_events
      from unnest(p_new) n join unnest(p_old) o on o.id = n.id
     where n.status is distinct from o.status
       and n.status in ('succeeded', 'dead', 'cancelled')
       and n.type <> 'webhook.deliver';
  end if;
  perform orchestrator.webhook_emit(v_events);
end
$$;

-- Events: a ticket that becomes resolved is an orchestrator ticket.resolved event (the shipped rule
-- can answer it with sop.generate), written only when an enabled rule could match it.
create or replace function orchestrator.events_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray)
returns void
language plpgsql as $$
begin
  if p_entity <> 'ticket' or p_op <> 'UPDATE' then
    return;
  end if;
  -- Nobody listens: write nothing (the common case, and the shipped default).
  if not exists (
    select 1 from orchestrator.event_rules r
    where r.enabled
      and (r.source_like is null or 'orchestrator' like r.source_like)
      and 'ticket.resolved' like r.type_like
      and (r.min_level is null or r.min_level <= 'info')) then
    return;
  end if;
  begin
    insert into orchestrator.events (source, type, level, message, payload, via)
    select 'orchestrator', 'ticket.resolved', 'info',
           left(format('ticket #%s resolved: %s', n.id, n.title), 10000),
           jsonb_build_object('ticket_id', n.id, 'title', n.title, 'fingerprint', n.fingerprint,
                              'source', n.source, 'priority', n.priority, 'occurrences', n.occurrences),
           'sql'
      from unnest(p_new) n join unnest(p_old) o on o.id = n.id
     where n.status = 'resolved' and o.status is distinct from 'resolved'
     order by n.id;
  exception when others then
    -- Resolving a ticket must never fail because its follow-up could not be recorded.
    insert into orchestrator.logs (level, component, message, context)
    values ('error', 'sops', 'could not record ticket.resolved events: ' || sqlerrm, jsonb_build_object('sqlstate', sqlstate));
  end;
end
$$;

-- Workflows: a step's task that ended records the step's outcome, then moves the run on (the next
-- step), fails it, or cancels it. A late outcome (the run already ended) is recorded and moves nothing.
create or replace function orchestrator.workflow_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray)
returns void
language plpgsql as $$
declare
  v_task record;
  v_step orchestrator.workflow_steps;
  v_run orchestrator.workflow_runs;
begin
  if p_entity <> 'task' or p_op <> 'UPDATE' then
    return;
  end if;
  for v_task in
    select n.* from unnest(p_new) n join unnest(p_old) o on o.id = n.id
     where n.source like 'workflow:%' and n.status in ('succeeded', 'dead', 'cancelled')
       and o.status is distinct from n.status
     order by n.id
  loop
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

-- The triggers, replacing the per-consumer ones.
drop trigger notion_push_ins on orchestrator.tickets;
drop trigger notion_push_upd on orchestrator.tickets;
drop trigger webhook_events_ins on orchestrator.tickets;
drop trigger webhook_events_upd on orchestrator.tickets;
drop trigger tickets_emit_resolved on orchestrator.tickets;
drop trigger notion_push_ins on orchestrator.sops;
drop trigger webhook_events_ins on orchestrator.sops;
drop trigger tasks_notion_push_ins on orchestrator.tasks;
drop trigger tasks_notion_push_upd on orchestrator.tasks;
drop trigger tasks_webhook_events on orchestrator.tasks;
drop trigger tasks_workflow_advance on orchestrator.tasks;

create trigger tickets_changes_ins after insert on orchestrator.tickets
  referencing new table as new_rows
  for each statement execute function orchestrator.propagate_changes('ticket', 'notion', 'webhooks');
create trigger tickets_changes_upd after update on orchestrator.tickets
  referencing old table as old_rows new table as new_rows
  for each statement execute function orchestrator.propagate_changes('ticket', 'notion', 'webhooks', 'events');

create trigger sops_changes_ins after insert on orchestrator.sops
  referencing new table as new_rows
  for each statement execute function orchestrator.propagate_changes('sop', 'notion', 'webhooks');

create trigger tasks_changes_ins after insert on orchestrator.tasks
  referencing new table as new_rows
  for each statement execute function orchestrator.propagate_changes('task', 'notion');
create trigger tasks_changes_upd after update on orchestrator.tasks
  referencing old table as old_rows new table as new_rows
  for each statement execute function orchestrator.propagate_changes('task', 'notion', 'webhooks');
create trigger tasks_workflow_hooks after update of status on orchestrator.tasks
  for each row
  when (new.source like 'workflow:%' and old.status is distinct from new.status
        and new.status in ('succeeded', 'dead', 'cancelled'))
  execute function orchestrator.propagate_changes('task', 'workflows');

-- The tasks pair follows what uses it, as before: the insert trigger while a task type is tracked
-- in Notion, the update trigger also while a webhook subscription is active.
create or replace function orchestrator.tasks_change_triggers_sync()
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_notion boolean := exists (select 1 from orchestrator.notion_tracked_task_types);
  v_webhooks boolean := exists (select 1 from orchestrator.webhook_subscriptions where active);
begin
  perform orchestrator.tasks_trigger_set('tasks_changes_ins', v_notion);
  perform orchestrator.tasks_trigger_set('tasks_changes_upd', v_notion or v_webhooks);
end
$$;
select orchestrator.tasks_change_triggers_sync();

drop function orchestrator.notion_rows_inserted();
drop function orchestrator.notion_rows_updated();
drop function orchestrator.webhook_rows_inserted();
drop function orchestrator.webhook_rows_updated();
drop function orchestrator.tasks_notion_inserted();
drop function orchestrator.tasks_notion_updated();
drop function orchestrator.tasks_webhook_events();
drop function orchestrator.tickets_emit_resolved();
drop function orchestrator.workflow_on_task_finished();

revoke all on function orchestrator.propagate_changes() from public;
revoke all on function orchestrator.propagate_to(text, text[], text, anyarray, anyarray) from public;
revoke all on function orchestrator.notion_on_changes(text, text, anyarray, anyarray) from public;
revoke all on function orchestrator.webhook_on_changes(text, text, anyarray, anyarray) from public;
revoke all on function orchestrator.events_on_changes(text, text, anyarray, anyarray) from public;
revoke all on function orchestrator.workflow_on_changes(text, text, anyarray, anyarray) from public;
grant execute on function orchestrator.propagate_to(text, text[], text, anyarray, anyarray),
  orchestrator.notion_on_changes(text, text, anyarray, anyarray), orchestrator.webhook_on_changes(text, text, anyarray, anyarray),
  orchestrator.events_on_changes(text, text, anyarray, anyarray), orchestrator.workflow_on_changes(text, text, anyarray, anyarray)
  to service_role;
