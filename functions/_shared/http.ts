// HTTP plumbing shared by every function: JSON responses, the error shape,
// bounded body reading, and the service-key check.
import { z } from "zod";
import { AppError, badRequest, payloadTooLarge, unauthorized, unsupportedMediaType, validationError } from "./errors.ts";
import { serviceKeys, settings } from "./env.ts";
import type { Logger } from "./logger.ts";

export const CORS_HEADERS: Record<string, string> = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers": "authorization, x-client-info, apikey, content-type, x-request-id",
  "access-control-allow-methods": "GET, POST, PATCH, DELETE, OPTIONS",
};

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...CORS_HEADERS, ...headers },
  });
}

export function text(status: number, body: string, contentType: string): Response {
  return new Response(body, { status, headers: { "content-type": contentType, ...CORS_HEADERS } });
}

/** Maps any thrown value to the error shape; unexpected errors are logged and never leak internals. */
export function errorResponse(err: unknown, log: Logger, requestId: string): Response {
  if (err instanceof AppError) {
    const body: Record<string, unknown> = { code: err.code, message: err.message };
    if (err.details !== undefined) body.details = err.details;
    return json(err.status, { error: body, request_id: requestId });
  }
  const pgCode = (err as { code?: string })?.code;
  // Invalid values the database caught (bad parameter, text/date/number format, check constraint,
  // NUL bytes or unencodable characters): the caller's input, so a 400.
  if (["22023", "22P02", "22007", "22008", "23514", "22021", "22P05", "22003", "22001"].includes(pgCode ?? "")) {
    return json(400, { error: { code: "bad_request", message: (err as Error).message }, request_id: requestId });
  }
  if (pgCode === "23505") {
    return json(409, { error: { code: "conflict", message: (err as Error).message }, request_id: requestId });
  }
  if (pgCode === "57014") {
    return json(503, { error: { code: "timeout", message: "The database took too long to answer; try again." }, request_id: requestId });
  }
  log.error("unhandled error", { error: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err) });
  return json(500, {
    error: { code: "internal", message: `Unexpected error; the logs carry request_id ${requestId}.` },
    request_id: requestId,
  });
}

function presentedKey(req: Request): string | undefined {
  const auth = req.headers.get("authorization");
  const bearer = auth?.match(/^Bearer\s+(.+)$/i)?.[1]?.trim();
  return bearer || req.headers.get("apikey")?.trim() || undefined;
}

function timingSafeEqual(a: string, b: string): boolean {
  const ea = new TextEncoder().encode(a);
  const eb = new TextEncoder().encode(b);
  let diff = ea.length ^ eb.length;
  for (let i = 0; i < Math.max(ea.length, eb.length); i++) diff |= (ea[i] ?? 0) ^ (eb[i] ?? 0);
  return diff === 0;
}

export function isServiceRequest(req: Request): boolean {
  const presented = presentedKey(req);
  if (!presented) return false;
  // When the gateway passes the anon key as Bearer and the secret key as apikey (new key format), accept either.
  const candidates = [presented, req.headers.get("apikey")?.trim()].filter((v): v is string => !!v);
  return serviceKeys().some((key) => candidates.some((c) => timingSafeEqual(c, key)));
}

export function requireServiceKey(req: Request): void {
  if (presentedKey(req) === undefined) {
    throw unauthorized("Missing API key: send the service role key as `Authorization: Bearer <key>` or an `apikey` header.");
  }
  if (!isServiceRequest(req)) {
    throw unauthorized("Invalid API key: this endpoint needs the service role (secret) key, not the anon key.");
  }
}

/**
 * The raw body, at most maxBytes: a declared or streamed size over the limit is a 413
 * before the rest is read. Signature checks need these exact bytes.
 */
export async function readRawBody(req: Request, maxBytes = settings.maxBodyBytes, overLimitHint = ""): Promise<Uint8Array> {
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw payloadTooLarge(`Body is ${declared} bytes; the limit is ${maxBytes} bytes.${overLimitHint}`);
  }
  const type = req.headers.get("content-type");
  // curl sends form-urlencoded by default; we parse any body as JSON except real multipart forms.
  if (type && /^multipart\//i.test(type)) {
    throw unsupportedMediaType(`Send the body as application/json (got ${type}).`);
  }
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw payloadTooLarge(`Body is over the limit of ${maxBytes} bytes.${overLimitHint}`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.byteLength;
  }
  return bytes;
}

/** Parses bytes as JSON (empty -> undefined); malformed JSON is a 400 saying where. */
export function parseJsonBytes(bytes: Uint8Array): unknown {
  const raw = new TextDecoder().decode(bytes);
  if (raw.trim() === "") return undefined;
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw badRequest(`Body is not valid JSON: ${(err as Error).message}`);
  }
}

/** Reads at most maxBytes of the body and parses it as JSON (empty body -> undefined). */
export async function readJson(req: Request, maxBytes = settings.maxBodyBytes): Promise<unknown> {
  return parseJsonBytes(await readRawBody(req, maxBytes));
}

export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(result.error, what);
  return result.data;
}

export async function parseBody<S extends z.ZodType>(req: Request, schema: S): Promise<z.infer<S>> {
  return parseWith(schema, await readJson(req), "body");
}

export function parseQuery<S extends z.ZodType>(url: URL, schema: S): z.infer<S> {
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) {
    // Postgres text cannot hold NUL: refuse it here with a message, not deep in a query.
    if (v.includes("\u0000") || k.includes("\u0000")) throw badRequest(`Query parameter "${k.split("\u0000").join("")}" contains a NUL character.`);
    query[k] = v;
  }
  return parseWith(schema, query, "query");
}
