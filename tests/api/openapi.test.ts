// The OpenAPI 3.1 document: generated from the route tables (a drift of docs/openapi.json fails here),
// valid by a maintained OpenAPI 3.1 validator, served by the openapi function unchanged.
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { openApiPath } from "../../functions/_shared/openapi.ts";
import type { FunctionTable } from "../../functions/_shared/router.ts";
import { generateOpenApi, OPENAPI_FILE, servedFunctions } from "../../scripts/openapi.ts";
import { http } from "../helpers/stack.ts";

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: unknown; responses: Record<string, unknown>; security?: unknown[] }>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, { type: string; in?: string; name?: string; scheme?: string }> };
};
const committed = (): Doc => JSON.parse(readFileSync(OPENAPI_FILE, "utf8"));

async function validate(doc: unknown) {
  const validator = new Validator();
  const result = await validator.validate(doc as Parameters<Validator["validate"]>[0]);
  return { version: validator.version, ...result };
}

describe("OpenAPI document", () => {
  it("docs/openapi.json is what `npm run openapi` generates from the route tables now", async () => {
    expect(readFileSync(OPENAPI_FILE, "utf8"), "docs/openapi.json is stale: run npm run openapi and commit it").toBe(await generateOpenApi());
  });

  it("is valid OpenAPI 3.1 (@seriousme/openapi-schema-validator)", async () => {
    const result = await validate(committed());
    expect(result.errors).toBeUndefined();
    expect(result).toMatchObject({ valid: true, version: "3.1" });
    // The validator does refuse a broken document (so the check above can fail).
    const broken = structuredClone(committed());
    broken.paths["/functions/v1/tasks"].get.parameters![0].in = "body"; // OpenAPI 2's, not a 3.1 location
    expect((await validate(broken)).valid).toBe(false);
  });

  it("has every route of every served function, its path parameters, query parameters and body", async () => {
    const doc = committed();
    let operations = 0;
    for (const name of servedFunctions()) {
      const table = (await import(`../../functions/${name}/index.ts`)).default as FunctionTable;
      for (const route of table.routes.filter((r) => !r.hidden)) {
        const op = doc.paths[openApiPath(name, route.path)]?.[route.method.toLowerCase()];
        expect(op, `${route.method} ${name}${route.path}`).toBeDefined();
        operations++;
        const pathParams = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]);
        expect(op.parameters?.filter((p) => p.in === "path").map((p) => p.name) ?? [], `${name}${route.path} declares its params`).toEqual(pathParams);
        const queryNames = Object.keys((route.query as z.ZodObject | undefined)?.shape ?? {});
        expect(op.parameters?.filter((p) => p.in === "query").map((p) => p.name) ?? [], `${name}${route.path} query`).toEqual(queryNames);
        expect(Boolean(op.requestBody), `${name}${route.path} body`).toBe(Boolean(route.body));
        expect(op.responses.default).toEqual({ description: expect.any(String), content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } });
        if (!route.public) {
          expect(op.responses["401"]).toBeDefined();
          expect(op.security).toBeUndefined(); // the document's default: a service key
        } else {
          expect(op.security).toContainEqual({});
        }
      }
    }
    expect(operations).toBe(Object.values(doc.paths).reduce((n, p) => n + Object.keys(p).length, 0));
    expect(operations).toBeGreaterThan(55);
    const byName = (q: string) => doc.paths["/functions/v1/tasks"].get.parameters!.some((p) => p.name === q && p.in === "query");
    for (const q of ["status", "type", "since", "until", "limit", "cursor"]) expect(byName(q), q).toBe(true);
  });

  it("describes the error shape and both key systems as security schemes", () => {
    const doc = committed();
    expect(doc.components.schemas.Error).toMatchObject({
      type: "object", required: ["error", "request_id"],
      properties: { error: { properties: { code: { type: "string" }, message: { type: "string" }, details: {} } }, request_id: { type: "string" } },
    });
    const s = doc.components.securitySchemes;
    expect(s.secretKey).toMatchObject({ type: "apiKey", in: "header", name: "apikey" });
    expect(s.publishableKey).toMatchObject({ type: "apiKey", in: "header", name: "apikey" });
    expect(s.serviceRoleKey).toMatchObject({ type: "http", scheme: "bearer" });
    expect(s.anonKey).toMatchObject({ type: "http", scheme: "bearer" });
    const bulk = JSON.stringify(doc.paths["/functions/v1/tasks"].post.requestBody);
    expect(bulk).toContain('"maxItems":1000');
  });

  it("is served at /functions/v1/openapi and /functions/v1/openapi/openapi.json, without a key, identical to the committed file and valid", async () => {
    for (const path of ["/openapi", "/openapi/openapi.json"]) {
      const res = await http(path, { key: "none" });
      expect(res.status).toBe(200);
      const served = await res.json();
      expect(served).toEqual(committed());
      expect((await validate(served)).valid).toBe(true);
    }
  });
});
