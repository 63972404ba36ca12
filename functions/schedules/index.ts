// /schedules: cron schedules (kept in step with pg_cron), their runs, and the maintenance settings.
import { json, parseBody, parseQuery, parseWith } from "../_shared/http.ts";
import { defineFunction } from "../_shared/router.ts";
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
  { method: "GET", path: "/", handler: () => listSchedules() },
  {
    method: "POST",
    path: "/",
    handler: async ({ req, log }) => {
      const schedule = await createSchedule(await parseBody(req, createScheduleSchema));
      log.info(`schedule ${schedule.name} created`, { cron: schedule.cron, task_type: schedule.task_type });
      return json(201, schedule);
    },
  },
  // Before /:name, so "settings" is never taken for a schedule name (the name is reserved).
  { method: "GET", path: "/settings", handler: () => getSettings() },
  { method: "PATCH", path: "/settings", handler: async ({ req }) => updateSettings(await parseBody(req, settingsPatchSchema)) },
  { method: "GET", path: "/:name", handler: ({ params }) => getSchedule(name(params)) },
  {
    method: "PATCH",
    path: "/:name",
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
    handler: async ({ params, log }) => {
      const out = await deleteSchedule(name(params));
      log.info(`schedule ${out.name} deleted`);
      return out;
    },
  },
  { method: "GET", path: "/:name/runs", handler: ({ params, url }) => scheduleRuns(name(params), parseQuery(url, scheduleRunsQuery).limit) },
  { method: "POST", path: "/:name/run", handler: async ({ params }) => json(201, await triggerSchedule(name(params))) },
]);
