// The gateway's verify_jwt check, as hosted Supabase applies it before a function with
// verify_jwt = true sees the request: a project JWT in `Authorization: Bearer`, either a legacy
// HS256 JWT signed with the project's JWT secret, or an asymmetric one (ES256, RS256) verifiable
// against the project's JWKS. The new API keys (`sb_publishable_…`, `sb_secret_…`) are not JWTs:
// such a function refuses them, wherever they are sent; only a function with verify_jwt = false,
// which checks the key itself, takes them. Also serves the JWKS document, as hosted Auth does at
// /auth/v1/.well-known/jwks.json.
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from "jose";

export interface GatewayKeys {
  /** The project's HS256 JWT secret (legacy keys); unset with no jwks either: any bearer token passes. */
  jwtSecret?: string;
  /** The project's public JWKS document (asymmetric JWTs). Unset: read from SUPABASE_JWKS. */
  jwks?: JSONWebKeySet;
}

export const JWKS_PATH = "/auth/v1/.well-known/jwks.json";

const denoEnv = (name: string): string | undefined =>
  (globalThis as { Deno?: { env: { get(n: string): string | undefined } } }).Deno?.env.get(name) || undefined;

/** The JWKS as the stack hands it to the function server (SUPABASE_JWKS: `{keys:[…]}` or a bare array). */
let parsedEnvJwks: { raw: string; doc: JSONWebKeySet } | undefined;
function jwksFromEnv(): JSONWebKeySet | undefined {
  const raw = denoEnv("SUPABASE_JWKS");
  if (!raw) return undefined;
  if (parsedEnvJwks?.raw !== raw) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new Error("SUPABASE_JWKS is not JSON: it must be the project's JWKS document ({\"keys\":[…]}).");
    }
    parsedEnvJwks = { raw, doc: Array.isArray(parsed) ? { keys: parsed } : parsed as JSONWebKeySet };
  }
  return parsedEnvJwks.doc;
}

/** What the gateway checks with, from the function server's environment (LOCAL_JWT_SECRET, SUPABASE_JWKS). */
export function gatewayKeysFromEnv(): GatewayKeys {
  return { jwtSecret: denoEnv("LOCAL_JWT_SECRET"), jwks: jwksFromEnv() };
}

const gatewayError = (status: number, message: string) =>
  new Response(JSON.stringify({ error: { code: "unauthorized", message } }), {
    status,
    headers: { "content-type": "application/json", "access-control-allow-origin": "*" },
  });

const NEW_KEY = /^sb_(publishable|secret)_/;
const NOT_A_JWT = "This function has verify_jwt = true, which takes only a project JWT in `Authorization: Bearer`. " +
  "The new API keys (sb_publishable_…, sb_secret_…) are not JWTs: call a function with verify_jwt = false " +
  "(set it in supabase/config.toml), which checks the key itself, or send a JWT.";

// One key set per JWKS document: createLocalJWKSet indexes the keys once.
let cachedJwks: { doc: JSONWebKeySet; set: ReturnType<typeof createLocalJWKSet> } | undefined;
function localJwks(doc: JSONWebKeySet): ReturnType<typeof createLocalJWKSet> {
  if (cachedJwks?.doc !== doc) cachedJwks = { doc, set: createLocalJWKSet(doc) };
  return cachedJwks.set;
}

/** undefined when the request may reach the function; else the gateway's 401. */
export async function gatewayAllows(req: Request, keys: GatewayKeys): Promise<Response | undefined> {
  const token = /^Bearer\s+(.+)$/i.exec(req.headers.get("authorization") ?? "")?.[1]?.trim();
  if (!token) {
    if (NEW_KEY.test(req.headers.get("apikey")?.trim() ?? "")) return gatewayError(401, `Missing authorization header. ${NOT_A_JWT}`);
    return gatewayError(401, "Missing authorization header: send `Authorization: Bearer <project JWT>`.");
  }
  if (NEW_KEY.test(token)) return gatewayError(401, `Invalid JWT: ${NOT_A_JWT}`);
  const jwks = keys.jwks ?? jwksFromEnv();
  if (!keys.jwtSecret && !jwks) return undefined;
  let alg: string | undefined;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    return gatewayError(401, "Invalid JWT: the bearer token is not a JWT. Send a project JWT (the legacy anon or service_role key, or a token signed with the project's key).");
  }
  try {
    if (alg === "HS256") {
      if (!keys.jwtSecret) throw new Error("no legacy JWT secret");
      await jwtVerify(token, new TextEncoder().encode(keys.jwtSecret), { algorithms: ["HS256"] });
    } else {
      if (!jwks) throw new Error("no JWKS");
      await jwtVerify(token, localJwks(jwks), { algorithms: ["ES256", "RS256"] });
    }
    return undefined;
  } catch {
    return gatewayError(401, "Invalid JWT: the key is not one this project issued (bad signature, unknown key id, or expired).");
  }
}

/** GET /auth/v1/.well-known/jwks.json: the project's public keys, or undefined for any other path. */
export function jwksResponse(req: Request, keys: GatewayKeys = gatewayKeysFromEnv()): Response | undefined {
  if (new URL(req.url).pathname !== JWKS_PATH || (req.method !== "GET" && req.method !== "HEAD")) return undefined;
  return new Response(JSON.stringify(keys.jwks ?? { keys: [] }), {
    status: 200,
    headers: { "content-type": "application/json", "access-control-allow-origin": "*", "cache-control": "public, max-age=600" },
  });
}
