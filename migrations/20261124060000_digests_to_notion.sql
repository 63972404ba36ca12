-- The daily digest, kept, and sent to Notion where the sync is enabled.
--
-- maintenance.digest stores each UTC day's digest here (one row per day,
-- rewritten when a day is digested again), in the same transaction that
-- enqueues its notion.push, so the push builds the "digest:YYYY-MM-DD" page
-- from the database like any ticket or SOP, and a retried push finds the same
-- text. 365 small rows a year: no retention.
create table orchestrator.digests (
  day date primary key,
  summary jsonb not null,
  body_md text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table orchestrator.digests enable row level security;
grant select, insert, update, delete on orchestrator.digests to service_role;

-- A digest is a fourth kind of row with a Notion page.
alter table orchestrator.notion_pages drop constraint notion_pages_entity_check;
alter table orchestrator.notion_pages add constraint notion_pages_entity_check
  check (entity in ('task', 'ticket', 'sop', 'digest'));

-- The shipped schedule says where its digest goes (only if nobody reworded it).
update orchestrator.schedules
   set description = 'Yesterday''s digest (tasks by type and status, top failing types, top open tickets) to the logs, to webhook subscribers of digest.daily, and to Notion where the sync is enabled.'
 where name = 'maintenance-digest'
   and description = 'Yesterday''s digest (tasks by type and status, top failing types, top open tickets) to the logs and to webhook subscribers of digest.daily.';
