// GET /logs: filtered, paged logs as JSON, NDJSON or Markdown.
import { parseQuery, text } from "../_shared/http.ts";
import { listLogs, logsAsMarkdown, logsAsNdjson } from "../_shared/logs.ts";
import { defineFunction } from "../_shared/router.ts";
import { logPageSchema } from "../_shared/responses.ts";
import { listLogsQuery } from "../_shared/schemas.ts";

export default defineFunction("logs", [
  {
    method: "GET",
    path: "/",
    summary: "Logs, filtered and paged: JSON, NDJSON or Markdown (format)",
    query: listLogsQuery,
    responses: { 200: logPageSchema },
    handler: async ({ url }) => {
      const query = parseQuery(url, listLogsQuery);
      const page = await listLogs(query);
      if (query.format === "ndjson") return text(200, logsAsNdjson(page.logs), "application/x-ndjson");
      if (query.format === "md") return text(200, logsAsMarkdown(page.logs), "text/markdown; charset=utf-8");
      return page;
    },
  },
]);
