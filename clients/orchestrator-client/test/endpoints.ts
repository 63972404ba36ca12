// Compiled by `npm run check` (tsc), never run: every endpoint of docs/openapi.json, method by method, as the
// client's generated types have them. An endpoint added, removed or changed in the API without the client's
// types following (npm run openapi) fails to compile here, as does one this list does not name.
import type { paths } from "../src/index.js";

type Method = "get" | "post" | "patch" | "delete" | "put";
/** The methods each path serves, by the generated types (openapi-typescript writes `put?: never` for one it does not). */
type Served = { [P in keyof paths]: { [M in Method as [NonNullable<paths[P][M]>] extends [never] ? never : M]: true } };

export const endpoints: Served = {
  "/functions/v1/events": { get: true, post: true },
  "/functions/v1/events/watchers": { get: true },
  "/functions/v1/events/webhook": { post: true },
  "/functions/v1/events/{id}": { get: true },
  "/functions/v1/health": { get: true },
  "/functions/v1/health/capabilities": { get: true },
  "/functions/v1/logs": { get: true },
  "/functions/v1/metrics": { get: true },
  "/functions/v1/notion/disable": { post: true },
  "/functions/v1/notion/enable": { post: true },
  "/functions/v1/notion/pull": { post: true },
  "/functions/v1/notion/status": { get: true },
  "/functions/v1/notion/webhook": { post: true },
  "/functions/v1/notion/webhook/verification": { delete: true, post: true },
  "/functions/v1/openapi": { get: true },
  "/functions/v1/openapi/openapi.json": { get: true },
  "/functions/v1/rules": { get: true, post: true },
  "/functions/v1/rules/{id}": { delete: true, get: true, patch: true },
  "/functions/v1/schedules": { get: true, post: true },
  "/functions/v1/schedules/settings": { get: true, patch: true },
  "/functions/v1/schedules/{name}": { delete: true, get: true, patch: true },
  "/functions/v1/schedules/{name}/run": { post: true },
  "/functions/v1/schedules/{name}/runs": { get: true },
  "/functions/v1/sops": { get: true },
  "/functions/v1/sops/{slug}": { get: true },
  "/functions/v1/sync/status": { get: true },
  "/functions/v1/task-worker": { post: true },
  "/functions/v1/tasks": { get: true, post: true },
  "/functions/v1/tasks/generate-sop": { post: true },
  "/functions/v1/tasks/{id}": { get: true },
  "/functions/v1/tasks/{id}/cancel": { post: true },
  "/functions/v1/tasks/{id}/retry": { post: true },
  "/functions/v1/tickets": { get: true, post: true },
  "/functions/v1/tickets/{id}": { get: true, patch: true },
  "/functions/v1/webhooks": { get: true, post: true },
  "/functions/v1/webhooks/{id}": { delete: true, get: true },
  "/functions/v1/webhooks/{id}/deliveries": { get: true },
  "/functions/v1/webhooks/{id}/test": { post: true },
  "/functions/v1/workflows": { get: true, post: true },
  "/functions/v1/workflows/{name}": { delete: true, get: true, patch: true },
  "/functions/v1/workflows/{name}/runs": { get: true, post: true },
  "/functions/v1/workflows/{name}/runs/{id}": { get: true },
  "/functions/v1/workflows/{name}/runs/{id}/cancel": { post: true },
  "/functions/v1/workflows/{name}/runs/{id}/rerun": { post: true },
  "/functions/v1/workflows/{name}/runs/{id}/steps/{step}/approve": { post: true },
  "/functions/v1/workflows/{name}/runs/{id}/steps/{step}/reject": { post: true },
};
