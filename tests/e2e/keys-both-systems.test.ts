// Both key systems over the real stack (issue 12, "keys as hosted"): the legacy JWT keys
// (service_role / anon) and the new keys (sb_secret_… / sb_publishable_…, not JWTs, sent as
// `apikey`). Each system: a pg_net wake-up carrying the key reaches task-worker and runs a task,
// supabase-js functions.invoke works, the key in `apikey` alone opens all 12 protected functions,
// and the public key opens nothing but /health. Then: a wake-up refused with 401 is logged loudly,
// and the gateway's verify_jwt check (HS256 legacy, ES256 against the JWKS, wrong signatures).
// A private stack: the wake-up key in Vault is changed here, which no other test file may see.
import { describe, expect, it } from "vitest";
import { createClient } from "@supabase/supabase-js";
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT } from "jose";
import { usePrivateStack } from "../helpers/private-stack.ts";
import { signEs256 } from "../../scripts/stack/keys.ts";
import { gatewayAllows } from "../../scripts/edge/gateway-auth.ts";
import { authHeaders } from "../../dashboard/src/auth-headers.ts";
import { wakeupReport, wakeupsDegraded } from "../../functions/_shared/wakeups.ts";

const ps = usePrivateStack();

async function waitFor<T>(probe: () => Promise<T | undefined | false | null>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** One GET (or POST) per protected function: the 12 functions an outside test found closed to `apikey` alone. */
const PROTECTED: [string, string, string?][] = [
  ["GET", "/tasks?limit=1"], ["GET", "/logs?limit=1"], ["POST", "/task-worker", "{}"], ["GET", "/events?limit=1"],
  ["GET", "/rules"], ["GET", "/tickets?limit=1"], ["GET", "/sops"], ["GET", "/schedules"], ["GET", "/workflows"],
  ["GET", "/webhooks"], ["GET", "/notion/status"], ["GET", "/sync/status"],
];

type System = { name: string; secret: () => string; public: () => string; headers: (key: string) => Record<string, string> };
const SYSTEMS: System[] = [
  // Legacy keys are JWTs: the README's curl line sends them as Bearer.
  { name: "legacy JWT keys", secret: () => ps.stack.info.SERVICE_ROLE_KEY, public: () => ps.stack.info.ANON_KEY, headers: (k) => ({ authorization: `Bearer ${k}` }) },
  // New keys are not JWTs: `apikey` only.
  { name: "new API keys", secret: () => ps.stack.info.SECRET_KEY, public: () => ps.stack.info.PUBLISHABLE_KEY, headers: (k) => ({ apikey: k }) },
];

const f = (path: string, init: RequestInit = {}) => fetch(`${ps.stack.info.FUNCTIONS_URL}${path}`, init);

describe.each(SYSTEMS)("$name", (sys) => {
  it("a pg_net wake-up with the key in Vault reaches task-worker and runs a task", async () => {
    const sql = ps.sql;
    await sql`select orchestrator.set_worker_endpoint(${ps.stack.info.API_URL}, ${sys.secret()})`;
    // What the trigger sends: the key as apikey always, as Bearer only when it is a JWT.
    await ps.stack.dispatcher.stop();
    const [{ id: held }] = await sql<{ id: string }[]>`select orchestrator.wake_worker('keys-test') as id`;
    const [queued] = await sql<{ headers: Record<string, string> }[]>`select headers from net.http_request_queue where id = ${held}`;
    expect(queued.headers.apikey).toBe(sys.secret());
    expect(queued.headers.Authorization).toBe(sys.secret().startsWith("sb_") ? undefined : `Bearer ${sys.secret()}`);
    ps.stack.dispatcher.start();
    const answer = await waitFor(async () => (await sql<{ status_code: number }[]>`
      select status_code from net._http_response where id = ${held}`)[0], "the held wake-up's answer");
    expect(answer.status_code).toBe(202);

    // The insert's own wake-up (its trigger runs in the inserting transaction, so it is read there).
    const started = performance.now();
    const { task, wake } = await sql.begin(async (tx) => {
      // With no worker listening, so the insert does send its wake-up (a lingering one would take the NOTIFY alone).
      // The lock keeps any isolate from announcing itself before the insert (held for this short transaction).
      await tx`lock table orchestrator.worker_presence in exclusive mode`;
      await tx`delete from orchestrator.worker_presence`;
      const [task] = await tx<{ id: string }[]>`
        insert into orchestrator.tasks (type, payload) values ('noop', ${tx.json({ echo: sys.name })}) returning id`;
      const [{ request_id: wake }] = await tx<{ request_id: string }[]>`
        select request_id from orchestrator.wakeup_requests where reason = 'insert' and sent_at = now()`;
      return { task, wake };
    });
    const woke = await waitFor(async () => (await sql<{ status_code: number }[]>`
      select status_code from net._http_response where id = ${wake}`)[0], "the insert wake-up's answer");
    expect(woke.status_code).toBe(202);
    await waitFor(async () => (await sql<{ status: string }[]>`select status from orchestrator.tasks where id = ${task.id}`)[0]?.status === "succeeded", "the task to succeed", 10_000);
    console.log(`[keys] ${sys.name}: insert -> wake-up 202 -> task succeeded in ${(performance.now() - started).toFixed(0)} ms`);
    expect(await sql`select orchestrator.check_wakeups() as refused`).toEqual([{ refused: 0 }]);
    expect(await wakeupReport(sql)).toMatchObject({ refused_last_hour: 0, problem: null });
  });

  it("supabase-js functions.invoke with the secret key: enqueue, read the task and its logs", async () => {
    const supabase = createClient(ps.stack.info.API_URL, sys.secret(), { auth: { persistSession: false } });
    const { data, error } = await supabase.functions.invoke("tasks", { body: { type: "noop", payload: { echo: sys.name } } });
    expect(error).toBeNull();
    expect(data).toMatchObject({ type: "noop", status: "queued" });
    const done = await waitFor(async () => {
      const { data: t } = await supabase.functions.invoke(`tasks/${data.id}`, { method: "GET" });
      return t?.status === "succeeded" && t;
    }, "the invoked task to succeed");
    expect(done.result).toEqual({ ok: true, echo: sys.name });
    const { data: logs } = await supabase.functions.invoke(`logs?task_id=${data.id}`, { method: "GET" });
    expect(logs.logs.map((l: { message: string }) => l.message)).toContain("task noop enqueued");
  });

  it("the key in `apikey` alone opens every protected function; so do the dashboard's headers", async () => {
    const statuses: string[] = [];
    for (const headers of [{ apikey: sys.secret() }, authHeaders(sys.secret()), sys.headers(sys.secret())]) {
      for (const [method, path, body] of PROTECTED) {
        const res = await f(path, { method, headers: { ...headers, "content-type": "application/json" }, body });
        await res.body?.cancel();
        statuses.push(`${method} ${path}=${res.status}`);
        expect(res.status, `${method} ${path} with ${Object.keys(headers).join("+")}`).toBeLessThan(400);
      }
    }
    expect(statuses).toHaveLength(PROTECTED.length * 3);
    // /health gives the secret key its full report.
    const health = await (await f("/health", { headers: { apikey: sys.secret() } })).json();
    expect(health).toHaveProperty("queue");
    expect(health).toHaveProperty("db.ok", true);
    console.log(`[keys] ${sys.name}: ${statuses.length} calls to the 12 protected functions with the key in apikey alone / dashboard headers / its usual header, none refused`);
  });

  it("the public key (anon / publishable) opens /health only, and there only {status}", async () => {
    for (const headers of [{ apikey: sys.public() }, sys.headers(sys.public()), { authorization: `Bearer ${sys.public()}`, apikey: sys.public() }]) {
      for (const [method, path, body] of PROTECTED) {
        const res = await f(path, { method, headers: { ...headers, "content-type": "application/json" }, body });
        const text = await res.text();
        expect(res.status, `${method} ${path}: ${text}`).toBe(401);
        expect(JSON.parse(text).error.message).toMatch(/needs the service role \(secret\) key/);
      }
      const health = await f("/health", { headers });
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: "ok" });
    }
  });
});

describe("a wake-up refused with 401", () => {
  it("is logged as an error (component wakeup) saying what to fix, and counted for /health", async () => {
    const sql = ps.sql;
    const [{ max: before }] = await sql<{ max: string | null }[]>`select max(id) from orchestrator.logs`;
    await sql`select orchestrator.set_worker_endpoint(${ps.stack.info.API_URL}, ${"sb_secret_notTheProjectsKey0000_abcdefgh"})`;
    try {
      const [{ id }] = await sql<{ id: string }[]>`select orchestrator.wake_worker('keys-test') as id`;
      const answer = await waitFor(async () => (await sql<{ status_code: number }[]>`
        select status_code from net._http_response where id = ${id}`)[0], "the refused wake-up's answer");
      expect(answer.status_code).toBe(401);
      // The sweep (pg_cron, or the local stack's ticker) reads the answers; call it now rather than wait.
      await sql`select orchestrator.sweep()`;
      const logged = await waitFor(async () => (await sql<{ level: string; message: string; context: Record<string, unknown> }[]>`
        select level::text, message, context from orchestrator.logs
        where id > ${before ?? 0} and component = 'wakeup' and (context->>'request_id')::bigint = ${id}`)[0], "the refusal's log row");
      expect(logged.level).toBe("error");
      expect(logged.message).toMatch(/wake-up refused with 401.*set_worker_endpoint/);
      expect(logged.context).toMatchObject({ status: 401, reason: "keys-test" });
      expect(JSON.stringify(logged)).not.toContain("sb_secret_notTheProjectsKey");
      const [{ status }] = await sql<{ status: Record<string, unknown> }[]>`select orchestrator.wakeup_status() as status`;
      expect(status).toMatchObject({ last_refused_status: 401 });
      expect(Number(status.refused_last_hour)).toBeGreaterThanOrEqual(1);
      // What /health shows of it (functions/_shared/wakeups.ts): degraded, with what to do.
      const report = await wakeupReport(sql);
      expect(report).toMatchObject({ last_refused_status: 401 });
      expect(report.refused_last_hour).toBeGreaterThanOrEqual(1);
      expect(report.problem).toMatch(/refused a wake-up with 401: store a key it accepts with orchestrator\.set_worker_endpoint/);
      expect(wakeupsDegraded(report)).toBe(true);
      // And /health itself, over HTTP: degraded, the refusal counted, what to do said.
      const health = await (await f("/health", { headers: { apikey: ps.stack.info.SECRET_KEY } })).json();
      expect(health.status).toBe("degraded");
      expect(health.wakeups).toMatchObject({ last_refused_status: 401 });
      expect(health.wakeups.problem).toMatch(/set_worker_endpoint/);
    } finally {
      await sql`select orchestrator.set_worker_endpoint(${ps.stack.info.API_URL}, ${ps.stack.info.SECRET_KEY})`;
    }
  });
});

describe("the gateway's verify_jwt check (scripts/edge/gateway-auth.ts) with the stack's keys", () => {
  const req = (headers: Record<string, string>) => new Request("http://gateway.test/functions/v1/tasks", { headers });
  const keys = () => ({ jwtSecret: ps.stack.info.JWT_SECRET, jwks: JSON.parse(ps.stack.info.JWKS) });
  const allows = async (headers: Record<string, string>) => {
    const denied = await gatewayAllows(req(headers), keys());
    return denied ? `${denied.status} ${(await denied.json()).error.message}` : "allowed";
  };

  it("takes an HS256 legacy project JWT and an ES256 JWT verifiable against the JWKS", async () => {
    expect(await allows({ authorization: `Bearer ${ps.stack.info.SERVICE_ROLE_KEY}` })).toBe("allowed");
    expect(await allows({ authorization: `Bearer ${ps.stack.info.ANON_KEY}` })).toBe("allowed");
    const es256 = await signEs256(JSON.parse(ps.stack.info.JWT_SIGNING_KEY), { role: "service_role", iss: "supabase-local" });
    expect(await allows({ authorization: `Bearer ${es256}` })).toBe("allowed");
    // A project whose JWKS also holds an RSA key (hosted offers RS256): tokens it signs verify too.
    const rsa = await generateKeyPair("RS256", { extractable: true });
    const jwks = { keys: [...JSON.parse(ps.stack.info.JWKS).keys, { ...(await exportJWK(rsa.publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" }] };
    const rs256 = await new SignJWT({ role: "authenticated" }).setProtectedHeader({ alg: "RS256", kid: "rsa-1" }).setExpirationTime("1h").sign(rsa.privateKey);
    expect(await gatewayAllows(req({ authorization: `Bearer ${rs256}` }), { jwtSecret: ps.stack.info.JWT_SECRET, jwks })).toBeUndefined();
    expect(await allows({ authorization: `Bearer ${rs256}` })).toMatch(/^401 Invalid JWT/); // not in the stack's own JWKS
  });

  it("the gateway serves the JWKS at /auth/v1/.well-known/jwks.json, and a client verifies the stack's ES256 tokens with it", async () => {
    const res = await fetch(ps.stack.info.JWKS_URL);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    const served = await res.json();
    expect(served).toEqual(JSON.parse(ps.stack.info.JWKS));
    expect(JSON.stringify(served)).not.toContain('"d"'); // never the private half
    const token = await signEs256(JSON.parse(ps.stack.info.JWT_SIGNING_KEY), { role: "authenticated", sub: "user-1" });
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(ps.stack.info.JWKS_URL)));
    expect(payload.sub).toBe("user-1");
  });

  it("refuses wrong signatures, unknown keys, expired tokens and the new API keys", async () => {
    const otherSecret = await new SignJWT({ role: "service_role" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h")
      .sign(new TextEncoder().encode("not-the-project-secret-not-the-project-secret"));
    expect(await allows({ authorization: `Bearer ${otherSecret}` })).toMatch(/^401 Invalid JWT/);
    // Same kid as the project's key, another private key: the signature does not verify.
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const forged = await signEs256({ ...(await exportJWK(privateKey)), kid: JSON.parse(ps.stack.info.JWKS).keys[0].kid, alg: "ES256" }, { role: "service_role" });
    expect(await allows({ authorization: `Bearer ${forged}` })).toMatch(/^401 Invalid JWT/);
    const expired = await signEs256(JSON.parse(ps.stack.info.JWT_SIGNING_KEY), { role: "service_role" }, "-1m");
    expect(await allows({ authorization: `Bearer ${expired}` })).toMatch(/^401 Invalid JWT/);
    // A real token with its signature's last characters changed.
    const good = ps.stack.info.SERVICE_ROLE_KEY;
    const tampered = good.slice(0, -4) + (good.endsWith("AAAA") ? "BBBB" : "AAAA");
    expect(await allows({ authorization: `Bearer ${tampered}` })).toMatch(/^401 Invalid JWT/);
    // An unsigned token (alg none) is no JWT of this project.
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    expect(await allows({ authorization: `Bearer ${b64({ alg: "none", typ: "JWT" })}.${b64({ role: "service_role" })}.` })).toMatch(/^401 Invalid JWT/);
    expect(await allows({ authorization: "Bearer not-a-jwt" })).toMatch(/^401 Invalid JWT: the bearer token is not a JWT/);
    expect(await allows({ authorization: `Bearer ${ps.stack.info.SECRET_KEY}` })).toMatch(/^401 Invalid JWT: .*not JWTs.*verify_jwt = false/);
    expect(await allows({ apikey: ps.stack.info.SECRET_KEY })).toMatch(/^401 Missing authorization header\. .*verify_jwt = false/);
    expect(await allows({})).toMatch(/^401 Missing authorization header/);
  });
});
