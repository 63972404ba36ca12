// HTTP plumbing shared by every function: JSON responses, the error shape,
// bounded body reading, and the service-key check.
import { z } from "zod";
import { parseMediaType } from "deno-std/media_types/parse_media_type.js";
import { AppError, badRequest, payloadTooLarge, requestTimeout, unauthorized, unsupportedMediaType, validationError } from "./errors.ts";
import { publicKeys, serviceKeys, settings } from "./env.ts";
import { formatJsonPath, jsonShapeProblem, MAX_JSON_DEPTH } from "./json-shape.ts";
import type { Logger } from "./logger.ts";

export const CORS_HEADERS: Record<string, string> = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers": "authorization, x-client-info, apikey, content-type, x-request-id, traceparent, tracestate",
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

/**
 * Maps any thrown value to the error shape; unexpected errors are logged and never leak internals.
 * `authenticated: false` (a caller without the key): the log row is sampled, so such callers cannot
 * turn requests into stored rows.
 */
export function errorResponse(err: unknown, log: Logger, requestId: string, opts: { authenticated?: boolean } = {}): Response {
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
  const error = err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err);
  if (opts.authenticated === false) {
    log.sampled("error", `unhandled:${log.fields.component}:${err instanceof Error ? err.name : typeof err}`, "unhandled error (unauthenticated request; sampled)", { error });
  } else {
    log.error("unhandled error", { error });
  }
  return json(500, {
    error: { code: "internal", message: `Unexpected error; the logs carry request_id ${requestId}.` },
    request_id: requestId,
  });
}

/** The keys a request carries: the `Authorization: Bearer` token and the `apikey` header (supabase-js sends both). */
function presentedKeys(req: Request): string[] {
  const bearer = req.headers.get("authorization")?.match(/^Bearer\s+(.+)$/i)?.[1]?.trim();
  return [...new Set([bearer, req.headers.get("apikey")?.trim()].filter((v): v is string => !!v))];
}

function timingSafeEqual(a: string, b: string): boolean {
  const ea = new TextEncoder().encode(a);
  const eb = new TextEncoder().encode(b);
  let diff = ea.length ^ eb.length;
  for (let i = 0; i < Math.max(ea.length, eb.length); i++) diff |= (ea[i] ?? 0) ^ (eb[i] ?? 0);
  return diff === 0;
}

const matchesAny = (presented: string[], keys: string[]) => keys.some((key) => presented.some((p) => timingSafeEqual(p, key)));

/**
 * Does the request carry a service key, in either header? Either header counts because both key systems
 * arrive this way: a legacy service_role JWT as Bearer (and as apikey from supabase-js); a new
 * `sb_secret_…` key, which is not a JWT, as apikey (supabase-js also repeats it as Bearer; a caller with a
 * user's JWT as Bearer and the secret key as apikey is a service caller too).
 */
export function isServiceRequest(req: Request): boolean {
  const presented = presentedKeys(req);
  return presented.length > 0 && matchesAny(presented, serviceKeys());
}

export function requireServiceKey(req: Request): void {
  const presented = presentedKeys(req);
  if (presented.length === 0) {
    throw unauthorized("Missing API key: send the secret key (sb_secret_…) as an `apikey` header, or the legacy service_role key as `Authorization: Bearer <key>`.");
  }
  if (matchesAny(presented, serviceKeys())) return;
  if (matchesAny(presented, publicKeys())) {
    throw unauthorized("This is the project's public key (publishable or anon), which opens only /health: this endpoint needs the service role (secret) key, not the anon key or the publishable key. Send the secret key (sb_secret_…) as `apikey`, or the legacy service_role key.");
  }
  throw unauthorized("Invalid API key: not a key of this project. This endpoint needs the service role (secret) key: the secret key (sb_secret_…) as `apikey`, or the legacy service_role key as `Authorization: Bearer <key>`.");
}

// application/json and the structured-syntax +json types (application/merge-patch+json, application/vnd.x+json…).
const JSON_MEDIA_TYPE = /^application\/(?:[a-z0-9!#$&^_.-]+\+)?json$/;

/**
 * Every body this API takes is JSON, so a declared content type must say so: a text/plain, XML or image body
 * is refused rather than guessed at. No content type at all is taken as JSON (fetch with bytes, and some
 * HTTP clients, send none). curl -d sends application/x-www-form-urlencoded, so that one gets a hint.
 */
export function requireJsonContentType(header: string | null): void {
  if (header === null || header.trim() === "") return;
  let type: string;
  let params: Record<string, string> | undefined;
  try {
    [type, params] = parseMediaType(header);
  } catch {
    throw unsupportedMediaType(`Content-Type "${header.slice(0, 100)}" cannot be parsed; send content-type: application/json.`);
  }
  if (!JSON_MEDIA_TYPE.test(type)) {
    const hint = type === "application/x-www-form-urlencoded"
      ? " (curl -d sends that unless you add -H 'content-type: application/json')"
      : type === "text/plain"
      ? " (fetch sends that for a string body: set the header; supabase-js sets it when the body is an object)"
      : "";
    throw unsupportedMediaType(`The body must be JSON: send content-type: application/json; this request says ${type.slice(0, 100)}${hint}.`);
  }
  const charset = params?.charset?.toLowerCase();
  if (charset && charset !== "utf-8" && charset !== "utf8") {
    throw unsupportedMediaType(`JSON bodies are UTF-8: send charset=utf-8 or no charset (this request says charset=${charset.slice(0, 40)}).`);
  }
}

/** One read that gives up after idleMs without bytes (408); a connection the client dropped is a quiet 400, not a crash. */
async function readChunk(reader: ReadableStreamDefaultReader<Uint8Array>, idleMs: number): Promise<ReadableStreamReadResult<Uint8Array>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const idle = new Promise<"idle">((resolve) => {
    timer = setTimeout(() => resolve("idle"), idleMs);
  });
  try {
    const out = await Promise.race([reader.read(), idle]);
    if (out === "idle") {
      reader.cancel().catch(() => {});
      throw requestTimeout(`No body bytes arrived for ${idleMs / 1000} s; send the whole body at once (its Content-Length must match what you send).`);
    }
    return out;
  } catch (err) {
    if (err instanceof AppError) throw err;
    // The client went away mid-body (Deno: BadResource / connection closed). Nobody is left to read the
    // answer; it must not become an "unhandled error" log row either.
    throw new AppError(400, "body_incomplete", "The request body ended before it was complete (the connection closed); send it again.");
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The raw body, at most maxBytes: a declared or streamed size over the limit is a 413
 * before the rest is read. Signature checks need these exact bytes. A declared content
 * type must be JSON (415), and a sender that stops sending is cut off (408).
 */
export async function readRawBody(req: Request, maxBytes = settings.maxBodyBytes, overLimitHint = ""): Promise<Uint8Array> {
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw payloadTooLarge(`Body is ${declared} bytes; the limit is ${maxBytes} bytes.${overLimitHint}`);
  }
  const type = req.headers.get("content-type");
  // A declared non-empty body of the wrong type is refused before it is read; an empty one is no body at all.
  if (Number.isFinite(declared) && declared > 0) requireJsonContentType(type);
  if (!req.body) return new Uint8Array(0);
  const idleMs = settings.bodyIdleTimeoutMs;
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await readChunk(reader, idleMs);
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      reader.cancel().catch(() => {});
      throw payloadTooLarge(`Body is over the limit of ${maxBytes} bytes.${overLimitHint}`);
    }
    chunks.push(value);
  }
  if (size > 0) requireJsonContentType(type);
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.byteLength;
  }
  return bytes;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses bytes as JSON (empty -> undefined). Refused with a 400 saying where: bytes that are not
 * UTF-8 (never silently replaced by U+FFFD), malformed JSON, nesting deeper than MAX_JSON_DEPTH,
 * and strings Postgres cannot store (NUL, lone surrogates). Checked here, in the one parser every
 * body goes through, before any code recurses over the value or sends it to the database.
 */
export function parseJsonBytes(bytes: Uint8Array): unknown {
  let raw: string;
  try {
    raw = utf8.decode(bytes);
  } catch {
    throw new AppError(400, "invalid_utf8", "Body is not valid UTF-8: send the JSON encoded as UTF-8.");
  }
  if (raw.trim() === "") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw badRequest(`Body is not valid JSON: ${(err as Error).message}`);
  }
  const problem = jsonShapeProblem(value);
  if (problem) {
    const at = formatJsonPath(problem.path);
    const details = { path: problem.path.map(String), max_depth: MAX_JSON_DEPTH };
    if (problem.kind === "too_deep") {
      throw new AppError(400, "too_deep", `Body is nested deeper than ${MAX_JSON_DEPTH} levels at ${at}; flatten it (objects and arrays may nest ${MAX_JSON_DEPTH} levels).`, details);
    }
    const what = problem.kind === "nul" ? "a NUL character (\\u0000)" : "a lone UTF-16 surrogate (half of an emoji or other character)";
    throw new AppError(400, "invalid_string", `${at} contains ${what}, which cannot be stored; remove it or send the whole character.`, { path: details.path });
  }
  return value;
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
