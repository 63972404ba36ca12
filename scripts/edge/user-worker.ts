// One user worker: a Deno process serving one function, as an isolate of Supabase's edge-runtime
// does. The gateway (scripts/edge-runtime.ts) starts it on demand:
//   deno run … scripts/edge/user-worker.ts <function name> <entrypoint URL>
// It imports that one function, serves it on a private port, tracks EdgeRuntime.waitUntil work,
// and talks to the gateway over its pipes:
//   stdout lines "@@edge {json}" → {ready, port} once serving, {pending} whenever the count of
//     unsettled waitUntil promises changes (every other line is the function's own output);
//   stdin line "beforeunload <reason>" → a `beforeunload` event, shortly before a wall-clock kill.
import { CONTROL_PREFIX, lines, ORIGINAL_LENGTH_HEADER, ORIGINAL_URL_HEADER } from "./worker-protocol.ts";

const [name, entrypoint] = Deno.args;
if (!name || !entrypoint) {
  console.error("usage: user-worker.ts <function name> <entrypoint URL>");
  Deno.exit(2);
}

const report = (message: Record<string, unknown>) => console.log(`${CONTROL_PREFIX}${JSON.stringify(message)}`);
const logLine = (level: string, message: string) => console.error(JSON.stringify({ level, component: "edge-runtime", function: name, message }));

/** A disconnect is routine, not a crash: no stack, no line. */
function isDisconnect(err: unknown): boolean {
  const e = err as { name?: string; code?: string; message?: string };
  return ["BadResource", "Interrupted", "BrokenPipe", "ConnectionReset", "AbortError"].includes(e?.name ?? "") ||
    ["ECONNRESET", "EPIPE", "ERR_STREAM_PREMATURE_CLOSE", "ERR_STREAM_DESTROYED"].includes(e?.code ?? "") ||
    /connection (closed|reset)|resource unavailable|broken pipe|aborted/i.test(e?.message ?? "");
}

// Background work handed to waitUntil keeps the worker alive after its responses: the gateway does
// not drop a retired worker while any of it is pending. Failures are printed, never swallowed.
const pending = new Set<Promise<unknown>>();
(globalThis as unknown as { EdgeRuntime: unknown }).EdgeRuntime = {
  waitUntil<T>(promise: Promise<T>): Promise<T> {
    const tracked = Promise.resolve(promise).catch((err) => {
      if (!isDisconnect(err)) logLine("error", `waitUntil task failed: ${err}`);
    }).finally(() => {
      pending.delete(tracked);
      report({ pending: pending.size });
    });
    pending.add(tracked);
    report({ pending: pending.size });
    return promise;
  },
};

// One stray rejected promise must not take the worker down (the hosted runtime keeps the isolate too).
globalThis.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  if (!isDisconnect(event.reason)) logLine("error", `unhandled rejection: ${event.reason}`);
});

const mod = await import(entrypoint);
if (typeof mod.default?.fetch !== "function") {
  logLine("fatal", `${entrypoint} must \`export default { fetch }\``);
  Deno.exit(1);
}
const fetchHandler = mod.default.fetch as (req: Request) => Promise<Response>;

const internalError = () =>
  new Response(JSON.stringify({ error: { code: "internal", message: "The function could not answer this request; try again." } }), {
    status: 500,
    headers: { "content-type": "application/json" },
  });

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => report({ ready: true, port }),
  onError(err) {
    if (!isDisconnect(err)) logLine("error", `request failed: ${err}`);
    return internalError();
  },
}, (req) => {
  // The gateway's fetch cannot carry the client's URL (host) and Content-Length; it sends them
  // in headers of its own, and the function sees the request as the client sent it.
  const headers = new Headers(req.headers);
  const url = headers.get(ORIGINAL_URL_HEADER) ?? req.url;
  const length = headers.get(ORIGINAL_LENGTH_HEADER);
  headers.delete(ORIGINAL_URL_HEADER);
  headers.delete(ORIGINAL_LENGTH_HEADER);
  if (length !== null) {
    headers.set("content-length", length);
    headers.delete("transfer-encoding");
  }
  return fetchHandler(new Request(url, { method: req.method, headers, body: req.body, signal: req.signal, duplex: "half" } as RequestInit));
});

// Commands from the gateway, one per line. Its end is the gateway's end (even a kill -9): the
// worker goes with it rather than living on as an orphan holding a port and database connections.
for await (const line of lines(Deno.stdin.readable)) {
  const [command, reason] = line.trim().split(" ");
  if (command === "beforeunload") globalThis.dispatchEvent(new CustomEvent("beforeunload", { detail: { reason } }));
}
Deno.exit(0);
