// Vite config for the internal dashboard: `npm run build:dashboard` writes
// static files to dashboard/dist, deployable to any static host.
// DASHBOARD_PROJECT_URL (optional, e.g. https://<ref>.supabase.co) is the project
// whose /functions/v1 API the build talks to; empty = the origin serving the page.
// No key is ever built in: the dashboard asks for it at sign-in.
import { defineConfig } from "vite";
import preact from "@preact/preset-vite";
import { fileURLToPath } from "node:url";

const projectUrl = (process.env.DASHBOARD_PROJECT_URL ?? "").trim().replace(/\/+$/, "");
if (projectUrl && !/^https?:\/\/[^/]+/.test(projectUrl)) {
  throw new Error(`DASHBOARD_PROJECT_URL must be an http(s) URL, got ${JSON.stringify(projectUrl)}`);
}

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  // Relative asset URLs: the build works under any path of any static host.
  base: "./",
  plugins: [preact()],
  define: { __PROJECT_URL__: JSON.stringify(projectUrl) },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
  },
  // `npm run dev:dashboard`: the API of the running `npm start` stack, proxied to the dev server's origin.
  server: {
    host: "127.0.0.1",
    proxy: { "/functions/v1": `http://127.0.0.1:${process.env.ORCH_API_PORT ?? 54321}` },
  },
  logLevel: "warn",
});
