-- Maintenance as shipped schedules, the settings they read, the retention
-- function, and the shipped "incident -> SOP" workflow.
--
--   maintenance-prune  (hourly, :17)  maintenance.prune  -> orchestrator.prune_history()
--   maintenance-digest (daily, 00:05) maintenance.digest -> yesterday's digest to logs / webhooks
-- Leases are reaped every minute by the pure-SQL pg_cron job orchestrator-reap
-- (spine) and by every worker run before it claims.

create table orchestrator.settings (
  key text primary key check (key ~ '^[a-z][a-z0-9_.-]{0,99}$'),
  value jsonb not null check (jsonb_typeof(value) in ('number', 'boolean', 'string')),
  description text not null default '',
  updated_at timestamptz not null default now(),
  check (key not like 'retention.%' or (jsonb_typeof(value) = 'number' and (value #>> '{}')::numeric between 1 and 36500
                                         and (value #>> '{}')::numeric = trunc((value #>> '{}')::numeric)))
);

insert into orchestrator.settings (key, value, description) values
  ('retention.tasks_days', '14', 'Finished tasks (succeeded, dead, cancelled) are deleted this many days after they finished.'),
  ('retention.logs_days', '30', 'Log rows are deleted this many days after they were written.'),
  ('retention.schedule_runs_days', '30', 'Schedule tick records are deleted after this many days.'),
  ('retention.workflow_runs_days', '30', 'Finished workflow runs (and their steps) are deleted this many days after they finished.'),
  ('retention.cron_runs_days', '7', 'pg_cron run history (cron.job_run_details) is deleted after this many days.'),
  ('retention.http_responses_hours', '6', 'pg_net responses (net._http_response) are deleted after this many hours.'),
  ('digest.top_n', '5', 'How many failing task types and open tickets the daily digest lists.');

create function orchestrator.setting(p_key text, p_default jsonb default null)
returns jsonb
language sql stable as $$
  select coalesce((select value from orchestrator.settings where key = p_key), p_default)
$$;

-- prune_history(opts) -> what it deleted, per kind. opts override the settings:
-- tasks_days, logs_days, schedule_runs_days, workflow_runs_days, cron_runs_days,
-- http_responses_hours. Only finished work is deleted: queued and running tasks
-- and running workflow runs are kept whatever their age. A kind that cannot be
-- pruned here (say, no privilege on cron or net on some host) reports its error
-- and does not stop the others.
create function orchestrator.prune_history(p_opts jsonb default '{}'::jsonb)
returns jsonb
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_opts jsonb := coalesce(p_opts, '{}'::jsonb);
  v_out jsonb := '{}'::jsonb;
  v_n bigint;
  v_days integer;
  function_start timestamptz := now();
begin
  v_days := greatest(1, coalesce((v_opts ->> 'tasks_days')::integer, (orchestrator.setting('retention.tasks_days') #>> '{}')::integer, 14));
  delete from orchestrator.tasks
   where status in ('succeeded', 'dead', 'cancelled') and finished_at < function_start - make_interval(days => v_days);
  get diagnostics v_n = row_count;
  v_out := v_out || jsonb_build_object('tasks', jsonb_build_object('deleted', v_n, 'days', v_days));

  v_days := greatest(1, coalesce((v_opts ->> 'logs_days')::integer, (orchestrator.setting('retention.logs_days') #>> '{}')::integer, 30));
  delete from orchestrator.logs where at < function_start - make_interval(days => v_days);
  get diagnostics v_n = row_count;
  v_out := v_out || jsonb_build_object('logs', jsonb_build_object('deleted', v_n, 'days', v_days));

  v_days := greatest(1, coalesce((v_opts ->> 'schedule_runs_days')::integer, (orchestrator.setting('retention.schedule_runs_days') #>> '{}')::integer, 30));
  delete from orchestrator.schedule_runs where created_at < function_start - make_interval(days => v_days);
  get diagnostics v_n = row_count;
  v_out := v_out || jsonb_build_object('schedule_runs', jsonb_build_object('deleted', v_n, 'days', v_days));

  v_days := greatest(1, coalesce((v_opts ->> 'workflow_runs_days')::integer, (orchestrator.setting('retention.workflow_runs_days') #>> '{}')::integer, 30));
  delete from orchestrator.workflow_runs
   where status <> 'running' and finished_at < function_start - make_interval(days => v_days);
  get diagnostics v_n = row_count;
  v_out := v_out || jsonb_build_object('workflow_runs', jsonb_build_object('deleted', v_n, 'days', v_days));

  v_days := greatest(1, coalesce((v_opts ->> 'cron_runs_days')::integer, (orchestrator.setting('retention.cron_runs_days') #>> '{}')::integer, 7));
  begin
    -- pg_cron keeps every run forever; Supabase recommends pruning it on a schedule.
    delete from cron.job_run_details where coalesce(end_time, start_time) < function_start - make_interval(days => v_days);
    get diagnostics v_n = row_count;
    v_out := v_out || jsonb_build_object('cron_runs', jsonb_build_object('deleted', v_n, 'days', v_days));
  exception when others then
    v_out := v_out || jsonb_build_object('cron_runs', jsonb_build_object('deleted', 0, 'days', v_days, 'error', sqlerrm));
  end;

  v_days := greatest(1, coalesce((v_opts ->> 'http_responses_hours')::integer, (orchestrator.setting('retention.http_responses_hours') #>> '{}')::integer, 6));
  begin
    if to_regclass('net._http_response') is not null then
      delete from net._http_response where created < function_start - make_interval(hours => v_days);
      get diagnostics v_n = row_count;
    else
      v_n := 0;
    end if;
    v_out := v_out || jsonb_build_object('http_responses', jsonb_build_object('deleted', v_n, 'hours', v_days));
  exception when others then
    v_out := v_out || jsonb_build_object('http_responses', jsonb_build_object('deleted', 0, 'hours', v_days, 'error', sqlerrm));
  end;
  return v_out;
end
$$;

-- Ticket resolved -> incident-sop: an event rule, shipped DISABLED (like the SOP
-- migration's sop-on-ticket-resolved rule, which writes an SOP without the
-- workflow; enable one or the other). A resolved ticket becomes a ticket.resolved
-- event (orchestrator.tickets_emit_resolved), the rule turns it into a
-- workflow.start task, and the worker starts the run (only the worker knows which
-- task types this deployment registers, so which optional steps to skip). Enable:
--   update orchestrator.event_rules set enabled = true where name = 'incident-sop-on-ticket-resolved';
-- Installed only where the events migrations ran first.
do $$
begin
  if to_regclass('orchestrator.event_rules') is not null then
    insert into orchestrator.event_rules (name, description, enabled, source, type, task_type, payload_template, priority, dedupe_key)
    values (
      'incident-sop-on-ticket-resolved',
      'When a ticket is resolved, run the incident-sop workflow for it (gather -> sop.generate -> notion.push -> notify). Disabled by default.',
      false, 'orchestrator', 'ticket.resolved', 'workflow.start',
      '{"workflow": "incident-sop", "input": {"ticket_id": "{{payload.ticket_id}}"}}'::jsonb,
      -10,
      'workflow.start:incident-sop:ticket:{{payload.ticket_id}}'
    )
    on conflict (name) do nothing;
  end if;
end
$$;

-- Shipped schedules (builtin: may be retimed or disabled over the API, not deleted).
insert into orchestrator.schedules (name, description, cron, task_type, payload, priority, max_attempts, builtin) values
  ('maintenance-prune', 'Deletes finished tasks, logs, schedule runs, workflow runs, pg_cron run history and pg_net responses past their retention (settings retention.*).',
   '17 * * * *', 'maintenance.prune', '{}', -100, 3, true),
  ('maintenance-digest', 'Yesterday''s digest (tasks by type and status, top failing types, top open tickets) to the logs and to webhook subscribers of digest.daily.',
   '5 0 * * *', 'maintenance.digest', '{}', -100, 3, true);

-- The shipped workflow: a resolved ticket becomes an SOP. gather (incident.gather)
-- checks the ticket and prepares the inputs of the next steps; sop and notion are
-- optional (skipped where sop.generate / notion.push are not registered, and
-- notion also where Notion is not configured: gather leaves its input null).
insert into orchestrator.workflows (name, description, builtin, steps) values (
  'incident-sop',
  'Incident -> SOP: gather the resolved ticket''s context, write an SOP (sop.generate), push it to Notion (notion.push), notify subscribers. Input: {"ticket_id": <id>, "topic"?: text, "audience"?: text}.',
  true,
  $json$[
    {"name": "gather", "type": "incident.gather", "max_attempts": 3,
     "input": {"ticket_id": "{{input.ticket_id}}", "topic": "{{input.topic}}", "audience": "{{input.audience}}"}},
    {"name": "sop", "type": "sop.generate", "optional": true, "max_attempts": 3,
     "input": "{{steps.gather.result.sop_request}}"},
    {"name": "notion", "type": "notion.push", "optional": true, "max_attempts": 5,
     "input": "{{steps.gather.result.notion_request}}"},
    {"name": "notify", "type": "notify", "max_attempts": 3,
     "input": {"event": "workflow.incident-sop.completed",
               "subject": "SOP ready for ticket #{{input.ticket_id}}: {{steps.gather.result.ticket.title}}",
               "data": {"run_id": "{{run.id}}", "ticket": "{{steps.gather.result.ticket}}",
                        "sop": "{{steps.sop.result.sop}}", "notion_task_id": "{{steps.notion.task_id}}"}}}
  ]$json$::jsonb
);

alter table orchestrator.settings enable row level security;
grant select, insert, update, delete on orchestrator.settings to service_role;

revoke all on function orchestrator.setting(text, jsonb) from public;
revoke all on function orchestrator.prune_history(jsonb) from public;
grant execute on function orchestrator.setting(text, jsonb) to service_role;
grant execute on function orchestrator.prune_history(jsonb) to service_role;
