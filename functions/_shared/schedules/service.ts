// The schedules service: rows in orchestrator.schedules, kept in step with
// pg_cron by the table's trigger (so this module never calls cron.* itself).
// When a schedule fires (its zone, DST) is SQL's to say: orchestrator.schedule_next_fires.
import { orchestratorCronJobs } from "../cron-jobs.ts";
import { db } from "../db.ts";
import { AppError, conflict, notFound } from "../errors.ts";
import { validateTaskPayload } from "../queue.ts";
import type { z } from "zod";
import type { Schedule, scheduleListSchema, scheduleRunsSchema } from "./responses.ts";
import type { CreateScheduleInput, SettingsPatch, UpdateScheduleInput } from "./schemas.ts";

export interface ScheduleRow {
  id: number;
  name: string;
  description: string;
  cron: string;
  timezone: string;
  task_type: string;
  payload: Record<string, unknown>;
  priority: number;
  max_attempts: number;
  enabled: boolean;
  builtin: boolean;
  created_at: Date;
  updated_at: Date;
}

/** A schedule as the API shows it (responses.ts). */
type ScheduleView = Schedule;

const view = (rows: (ScheduleRow & Record<string, unknown>)[]): ScheduleView[] =>
  rows.map((r) => {
    const { jobid, job_active, last_tick, last_trigger, last_task_id, last_task_status, last_duplicates, next_fires, ...rest } =
      r as Record<string, unknown>;
    const fires = next_fires as ScheduleView["next_fires"];
    return {
      ...(rest as unknown as ScheduleRow),
      job_name: `orchestrator.schedule:${r.name}`,
      cron_job: jobid == null ? null : { jobid: Number(jobid), active: job_active as boolean },
      next_fires: fires,
      next_runs: fires.slice(0, 3).map((f) => new Date(f.utc).toISOString()),
      last_run: last_tick == null ? null : {
        tick: last_tick as Date,
        trigger: last_trigger as string,
        task_id: (last_task_id as number | null) ?? null,
        task_status: (last_task_status as string | null) ?? null,
        duplicates: last_duplicates as number,
      },
    };
  });

async function selectSchedules(name?: string): Promise<ScheduleView[]> {
  const sql = db();
  const rows = await sql<(ScheduleRow & Record<string, unknown>)[]>`
    select s.*, j.jobid, j.active as job_active,
           r.tick as last_tick, r.trigger as last_trigger, r.task_id as last_task_id,
           t.status::text as last_task_status, r.duplicates as last_duplicates,
           orchestrator.schedule_next_fires(s.id, now(), 5) as next_fires
    from orchestrator.schedules s
    left join cron.job j on j.jobname = orchestrator.schedule_job_name(s.name)
    left join lateral (
      select * from orchestrator.schedule_runs x where x.schedule_id = s.id order by x.id desc limit 1
    ) r on true
    left join orchestrator.tasks t on t.id = r.task_id
    where ${name === undefined ? sql`true` : sql`s.name = ${name}`}
    order by s.builtin desc, s.name`;
  return view(rows);
}

export async function listSchedules(): Promise<z.infer<typeof scheduleListSchema>> {
  const sql = db();
  const [schedules, system] = await Promise.all([
    selectSchedules(),
    // The pure-SQL jobs the orchestrator also runs (sweep, reap): shown, not editable here.
    orchestratorCronJobs(sql),
  ]);
  return { schedules, system_jobs: system };
}

export async function getSchedule(name: string): Promise<ScheduleView> {
  const [s] = await selectSchedules(name);
  if (!s) throw notFound(`Schedule "${name}" does not exist.`);
  return s;
}

/**
 * SQL's own refusal of a value zod let through (22023 from orchestrator.timezone_canonical or cron_parse: a zone
 * Intl knows and this database's tzdata does not), as the same 400 a zod issue would be.
 */
function sqlValidationError(err: unknown): AppError | undefined {
  const { code, message } = err as { code?: string; message?: string };
  if (code !== "22023" || !message) return undefined;
  const path = message.startsWith("unknown time zone") ? "timezone" : "cron";
  return new AppError(400, "validation_failed", `Invalid body: ${path}: ${message}`, { issues: [{ path, code: "custom", message }] });
}

export async function createSchedule(input: CreateScheduleInput): Promise<ScheduleView> {
  validateTaskPayload(input.task_type, input.payload);
  const sql = db();
  try {
    await sql`
      insert into orchestrator.schedules (name, cron, timezone, task_type, payload, description, priority, max_attempts, enabled)
      values (${input.name}, ${input.cron}, ${input.timezone ?? "UTC"}, ${input.task_type}, ${sql.json(input.payload as never)},
              ${input.description ?? ""}, ${input.priority ?? 0}, ${input.max_attempts ?? 5}, ${input.enabled ?? true})`;
  } catch (err) {
    if ((err as { code?: string }).code === "23505") {
      throw conflict(`A schedule named "${input.name}" already exists; PATCH /schedules/${input.name} changes it.`);
    }
    throw sqlValidationError(err) ?? err;
  }
  return await getSchedule(input.name);
}

export async function updateSchedule(name: string, patch: UpdateScheduleInput): Promise<ScheduleView> {
  const sql = db();
  return await sql.begin(async (tx) => {
    const [current] = await tx<ScheduleRow[]>`select * from orchestrator.schedules where name = ${name} for update`;
    if (!current) throw notFound(`Schedule "${name}" does not exist.`);
    const taskType = patch.task_type ?? current.task_type;
    const payload = patch.payload ?? current.payload;
    if (patch.task_type !== undefined || patch.payload !== undefined) validateTaskPayload(taskType, payload);
    await tx`
      update orchestrator.schedules set
        cron = ${patch.cron ?? current.cron},
        timezone = ${patch.timezone ?? current.timezone},
        task_type = ${taskType},
        payload = ${tx.json(payload as never)},
        description = ${patch.description ?? current.description},
        priority = ${patch.priority ?? current.priority},
        max_attempts = ${patch.max_attempts ?? current.max_attempts},
        enabled = ${patch.enabled ?? current.enabled}
      where id = ${current.id}`;
    return current.id;
  }).catch((err) => {
    throw sqlValidationError(err) ?? err;
  }).then(() => getSchedule(name));
}

export async function deleteSchedule(name: string): Promise<{ deleted: true; name: string }> {
  const sql = db();
  const [row] = await sql<{ builtin: boolean }[]>`select builtin from orchestrator.schedules where name = ${name}`;
  if (!row) throw notFound(`Schedule "${name}" does not exist.`);
  if (row.builtin) {
    throw conflict(`Schedule "${name}" ships with the orchestrator; disable it with PATCH {"enabled": false} instead of deleting it.`);
  }
  await sql`delete from orchestrator.schedules where name = ${name} and not builtin`;
  return { deleted: true, name };
}

/** Recent ticks (with the task each enqueued) and pg_cron's own record of the job's runs. */
export async function scheduleRuns(name: string, limit: number): Promise<z.infer<typeof scheduleRunsSchema>> {
  const sql = db();
  const [s] = await sql<{ id: number }[]>`select id from orchestrator.schedules where name = ${name}`;
  if (!s) throw notFound(`Schedule "${name}" does not exist.`);
  type Runs = z.infer<typeof scheduleRunsSchema>;
  const [runs, cronRuns] = await Promise.all([
    sql<Runs["runs"]>`
      select r.id, r.tick, r.trigger, r.task_id, r.duplicates, r.last_duplicate_at, r.created_at,
             case when t.id is null then null else jsonb_build_object(
               'status', t.status, 'attempts', t.attempts, 'max_attempts', t.max_attempts, 'last_error', t.last_error,
               'result', t.result, 'created_at', t.created_at, 'finished_at', t.finished_at) end as task
      from orchestrator.schedule_runs r
      left join orchestrator.tasks t on t.id = r.task_id
      where r.schedule_id = ${s.id}
      order by r.id desc limit ${limit}`,
    sql<Runs["cron_runs"]>`
      select d.runid, d.status, d.return_message, d.start_time, d.end_time
      from cron.job_run_details d
      where d.command = ${`select orchestrator.schedule_tick(${s.id})`}
      order by d.runid desc limit ${limit}`,
  ]);
  return { schedule: name, runs, cron_runs: cronRuns };
}

/** Runs a schedule now (outside its cron ticks): one task, recorded as a manual run. */
export async function triggerSchedule(name: string) {
  const sql = db();
  const [s] = await sql<ScheduleRow[]>`select * from orchestrator.schedules where name = ${name}`;
  if (!s) throw notFound(`Schedule "${name}" does not exist.`);
  const [row] = await sql<{ task_id: number | null }[]>`
    select orchestrator.schedule_tick(${s.id}, clock_timestamp(), 'manual') as task_id`;
  const [task] = await sql`select id, type, status, payload, dedupe_key, source, created_at from orchestrator.tasks where id = ${row.task_id}`;
  return { schedule: name, task };
}

export async function getSettings() {
  const rows = await db()<{ key: string; value: unknown; description: string; updated_at: Date }[]>`
    select key, value, description, updated_at from orchestrator.settings order by key`;
  return { settings: rows };
}

export async function updateSettings(patch: SettingsPatch) {
  const sql = db();
  await sql.begin(async (tx) => {
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined) continue;
      await tx`
        insert into orchestrator.settings (key, value) values (${key}, ${tx.json(value as never)})
        on conflict (key) do update set value = excluded.value, updated_at = now()`;
    }
  });
  return await getSettings();
}
