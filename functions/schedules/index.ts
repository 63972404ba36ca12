// /schedules: cron schedules (kept in step with pg_cron), their runs, and the maintenance settings.
import { json, parseBody, parseQuery, parseWith } from "../_shared/http.ts";
import { defineFunction } from "../_shared/router.ts";
import { errorShape } from "../_shared/error-shape.ts";
import { scheduleListSchema, scheduleRunsSchema, scheduleSchema } from "../_shared/schedules/responses.ts";
import {
  createScheduleSchema,
  scheduleNameParam,
  scheduleRunsQuery,
  settingsPatchSchema,
  updateScheduleSchema,
} from "../_shared/schedules/schemas.ts";
import {
  createSchedule,
  deleteSchedule,
  getSchedule,
  getSettings,
  listSchedules,
  scheduleRuns,
  triggerSchedule,
  updateSchedule,
  updateSettings,
} from "../_shared/schedules/service.ts";

const name = (params: Record<string, string>) => parseWith(scheduleNameParam, params.name, "schedule name");

export default defineFunction("schedules", [
  { method: "GET", path: "/", summary: "List schedules and the system cron jobs", responses: { 200: scheduleListSchema }, handler: () => listSchedules() },
  {
    method: "POST",
    path: "/",
    summary: "Create a schedule",
    body: createScheduleSchema,
    responses: { 201: scheduleSchema },
    handler: async ({ req, log }) => {
      const schedule = await createSchedule(await parseBody(req, createScheduleSchema));
      log.info(`schedule ${schedule.name} created`, { cron: schedule.cron, task_type: schedule.task_type });
      return json(201, schedule);
    },
  },
  // Before /:name, so "settings" is never taken for a schedule name (the name is reserved).
  { method: "GET", path: "/settings", summary: "Maintenance settings", handler: () => getSettings() },
  { method: "PATCH", path: "/settings", summary: "Change maintenance settings", body: settingsPatchSchema, handler: async ({ req }) => updateSettings(await parseBody(req, settingsPatchSchema)) },
  { method: "GET", path: "/:name", summary: "One schedule", params: { name: scheduleNameParam }, responses: { 200: scheduleSchema, 404: errorShape }, handler: ({ params }) => getSchedule(name(params)) },
  {
    method: "PATCH",
    path: "/:name",
    summary: "Change a schedule",
    params: { name: scheduleNameParam },
    body: updateScheduleSchema,
    responses: { 200: scheduleSchema, 404: errorShape },
    handler: async ({ req, params, log }) => {
      const patch = await parseBody(req, updateScheduleSchema);
      const schedule = await updateSchedule(name(params), patch);
      log.info(`schedule ${schedule.name} updated`, { changed: Object.keys(patch) });
      return schedule;
    },
  },
  {
    method: "DELETE",
    path: "/:name",
    summary: "Delete a schedule",
    params: { name: scheduleNameParam },
    handler: async ({ params, log }) => {
      const out = await deleteSchedule(name(params));
      log.info(`schedule ${out.name} deleted`);
      return out;
    },
  },
  { method: "GET", path: "/:name/runs", summary: "A schedule's runs", params: { name: scheduleNameParam }, query: scheduleRunsQuery, responses: { 200: scheduleRunsSchema }, handler: ({ params, url }) => scheduleRuns(name(params), parseQuery(url, scheduleRunsQuery).limit) },
  { method: "POST", path: "/:name/run", summary: "Run a schedule now", params: { name: scheduleNameParam }, handler: async ({ params }) => json(201, await triggerSchedule(name(params))) },
]);
