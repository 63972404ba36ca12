// Turns a function's route table into `export default { fetch }`: request id,
// key check, sub-path routing, error shape, and log flushing in one place.
import type { z } from "zod";
import { badRequest, methodNotAllowed, notFound } from "./errors.ts";
import { CORS_HEADERS, errorResponse, isServiceRequest, json, requireServiceKey } from "./http.ts";
import { createLogger, flushLogsSoon, type Logger } from "./logger.ts";
import { formatTraceparent, runInTrace, type TraceContext, traceFromHeader } from "./trace.ts";

export interface RouteContext {
  req: Request;
  url: URL;
  params: Record<string, string>;
  log: Logger;
  requestId: string;
  /** The caller's W3C trace (its `traceparent`), or a new one: the handler runs under it (trace.ts). */
  trace: TraceContext;
}

export interface Route {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  /** Relative to the function: "/", "/:id", "/:id/cancel". */
  path: string;
  /** Public routes skip the service-key check (only /health). */
  public?: boolean;
  handler: (ctx: RouteContext) => Promise<Response | unknown> | Response | unknown;
  // What the OpenAPI document says of the route (functions/_shared/openapi.ts builds it from these, so
  // docs/openapi.json is the route tables'): the very schema objects the handler parses with.
  /** One line for the document. */
  summary?: string;
  /** Not an operation of its own (a route that only says which method to use): left out of the document. */
  hidden?: boolean;
  /** The JSON body's schema (the one parseBody is given). */
  body?: z.ZodType;
  /** The query's schema (the one parseQuery is given). */
  query?: z.ZodType;
  /** Each ":name" segment's schema (the one parseWith is given). */
  params?: Record<string, z.ZodType>;
  /** The answers by status: a zod schema of the JSON body, or another content type (text, markdown). */
  responses?: Record<number, RouteResponse>;
}

export type RouteResponse = z.ZodType | { contentType: string; description?: string; schema?: z.ZodType };

/** What defineFunction gives: the handler the runtime calls, and its route table for the OpenAPI document. */
export interface FunctionTable {
  name: string;
  routes: Route[];
  fetch(req: Request): Promise<Response>;
}

export interface PathSegments {
  /** The segments after the function's name, percent-decoded (a malformed one is kept as sent). */
  segments: string[];
  /** The first segment that is not valid percent-encoded UTF-8 ("%E0", "%ZZ", "%"), if any. */
  malformed?: string;
}

/** Splits "/functions/v1/tasks/7/cancel" or "/tasks/7/cancel" into ["7", "cancel"]; never throws. */
export function pathSegments(pathname: string, functionName: string): PathSegments {
  const raw = pathname.split("/").filter(Boolean);
  const at = raw.indexOf(functionName);
  const rest = at >= 0 ? raw.slice(at + 1) : raw;
  let malformed: string | undefined;
  const segments = rest.map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      malformed ??= s;
      return s;
    }
  });
  return { segments, malformed };
}

function malformedPath(segment: string) {
  return badRequest(
    `The path segment "${segment.slice(0, 100)}" is not valid percent-encoding (a % must start a UTF-8 byte like %C3%A9); ` +
      "encode each segment with encodeURIComponent.",
  );
}

/** The sub-path after the function's name: "/functions/v1/tasks/7/cancel" and "/tasks/7/cancel" both give "/7/cancel". 400 when malformed. */
export function subPath(pathname: string, functionName: string): string {
  const { segments, malformed } = pathSegments(pathname, functionName);
  if (malformed !== undefined) throw malformedPath(malformed);
  return "/" + segments.join("/");
}

// Matched segment by segment, so a decoded "/" inside a segment (%2F) stays part of that segment's value.
function match(pattern: string, segments: string[]): Record<string, string> | undefined {
  const p = pattern.split("/").filter(Boolean);
  if (p.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(":")) params[p[i].slice(1)] = segments[i];
    else if (p[i] !== segments[i]) return undefined;
  }
  return params;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

export function defineFunction(name: string, routes: Route[]): FunctionTable {
  return {
    name,
    routes,
    async fetch(req: Request): Promise<Response> {
      const offered = req.headers.get("x-request-id");
      const requestId = offered && REQUEST_ID.test(offered) ? offered : crypto.randomUUID();
      // A malformed traceparent is ignored, as the spec says: the request starts a new trace.
      const trace = traceFromHeader(req.headers.get("traceparent"));
      const log = createLogger({ component: name, requestId, traceId: trace.traceId });
      if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: CORS_HEADERS });
      let response: Response;
      try {
        const url = new URL(req.url);
        const { segments, malformed } = pathSegments(url.pathname, name);
        const path = "/" + segments.join("/");
        const candidates = routes.map((r) => ({ r, params: match(r.path, segments) })).filter((c) => c.params);
        const hit = candidates.find((c) => c.r.method === req.method);
        // The key is checked before anything about the path is said: a caller without it learns only "401".
        // (A malformed segment never matches a public route's fixed segments, so it always gets here.)
        if (!hit?.r.public) requireServiceKey(req);
        if (malformed !== undefined) throw malformedPath(malformed);
        if (!hit) {
          if (candidates.length) {
            throw methodNotAllowed(`${req.method} is not allowed on ${path}; use ${candidates.map((c) => c.r.method).join(", ")}.`);
          }
          throw notFound(`No route ${req.method} ${path} in function ${name}.`);
        }
        const out = await runInTrace(trace, () => hit.r.handler({ req, url, params: hit.params!, log, requestId, trace }));
        response = out instanceof Response ? out : json(200, out);
      } catch (err) {
        // Public routes serve callers without the key: what they trigger is logged sampled (errorResponse).
        response = errorResponse(err, log, requestId, { authenticated: isServiceRequest(req) });
      }
      response.headers.set("x-request-id", requestId);
      // Trace Context Level 2: tells a caller that sent no traceparent which trace its request started.
      response.headers.set("traceresponse", formatTraceparent(trace.traceId, trace.spanId, trace.flags));
      await flushLogsSoon();
      return response;
    },
  };
}
