// Turns a function's route table into `export default { fetch }`: request id,
// key check, sub-path routing, error shape, and log flushing in one place.
import { methodNotAllowed, notFound } from "./errors.ts";
import { CORS_HEADERS, errorResponse, json, requireServiceKey } from "./http.ts";
import { createLogger, flushLogsSoon, type Logger } from "./logger.ts";

export interface RouteContext {
  req: Request;
  url: URL;
  params: Record<string, string>;
  log: Logger;
  requestId: string;
}

export interface Route {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  /** Relative to the function: "/", "/:id", "/:id/cancel". */
  path: string;
  /** Public routes skip the service-key check (only /health). */
  public?: boolean;
  handler: (ctx: RouteContext) => Promise<Response | unknown> | Response | unknown;
}

/** The sub-path after the function's name: "/functions/v1/tasks/7/cancel" and "/tasks/7/cancel" both give "/7/cancel". */
export function subPath(pathname: string, functionName: string): string {
  const segments = pathname.split("/").filter(Boolean);
  const at = segments.indexOf(functionName);
  const rest = at >= 0 ? segments.slice(at + 1) : segments;
  return "/" + rest.map(decodeURIComponent).join("/");
}

function match(pattern: string, path: string): Record<string, string> | undefined {
  const p = pattern.split("/").filter(Boolean);
  const s = path.split("/").filter(Boolean);
  if (p.length !== s.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(":")) params[p[i].slice(1)] = s[i];
    else if (p[i] !== s[i]) return undefined;
  }
  return params;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

export function defineFunction(name: string, routes: Route[]): { fetch(req: Request): Promise<Response> } {
  return {
    async fetch(req: Request): Promise<Response> {
      const offered = req.headers.get("x-request-id");
      const requestId = offered && REQUEST_ID.test(offered) ? offered : crypto.randomUUID();
      const log = createLogger({ component: name, requestId });
      if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: CORS_HEADERS });
      let response: Response;
      try {
        const url = new URL(req.url);
        const path = subPath(url.pathname, name);
        const candidates = routes.map((r) => ({ r, params: match(r.path, path) })).filter((c) => c.params);
        const hit = candidates.find((c) => c.r.method === req.method);
        if (!hit?.r.public) requireServiceKey(req);
        if (!hit) {
          if (candidates.length) {
            throw methodNotAllowed(`${req.method} is not allowed on ${path}; use ${candidates.map((c) => c.r.method).join(", ")}.`);
          }
          throw notFound(`No route ${req.method} ${path} in function ${name}.`);
        }
        const out = await hit.r.handler({ req, url, params: hit.params!, log, requestId });
        response = out instanceof Response ? out : json(200, out);
      } catch (err) {
        response = errorResponse(err, log, requestId);
      }
      response.headers.set("x-request-id", requestId);
      await flushLogsSoon();
      return response;
    },
  };
}
