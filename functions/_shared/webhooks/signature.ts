// Signing outbound webhooks. A receiver verifies a delivery like this:
//
//   expected = hex(HMAC_SHA256(secret, timestamp + "." + raw_body))
//   header X-Orchestrator-Signature = "v1=" + expected
//   and rejects timestamps (X-Orchestrator-Timestamp, unix seconds) older than 5 minutes.

export const SIGNATURE_HEADER = "x-orchestrator-signature";
export const TIMESTAMP_HEADER = "x-orchestrator-timestamp";

async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(message)));
  return Array.from(sig, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function signPayload(secret: string, timestamp: number, body: string): Promise<string> {
  return `v1=${await hmacHex(secret, `${timestamp}.${body}`)}`;
}

function constantTimeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return diff === 0;
}

/** What a receiver runs (also used by the tests). */
export async function verifyPayload(
  secret: string,
  timestamp: string | null,
  body: string,
  signature: string | null,
  toleranceSeconds = 300,
  now = Date.now(),
): Promise<boolean> {
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(now / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  const expected = await signPayload(secret, Number(timestamp), body);
  return constantTimeEqual(expected, signature.trim());
}

export function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return "whsec_" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
