// What tests use to reach the test stack: SQL, HTTP with keys, fault controls, polling.
import { inject } from "vitest";
import postgres from "postgres";

export const stack = () => inject("stack");

let client: postgres.Sql | undefined;
/** A superuser connection to the test database (as psql would be). */
export function sql(): postgres.Sql {
  client ??= postgres(stack().DB_URL, {
    max: 8,
    onnotice: () => {},
    types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
  });
  return client;
}

/**
 * Legacy keys (service, anon) go as `Authorization: Bearer`; the new ones (secret, publishable) as `apikey`, as
 * hosted wants them. TEST_KEYS=new runs the suite on the new system: "service" and "anon" then mean the secret
 * and the publishable key. The stack's wake-ups carry the secret key either way (the shipped default), and the
 * legacy service_role key with TEST_KEYS=legacy (private-stack.ts).
 */
export type KeyKind = "service" | "anon" | "secret" | "publishable" | "none" | "wrong";

export const newKeysOnly = () => process.env.TEST_KEYS === "new";

/** The keys of a stack: the shared test stack's, a private stack's (ps.stack.info) or a running `npm start`'s. */
export type StackKeys = { SERVICE_ROLE_KEY: string; ANON_KEY: string; SECRET_KEY: string; PUBLISHABLE_KEY: string };

export function headersFor(kind: KeyKind, extra: Record<string, string> = {}): Record<string, string> {
  return keyHeaders(stack(), kind, extra);
}

/** headersFor with the keys of a given stack (a private one has keys of its own). */
export function keyHeaders(s: StackKeys, kind: KeyKind, extra: Record<string, string> = {}): Record<string, string> {
  const key = newKeysOnly() && (kind === "service" || kind === "anon") ? (kind === "service" ? "secret" : "publishable") : kind;
  if (key === "secret" || key === "publishable") return { apikey: key === "secret" ? s.SECRET_KEY : s.PUBLISHABLE_KEY, ...extra };
  const value = key === "service" ? s.SERVICE_ROLE_KEY : key === "anon" ? s.ANON_KEY : key === "wrong" ? "not-a-real-key" : undefined;
  return { ...(value ? { authorization: `Bearer ${value}` } : {}), ...extra };
}

/** Over real HTTP to the Deno function server. */
export async function http(path: string, init: RequestInit & { key?: KeyKind } = {}): Promise<Response> {
  const { key = "service", headers, ...rest } = init;
  return await fetch(`${stack().FUNCTIONS_URL}${path}`, {
    ...rest,
    headers: { "content-type": "application/json", ...headersFor(key), ...(headers as Record<string, string>) },
  });
}

/** Builds a Request for calling a function's handler in-process. */
export function request(path: string, init: RequestInit & { key?: KeyKind } = {}): Request {
  const { key = "service", headers, ...rest } = init;
  return new Request(`http://localhost${path}`, {
    ...rest,
    headers: { "content-type": "application/json", ...headersFor(key), ...(headers as Record<string, string>) },
  });
}

export async function control(action: string): Promise<void> {
  const res = await fetch(`${stack().CONTROL_URL}${action}`, { method: "POST" });
  if (!res.ok) throw new Error(`control ${action} failed: ${res.status} ${await res.text()}`);
}

export async function waitFor<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 30_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A task type unique to one test, so no other test (or the Deno worker) touches its rows. */
export const uniqueType = (prefix = "t") => `test.${prefix}.${Math.random().toString(36).slice(2, 10)}`;

class Rollback extends Error {}

/**
 * Runs fn in a transaction of the test stack that is then rolled back, and returns what fn returned:
 * what fn writes (tasks, Vault changes, wake-ups) no other test file and no worker ever sees.
 */
export async function inRolledBackTx<T>(fn: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> {
  let out: T | undefined;
  await sql().begin(async (tx) => {
    out = await fn(tx);
    throw new Rollback();
  }).catch((err) => {
    if (!(err instanceof Rollback)) throw err;
  });
  return out as T;
}

/** A worker's stop line that handed the rest on: a fresh worker woken, or the listening worker of another isolate notified. */
export const HANDED_ON = /a fresh worker woken|the rest handed to the listening worker of another isolate/;
