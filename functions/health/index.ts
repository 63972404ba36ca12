// GET /health: liveness for anyone; the full report for service-key callers.
// GET /health/capabilities (service key): which APIs this deployment serves and which integrations are configured.
import { capabilities } from "../_shared/capabilities.ts";
import { healthReport } from "../_shared/health.ts";
import { isServiceRequest, json, parseQuery } from "../_shared/http.ts";
import { capabilitiesQuery, capabilitiesSchema, type Capabilities, healthReportSchema } from "../_shared/responses.ts";
import { defineFunction } from "../_shared/router.ts";

export default defineFunction("health", [
  {
    method: "GET",
    path: "/",
    summary: "Liveness for anyone; the full report with the service key",
    responses: { 200: healthReportSchema, 503: healthReportSchema },
    public: true,
    handler: async ({ req }) => {
      const report = await healthReport();
      const code = report.db.ok ? 200 : 503;
      return json(code, isServiceRequest(req) ? report : { status: report.status });
    },
  },
  {
    method: "GET",
    path: "/capabilities",
    summary: "Which APIs this deployment serves, which integrations are configured",
    query: capabilitiesQuery,
    responses: { 200: capabilitiesSchema },
    handler: ({ url }): Promise<Capabilities> => {
      parseQuery(url, capabilitiesQuery);
      return capabilities();
    },
  },
]);
