// API keys for a local stack: a random JWT secret per data dir, and the anon and
// service_role keys signed with it, as Supabase issues them. Kept in the data dir
// so a restarted stack keeps its keys.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { SignJWT } from "jose";

export interface StackKeys {
  jwtSecret: string;
  anonKey: string;
  serviceRoleKey: string;
}

async function sign(role: string, secret: string): Promise<string> {
  return await new SignJWT({ role, iss: "supabase-local" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime("10y")
    .sign(new TextEncoder().encode(secret));
}

export async function loadOrCreateKeys(dataDir: string): Promise<StackKeys> {
  const file = join(dataDir, "keys.json");
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as StackKeys;
  const jwtSecret = randomBytes(32).toString("hex");
  const keys = { jwtSecret, anonKey: await sign("anon", jwtSecret), serviceRoleKey: await sign("service_role", jwtSecret) };
  writeFileSync(file, JSON.stringify(keys, null, 2), { mode: 0o600 });
  return keys;
}
