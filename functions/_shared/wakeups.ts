// How the pg_net wake-ups fare, for /health: the sweep reads their answers (orchestrator.check_wakeups)
// and keeps the failures; a refused one (401/403) means no task runs from wake-ups until the key in
// Vault is fixed, so it leaves the report degraded while it is recent.
import type { z } from "zod";
import type { AnySql } from "./db.ts";
import type { wakeupReportSchema } from "./responses.ts";

/** The report's shape is its response schema (responses.ts: /health shows it as `wakeups`). */
export type WakeupReport = z.infer<typeof wakeupReportSchema>;

/** A refusal this recent keeps /health degraded (the sweep re-reads answers every 10 s, so a fixed key shows within minutes). */
const DEGRADED_FOR_MS = 10 * 60_000;

export async function wakeupReport(sql: AnySql): Promise<WakeupReport> {
  const [{ s }] = await sql<{ s: { refused_last_hour: number; failed_last_hour: number; last_refused_at: string | null; last_refused_status: number | null } }[]>`
    select orchestrator.wakeup_status() as s`;
  const recent = s.last_refused_at !== null && Date.now() - new Date(s.last_refused_at).getTime() < DEGRADED_FOR_MS;
  return {
    refused_last_hour: s.refused_last_hour,
    failed_last_hour: s.failed_last_hour,
    last_refused_at: s.last_refused_at === null ? null : new Date(s.last_refused_at).toISOString(),
    last_refused_status: s.last_refused_status,
    problem: recent
      ? `task-worker refused a wake-up with ${s.last_refused_status}: store a key it accepts with ` +
        "orchestrator.set_worker_endpoint(<project url>, <secret key>) (see the 'wakeup' rows in /logs)."
      : null,
  };
}

/** Leaves /health degraded while a recent wake-up was refused. */
export const wakeupsDegraded = (report: WakeupReport): boolean => report.problem !== null;
