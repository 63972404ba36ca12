// The gateway's verify_jwt check over real HTTP (scripts/edge/gateway-auth.ts). Every function ships with
// verify_jwt = false, so a private stack turns it on for two of them with EDGE_VERIFY_JWT (local runtime
// only, config.toml untouched) and calls them as hosted callers would: the legacy JWTs and an ES256 token
// signed with the stack's key pass the gateway; the new API keys, no key and tampered tokens get the
// gateway's 401; functions not named take the new keys as before.
//
// Gateway or function? A 401 from the function always carries a request_id (its error envelope); one
// from the gateway has none, since the request never reached a worker. That is how each case below tells
// "refused at the gateway" from "passed the gateway, then the function judged the key".
import { describe, expect, it } from "vitest";
import { createClient } from "@supabase/supabase-js";
import { usePrivateStack } from "../helpers/private-stack.ts";
import { signEs256 } from "../../scripts/stack/keys.ts";

const CHECKED = ["tasks", "rules"];
const ps = usePrivateStack({ functionEnv: { EDGE_VERIFY_JWT: CHECKED.join(",") } });

type Answer = { status: number; gateway: boolean; message: string; body: Record<string, unknown> };
async function call(path: string, headers: Record<string, string>, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(`${ps.stack.info.FUNCTIONS_URL}${path}`, { ...init, headers: { "content-type": "application/json", ...headers } });
  const text = await res.text();
  const body = text ? JSON.parse(text) : {};
  return { status: res.status, gateway: res.status === 401 && body.request_id === undefined, message: body.error?.message ?? "", body };
}

const info = () => ps.stack.info;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const es256 = (claims: Record<string, unknown>) => signEs256(JSON.parse(info().JWT_SIGNING_KEY), claims);
/** The token with the last characters of its signature changed: same header and claims, no longer signed. */
const tamper = (token: string) => token.slice(0, -4) + (token.endsWith("AAAA") ? "BBBB" : "AAAA");
const NOT_A_JWT = /verify_jwt = true.*not JWTs.*verify_jwt = false/;

describe.each(CHECKED)("/%s with EDGE_VERIFY_JWT (verify_jwt = true at the local gateway)", (fn) => {
  const path = fn === "tasks" ? "/tasks?limit=1" : "/rules";

  it("the legacy service_role JWT as Bearer passes the gateway and opens the function", async () => {
    const a = await call(path, bearer(info().SERVICE_ROLE_KEY));
    expect(a.status, a.message).toBe(200);
  });

  it("the legacy anon JWT passes the gateway; the function itself then refuses it (public key)", async () => {
    const a = await call(path, bearer(info().ANON_KEY));
    expect(a.status).toBe(401);
    expect(a.gateway, "answered by the function, not the gateway").toBe(false);
    expect(a.message).toMatch(/public key.*needs the service role \(secret\) key/);
  });

  it("an ES256 JWT signed with the stack's key passes the gateway: with the secret key as apikey the function opens", async () => {
    const user = await es256({ role: "authenticated", sub: "user-1", iss: "supabase-local" });
    // Alone: through the gateway, and the function says the token is no API key of its own.
    const alone = await call(path, bearer(user));
    expect(alone.status).toBe(401);
    expect(alone.gateway, "answered by the function, not the gateway").toBe(false);
    expect(alone.message).toMatch(/^Invalid API key/);
    // A user's JWT as Bearer and the secret key as apikey: how a verify_jwt function is called on the new keys.
    const both = await call(path, { ...bearer(user), apikey: info().SECRET_KEY });
    expect(both.status, both.message).toBe(200);
  });

  it("the new API keys in apikey get the gateway's 401, which says to use verify_jwt = false", async () => {
    for (const key of [info().SECRET_KEY, info().PUBLISHABLE_KEY]) {
      const a = await call(path, { apikey: key });
      expect(a.status).toBe(401);
      expect(a.gateway, `${key.slice(0, 10)}…: refused at the gateway`).toBe(true);
      expect(a.message).toMatch(/^Missing authorization header\./);
      expect(a.message).toMatch(NOT_A_JWT);
    }
    // As Bearer too (what supabase-js sends besides apikey): not a JWT.
    const asBearer = await call(path, bearer(info().SECRET_KEY));
    expect(asBearer).toMatchObject({ status: 401, gateway: true });
    expect(asBearer.message).toMatch(/^Invalid JWT: /);
    expect(asBearer.message).toMatch(NOT_A_JWT);
  });

  it("no key at all: the gateway's 401", async () => {
    const a = await call(path, {});
    expect(a).toMatchObject({ status: 401, gateway: true });
    expect(a.message).toMatch(/^Missing authorization header: send `Authorization: Bearer <project JWT>`/);
    expect(a.message).not.toMatch(NOT_A_JWT);
  });

  it("a tampered JWT (legacy HS256 or ES256) gets the gateway's 401, even with the secret key beside it", async () => {
    const service = await es256({ role: "service_role", iss: "supabase-local" });
    for (const token of [tamper(info().SERVICE_ROLE_KEY), tamper(service)]) {
      for (const headers of [bearer(token), { ...bearer(token), apikey: info().SECRET_KEY }]) {
        const a = await call(path, headers);
        expect(a).toMatchObject({ status: 401, gateway: true });
        expect(a.message).toMatch(/^Invalid JWT: the key is not one this project issued/);
      }
    }
    const notJwt = await call(path, bearer("not-a-jwt"));
    expect(notJwt).toMatchObject({ status: 401, gateway: true });
    expect(notJwt.message).toMatch(/^Invalid JWT: the bearer token is not a JWT/);
  });
});

describe("through the gateway, end to end", () => {
  it("POST /tasks with the legacy key as Bearer: the body reaches the function after the check", async () => {
    const a = await call("/tasks", bearer(info().SERVICE_ROLE_KEY), { method: "POST", body: JSON.stringify({ type: "noop", payload: { echo: "verify-jwt" } }) });
    expect(a.status, a.message).toBe(201);
    expect(a.body).toMatchObject({ type: "noop", payload: { echo: "verify-jwt" } });
  });

  it("supabase-js: the legacy service_role key passes; the secret key (sent as Bearer and apikey) is refused at the gateway", async () => {
    const legacy = createClient(info().API_URL, info().SERVICE_ROLE_KEY, { auth: { persistSession: false } });
    const ok = await legacy.functions.invoke("tasks?limit=1", { method: "GET" });
    expect(ok.error).toBeNull();
    expect(ok.data).toHaveProperty("tasks");
    const modern = createClient(info().API_URL, info().SECRET_KEY, { auth: { persistSession: false } });
    const refused = await modern.functions.invoke("tasks?limit=1", { method: "GET" });
    expect(refused.error).not.toBeNull();
    const res = (refused.error as { context?: Response }).context!;
    expect(res.status).toBe(401);
    expect((await res.json()).error.message).toMatch(NOT_A_JWT);
  });

  it("a CORS preflight (OPTIONS) is not checked, as hosted: browsers send it without keys", async () => {
    const res = await fetch(`${info().FUNCTIONS_URL}/tasks`, {
      method: "OPTIONS", headers: { origin: "http://app.test", "access-control-request-method": "POST", "access-control-request-headers": "apikey,content-type" },
    });
    await res.body?.cancel();
    expect(res.status).toBeLessThan(300);
  });
});

describe("functions EDGE_VERIFY_JWT does not name keep verify_jwt = false", () => {
  it("take the secret key in apikey alone, and the publishable key on /health", async () => {
    for (const path of ["/logs?limit=1", "/sops", "/schedules"]) {
      const a = await call(path, { apikey: info().SECRET_KEY });
      expect(a.status, `${path}: ${a.message}`).toBe(200);
    }
    const health = await call("/health", { apikey: info().PUBLISHABLE_KEY });
    expect(health).toMatchObject({ status: 200, body: { status: "ok" } });
    // And still check the key themselves: no key is the function's 401, not the gateway's.
    const none = await call("/logs?limit=1", {});
    expect(none).toMatchObject({ status: 401, gateway: false });
    expect(none.message).toMatch(/^Missing API key/);
  });

  it("wake-ups (task-worker, the secret key from Vault) still run tasks", async () => {
    const [{ id }] = await ps.sql<{ id: string }[]>`select (r.task).id from orchestrator.enqueue('noop', '{"echo":"woken"}'::jsonb) r`;
    const deadline = Date.now() + 20_000;
    let status = "";
    while (Date.now() < deadline && status !== "succeeded") {
      [{ status }] = await ps.sql<{ status: string }[]>`select status from orchestrator.tasks where id = ${id}`;
      if (status !== "succeeded") await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe("succeeded");
  });
});
