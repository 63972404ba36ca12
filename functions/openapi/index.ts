// GET /openapi (and /openapi/openapi.json): the OpenAPI 3.1 document of this API, docs/openapi.json as
// `npm run openapi` generated it from the route tables. Public: it describes the API and holds no secret.
import document from "../../docs/openapi.json" with { type: "json" };
import { json } from "../_shared/http.ts";
import { defineFunction } from "../_shared/router.ts";

const serve = () => json(200, document);

export default defineFunction("openapi", [
  { method: "GET", path: "/", public: true, summary: "This OpenAPI 3.1 document", handler: serve },
  { method: "GET", path: "/openapi.json", public: true, summary: "This OpenAPI 3.1 document", handler: serve },
]);
