import { mkdtempSync, chmodSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { LocalStack, ROOT } from "../stack/stack.ts";
import { connect, freePort } from "./common.ts";
const dataDir = mkdtempSync(join(tmpdir(), "orch-scratch-")); chmodSync(dataDir, 0o755);
const stack = new LocalStack({ dataDir, pgPort: await freePort(), apiPort: await freePort(), fast: false });
await stack.start();
await stack.functions.stop();
const sql = connect(stack.info.DB_URL, 2);
if (process.env.PGLOG) { await sql`alter system set log_min_duration_statement = 0`; await sql`select pg_reload_conf()`; }
try {
  for (let rep = 0; rep < 2; rep++) {
    await sql`delete from orchestrator.tasks`;
    await sql`select count(*) from orchestrator.enqueue_many('noop', array(select '{}'::jsonb from generate_series(1, 20000)), '{}')`;
    const r = spawnSync(join(ROOT, "node_modules/.bin/deno"), ["run", "-A", "--config", join(ROOT, "deno.json"), ...(process.env.DENOFLAGS ?? "").split(" ").filter(Boolean), join(ROOT, "scripts/bench/.scratch-deno-worker.ts")], {
      env: { ...process.env, SUPABASE_DB_URL: stack.info.DB_URL, WORKER_BATCH_SIZE: "250" }, encoding: "utf8", maxBuffer: 1e9,
    });
    console.log(r.stderr);
  }
  if (process.env.PGLOG) { spawnSync("python3", ["/tmp/pglogparse.py", join(dataDir, "postgres.log")], { stdio: "inherit" }); } if (false) { const { readFileSync } = await import("node:fs"); const log = readFileSync(join(dataDir, "postgres.log"), "utf8").split("\n"); const d = (re: RegExp) => log.filter((l) => re.test(l)).map((l) => Number(/duration: ([\d.]+) ms/.exec(l)?.[1] ?? 0)); for (const [k, re] of [["claim", /orchestrator.claim/], ["complete_many", /complete_many/], ["logs", /insert into orchestrator.logs/]] as const) { const v = d(re); console.log(k, v.length, "calls, total", v.reduce((a, b) => a + b, 0).toFixed(0), "ms, max", Math.max(...v).toFixed(1)); } }
} finally {
  await sql.end(); await stack.stop(); rmSync(dataDir, { recursive: true, force: true });
}
