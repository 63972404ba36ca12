// Local Edge Functions server (Deno), standing in for `supabase functions serve`
// where Docker cannot run. Serves every [functions.X] of supabase/config.toml at
// /functions/v1/X/*, with Supabase's gateway behaviour: verify_jwt checks the
// project JWT, the function sees the path "/X/...", and EdgeRuntime.waitUntil
// keeps background work alive after the response.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Buffer } from "node:buffer";
import { Readable } from "node:stream";
import { jwtVerify } from "jose";

const root = new URL("../", import.meta.url);
const port = Number(Deno.env.get("EDGE_PORT") ?? 54321);
const jwtSecret = Deno.env.get("LOCAL_JWT_SECRET");

interface FunctionEntry {
  name: string;
  verifyJwt: boolean;
  entrypoint: string;
  fetch?: (req: Request) => Promise<Response>;
}

/** Reads the [functions.X] tables of supabase/config.toml (only the keys we use). */
function readFunctionConfig(): FunctionEntry[] {
  const toml = Deno.readTextFileSync(new URL("supabase/config.toml", root));
  const entries: FunctionEntry[] = [];
  let current: FunctionEntry | undefined;
  for (const raw of toml.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    const table = /^\[(.+)\]$/.exec(line)?.[1];
    if (table) {
      current = undefined;
      const name = /^functions\.("?)([\w-]+)\1$/.exec(table)?.[2];
      if (name) entries.push(current = { name, verifyJwt: true, entrypoint: `../functions/${name}/index.ts` });
      continue;
    }
    const kv = /^([\w]+)\s*=\s*(.+)$/.exec(line);
    if (!current || !kv) continue;
    if (kv[1] === "verify_jwt") current.verifyJwt = kv[2] === "true";
    if (kv[1] === "entrypoint") current.entrypoint = JSON.parse(kv[2]);
    if (kv[1] === "enabled" && kv[2] === "false") entries.splice(entries.indexOf(current), 1);
  }
  return entries;
}

// Background work handed to waitUntil runs to completion; failures are printed, never swallowed.
(globalThis as unknown as { EdgeRuntime: unknown }).EdgeRuntime = {
  waitUntil(promise: Promise<unknown>) {
    promise.catch((err) => console.error(JSON.stringify({ level: "error", component: "edge-runtime", message: `waitUntil task failed: ${err}` })));
  },
};

const functions = new Map<string, FunctionEntry>();
for (const entry of readFunctionConfig()) {
  const url = new URL(entry.entrypoint, new URL("supabase/", root));
  const mod = await import(url.href);
  if (typeof mod.default?.fetch !== "function") {
    throw new Error(`${entry.entrypoint} must \`export default { fetch }\``);
  }
  entry.fetch = (req) => mod.default.fetch(req);
  functions.set(entry.name, entry);
}

// The internal dashboard: every GET outside /functions/v1 is a static file of
// dashboard/dist (`npm run build:dashboard`), with index.html for unknown paths.
const dashboardDir = new URL("dashboard/dist/", root);
const MIME: Record<string, string> = {
  html: "text/html; charset=utf-8", js: "text/javascript; charset=utf-8", css: "text/css; charset=utf-8",
  json: "application/json", svg: "image/svg+xml", png: "image/png", ico: "image/x-icon", txt: "text/plain; charset=utf-8",
  woff2: "font/woff2", map: "application/json",
};
const STATIC_HEADERS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; connect-src 'self' https: http://127.0.0.1:* http://localhost:*; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
};

async function serveDashboard(req: Request, url: URL): Promise<Response> {
  let rel: string;
  try {
    rel = decodeURIComponent(url.pathname).replace(/^\/+/, "");
  } catch {
    return new Response("Bad path", { status: 400 });
  }
  const segments = rel.split("/").filter(Boolean);
  if (segments.some((s) => s === ".." || s === "." || s.includes("\0") || s.includes("\\"))) return new Response("Not found", { status: 404 });
  let file = new URL((segments.length ? segments : ["index.html"]).map(encodeURIComponent).join("/"), dashboardDir);
  const isFile = async (u: URL) => (await Deno.stat(u).catch(() => undefined))?.isFile === true;
  if (!(await isFile(file))) {
    // A path with an extension is a missing asset; anything else is a dashboard route.
    if (/\.[a-z0-9]+$/i.test(segments.at(-1) ?? "")) return new Response("Not found", { status: 404, headers: STATIC_HEADERS });
    file = new URL("index.html", dashboardDir);
    if (!(await isFile(file))) {
      return new Response(
        `<!doctype html><meta charset="utf-8"><title>Dashboard not built</title><body style="font-family:sans-serif;max-width:40rem;margin:3rem auto;line-height:1.5">` +
          `<h1>The dashboard is not built yet</h1><p>Run <code>npm run build:dashboard</code> in the project, then reload this page ` +
          `(<code>npm start</code> builds it when <code>dashboard/dist</code> is missing).</p>` +
          `<p>The API is up: <a href="/functions/v1/health">/functions/v1/health</a>.</p></body>`,
        { status: 503, headers: { ...STATIC_HEADERS, "content-type": "text/html; charset=utf-8", "cache-control": "no-store" } },
      );
    }
  }
  const ext = /\.([a-z0-9]+)$/i.exec(file.pathname)?.[1]?.toLowerCase() ?? "";
  const body = req.method === "HEAD" ? null : await Deno.readFile(file);
  return new Response(body, {
    status: 200,
    headers: {
      ...STATIC_HEADERS,
      "content-type": MIME[ext] ?? "application/octet-stream",
      "cache-control": file.pathname.includes("/assets/") ? "public, max-age=31536000, immutable" : "no-cache",
    },
  });
}

const gatewayError = (status: number, message: string) =>
  new Response(JSON.stringify({ error: { code: "unauthorized", message } }), {
    status,
    headers: { "content-type": "application/json", "access-control-allow-origin": "*" },
  });

async function gatewayAllows(req: Request): Promise<Response | undefined> {
  const token = /^Bearer\s+(.+)$/i.exec(req.headers.get("authorization") ?? "")?.[1];
  if (!token) return gatewayError(401, "Missing authorization header: send `Authorization: Bearer <key>`.");
  if (!jwtSecret) return undefined;
  try {
    await jwtVerify(token, new TextEncoder().encode(jwtSecret));
    return undefined;
  } catch {
    return gatewayError(401, "Invalid JWT: the key is not one this project issued.");
  }
}

/** A disconnect is routine, not a crash: no stack, no line. */
function isDisconnect(err: unknown): boolean {
  const e = err as { name?: string; code?: string; message?: string };
  return ["BadResource", "Interrupted", "BrokenPipe", "ConnectionReset", "AbortError"].includes(e?.name ?? "") ||
    ["ECONNRESET", "EPIPE", "ERR_STREAM_PREMATURE_CLOSE", "ERR_STREAM_DESTROYED"].includes(e?.code ?? "") ||
    /connection (closed|reset)|resource unavailable|broken pipe|aborted/i.test(e?.message ?? "");
}

// One stray rejected promise must not take every function down (the hosted runtime isolates
// requests the same way): print it and keep serving.
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
  if (!/^\/functions\/v1(\/|$)/.test(url.pathname) && (req.method === "GET" || req.method === "HEAD")) {
    return await serveDashboard(req, url);
  }
  if (!fn) {
    return new Response(JSON.stringify({ error: { code: "not_found", message: `No function at ${url.pathname}. Functions: ${[...functions.keys()].map((n) => `/functions/v1/${n}`).join(", ")}` } }), {
      status: 404,
      headers: { "content-type": "application/json" },
    });
  }
  const denied = fn.verifyJwt && req.method !== "OPTIONS" ? await gatewayAllows(req) : undefined;
  if (denied) return denied;
  // Hosted Supabase hands the function the path without /functions/v1.
  const inner = new URL(`/${fn.name}${m![2] ?? ""}${url.search}`, url);
  return await fn.fetch!(new Request(inner, req));
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
// Long worker invocations (budget_ms up to 400 s) must not be cut by Node's default request timeout;
// stalled bodies are cut by the functions' own idle timeout (BODY_IDLE_TIMEOUT_MS) instead.
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
  console.log(`functions ready on http://127.0.0.1:${port}/functions/v1/ (${[...functions.keys()].join(", ")})`);
});
