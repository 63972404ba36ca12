// Maintenance task types: the same work the pg_cron jobs do, runnable on demand.
import { db } from "../db.ts";
import { catalogSpec } from "../task-catalog.ts";
import { defineTaskType } from "../task-types.ts";

export const reapLeases = defineTaskType({
  ...catalogSpec("maintenance.reap"),
  async handle(_payload, { log }) {
    const [{ reaped }] = await db()<{ reaped: number }[]>`select orchestrator.reap() as reaped`;
    if (reaped > 0) log.warn(`reaped ${reaped} expired leases`, { reaped });
    return { reaped };
  },
});

export const pruneHistory = defineTaskType({
  ...catalogSpec("maintenance.prune"),
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
