// GET /sync/status: the sync status under the name the design uses (same report as GET /notion/status).
import { syncStatus } from "../_shared/notion/service.ts";
import { defineFunction } from "../_shared/router.ts";

export default defineFunction("sync", [{ method: "GET", path: "/status", summary: "Notion sync status", handler: () => syncStatus() }]);
