import { mkdtempSync, chmodSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalStack } from "../stack/stack.ts";
import { connect, freePort } from "./common.ts";
const dataDir = mkdtempSync(join(tmpdir(), "orch-scratch-")); chmodSync(dataDir, 0o755);
const stack = new LocalStack({ dataDir, pgPort: await freePort(), apiPort: await freePort(), fast: process.env.FAST === "1" });
await stack.start();
await stack.functions.stop();
import postgres from 'postgres';
let verbose = false;
const sql = postgres(stack.info.DB_URL, { max: 1, onnotice: (n: any) => verbose && console.log(n.message) });
const B = 250;
async function variant(label: string, setup: () => Promise<unknown>) {
  await sql`alter table orchestrator.tasks enable trigger all`;
  await setup();
  await sql`delete from orchestrator.tasks`;
  await sql`vacuum analyze orchestrator.tasks`;
  const ti = performance.now();
  await sql`select count(*) from orchestrator.enqueue_many('noop', array(select '{}'::jsonb from generate_series(1, 20000)), '{}')`;
  const ins = performance.now() - ti;
  await sql`checkpoint`;
  let tc = 0, tm = 0; let k = 0;
  for (;;) {
    let t = performance.now();
    if (k++ === 40 && process.env.EXPLAIN) { await sql.unsafe(`load 'auto_explain'; set auto_explain.log_nested_statements = on; set auto_explain.log_min_duration = 0; set auto_explain.log_analyze = on; set auto_explain.log_triggers = on; set client_min_messages = log;`); verbose = true; }
    const rows = await sql<{ id: number; lease_token: string }[]>`select * from orchestrator.claim('w', ${B}, 60, array['noop'], '{}')`;
    const wasVerbose = verbose; verbose = false;
    tc += performance.now() - t;
    if (!rows.length) break;
    t = performance.now(); verbose = wasVerbose;
    await sql`select count(*) from orchestrator.complete_many(${rows.map(r => r.id)}::bigint[], ${rows.map(r => r.lease_token)}::uuid[], (select array_agg('{"ok":true}'::jsonb) from generate_series(1, ${rows.length})))`;
    tm += performance.now() - t;
    if (wasVerbose) await sql.unsafe(`set client_min_messages = notice; set auto_explain.log_min_duration = -1`);
  }
  console.log(`${label.padEnd(40)} insert ${ins.toFixed(0)} ms, claim ${tc.toFixed(0)} ms, complete ${tm.toFixed(0)} ms  (20k tasks, batches of ${B})`);
}
try {
  await variant("as is", async () => {});
  await variant("as is", async () => {});
} finally {
  await sql.end(); await stack.stop(); rmSync(dataDir, { recursive: true, force: true });
}
