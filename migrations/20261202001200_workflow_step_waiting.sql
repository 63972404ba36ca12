-- A workflow step that waits without a worker or a connection: a sleep, or an event it waits for
-- (20261202001300_workflow_graphs.sql). Its own migration: a new enum value cannot be used in the
-- transaction that adds it.
alter type orchestrator.workflow_step_status add value if not exists 'waiting' after 'running';
