-- Fewer index entries per task on the queue's write path (issue 13).
--
-- A claim and a completion each change `status`, an indexed column, so neither update is HOT: every
-- index whose predicate the new row version meets gets an entry, three times per task (enqueue,
-- claim, completion). Two indexes paid that for the task listing alone:
--   tasks_created_at_idx (created_at): `since`/`until` filters and the daily digest read a range of
--     created_at, which follows the insertion order. A BRIN index answers a range as well, and its
--     insert is nearly free (the page range's summary already covers the new value).
--   tasks_status_id_idx (status, id desc): listing by status, newest first. Queued and running tasks
--     have their own partial indexes already (tasks_claim_idx, tasks_lease_idx) and the planner uses
--     them, or the primary key read backwards, for those; so this one only needs the finished tasks:
--     one entry per task, at its completion, instead of three. Ascending `id`, read backwards for
--     "newest first": new entries land at the end of their status's range.
-- Measured (20,000 noop tasks: one enqueue_many, then claims and completions of 1,000, the SQL
-- alone, three pairs run alternately): enqueue 151-182 -> 131-150 ms, claims + completions
-- 577-776 -> 555-659 ms (medians).
drop index orchestrator.tasks_created_at_idx;
create index tasks_created_at_brin on orchestrator.tasks using brin (created_at);

drop index orchestrator.tasks_status_id_idx;
create index tasks_finished_status_id_idx on orchestrator.tasks (status, id)
  where status in ('succeeded', 'dead', 'cancelled');
