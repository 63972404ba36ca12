// The answers of /schedules as zod schemas (see ../responses.ts): service.ts is typed by them, the
// dashboard reads them with `import type`. Zod only.
import { z } from "zod";
import { timestamp } from "../responses.ts";

export const scheduleSchema = z.object({
  id: z.number(),
  name: z.string(),
  description: z.string(),
  cron: z.string(),
  /** The IANA zone the cron expression is read in (UTC by default). */
  timezone: z.string(),
  task_type: z.string(),
  payload: z.record(z.string(), z.unknown()),
  priority: z.number(),
  max_attempts: z.number(),
  enabled: z.boolean(),
  builtin: z.boolean(),
  created_at: timestamp,
  updated_at: timestamp,
  /** The pg_cron job that ticks it (null while pg_cron has none): on the cron itself in UTC, every minute in another zone. */
  job_name: z.string(),
  cron_job: z.object({ jobid: z.number(), active: z.boolean() }).nullable(),
  /** The next three fire times (ISO, UTC), none while disabled: the first three of next_fires. */
  next_runs: z.array(z.string()),
  /** The next five fire times, in UTC ("…Z") and in the schedule's zone ("2027-03-28T03:00:00+02:00"), none while disabled (orchestrator.schedule_next_fires). */
  next_fires: z.array(z.object({ utc: z.string(), local: z.string() })),
  last_run: z.object({
    tick: timestamp,
    trigger: z.string(),
    task_id: z.number().nullable(),
    task_status: z.string().nullable(),
    duplicates: z.number(),
  }).nullable(),
});
export type Schedule = z.infer<typeof scheduleSchema>;

/** The orchestrator's own pg_cron jobs (cron-jobs.ts): shown, not editable here. */
export const cronJobSchema = z.object({
  job: z.string(),
  schedule: z.string(),
  active: z.boolean(),
  last_run: timestamp.nullable(),
  last_status: z.string().nullable(),
});

/** GET /schedules: every schedule at once (no pages), and the system jobs beside them. */
export const scheduleListSchema = z.object({ schedules: z.array(scheduleSchema), system_jobs: z.array(cronJobSchema) });

/** GET /schedules/:name/runs: its recent ticks (with the task each enqueued) and pg_cron's record of the job's runs. */
export const scheduleRunsSchema = z.object({
  schedule: z.string(),
  runs: z.array(z.object({
    id: z.number(),
    tick: timestamp,
    trigger: z.string(),
    task_id: z.number().nullable(),
    duplicates: z.number(),
    last_duplicate_at: timestamp.nullable(),
    created_at: timestamp,
    task: z.object({
      status: z.string(),
      attempts: z.number(),
      max_attempts: z.number(),
      last_error: z.string().nullable(),
      result: z.unknown(),
      created_at: z.string(),
      finished_at: z.string().nullable(),
    }).nullable(),
  })),
  cron_runs: z.array(z.object({
    runid: z.number(),
    status: z.string(),
    return_message: z.string().nullable(),
    start_time: timestamp.nullable(),
    end_time: timestamp.nullable(),
  })),
});
