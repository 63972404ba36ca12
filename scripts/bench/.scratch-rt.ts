import { mkdtempSync, chmodSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { LocalStack, ROOT } from "../stack/stack.ts";
import { freePort } from "./common.ts";
const dataDir = mkdtempSync(join(tmpdir(), "orch-scratch-")); chmodSync(dataDir, 0o755);
const stack = new LocalStack({ dataDir, pgPort: await freePort(), apiPort: await freePort(), fast: false });
await stack.start();
await stack.functions.stop();
try {
  const r = spawnSync(join(ROOT, "node_modules/.bin/deno"), ["run", "-A", "--config", join(ROOT, "deno.json"), join(ROOT, "scripts/bench/.scratch-deno-rt.ts")], { env: { ...process.env, SUPABASE_DB_URL: stack.info.DB_URL }, encoding: "utf8" });
  console.log("deno:\n" + r.stderr);
  const r2 = spawnSync(join(ROOT, "node_modules/.bin/node"), [join(ROOT, "scripts/bench/.scratch-node-rt.ts")], { env: { ...process.env, SUPABASE_DB_URL: stack.info.DB_URL }, encoding: "utf8" });
  console.log("node:\n" + r2.stderr + r2.stdout);
} finally {
  await stack.stop(); rmSync(dataDir, { recursive: true, force: true });
}
