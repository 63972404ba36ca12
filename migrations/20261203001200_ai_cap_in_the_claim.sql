-- The AI semaphore (20261124020000_concurrency_semaphores.sql) is gone: the cap on AI work is flow
-- control on the AI task types (20261203001100: key "ai", limit 4), decided by the claim. The
-- semaphore held a slot per provider call inside tasks that were already running, so a backlog of AI
-- tasks filled worker slots waiting for it; now it waits in the queue. One mechanism, one truth.
drop function orchestrator.semaphore_acquire(text, text, numeric);
drop function orchestrator.semaphore_release(text, uuid);
drop function orchestrator.set_semaphore_capacity(text, integer);
drop function orchestrator.semaphore_status(text);
drop table orchestrator.semaphore_slots;
drop table orchestrator.semaphores;
