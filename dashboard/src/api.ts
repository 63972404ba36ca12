// The only way the dashboard talks to the Orchestrator: its REST API under
// <project>/functions/v1, with the service key from the session.
import type { Session } from "./session.ts";
import { authHeaders } from "./auth-headers.ts";

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  readonly requestId: string | undefined;
  constructor(status: number, code: string, message: string, details?: unknown, requestId?: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.requestId = requestId;
  }
}

export type Query = Record<string, string | number | undefined | null | false>;

export interface CallOptions {
  method?: "GET" | "POST" | "PATCH" | "DELETE";
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** Do not announce a 401 to the app (sign-in uses this to show its own message). */
  quiet401?: boolean;
}

export const UNAUTHORIZED_EVENT = "dashboard:unauthorized";

export function functionsBase(session: Session): string {
  return `${session.projectUrl}/functions/v1`;
}

export function buildUrl(session: Session, path: string, query?: Query): string {
  const url = new URL(functionsBase(session) + path);
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null && v !== false && v !== "") url.searchParams.set(k, String(v));
  }
  return url.toString();
}

export async function call<T = unknown>(session: Session, path: string, opts: CallOptions = {}): Promise<T> {
  const url = buildUrl(session, path, opts.query);
  let res: Response;
  try {
    res = await fetch(url, {
      method: opts.method ?? "GET",
      headers: {
        ...authHeaders(session.key),
        ...(opts.body !== undefined ? { "content-type": "application/json" } : {}),
      },
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
      signal: opts.signal,
      cache: "no-store",
    });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError(0, "network", `Could not reach ${functionsBase(session)}: ${(err as Error).message}. Is the Orchestrator running?`);
  }
  const text = await res.text();
  let body: unknown = undefined;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (!res.ok) {
    const e = (body as { error?: { code?: string; message?: string; details?: unknown }; msg?: string; message?: string }) ?? {};
    const message = e.error?.message ?? e.message ?? e.msg ??
      (typeof body === "string" && body.length < 300 ? body : `${res.status} ${res.statusText}`);
    const err = new ApiError(res.status, e.error?.code ?? `http_${res.status}`, message, e.error?.details,
      res.headers.get("x-request-id") ?? (body as { request_id?: string })?.request_id);
    if (res.status === 401 && !opts.quiet401) window.dispatchEvent(new CustomEvent(UNAUTHORIZED_EVENT, { detail: err.message }));
    throw err;
  }
  return body as T;
}

/** Does this API exist on the deployment? 404 (no function, no route) means no; anything else means yes. */
export async function probe(session: Session, path: string): Promise<boolean> {
  try {
    await call(session, path, { quiet401: true });
    return true;
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 0)) return false;
    return true;
  }
}

/** Lists come back as { <name>: [...], next_cursor } (or a bare array): find the rows. */
export function rowsOf<T = Record<string, unknown>>(body: unknown, preferred?: string): T[] {
  if (Array.isArray(body)) return body as T[];
  if (body && typeof body === "object") {
    const obj = body as Record<string, unknown>;
    if (preferred && Array.isArray(obj[preferred])) return obj[preferred] as T[];
    for (const key of ["items", "data", "rows", "results"]) if (Array.isArray(obj[key])) return obj[key] as T[];
    for (const value of Object.values(obj)) if (Array.isArray(value)) return value as T[];
  }
  return [];
}

export function nextCursorOf(body: unknown): string | null {
  if (body && typeof body === "object" && !Array.isArray(body)) {
    const c = (body as Record<string, unknown>).next_cursor ?? (body as Record<string, unknown>).cursor;
    return typeof c === "string" && c ? c : null;
  }
  return null;
}

export interface Task {
  id: number;
  type: string;
  payload: Record<string, unknown>;
  status: "queued" | "running" | "succeeded" | "dead" | "cancelled";
  priority: number;
  run_at: string;
  attempts: number;
  max_attempts: number;
  backoff_base_seconds: number;
  dedupe_key: string | null;
  locked_by: string | null;
  locked_until: string | null;
  last_error: string | null;
  result: unknown;
  source: string;
  parent_id: number | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  [k: string]: unknown;
}

export interface LogEntry {
  id: number;
  at: string;
  level: string;
  component: string;
  message: string;
  context: Record<string, unknown>;
  task_id: number | null;
  request_id: string | null;
}

export interface Health {
  status: "ok" | "degraded";
  version?: string;
  db?: { ok: boolean; latency_ms: number | null; error?: string };
  queue?: Record<string, number | null>;
  cron?: { job: string; schedule: string; last_run: string | null; last_status: string | null }[];
  /** The local Edge runtime's user workers (absent on hosted Supabase): ends and retirements by shutdown reason. */
  edge?: { terminations: Record<string, number>; retirements: Record<string, number> };
}

export const TASK_STATUSES = ["queued", "running", "succeeded", "dead", "cancelled"] as const;
export const LOG_LEVELS = ["debug", "info", "warn", "error", "fatal"] as const;
