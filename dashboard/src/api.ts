// The only way the dashboard talks to the Orchestrator: its REST API under
// <project>/functions/v1, with the service key from the session. What it answers is typed by the
// server's response schemas (api-types.ts).
import type { Session } from "./session.ts";
import { authHeaders } from "./auth-headers.ts";
import type { Task } from "./api-types.ts";
import { createOrchestratorClient, type OrchestratorClient } from "@sugarstudio/orchestrator-client";

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

/** The typed Orchestrator client (clients/orchestrator-client) for this session: one per project URL and key. */
let cached: { url: string; key: string; client: OrchestratorClient } | undefined;
export function orchestrator(session: Session): OrchestratorClient {
  if (cached?.url !== session.projectUrl || cached.key !== session.key) {
    // The key goes as the dashboard has always sent it (auth-headers.ts).
    cached = { url: session.projectUrl, key: session.key, client: createOrchestratorClient({ url: session.projectUrl, headers: authHeaders(session.key) }) };
  }
  return cached.client;
}

/** What an openapi-fetch call gives back. */
interface ClientResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/**
 * The data of a client call, or an ApiError from the error shape ({error: {code, message, details}, request_id});
 * a 401 is announced to the app unless quiet401. A network failure is an ApiError with status 0.
 */
export async function unwrap<T>(session: Session, pending: Promise<ClientResult<T>>, opts: { quiet401?: boolean } = {}): Promise<T> {
  let out: ClientResult<T>;
  try {
    out = await pending;
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError(0, "network", `Could not reach ${functionsBase(session)}: ${(err as Error).message}. Is the Orchestrator running?`);
  }
  const { data, error, response: res } = out;
  if (!res.ok) {
    const e = (error as { error?: { code?: string; message?: string; details?: unknown }; msg?: string; message?: string; request_id?: string }) ?? {};
    const message = e.error?.message ?? e.message ?? e.msg ??
      (typeof error === "string" && error.length > 0 && error.length < 300 ? error : `${res.status} ${res.statusText}`);
    const err = new ApiError(res.status, e.error?.code ?? `http_${res.status}`, message, e.error?.details,
      res.headers.get("x-request-id") ?? e.request_id);
    if (res.status === 401 && !opts.quiet401) window.dispatchEvent(new CustomEvent(UNAUTHORIZED_EVENT, { detail: err.message }));
    throw err;
  }
  return data as T;
}

/**
 * A call by path, for the pages that build their path at run time (the generic list and detail views):
 * through the same typed client, untyped here (the caller names T).
 */
export async function call<T = unknown>(session: Session, path: string, opts: CallOptions = {}): Promise<T> {
  const query = Object.fromEntries(
    Object.entries(opts.query ?? {}).filter(([, v]) => v !== undefined && v !== null && v !== false && v !== ""),
  );
  const request = orchestrator(session).request as unknown as (
    method: string, url: string, init: Record<string, unknown>,
  ) => Promise<ClientResult<T>>;
  return await unwrap(session, request((opts.method ?? "GET").toLowerCase(), `/functions/v1${path}`, {
    params: { query },
    body: opts.body,
    signal: opts.signal,
    cache: "no-store",
  }), opts);
}

export const TASK_STATUSES = ["queued", "running", "succeeded", "dead", "cancelled"] as const satisfies readonly Task["status"][];
export const LOG_LEVELS = ["debug", "info", "warn", "error", "fatal"] as const;
