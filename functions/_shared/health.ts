// The health report: database reachability, queue counts, and the cron jobs' last runs.
import { orchestratorCronJobs } from "./cron-jobs.ts";
import { db } from "./db.ts";
import { VERSION } from "./version.ts";

const DB_TIMEOUT_MS = 3_000;
const STATUSES = ["queued", "running", "succeeded", "dead", "cancelled"] as const;

export interface HealthReport {
  status: "ok" | "degraded";
  version: string;
  db: { ok: boolean; latency_ms: number | null; error?: string };
  queue: Record<string, number | null>;
  cron: { job: string; schedule: string; last_run: string | null; last_status: string | null }[];
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
      queue, cron: [],
    };
  }
  const latency = Math.round((performance.now() - started) * 10) / 10;
  const [counts, oldest, cron] = await withTimeout(Promise.all([
    sql<{ status: string; n: number }[]>`select status::text, count(*)::int as n from orchestrator.tasks group by status`,
    sql<{ age: number | null }[]>`
      select extract(epoch from now() - min(run_at))::float8 as age
      from orchestrator.tasks where status = 'queued' and run_at <= now()`,
    orchestratorCronJobs(sql),
  ]), DB_TIMEOUT_MS);
  for (const s of STATUSES) queue[s] = 0;
  for (const c of counts) queue[c.status] = c.n;
  queue.oldest_queued_age_s = oldest[0]?.age == null ? 0 : Math.max(0, Math.round(oldest[0].age));
  return {
    status: "ok", version: VERSION,
    db: { ok: true, latency_ms: latency },
    queue,
    cron: cron.map((c) => ({ job: c.job, schedule: c.schedule, last_run: c.last_run?.toISOString() ?? null, last_status: c.last_status })),
  };
}
