// GET /health: liveness for anyone; the full report for service-key callers.
import { healthReport } from "../_shared/health.ts";
import { isServiceRequest, json } from "../_shared/http.ts";
import { defineFunction } from "../_shared/router.ts";

export default defineFunction("health", [
  {
    method: "GET",
    path: "/",
    public: true,
    handler: async ({ req }) => {
      const report = await healthReport();
      const code = report.db.ok ? 200 : 503;
      return json(code, isServiceRequest(req) ? report : { status: report.status });
    },
  },
]);
