// API keys for a local stack, both systems hosted Supabase has:
// - legacy: a random JWT secret, and the anon and service_role keys signed with it (HS256 JWTs);
// - new: a publishable and a secret key (`sb_publishable_…`, `sb_secret_…`: not JWTs), and an ES256
//   signing key whose public half is the project's JWKS (served at /auth/v1/.well-known/jwks.json).
// Kept in the data dir so a restarted stack keeps its keys; a keys.json written before the new keys
// existed gets them added, its legacy keys untouched.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";

export interface StackKeys {
  jwtSecret: string;
  anonKey: string;
  serviceRoleKey: string;
  publishableKey: string;
  secretKey: string;
  /** The ES256 private key (JWK with kid and alg): signs JWTs the gateway verifies against the JWKS. */
  signingKey: JWK;
  /** The public JWKS document: { keys: [the signing key's public half] }. */
  jwks: { keys: JWK[] };
}

async function signLegacy(role: string, secret: string): Promise<string> {
  return await new SignJWT({ role, iss: "supabase-local" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime("10y")
    .sign(new TextEncoder().encode(secret));
}

/**
 * A new-style API key as Supabase writes them: prefix, 16 random bytes (base64url, 22 characters),
 * `_`, and an 8-character checksum of what precedes it (so a mistyped key is recognisably not one).
 */
export function newApiKey(prefix: "sb_publishable_" | "sb_secret_"): string {
  const random = randomBytes(16).toString("base64url");
  const checksum = createHash("sha256").update(prefix + random).digest().subarray(0, 6).toString("base64url");
  return `${prefix}${random}_${checksum}`;
}

async function newSigningKey(): Promise<Pick<StackKeys, "signingKey" | "jwks">> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const pub = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(pub);
  const meta = { kid, alg: "ES256", use: "sig" };
  return {
    signingKey: { ...(await exportJWK(privateKey)), ...meta },
    jwks: { keys: [{ ...pub, ...meta, key_ops: ["verify"] }] },
  };
}

export async function loadOrCreateKeys(dataDir: string): Promise<StackKeys> {
  const file = join(dataDir, "keys.json");
  const stored = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Partial<StackKeys>) : {};
  const jwtSecret = stored.jwtSecret ?? randomBytes(32).toString("hex");
  const keys: StackKeys = {
    jwtSecret,
    anonKey: stored.anonKey ?? (await signLegacy("anon", jwtSecret)),
    serviceRoleKey: stored.serviceRoleKey ?? (await signLegacy("service_role", jwtSecret)),
    publishableKey: stored.publishableKey ?? newApiKey("sb_publishable_"),
    secretKey: stored.secretKey ?? newApiKey("sb_secret_"),
    ...(stored.signingKey && stored.jwks ? { signingKey: stored.signingKey, jwks: stored.jwks } : await newSigningKey()),
  };
  if (JSON.stringify(keys) !== JSON.stringify(stored)) writeFileSync(file, JSON.stringify(keys, null, 2), { mode: 0o600 });
  return keys;
}

/** A JWT signed with the stack's ES256 key (as hosted Auth issues them): for tests and for minting tokens locally. */
export async function signEs256(signingKey: JWK, claims: Record<string, unknown>, expiresIn = "1h"): Promise<string> {
  const key = await importJWK(signingKey, "ES256");
  return await new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", typ: "JWT", kid: signingKey.kid })
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(key);
}
