-- The Notion and webhook triggers on tickets and SOPs, created in the open (issue 15).
--
-- notion_attach() and webhook_attach() built them with `execute format('create trigger …')`, and
-- sync_attach_known_tables() ran them at the end of two migrations, when the sync was enabled and on
-- every Notion pull tick (pg_cron, each minute), "so the order in which the tickets/SOP migrations
-- land does not matter". The tables ship in this same migration sequence, so that order is fixed:
-- the triggers are plain CREATE TRIGGER statements here, grep finds them, and nothing creates a
-- trigger on our own tables at run time any more. (watch_table() still does, for the apps' tables:
-- which of those to watch is data.) Same names, same functions, same arguments as before.

drop trigger if exists notion_push_ins on orchestrator.tickets;
drop trigger if exists notion_push_upd on orchestrator.tickets;
drop trigger if exists webhook_events_ins on orchestrator.tickets;
drop trigger if exists webhook_events_upd on orchestrator.tickets;
drop trigger if exists notion_push_ins on orchestrator.sops;
drop trigger if exists notion_push_upd on orchestrator.sops;
drop trigger if exists webhook_events_ins on orchestrator.sops;
drop trigger if exists webhook_events_upd on orchestrator.sops;

-- Tickets: a new ticket, and a change of its title, status or priority, push its Notion page; a new
-- ticket is ticket.opened and a status change ticket.<status> for webhook subscribers.
create trigger notion_push_ins after insert on orchestrator.tickets
  referencing new table as new_rows
  for each statement execute function orchestrator.notion_rows_inserted('ticket', 'id', 'title', 'status', 'priority');
create trigger notion_push_upd after update on orchestrator.tickets
  referencing old table as old_rows new table as new_rows
  for each statement execute function orchestrator.notion_rows_updated('ticket', 'id', 'title', 'status', 'priority');
create trigger webhook_events_ins after insert on orchestrator.tickets
  referencing new table as new_rows
  for each statement execute function orchestrator.webhook_rows_inserted('ticket', 'opened');
create trigger webhook_events_upd after update on orchestrator.tickets
  referencing old table as old_rows new table as new_rows
  for each statement execute function orchestrator.webhook_rows_updated('ticket');

-- SOPs: a new version pushes the SOP's page (keyed by slug) and is sop.created for subscribers.
create trigger notion_push_ins after insert on orchestrator.sops
  referencing new table as new_rows
  for each statement execute function orchestrator.notion_rows_inserted('sop', 'slug');
create trigger webhook_events_ins after insert on orchestrator.sops
  referencing new table as new_rows
  for each statement execute function orchestrator.webhook_rows_inserted('sop', 'created');

-- As before (20261124040000_notion_sync.sql), without attaching anything first.
create or replace function orchestrator.notion_cron_tick()
returns bigint
language plpgsql as $$
declare
  v_id bigint;
begin
  if not orchestrator.notion_sync_enabled() then
    return null;
  end if;
  select (r.task).id into v_id
  from orchestrator.enqueue('notion.pull', '{}'::jsonb, jsonb_build_object(
    'dedupe_key', 'notion.pull:' || to_char(date_trunc('minute', now() at time zone 'UTC'), 'YYYY-MM-DD"T"HH24:MI'),
    'source', 'cron', 'max_attempts', 3, 'priority', -5)) r;
  return v_id;
end
$$;

drop function orchestrator.sync_attach_known_tables();
drop function orchestrator.notion_attach(regclass, text, text, text[]);
drop function orchestrator.webhook_attach(regclass, text, text);
