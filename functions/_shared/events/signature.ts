// Who may send events: a caller with the secret (service role) key, or a sender
// that signs each request with the shared signing secret:
//
//   X-Orchestrator-Timestamp: <unix seconds>
//   X-Orchestrator-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
//
// A timestamp more than 5 minutes away from the server clock is refused (stale),
// and each signature is accepted once (replays are refused where the events are
// stored, in the same transaction: see events.ts).
import { env, envInt } from "../env.ts";
import { AppError, unauthorized } from "../errors.ts";
import { isServiceRequest, readRawBody as readBoundedBody } from "../http.ts";

export const TIMESTAMP_HEADER = "x-orchestrator-timestamp";
export const SIGNATURE_HEADER = "x-orchestrator-signature";
export const TOLERANCE_SECONDS = 300;

export type SenderAuth = { kind: "key" } | { kind: "signature"; replayKey: string };

const encoder = new TextEncoder();

/** EVENTS_SIGNING_SECRET, comma-separated to rotate (every listed secret is accepted). */
export function signingSecrets(): string[] {
  return (env("EVENTS_SIGNING_SECRET") ?? "").split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}

export function eventsMaxBodyBytes(): number {
  return envInt("EVENTS_MAX_BODY_BYTES", 1024 * 1024);
}

function signedBytes(timestamp: string, body: Uint8Array): Uint8Array {
  const prefix = encoder.encode(`${timestamp}.`);
  const out = new Uint8Array(prefix.byteLength + body.byteLength);
  out.set(prefix, 0);
  out.set(body, prefix.byteLength);
  return out;
}

async function hmacKey(secret: string): Promise<CryptoKey> {
  return await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

const toHex = (bytes: ArrayBuffer) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

function fromHex(hex: string): Uint8Array | undefined {
  if (!/^[0-9a-f]{64}$/i.test(hex)) return undefined;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** The signature header value for a body: what a sender computes (also used by tests and the README example). */
export async function signBody(secret: string, timestamp: string | number, body: string | Uint8Array): Promise<string> {
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), signedBytes(String(timestamp), bytes) as BufferSource);
  return `v1=${toHex(mac)}`;
}

/** Hex signatures offered in the header: "v1=<hex>", "sha256=<hex>" or bare hex, comma-separated. */
export function offeredSignatures(header: string): string[] {
  return header.split(",").map((p) => p.trim().replace(/^(v1|sha256)=/i, "")).filter((p) => p.length > 0);
}

/**
 * Checks the signature headers against the raw body. Throws 401 with a reason
 * (bad signature, stale or malformed timestamp, signing not configured).
 * Returns the replay key: the signature that matched, with its timestamp.
 */
export async function verifySignedRequest(
  headers: Headers,
  body: Uint8Array,
  secrets = signingSecrets(),
  nowMs = Date.now(),
): Promise<string> {
  const timestamp = headers.get(TIMESTAMP_HEADER)?.trim() ?? "";
  const header = headers.get(SIGNATURE_HEADER) ?? "";
  if (secrets.length === 0) {
    throw new AppError(401, "signing_disabled", "Signed requests are not enabled here (EVENTS_SIGNING_SECRET is not set); send the secret key instead.");
  }
  if (!/^\d{1,12}$/.test(timestamp)) {
    throw new AppError(401, "bad_timestamp", `${TIMESTAMP_HEADER} must be the unix time in seconds when the request was signed.`);
  }
  const skew = Math.abs(nowMs / 1000 - Number(timestamp));
  if (skew > TOLERANCE_SECONDS) {
    throw new AppError(401, "stale_timestamp",
      `${TIMESTAMP_HEADER} is ${Math.round(skew)} s away from the server clock; the tolerance is ${TOLERANCE_SECONDS} s. Sign each request when you send it.`);
  }
  const data = signedBytes(timestamp, body);
  for (const hex of offeredSignatures(header)) {
    const mac = fromHex(hex);
    if (!mac) continue;
    for (const secret of secrets) {
      // crypto.subtle.verify compares in constant time.
      if (await crypto.subtle.verify("HMAC", await hmacKey(secret), mac as BufferSource, data as BufferSource)) {
        return `${timestamp}:${hex.toLowerCase()}`;
      }
    }
  }
  throw new AppError(401, "bad_signature",
    `${SIGNATURE_HEADER} does not match the body: sign "<timestamp>.<raw body>" with HMAC-SHA256 and send v1=<hex>.`);
}

/**
 * Authenticates a sender and reads its raw body. The secret key wins; otherwise
 * the request must be signed (checked over the exact bytes read). Requests with
 * neither are refused before their body is read.
 */
export async function authenticateSender(req: Request): Promise<{ auth: SenderAuth; body: Uint8Array }> {
  if (isServiceRequest(req)) return { auth: { kind: "key" }, body: await readRawBody(req) };
  if (req.headers.has(SIGNATURE_HEADER) || req.headers.has(TIMESTAMP_HEADER)) {
    const body = await readRawBody(req);
    return { auth: { kind: "signature", replayKey: await verifySignedRequest(req.headers, body) }, body };
  }
  const offered = req.headers.has("authorization") || req.headers.has("apikey");
  throw unauthorized(offered
    ? "Invalid API key: send the secret (service role) key, or sign the request (X-Orchestrator-Timestamp + X-Orchestrator-Signature)."
    : "Missing credentials: send the secret key as `Authorization: Bearer <key>`, or sign the request with X-Orchestrator-Timestamp and X-Orchestrator-Signature.");
}

/** The raw body, at most maxBytes (the signature is over these exact bytes). */
export function readRawBody(req: Request, maxBytes = eventsMaxBodyBytes()): Promise<Uint8Array> {
  return readBoundedBody(req, maxBytes, " Send at most 500 events per request.");
}
