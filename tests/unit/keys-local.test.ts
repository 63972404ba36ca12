// The local stack's keys (scripts/stack/keys.ts), how `npm run status` prints them, and how the
// functions read the hosted key variables (env.ts) and check a request's key (http.ts).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import { loadOrCreateKeys, newApiKey, signEs256 } from "../../scripts/stack/keys.ts";
import { statusLines } from "../../scripts/stack/config.ts";
import type { StackInfo } from "../../scripts/stack/stack.ts";
import { publicKeys, serviceKeys } from "../../functions/_shared/env.ts";
import { isServiceRequest, requireServiceKey } from "../../functions/_shared/http.ts";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "keys-test-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("local stack keys", () => {
  it("new API keys look like Supabase's: prefix, 22 random base64url characters, _, an 8-character checksum", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const pk = newApiKey("sb_publishable_");
      const sk = newApiKey("sb_secret_");
      expect(pk).toMatch(/^sb_publishable_[A-Za-z0-9_-]{22}_[A-Za-z0-9_-]{8}$/);
      expect(sk).toMatch(/^sb_secret_[A-Za-z0-9_-]{22}_[A-Za-z0-9_-]{8}$/);
      seen.add(pk).add(sk);
    }
    expect(seen.size).toBe(400);
  });

  it("issues both systems and an ES256 key whose JWKS verifies the JWTs it signs; a restart keeps them", async () => {
    const dir = tempDir();
    const keys = await loadOrCreateKeys(dir);
    expect(decodeJwt(keys.serviceRoleKey)).toMatchObject({ role: "service_role" });
    expect(decodeJwt(keys.anonKey)).toMatchObject({ role: "anon" });
    expect(keys.secretKey).toMatch(/^sb_secret_/);
    expect(keys.publishableKey).toMatch(/^sb_publishable_/);
    expect(keys.jwks.keys).toHaveLength(1);
    expect(keys.jwks.keys[0]).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", kid: keys.signingKey.kid });
    expect(keys.jwks.keys[0]).not.toHaveProperty("d"); // the public half only
    const token = await signEs256(keys.signingKey, { role: "service_role" });
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(keys.jwks));
    expect(payload.role).toBe("service_role");
    expect(protectedHeader).toMatchObject({ alg: "ES256", kid: keys.signingKey.kid });
    expect(await loadOrCreateKeys(dir)).toEqual(keys);
  });

  it("a keys.json from before the new keys keeps its legacy keys and gains the new ones", async () => {
    const dir = tempDir();
    const legacy = { jwtSecret: "s".repeat(64), anonKey: "a.b.c", serviceRoleKey: "d.e.f" };
    writeFileSync(join(dir, "keys.json"), JSON.stringify(legacy));
    const keys = await loadOrCreateKeys(dir);
    expect(keys).toMatchObject(legacy);
    expect(keys.secretKey).toMatch(/^sb_secret_/);
    expect(JSON.parse(readFileSync(join(dir, "keys.json"), "utf8"))).toEqual(keys);
  });
});

describe("npm run status", () => {
  it("prints every key, and its output survives `eval` in a shell (the JWKS JSON included)", async () => {
    const keys = await loadOrCreateKeys(tempDir());
    const info: StackInfo = {
      API_URL: "http://127.0.0.1:1", FUNCTIONS_URL: "http://127.0.0.1:1/functions/v1", DB_URL: "postgresql://x@127.0.0.1:2/postgres",
      ANON_KEY: keys.anonKey, SERVICE_ROLE_KEY: keys.serviceRoleKey, JWT_SECRET: keys.jwtSecret,
      PUBLISHABLE_KEY: keys.publishableKey, SECRET_KEY: keys.secretKey, JWKS: JSON.stringify(keys.jwks),
      JWKS_URL: "http://127.0.0.1:1/auth/v1/.well-known/jwks.json", JWT_SIGNING_KEY: JSON.stringify(keys.signingKey),
    } as StackInfo;
    const out = statusLines(info).join("\n");
    const script = `eval "$(cat)"; printf '%s\\n' "$ANON_KEY" "$SERVICE_ROLE_KEY" "$PUBLISHABLE_KEY" "$SECRET_KEY" "$JWKS_URL" "$JWKS" "$JWT_SIGNING_KEY"`;
    const echoed = execFileSync("bash", ["-c", script], { input: out, encoding: "utf8" }).trimEnd().split("\n");
    expect(echoed).toEqual([keys.anonKey, keys.serviceRoleKey, keys.publishableKey, keys.secretKey, info.JWKS_URL, info.JWKS, info.JWT_SIGNING_KEY]);
    expect(JSON.parse(echoed[5])).toEqual(keys.jwks);
  });

  it("leaves out what a stack started by an older npm start does not record", () => {
    const old = { API_URL: "a", FUNCTIONS_URL: "b", DB_URL: "c", ANON_KEY: "d", SERVICE_ROLE_KEY: "e", JWT_SECRET: "f" } as StackInfo;
    expect(statusLines(old).join("\n")).not.toContain("undefined");
  });
});

describe("functions read the hosted key variables", () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of ["SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_ANON_KEY", "SUPABASE_SECRET_KEYS", "SUPABASE_PUBLISHABLE_KEYS", "SUPABASE_SECRET_KEY", "ORCHESTRATOR_API_KEY"]) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
  const set = (vars: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(vars)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  const req = (headers: Record<string, string>) => new Request("http://localhost/tasks", { headers });
  const refusal = (headers: Record<string, string>) => {
    try {
      requireServiceKey(req(headers));
      return "accepted";
    } catch (err) {
      return `${(err as { status: number }).status} ${(err as Error).message}`;
    }
  };

  it("SUPABASE_SECRET_KEYS is a JSON object name -> key: every key in it opens the API, alongside the legacy key", () => {
    set({
      SUPABASE_SERVICE_ROLE_KEY: "legacy.service.jwt", SUPABASE_ANON_KEY: "legacy.anon.jwt", SUPABASE_SECRET_KEY: undefined, ORCHESTRATOR_API_KEY: undefined,
      SUPABASE_SECRET_KEYS: JSON.stringify({ default: "sb_secret_one", rotated: "sb_secret_two" }),
      SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: "sb_publishable_one" }),
    });
    expect(serviceKeys().sort()).toEqual(["legacy.service.jwt", "sb_secret_one", "sb_secret_two"]);
    expect(publicKeys().sort()).toEqual(["legacy.anon.jwt", "sb_publishable_one"]);
    expect(refusal({ apikey: "sb_secret_two" })).toBe("accepted");
    expect(refusal({ authorization: "Bearer sb_secret_one", apikey: "sb_secret_one" })).toBe("accepted"); // supabase-js
    expect(refusal({ authorization: "Bearer legacy.service.jwt" })).toBe("accepted");
    expect(refusal({ authorization: "Bearer some.user.jwt", apikey: "sb_secret_one" })).toBe("accepted");
    expect(refusal({ apikey: "sb_publishable_one" })).toMatch(/^401 This is the project's public key .*opens only \/health/);
    expect(refusal({ authorization: "Bearer legacy.anon.jwt" })).toMatch(/^401 This is the project's public key/);
    expect(refusal({ apikey: "sb_secret_three" })).toMatch(/^401 Invalid API key: not a key of this project/);
    expect(refusal({})).toMatch(/^401 Missing API key/);
    expect(isServiceRequest(req({ apikey: "sb_publishable_one" }))).toBe(false);
  });

  it("a value that is not a JSON object is read as one key; empty values open nothing", () => {
    set({ SUPABASE_SERVICE_ROLE_KEY: undefined, SUPABASE_SECRET_KEYS: "sb_secret_plain", SUPABASE_SECRET_KEY: undefined, ORCHESTRATOR_API_KEY: undefined });
    expect(serviceKeys()).toEqual(["sb_secret_plain"]);
    set({ SUPABASE_SECRET_KEYS: JSON.stringify({ default: "", other: 42 }) });
    expect(serviceKeys()).toEqual([]);
    expect(refusal({ apikey: "" })).toMatch(/^401 Missing API key/);
  });
});
