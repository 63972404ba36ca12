// The internal dashboard: every GET outside /functions/v1 is a static file of
// dashboard/dist (`npm run build:dashboard`), with index.html for unknown paths.
const root = new URL("../../", import.meta.url);
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

export async function serveDashboard(req: Request, url: URL): Promise<Response> {
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

