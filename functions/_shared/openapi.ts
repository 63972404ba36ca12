// The OpenAPI 3.1 document, built from the functions' route tables: each route's declared body, query,
// params and response schemas are the zod objects its handler parses with (router.ts, Route), turned
// into JSON Schema 2020-12 (OpenAPI 3.1's dialect) by zod 4's own z.toJSONSchema. `npm run openapi`
// writes it to docs/openapi.json; the openapi function serves that file.
import { z } from "zod";
import { errorShape } from "./error-shape.ts";
import type { FunctionTable, Route, RouteResponse } from "./router.ts";
import { taskCatalog, testChaosSpec } from "./task-catalog.ts";

type Json = Record<string, unknown>;

/** Request and response bodies are shown as they are on the wire: z.input (a timestamp is its ISO string). */
function jsonSchema(schema: z.ZodType): Json {
  // unrepresentable "any": a refinement or transform zod cannot express is documented by its input shape.
  const out = z.toJSONSchema(schema, { io: "input", unrepresentable: "any", target: "draft-2020-12" }) as Json;
  delete out.$schema;
  return out;
}

// The error shape's JSON Schema comes from its zod object (error-shape.ts), once, as components.schemas.Error.
const errorRef = (description: string) => ({ description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } });

const STATUS_TEXT: Record<number, string> = {
  200: "OK", 201: "Created", 202: "Accepted", 204: "No content", 404: "Not found", 409: "Conflict: the state does not allow it",
  413: "Body too large", 503: "Unavailable",
};

function response(status: number, r: RouteResponse): Json {
  if (r === errorShape) return errorRef(STATUS_TEXT[status] ?? "An error");
  if (r instanceof z.ZodType) return { description: STATUS_TEXT[status] ?? String(status), content: { "application/json": { schema: jsonSchema(r) } } };
  return { description: r.description ?? STATUS_TEXT[status] ?? String(status), content: { [r.contentType]: { schema: r.schema ? jsonSchema(r.schema) : { type: "string" } } } };
}

function operation(fn: string, route: Route): Json {
  const params: Json[] = [];
  for (const [name, schema] of Object.entries(route.params ?? {})) params.push({ name, in: "path", required: true, schema: jsonSchema(schema) });
  if (route.query) {
    const q = jsonSchema(route.query);
    const required = new Set((q.required as string[] | undefined) ?? []);
    for (const [name, schema] of Object.entries((q.properties as Record<string, Json> | undefined) ?? {})) {
      params.push({ name, in: "query", required: required.has(name), schema });
    }
  }
  const responses: Json = {};
  for (const [status, r] of Object.entries(route.responses ?? {})) responses[status] = response(Number(status), r);
  if (!Object.keys(responses).some((s) => s.startsWith("2"))) {
    responses["200"] = { description: "OK", content: { "application/json": { schema: { type: "object" } } } };
  }
  if (route.body || route.query || route.params) responses["400"] = errorRef("Invalid input: the message names the field");
  if (!route.public) responses["401"] = errorRef("No key, a wrong key, or a public key (anon, publishable): this endpoint needs the service key");
  responses.default = errorRef("An error, in the one error shape");
  const op: Json = {
    operationId: `${route.method.toLowerCase()}_${fn}${route.path.replace(/\/:?/g, "_").replace(/[^A-Za-z0-9_]/g, "_").replace(/_+$/, "")}`,
    tags: [fn],
    summary: route.summary ?? `${route.method} /${fn}${route.path === "/" ? "" : route.path}`,
    parameters: params.length ? params : undefined,
    requestBody: route.body
      ? { required: !route.body.safeParse(undefined).success, content: { "application/json": { schema: jsonSchema(route.body) } } }
      : undefined,
    responses,
    // Public routes take a public key or none; every other route one of the two service-key schemes.
    security: route.public ? [{}, { publishableKey: [] }, { anonKey: [] }, { secretKey: [] }, { serviceRoleKey: [] }] : undefined,
  };
  return JSON.parse(JSON.stringify(op));
}

/** The path of a route as the gateway serves it: /functions/v1/<function><path>, ":id" as "{id}". */
export const openApiPath = (fn: string, path: string) => `/functions/v1/${fn}${path === "/" ? "" : path.replace(/:(\w+)/g, "{$1}")}`;

/**
 * Each task type's payload schema (the catalog's, which POST /tasks checks a payload against), keyed by type:
 * the typed client reads it to type a task's payload by its type. test.chaos, a test-only type, is left out.
 */
function taskPayloads(): Json {
  const types = Object.entries(taskCatalog).filter(([, spec]) => spec !== testChaosSpec).sort(([a], [b]) => a.localeCompare(b));
  return {
    type: "object",
    description: "The payload of each task type (POST /tasks checks `payload` against its type's schema).",
    properties: Object.fromEntries(types.map(([type, spec]) => [type, { ...jsonSchema(spec.payload), description: spec.description }])),
    required: types.map(([type]) => type),
  };
}

export function buildOpenApi(functions: Pick<FunctionTable, "name" | "routes">[], version: string): Json {
  const paths: Record<string, Json> = {};
  for (const fn of [...functions].sort((a, b) => a.name.localeCompare(b.name))) {
    for (const route of fn.routes) {
      const path = openApiPath(fn.name, route.path);
      const method = route.method.toLowerCase();
      if (route.hidden) continue;
      (paths[path] ??= {})[method] = operation(fn.name, route);
    }
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "SugarStudio Orchestrator",
      version,
      description: "Supabase Edge Functions over Postgres: tasks, logs, events, rules, tickets, SOPs, schedules, workflows, Notion sync, webhooks, metrics. " +
        "Generated from the route tables' zod schemas (npm run openapi). Every error is {error: {code, message, details?}, request_id}.",
    },
    servers: [{ url: "{project_url}", variables: { project_url: { default: "http://127.0.0.1:54321", description: "The project URL (SUPABASE_URL); the local stack's by default." } } }],
    security: [{ secretKey: [] }, { serviceRoleKey: [] }],
    paths,
    components: {
      schemas: { Error: jsonSchema(errorShape), TaskPayloads: taskPayloads() },
      securitySchemes: {
        secretKey: { type: "apiKey", in: "header", name: "apikey", description: "The new system's secret key, sb_secret_… (not a JWT). The legacy service_role JWT is accepted here too." },
        serviceRoleKey: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "The legacy service_role key (a JWT) as Authorization: Bearer." },
        publishableKey: { type: "apiKey", in: "header", name: "apikey", description: "The new system's publishable key, sb_publishable_…: opens public routes only (/health, /openapi)." },
        anonKey: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "The legacy anon key (a JWT): opens public routes only." },
      },
    },
  };
}
