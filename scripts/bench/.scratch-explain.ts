import { mkdtempSync, chmodSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { LocalStack } from "../stack/stack.ts";
import { freePort } from "./common.ts";
const dataDir = mkdtempSync(join(tmpdir(), "orch-scratch-")); chmodSync(dataDir, 0o755);
const stack = new LocalStack({ dataDir, pgPort: await freePort(), apiPort: await freePort(), fast: false });
await stack.start();
await stack.functions.stop();
const sql = postgres(stack.info.DB_URL, { max: 1, onnotice: (n: any) => console.log(n.message) });
try {
  await sql`insert into orchestrator.tasks (type, payload, source) select 'noop', '{}'::jsonb, 'bench' from generate_series(1, ${Number(process.env.N ?? 100000)})`;
  await sql`vacuum analyze orchestrator.tasks`;
  await sql.unsafe(`load 'auto_explain'; set auto_explain.log_nested_statements = on; set auto_explain.log_min_duration = 0; set auto_explain.log_analyze = on; set client_min_messages = log;`);
  for (const q of process.argv.slice(2)) {
    for (let i = 0; i < 2; i++) {
      const t = performance.now();
      await sql.unsafe(q);
      console.log(`---- ${(performance.now() - t).toFixed(2)} ms`);
    }
  }
} finally {
  await sql.end(); await stack.stop(); rmSync(dataDir, { recursive: true, force: true });
}
