// Request schemas for /schedules (zod). A cron expression is checked field by
// field here, before it reaches pg_cron, and stored in its normalised form.
import { z } from "zod";
import { parseCron } from "./cron.ts";

const TASK_TYPE = /^[a-z][a-z0-9_.:-]{0,63}$/;
export const SCHEDULE_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

/** A cron expression (minute resolution, read in the schedule's time zone), normalised: macros expanded, single spaces. */
export const cronExpression = z.string().max(200).transform((value, ctx) => {
  const parsed = parseCron(value);
  if (!parsed.ok) {
    for (const issue of parsed.issues) {
      ctx.addIssue({ code: "custom", message: `${issue.field === "cron" ? "" : `${issue.field}: `}${issue.message}` });
    }
    return z.NEVER;
  }
  return parsed.cron.expression;
});

/**
 * An IANA time zone name (Europe/Berlin), as the runtime's Intl knows it: names only, no offsets ("+02:00") or
 * POSIX strings. SQL checks it again against pg_timezone_names (orchestrator.timezone_canonical) and stores its
 * canonical spelling, so psql callers meet the same rule.
 */
export const timeZone = z.string().max(64).refine((value) => {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+){0,2}$/.test(value)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: value });
    return true;
  } catch {
    return false;
  }
}, { error: (issue) => `unknown time zone ${JSON.stringify(issue.input)}: use an IANA name such as Europe/Berlin, America/New_York or UTC` });

export const scheduleNameParam = z.string().regex(SCHEDULE_NAME, "a schedule name is 1-63 of a-z, 0-9, _ . - starting with a letter or digit")
  .refine((n) => n !== "settings", "\"settings\" is reserved");

const payload = z.record(z.string(), z.unknown());

export const createScheduleSchema = z.strictObject({
  name: scheduleNameParam,
  cron: cronExpression,
  task_type: z.string().regex(TASK_TYPE, "a task type is a lowercase letter then up to 63 of a-z 0-9 _ . : -"),
  payload: payload.optional().default({}),
  description: z.string().max(2000).optional(),
  priority: z.number().int().min(-1000).max(1000).optional(),
  max_attempts: z.number().int().min(1).max(100).optional(),
  enabled: z.boolean().optional(),
  /** The zone the cron expression is read in (wall-clock time there, DST included); UTC when not given. */
  timezone: timeZone.optional(),
});
export type CreateScheduleInput = z.infer<typeof createScheduleSchema>;

export const updateScheduleSchema = z.strictObject({
  cron: cronExpression.optional(),
  task_type: z.string().regex(TASK_TYPE, "a task type is a lowercase letter then up to 63 of a-z 0-9 _ . : -").optional(),
  payload: payload.optional(),
  description: z.string().max(2000).optional(),
  priority: z.number().int().min(-1000).max(1000).optional(),
  max_attempts: z.number().int().min(1).max(100).optional(),
  enabled: z.boolean().optional(),
  timezone: timeZone.optional(),
}).refine((v) => Object.keys(v).length > 0, "send at least one field to change");
export type UpdateScheduleInput = z.infer<typeof updateScheduleSchema>;

export const scheduleRunsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(20),
});

const days = z.number().int().min(1).max(36500);

/** The settings maintenance reads; PATCH takes any subset. */
export const settingsPatchSchema = z.strictObject({
  "retention.tasks_days": days.optional(),
  "retention.logs_days": days.optional(),
  "retention.schedule_runs_days": days.optional(),
  "retention.workflow_runs_days": days.optional(),
  "retention.cron_runs_days": days.optional(),
  "retention.events_days": days.optional(),
  "retention.http_responses_hours": z.number().int().min(1).max(876_000).optional(),
  "digest.top_n": z.number().int().min(1).max(50).optional(),
}).refine((v) => Object.keys(v).length > 0, "send at least one setting to change");
export type SettingsPatch = z.infer<typeof settingsPatchSchema>;
