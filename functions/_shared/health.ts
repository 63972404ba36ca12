// The health report: database reachability, queue counts, the cron jobs' last runs,
// and on the local stack its supervised processes (local_stack.processes, which
// only the local stack's compat layer creates: on hosted Supabase the section is absent).
import type { z } from "zod";
import { inspectAiConfig } from "./ai/config.ts";
import { orchestratorCronJobs } from "./cron-jobs.ts";
import { db, tableExists, type Sql } from "./db.ts";
import type { edgeReportSchema, HealthReport, localProcessSchema } from "./responses.ts";
import { VERSION } from "./version.ts";
import { wakeupReport, wakeupsDegraded } from "./wakeups.ts";

const DB_TIMEOUT_MS = 3_000;
const STATUSES = ["queued", "running", "succeeded", "dead", "cancelled"] as const;

// The shapes are the response schemas' (responses.ts): the dashboard reads the same ones.
export type { HealthReport } from "./responses.ts";
export type LocalProcess = z.infer<typeof localProcessSchema>;
export type EdgeReport = z.infer<typeof edgeReportSchema>;

// Only the local runtime writes these rows; on hosted Supabase the platform's own logs hold them
// and the section is absent (as local_stack is). Counted over the rows logs retention keeps.
async function edgeReport(sql: Sql): Promise<EdgeReport> {
  const rows = await sql<{ event: string; reason: string; n: number }[]>`
    select context->>'event' as event, context->>'reason' as reason, count(*)::int as n
    from orchestrator.logs
    where component = 'edge-runtime' and context ? 'reason'
    group by 1, 2`;
  const report: EdgeReport = { terminations: {}, retirements: {} };
  for (const r of rows) {
    if (r.event === "shutdown") report.terminations[r.reason] = r.n;
    if (r.event === "retire") report.retirements[r.reason] = r.n;
  }
  return report;
}

async function localProcesses(sql: Sql): Promise<LocalProcess[] | undefined> {
  if (!(await tableExists(sql, "local_stack.processes"))) return undefined;
  const rows = await sql<(Omit<LocalProcess, "last_exit_at" | "since"> & { last_exit_at: Date | null; since: Date })[]>`
    select name, pid, state, restarts, last_exit, last_exit_at, since, gave_up from local_stack.processes order by name`;
  return rows.map((r) => ({ ...r, last_exit_at: r.last_exit_at?.toISOString() ?? null, since: r.since.toISOString() }));
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))]);
}

export async function healthReport(): Promise<HealthReport> {
  const sql = db();
  const queue: Record<string, number | null> = Object.fromEntries(STATUSES.map((s) => [s, null]));
  queue.oldest_queued_age_s = null;
  const started = performance.now();
  try {
    await withTimeout(sql`select 1`, DB_TIMEOUT_MS);
  } catch (err) {
    return {
      status: "degraded", version: VERSION,
      db: { ok: false, latency_ms: null, error: `database unreachable: ${(err as Error).message}` },
      queue, cron: [], ai: inspectAiConfig(),
    };
  }
  const latency = Math.round((performance.now() - started) * 10) / 10;
  const [counts, oldest, cron, processes, wakeups] = await withTimeout(Promise.all([
    sql<{ status: string; n: number }[]>`select status::text, count(*)::int as n from orchestrator.tasks group by status`,
    sql<{ age: number | null }[]>`
      select extract(epoch from now() - min(run_at))::float8 as age
      from orchestrator.tasks where status = 'queued' and run_at <= now()`,
    orchestratorCronJobs(sql),
    localProcesses(sql),
    wakeupReport(sql),
  ]), DB_TIMEOUT_MS);
  for (const s of STATUSES) queue[s] = 0;
  for (const c of counts) queue[c.status] = c.n;
  queue.oldest_queued_age_s = oldest[0]?.age == null ? 0 : Math.max(0, Math.round(oldest[0].age));
  const ai = inspectAiConfig();
  return {
    // A local process that is down (restarting, or given up on) leaves the stack degraded, not dead;
    // so does an AI provider configured but unusable (SOPs are written by the template meanwhile), and a
    // recently refused wake-up (no task runs from wake-ups until the key in Vault is fixed).
    status: processes?.some((p) => p.state !== "running") || (ai.configured && !ai.usable) || wakeupsDegraded(wakeups) ? "degraded" : "ok",
    version: VERSION,
    db: { ok: true, latency_ms: latency },
    queue,
    cron: cron.map((c) => ({ job: c.job, schedule: c.schedule, last_run: c.last_run?.toISOString() ?? null, last_status: c.last_status })),
    ...(processes ? { local_stack: { processes } } : {}),
    ...(processes ? { edge: await withTimeout(edgeReport(sql), DB_TIMEOUT_MS) } : {}),
    wakeups,
    ai,
  };
}
