// Request schemas for /schedules (zod). A cron expression is checked field by
// field here, before it reaches pg_cron, and stored in its normalised form.
import { z } from "zod";
import { parseCron } from "./cron.ts";

const TASK_TYPE = /^[a-z][a-z0-9_.:-]{0,63}$/;
export const SCHEDULE_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

/** A cron expression (UTC, minute resolution), normalised: macros expanded, single spaces. */
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
  timezone: z.literal("UTC", { message: "schedules run in UTC (pg_cron's clock); write the cron expression in UTC" }).optional(),
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
  timezone: z.literal("UTC", { message: "schedules run in UTC (pg_cron's clock)" }).optional(),
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
