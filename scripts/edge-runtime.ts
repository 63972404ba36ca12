// Local Edge Functions server (Deno), standing in for `supabase functions serve`
// where Docker cannot run. Serves every [functions.X] of supabase/config.toml at
// /functions/v1/X/*, with Supabase's gateway behaviour: verify_jwt checks the
// project JWT, the function sees the path "/X/...", and EdgeRuntime.waitUntil
// keeps background work alive after the response.
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

Deno.serve({ hostname: "127.0.0.1", port, onListen: () => console.log(`functions ready on http://127.0.0.1:${port}/functions/v1/ (${[...functions.keys()].join(", ")})`) }, async (req) => {
  const started = performance.now();
  const url = new URL(req.url);
  const m = /^\/functions\/v1\/([\w-]+)(\/.*)?$/.exec(url.pathname);
  const fn = m ? functions.get(m[1]) : undefined;
  let res: Response;
  if (!fn) {
    res = new Response(JSON.stringify({ error: { code: "not_found", message: `No function at ${url.pathname}. Functions: ${[...functions.keys()].map((n) => `/functions/v1/${n}`).join(", ")}` } }), {
      status: 404,
      headers: { "content-type": "application/json" },
    });
  } else {
    const denied = fn.verifyJwt && req.method !== "OPTIONS" ? await gatewayAllows(req) : undefined;
    if (denied) {
      res = denied;
    } else {
      // Hosted Supabase hands the function the path without /functions/v1.
      const inner = new URL(`/${fn.name}${m![2] ?? ""}${url.search}`, url);
      res = await fn.fetch!(new Request(inner, req));
    }
  }
  if (Deno.env.get("EDGE_ACCESS_LOG") !== "0") {
    console.log(JSON.stringify({ level: "debug", component: "edge-runtime", message: `${req.method} ${url.pathname} ${res.status} ${(performance.now() - started).toFixed(1)}ms` }));
  }
  return res;
});
