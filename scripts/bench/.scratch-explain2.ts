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
let verbose = false;
const sql = postgres(stack.info.DB_URL, { max: 1, onnotice: (n: any) => verbose && console.log(n.message) });
try {
  await sql`select count(*) from orchestrator.enqueue_many('noop', array(select '{}'::jsonb from generate_series(1, 20000)), '{}')`;
  for (let i = 0; i < 400; i++) {
    const t = performance.now();
    await sql`select count(*) from orchestrator.complete_many(array(select id from orchestrator.claim('w', 25, 60, array['noop'], '{}')), array(select lease_token from orchestrator.tasks where status='running' and locked_by='w'), array[]::jsonb[])`;
    await sql`update orchestrator.tasks set status='succeeded', lease_token=null, locked_by=null, locked_until=null where status='running'`;
    if (i % 100 === 0) console.log(i, (performance.now() - t).toFixed(2));
  }
  await sql.unsafe(`load 'auto_explain'; set auto_explain.log_nested_statements = on; set auto_explain.log_min_duration = 0; set auto_explain.log_analyze = on; set auto_explain.log_buffers = on; set auto_explain.log_triggers = on; set client_min_messages = log;`);
  verbose = true;
  const t = performance.now();
  await sql`select id from orchestrator.claim('w', 25, 60, array['noop'], '{}')`;
  console.log(`---- ${(performance.now() - t).toFixed(2)} ms`);
} finally {
  await sql.end(); await stack.stop(); rmSync(dataDir, { recursive: true, force: true });
}
