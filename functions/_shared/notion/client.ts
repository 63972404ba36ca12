// The Notion API client: @notionhq/client v5 on API version 2025-09-03, with
// every HTTP request going through a token bucket kept in Postgres (one bucket
// per integration token, shared by every worker), 429 Retry-After honoured for
// all workers at once, and 5xx retried only for idempotent calls. The SDK's own
// retries are off so that each attempt takes a token.
import { APIResponseError, Client, isNotionClientError, LogLevel, RequestTimeoutError } from "@notionhq/client";
import { db } from "../db.ts";
import type { Logger } from "../logger.ts";
import { outboundTraceparent } from "../trace.ts";

export const NOTION_VERSION = "2025-09-03";

/** Requests are spaced this much under the configured limit, so delays never bunch them above it. */
export const RATE_MARGIN = 0.97;
const MAX_5XX_RETRIES = 2;
const MAX_429_RETRIES = 4;

export interface NotionClientOptions {
  apiKey: string;
  baseUrl?: string;
  /** Notion's average requests per second for this integration (default 3). */
  ratePerSecond?: number;
  /** A request that would wait longer than this for its slot fails (retryable) instead. */
  maxWaitSeconds?: number;
  /** Defaults to globalThis.fetch, looked up per call (so test interceptors see every request). */
  fetch?: typeof fetch;
  log?: Logger;
  /** Per HTTP attempt (the wait for a rate-limit slot is not counted). */
  timeoutMs?: number;
  /** Aborts waits and requests (the task's timeout signal). */
  signal?: AbortSignal;
}

export class RateLimitBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RateLimitBusyError";
  }
}

/** The bucket name: per integration token, without storing the token. */
export async function rateBucketFor(apiKey: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(apiKey)));
  return "notion:" + Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (ms <= 0) return resolve();
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason ?? new Error("aborted"));
    }, { once: true });
  });

/** Waits for this caller's slot in the shared bucket. */
export async function takeToken(bucket: string, ratePerSecond: number, maxWaitSeconds: number, signal?: AbortSignal): Promise<number> {
  const [{ wait }] = await db()<{ wait: number }[]>`
    select orchestrator.rate_limit_take(${bucket}, ${ratePerSecond * RATE_MARGIN}, 1, ${maxWaitSeconds}) as wait`;
  if (wait < 0) {
    throw new RateLimitBusyError(
      `Notion rate limit: the next free request slot is ${(-wait).toFixed(1)} s away (over ${maxWaitSeconds} s); the task will retry later`,
    );
  }
  await sleep(wait * 1000, signal);
  return wait;
}

export function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, (date - Date.now()) / 1000) : undefined;
}

/** Safe to send twice: reads, deletes, queries, and property updates of a page. Creates and appends are not. */
export function isIdempotent(method: string, url: string): boolean {
  const m = method.toUpperCase();
  const path = new URL(url).pathname;
  if (m === "GET" || m === "DELETE") return true;
  if (m === "POST" && /\/v1\/data_sources\/[^/]+\/query$/.test(path)) return true;
  if (m === "PATCH" && /\/v1\/pages\/[^/]+$/.test(path)) return true;
  return false;
}

export interface NotionHttpStats {
  requests: number;
  throttled: number;
  retried5xx: number;
  waitedMs: number;
}

export interface NotionApi {
  client: Client;
  bucket: string;
  stats: NotionHttpStats;
}

/** The request each failed call made ("GET /v1/databases/<id>"), for error messages. */
const failedRequests = new WeakMap<object, string>();

/** The method and path of the Notion call that threw err, when it came from our client. */
export function failedRequestOf(err: unknown): string | undefined {
  return typeof err === "object" && err !== null ? failedRequests.get(err) : undefined;
}

/**
 * Every SDK method goes through Client.request: wrapping it names the call that
 * failed (method + path; the token travels in a header, never in the path), so
 * "Notion API 400 invalid_request_url" always says which request it was.
 */
class RequestNamingClient extends Client {
  override async request<ResponseBody extends object>(args: Parameters<Client["request"]>[0]): Promise<ResponseBody> {
    try {
      return await super.request<ResponseBody>(args);
    } catch (err) {
      if (typeof err === "object" && err !== null && !failedRequests.has(err)) {
        failedRequests.set(err, `${String(args.method).toUpperCase()} /v1/${String(args.path).replace(/^\/+/, "")}`);
      }
      throw err;
    }
  }
}

export async function createNotionClient(opts: NotionClientOptions): Promise<NotionApi> {
  const bucket = await rateBucketFor(opts.apiKey);
  const rate = opts.ratePerSecond ?? 3;
  const maxWait = opts.maxWaitSeconds ?? 60;
  const log = opts.log;
  const stats: NotionHttpStats = { requests: 0, throttled: 0, retried5xx: 0, waitedMs: 0 };

  const limitedFetch = async (url: string, init: RequestInit = {}): Promise<Response> => {
    const method = (init.method ?? "GET").toUpperCase();
    const idempotent = isIdempotent(method, url);
    const doFetch = opts.fetch ?? globalThis.fetch;
    const signal = opts.signal;
    for (let attempt = 1; ; attempt++) {
      const waited = await takeToken(bucket, rate, maxWait, signal);
      stats.waitedMs += Math.round(waited * 1000);
      stats.requests++;
      let res: Response;
      try {
        const timeout = AbortSignal.timeout(opts.timeoutMs ?? 30_000);
        const { agent: _agent, ...rest } = init as RequestInit & { agent?: unknown };
        // Each attempt is a hop of the task's trace: a traceparent with a new parent id.
        const headers = new Headers(rest.headers);
        const traceparent = outboundTraceparent();
        if (traceparent) headers.set("traceparent", traceparent);
        res = await doFetch(url, { ...rest, headers, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
      } catch (err) {
        if (idempotent && attempt <= MAX_5XX_RETRIES && !signal?.aborted) {
          log?.warn(`Notion ${method} ${new URL(url).pathname}: network error, retrying`, { attempt, error: String(err) });
          await sleep(500 * 2 ** (attempt - 1), signal);
          continue;
        }
        throw err;
      }
      if (res.status === 429) {
        stats.throttled++;
        const retryAfter = parseRetryAfter(res.headers.get("retry-after")) ?? 1;
        // Everyone waits, not only this caller: the bucket's next slot moves past Retry-After.
        await db()`select orchestrator.rate_limit_defer(${bucket}, ${retryAfter})`;
        log?.warn(`Notion answered 429 rate_limited; every worker waits ${retryAfter} s (Retry-After)`, {
          method, path: new URL(url).pathname, retry_after_s: retryAfter, attempt,
        });
        if (attempt <= MAX_429_RETRIES && retryAfter <= maxWait) {
          await res.body?.cancel();
          continue;
        }
        return res;
      }
      if (res.status >= 500 && idempotent && attempt <= MAX_5XX_RETRIES) {
        stats.retried5xx++;
        log?.warn(`Notion ${method} ${new URL(url).pathname} answered ${res.status}; retrying (idempotent call)`, { attempt });
        await res.body?.cancel();
        await sleep(500 * 2 ** (attempt - 1), signal);
        continue;
      }
      return res;
    }
  };

  const client = new RequestNamingClient({
    auth: opts.apiKey,
    baseUrl: opts.baseUrl ?? "https://api.notion.com",
    notionVersion: NOTION_VERSION,
    fetch: limitedFetch as never,
    retry: false,
    // Our fetch times out each attempt; the SDK's timeout would also cover the wait for a slot.
    timeoutMs: 15 * 60_000,
    logLevel: LogLevel.ERROR,
    logger: (level, message, extra) => log?.debug(`notion sdk ${level}: ${message}`, { extra }),
  });
  return { client, bucket, stats };
}

/** What a failed Notion call means for the sync. */
export interface NotionFailure {
  status?: number;
  code?: string;
  message: string;
  /** Retrying the task can help (429, 5xx, network, timeouts, busy bucket). */
  retryable: boolean;
  /** The configuration is wrong (token, database, sharing, schema): someone must fix it. */
  config: boolean;
  /** The call that failed, "METHOD /v1/path" (no secrets: the token is a header). */
  request?: string;
}

export function describeNotionError(err: unknown): NotionFailure {
  const failure = describeFailure(err);
  const request = failedRequestOf(err);
  return request ? { ...failure, request, message: `${failure.message} (request: ${request})` } : failure;
}

function describeFailure(err: unknown): NotionFailure {
  if (err instanceof RateLimitBusyError) return { message: err.message, retryable: true, config: false };
  if (APIResponseError.isAPIResponseError(err)) {
    const e = err as APIResponseError;
    const base = `Notion API ${e.status} ${e.code}: ${e.message}`;
    switch (e.status) {
      case 401:
        return { status: 401, code: e.code, retryable: false, config: true,
          message: `Notion rejected NOTION_API_KEY (401 ${e.code}): check the integration secret. ${e.message}` };
      case 403:
        return { status: 403, code: e.code, retryable: false, config: true,
          message: `Notion refused access (403 ${e.code}): give the integration the capabilities it needs (read, update, insert content). ${e.message}` };
      case 404:
        return { status: 404, code: e.code, retryable: false, config: true,
          message: `Notion could not find it (404 ${e.code}): check NOTION_DATABASE_ID and share the database with the integration (••• → Connections). ${e.message}` };
      case 400:
        return { status: 400, code: e.code, retryable: false, config: /propert|option|schema/i.test(e.message), message: base };
      case 409:
        return { status: 409, code: e.code, retryable: true, config: false, message: base };
      case 429:
        return { status: 429, code: e.code, retryable: true, config: false, message: `${base} (still limited after waiting Retry-After)` };
      default:
        return { status: e.status, code: e.code, retryable: e.status >= 500, config: false, message: base };
    }
  }
  if (err instanceof RequestTimeoutError) return { message: `Notion request timed out: ${err.message}`, retryable: true, config: false };
  if (isNotionClientError(err)) {
    const e = err as { code: string; message: string; status?: number };
    return { status: e.status, code: e.code, message: `Notion ${e.code}: ${e.message}`, retryable: (e.status ?? 500) >= 500, config: false };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { message: `Notion request failed: ${message}`, retryable: true, config: false };
}
