// GET /metrics (service key): Prometheus text exposition of the queue, workers, buckets and schedules.
import { text } from "../_shared/http.ts";
import { metricsSnapshot, renderMetrics } from "../_shared/metrics.ts";
import { defineFunction } from "../_shared/router.ts";

export default defineFunction("metrics", [
  {
    method: "GET",
    path: "/",
    summary: "Prometheus text exposition (service key only)",
    responses: { 200: { contentType: "text/plain; version=0.0.4", description: "Prometheus text format" } },
    handler: async () => {
      const { body, contentType } = await renderMetrics(await metricsSnapshot());
      return text(200, body, contentType);
    },
  },
]);
