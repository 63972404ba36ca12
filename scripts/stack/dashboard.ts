// Builds the dashboard (dashboard/ → dashboard/dist) for the local stack when the
// build is missing or older than its sources. Several stacks may start at once
// (the test suite starts private ones), so the build lands atomically: written
// to a temp dir, then renamed into place.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

export function dashboardPaths(root: string) {
  const dir = join(root, "dashboard");
  return { dir, dist: join(dir, "dist"), index: join(dir, "dist", "index.html") };
}

function newestSourceMtime(dir: string): number {
  let newest = 0;
  const walk = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) for (const name of readdirSync(p)) walk(join(p, name));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of ["src", "index.html", "vite.config.ts"]) if (existsSync(join(dir, p))) walk(join(dir, p));
  return newest;
}

/** True when dashboard/dist exists and is at least as new as every source file. */
export function dashboardIsFresh(root: string): boolean {
  const { dir, index } = dashboardPaths(root);
  if (!existsSync(index)) return false;
  return statSync(index).mtimeMs >= newestSourceMtime(dir);
}

/** Runs `vite build`; returns an error message, or undefined on success. */
export function buildDashboard(root: string): string | undefined {
  const { dir, dist } = dashboardPaths(root);
  const tag = `${process.pid}-${randomBytes(4).toString("hex")}`;
  const tmp = join(dir, `.dist-tmp-${tag}`);
  const r = spawnSync(process.execPath, [
    join(root, "node_modules", "vite", "bin", "vite.js"), "build", "--config", join(dir, "vite.config.ts"), "--outDir", tmp, "--emptyOutDir",
  ], { cwd: root, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  if (r.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    return `vite build failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`.trim();
  }
  const old = join(dir, `.dist-old-${tag}`);
  try {
    if (existsSync(dist)) renameSync(dist, old);
    renameSync(tmp, dist);
  } catch {
    // Another stack put its build in place first: keep theirs.
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
  }
  return undefined;
}

/** The stack's step: build when missing or stale; never fails the stack (the API works without it). */
export function ensureDashboard(root: string, progress: (step: string) => void): void {
  if (dashboardIsFresh(root)) return;
  const started = Date.now();
  progress("building the dashboard (dashboard/dist is missing or older than its sources)");
  const error = buildDashboard(root);
  if (error) progress(`the dashboard could not be built; the API still runs. Fix it, then \`npm run build:dashboard\`.\n${error}`);
  else progress(`dashboard built in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}
