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

const days = z.number().int().min(1).max(36500).optional();

export const pruneHistory = defineTaskType({
  description:
    "Deletes finished tasks, logs, schedule runs, finished workflow runs, routed events, pg_cron run history and pg_net responses past their " +
    "retention (orchestrator.settings retention.*; defaults 14, 30, 30, 30, 30, 7 days and 6 hours). Payload fields override the settings for one run.",
  payload: z.strictObject({
    tasks_days: days,
    logs_days: days,
    schedule_runs_days: days,
    workflow_runs_days: days,
    cron_runs_days: days,
    events_days: days,
    http_responses_hours: z.number().int().min(1).max(876_000).optional(),
  }),
  timeoutMs: 60_000, // was 120 s: the Free plan's isolate lives 150 s (task-types.ts)
  async handle(payload, { log }) {
    const sql = db();
    const [{ pruned }] = await sql<{ pruned: Record<string, { deleted: number; error?: string }> }[]>`
      select orchestrator.prune_history(${sql.json(payload as never)}) as pruned`;
    const summary = Object.entries(pruned).map(([k, v]) => `${v.deleted} ${k.replace(/_/g, " ")}`).join(", ");
    const failed = Object.entries(pruned).filter(([, v]) => v.error);
    if (failed.length) log.warn(`pruning skipped ${failed.map(([k]) => k).join(", ")}`, { errors: Object.fromEntries(failed.map(([k, v]) => [k, v.error])) });
    log.info(`pruned ${summary}`, { pruned });
    return pruned;
  },
});
