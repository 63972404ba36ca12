// Maintenance task types: the same work the pg_cron jobs do, runnable on demand.
import { z } from "zod";
import { db } from "../db.ts";
import { defineTaskType } from "../task-types.ts";

export const reapLeases = defineTaskType({
  description: "Returns tasks whose lease expired to the queue (or to dead at their last attempt).",
  payload: z.strictObject({}),
  timeoutMs: 30_000,
  async handle(_payload, { log }) {
    const [{ reaped }] = await db()<{ reaped: number }[]>`select orchestrator.reap() as reaped`;
    if (reaped > 0) log.warn(`reaped ${reaped} expired leases`, { reaped });
    return { reaped };
  },
});

export const pruneHistory = defineTaskType({
  description: "Deletes finished tasks and logs older than their retention (defaults: 14 and 30 days).",
  payload: z.strictObject({
    tasks_days: z.number().int().min(1).max(3650).default(14),
    logs_days: z.number().int().min(1).max(3650).default(30),
  }),
  timeoutMs: 120_000,
  async handle(payload, { log }) {
    const sql = db();
    const tasks = await sql`
      delete from orchestrator.tasks
      where status in ('succeeded', 'dead', 'cancelled')
        and finished_at < now() - make_interval(days => ${payload.tasks_days})`;
    const logs = await sql`delete from orchestrator.logs where at < now() - make_interval(days => ${payload.logs_days})`;
    log.info(`pruned ${tasks.count} tasks and ${logs.count} log rows`, { ...payload });
    return { tasks_deleted: tasks.count, logs_deleted: logs.count };
  },
});
