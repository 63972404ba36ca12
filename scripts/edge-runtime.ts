// Local Edge Functions gateway (Deno), standing in for `supabase functions serve`
// where Docker cannot run. Serves every [functions.X] of supabase/config.toml at
// /functions/v1/X/*, with Supabase's gateway behaviour: verify_jwt checks the
// project JWT, and the function sees the path "/X/...". Each function runs in user
// workers of its own (scripts/edge/worker-host.ts: one Deno process per worker,
// under the hosted CPU, wall-clock and memory limits of scripts/edge/limits.ts).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Buffer } from "node:buffer";
import { Readable } from "node:stream";
import { gatewayAllows, gatewayKeysFromEnv, jwksResponse } from "./edge/gateway-auth.ts";
import { serveDashboard } from "./edge/dashboard-static.ts";
import { readFunctionConfig } from "./edge/function-config.ts";
import { mainThreadCpuMs, residentMb } from "./edge/proc-stats.ts";
import { LimitsError, readLimits, type WorkerLimits } from "./edge/limits.ts";
import { ShutdownLog } from "./edge/shutdown-log.ts";
import { WorkerHost } from "./edge/worker-host.ts";

const root = new URL("../", import.meta.url);
const port = Number(Deno.env.get("EDGE_PORT") ?? 54321);

let limits: WorkerLimits;
try {
  limits = readLimits();
} catch (err) {
  if (!(err instanceof LimitsError)) throw err;
  console.error(JSON.stringify({ level: "fatal", component: "edge-runtime", message: err.message }));
  Deno.exit(1);
}
// The worker's own budgets follow the limits it runs under, unless set (hosted, an operator sets
// them as function secrets to match the plan: README, "Running on hosted Supabase"). A shortened
// wall clock or CPU limit in a test is then one the worker knows about, as it would be hosted.
if (!Deno.env.get("WORKER_WALL_CLOCK_MS")) Deno.env.set("WORKER_WALL_CLOCK_MS", String(limits.wallClockMs));
if (!Deno.env.get("WORKER_CPU_RETIRE_MS")) Deno.env.set("WORKER_CPU_RETIRE_MS", String(limits.cpuSoftMs));
if (!Deno.env.get("WORKER_CPU_BUDGET_MS")) {
  Deno.env.set("WORKER_CPU_BUDGET_MS", String(Math.round(limits.cpuSoftMs + (limits.cpuHardMs - limits.cpuSoftMs) * 0.2)));
}
// The limits depend on reading workers' CPU and memory; without it nothing would be enforced.
if (mainThreadCpuMs(Deno.pid) === undefined || residentMb(Deno.pid) === undefined) {
  console.error(JSON.stringify({ level: "fatal", component: "edge-runtime", message: "cannot read /proc/<pid>/stat of processes: run the gateway on Linux with `deno run --allow-all` (scripts/stack/stack.ts does)" }));
  Deno.exit(1);
}
// LOCAL_JWT_SECRET (legacy HS256) and SUPABASE_JWKS (ES256/RS256), read once: the stack sets them at start.
const gatewayKeys = gatewayKeysFromEnv();
const functions = new Map(readFunctionConfig(root).map((f) => [f.name, f]));
const host = new WorkerHost(limits, new ShutdownLog(Deno.env.get("SUPABASE_DB_URL")));

/** A disconnect is routine, not a crash: no stack, no line. */
function isDisconnect(err: unknown): boolean {
  const e = err as { name?: string; code?: string; message?: string };
  return ["BadResource", "Interrupted", "BrokenPipe", "ConnectionReset", "AbortError"].includes(e?.name ?? "") ||
    ["ECONNRESET", "EPIPE", "ERR_STREAM_PREMATURE_CLOSE", "ERR_STREAM_DESTROYED"].includes(e?.code ?? "") ||
    /connection (closed|reset)|resource unavailable|broken pipe|aborted/i.test(e?.message ?? "");
}

globalThis.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  if (isDisconnect(event.reason)) return;
  console.error(JSON.stringify({ level: "error", component: "edge-runtime", message: `unhandled rejection: ${event.reason}` }));
});

/** One request, as hosted Supabase's gateway would route it. */
async function route(req: Request): Promise<Response> {
  const url = new URL(req.url);
  const m = /^\/functions\/v1\/([\w-]+)(\/.*)?$/.exec(url.pathname);
  const fn = m ? functions.get(m[1]) : undefined;
  // The project's public keys, where hosted Auth serves them (callers verify ES256 tokens with it).
  const jwks = jwksResponse(req, gatewayKeys);
  if (jwks) return jwks;
  if (!/^\/functions\/v1(\/|$)/.test(url.pathname) && (req.method === "GET" || req.method === "HEAD")) {
    return await serveDashboard(req, url);
  }
  if (!fn) {
    return new Response(JSON.stringify({ error: { code: "not_found", message: `No function at ${url.pathname}. Functions: ${[...functions.keys()].map((n) => `/functions/v1/${n}`).join(", ")}` } }), {
      status: 404,
      headers: { "content-type": "application/json" },
    });
  }
  const denied = fn.verifyJwt && req.method !== "OPTIONS" ? await gatewayAllows(req, gatewayKeys) : undefined;
  if (denied) return denied;
  // Hosted Supabase hands the function the path without /functions/v1.
  const inner = new URL(`/${fn.name}${m![2] ?? ""}${url.search}`, url);
  return await host.handle(fn, req, inner);
}

const internalError = () =>
  new Response(JSON.stringify({ error: { code: "internal", message: "The function server could not answer this request; try again." } }), {
    status: 500,
    headers: { "content-type": "application/json" },
  });

// node:http (Deno's Node compatibility) rather than Deno.serve: it lets the server close a connection.
// Deno.serve keeps a connection open for as long as the client has not sent the body it announced,
// even after answering (a 401 before the body is read, a 408 for a stalled sender), so 300 stalled
// senders held 300 connections for minutes. Here a response that leaves the announced body unread
// closes the connection, and a client that disconnects is quiet (no BadResource stack per connection).
// Request line and headers up to 64 KiB, as Deno.serve and hosted Supabase take (Node's default is 16 KiB).
const server = createServer({ maxHeaderSize: 64 * 1024 }, async (nodeReq: IncomingMessage, nodeRes: ServerResponse) => {
  const started = performance.now();
  const method = nodeReq.method ?? "GET";
  const socket = nodeReq.socket as { destroy(): void } | null;
  const announced = Number(nodeReq.headers["content-length"] ?? 0) > 0 || nodeReq.headers["transfer-encoding"] !== undefined;
  let bodyRead = !announced;
  nodeReq.on("end", () => (bodyRead = true));
  // A client gone mid-body: the function sees a failed read and answers quietly (nobody is left to read it).
  nodeReq.on("error", () => {});
  nodeRes.on("error", () => {});
  const aborted = new AbortController();
  nodeRes.on("close", () => {
    if (!nodeRes.writableFinished) aborted.abort();
  });
  const headers = new Headers();
  for (let i = 0; i < nodeReq.rawHeaders.length; i += 2) headers.append(nodeReq.rawHeaders[i], nodeReq.rawHeaders[i + 1]);
  let res: Response;
  try {
    const hasBody = announced && method !== "GET" && method !== "HEAD";
    const req = new Request(`http://${nodeReq.headers.host ?? `127.0.0.1:${port}`}${nodeReq.url ?? "/"}`, {
      method,
      headers,
      body: hasBody ? (Readable.toWeb(nodeReq) as ReadableStream<Uint8Array>) : undefined,
      signal: aborted.signal,
      duplex: "half",
    } as RequestInit);
    res = await route(req);
  } catch (err) {
    if (!isDisconnect(err)) console.error(JSON.stringify({ level: "error", component: "edge-runtime", message: `request failed: ${err}` }));
    res = internalError();
  }
  const close = !bodyRead;
  if (close) res.headers.set("connection", "close");
  try {
    const out: Record<string, string | string[]> = Object.fromEntries(res.headers);
    const cookies = res.headers.getSetCookie();
    if (cookies.length) out["set-cookie"] = cookies;
    nodeRes.writeHead(res.status, out);
    if (res.body && method !== "HEAD") {
      for await (const chunk of res.body) {
        if (nodeRes.destroyed) break;
        nodeRes.write(chunk);
      }
    }
  } catch (err) {
    if (!isDisconnect(err)) console.error(JSON.stringify({ level: "error", component: "edge-runtime", message: `response failed: ${err}` }));
  }
  nodeRes.end(() => {
    // With "connection: close" the server ends the connection itself; this makes sure of it.
    if (close) socket?.destroy();
  });
  if (Deno.env.get("EDGE_ACCESS_LOG") !== "0") {
    console.log(JSON.stringify({ level: "debug", component: "edge-runtime", message: `${method} ${nodeReq.url} ${res.status} ${(performance.now() - started).toFixed(1)}ms` }));
  }
});
// Node's default request timeout must not cut requests: the 150 s no-response rule is the worker
// host's (504), and stalled bodies are cut by the functions' own idle timeout (BODY_IDLE_TIMEOUT_MS).
server.requestTimeout = 0;
// Requests the HTTP parser refuses (headers too large, malformed request line) get the error shape, then the connection closes.
server.on("clientError", (err: Error & { code?: string }, socket: { writable: boolean; end(data: string): void; destroy(): void }) => {
  if (!socket.writable || err.code === "ECONNRESET") return socket.destroy();
  const tooLarge = err.code === "HPE_HEADER_OVERFLOW";
  const body = JSON.stringify({
    error: tooLarge
      ? { code: "headers_too_large", message: "The request line and headers are over 64 KiB; send long filters in a POST body or shorten the URL." }
      : { code: "bad_request", message: "Not a valid HTTP request." },
  });
  socket.end(`HTTP/1.1 ${tooLarge ? "431 Request Header Fields Too Large" : "400 Bad Request"}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
});
server.listen(port, "127.0.0.1", () => {
  console.log(`functions ready on http://127.0.0.1:${port}/functions/v1/ (${[...functions.keys()].join(", ")}); ` +
    `user workers: ${limits.plan} plan, wall clock ${limits.wallClockMs / 1000} s, CPU ${limits.cpuSoftMs}/${limits.cpuHardMs} ms, memory ${limits.memoryMb} MB`);
});

// Stopping (Ctrl-C, the stack's SIGTERM): every worker ends as TerminationRequested, logged, then exit.
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, async () => {
    server.close();
    await host.stop();
    Deno.exit(0);
  });
}
