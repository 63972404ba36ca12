// /sops: stored Standard Operating Procedures. GET /sops lists versions
// (filters, cursor); GET /sops/:slug reads the latest version, or ?version=n,
// as JSON or (format=md) as Markdown. New versions come from POST /tasks/generate-sop.
import { parseQuery, parseWith, text } from "../_shared/http.ts";
import { defineFunction } from "../_shared/router.ts";
import { errorShape } from "../_shared/error-shape.ts";
import { sopPageSchema, sopSchema } from "../_shared/sops/responses.ts";
import { getSopQuery, listSopsQuery, sopSlugParam } from "../_shared/sops/schema.ts";
import { listStoredSops, readSop } from "../_shared/sops/service.ts";

export default defineFunction("sops", [
  { method: "GET", path: "/", summary: "List stored SOP versions", query: listSopsQuery, responses: { 200: sopPageSchema }, handler: ({ url }) => listStoredSops(parseQuery(url, listSopsQuery)) },
  {
    method: "GET",
    path: "/:slug",
    summary: "One SOP (latest or ?version=n), JSON or Markdown",
    params: { slug: sopSlugParam },
    query: getSopQuery,
    responses: { 200: sopSchema, 404: errorShape },
    handler: async ({ url, params }) => {
      const slug = parseWith(sopSlugParam, params.slug, "SOP slug");
      const query = parseQuery(url, getSopQuery);
      const sop = await readSop(slug, query.version);
      if (query.format === "md") return text(200, sop.body_md, "text/markdown; charset=utf-8");
      return sop;
    },
  },
]);
