// The only way the dashboard talks to the Orchestrator: its REST API under
// <project>/functions/v1, with the service key from the session. What it answers is typed by the
// server's response schemas (api-types.ts).
import type { Session } from "./session.ts";
import { authHeaders } from "./auth-headers.ts";
import type { Task } from "./api-types.ts";

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

export const TASK_STATUSES = ["queued", "running", "succeeded", "dead", "cancelled"] as const satisfies readonly Task["status"][];
export const LOG_LEVELS = ["debug", "info", "warn", "error", "fatal"] as const;
