// The orchestrator's own pg_cron jobs (orchestrator-*) with their last run:
// shown by /health and by GET /schedules (as system_jobs).
import type { Sql } from "./db.ts";

export interface CronJob {
  job: string;
  schedule: string;
  active: boolean;
  last_run: Date | null;
  last_status: string | null;
}

export function orchestratorCronJobs(sql: Sql) {
  return sql<CronJob[]>`
    select j.jobname as job, j.schedule, j.active, d.start_time as last_run, d.status as last_status
    from cron.job j
    left join lateral (
      select start_time, status from cron.job_run_details r where r.jobid = j.jobid order by runid desc limit 1
    ) d on true
    where j.jobname like 'orchestrator-%'
    order by j.jobname`;
}
