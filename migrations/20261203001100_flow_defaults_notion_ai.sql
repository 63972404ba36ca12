-- The shared limits of the integrations, as flow control on their task types (issue 17), so a
-- backlog waits in the queue instead of in workers' slots:
--   * notion.push: a token bucket of 3 starts per second (burst 3), Notion's published average. The
--     Notion client still paces each request (rate_limit_take, a push makes several) on the same
--     table and the same arithmetic (rate_take, 20261203001000_flow_control.sql).
--   * ai.run and sop.generate: at most 4 running at once over the key "ai", the capacity the AI
--     semaphore had (20261124020000_concurrency_semaphores.sql). A claimed AI task therefore finds a
--     semaphore slot free; the semaphore stays as the guard of each provider call.
-- Change either with orchestrator.set_task_type_flow(type, defaults); queued tasks take a type limit
-- at once, keys and rates at their next enqueue.
select orchestrator.set_task_type_flow('notion.push', '{"rate": {"key": "notion", "limit": 3, "period_seconds": 1, "burst": 3}}');
select orchestrator.set_task_type_flow('ai.run', '{"concurrency": {"key": "ai", "limit": 4}}');
select orchestrator.set_task_type_flow('sop.generate', '{"concurrency": {"key": "ai", "limit": 4}}');
