import { mkdtempSync, chmodSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalStack } from "../stack/stack.ts";
import { connect, freePort } from "./common.ts";
const dataDir = mkdtempSync(join(tmpdir(), "orch-scratch-")); chmodSync(dataDir, 0o755);
const stack = new LocalStack({ dataDir, pgPort: await freePort(), apiPort: await freePort(), fast: false });
await stack.start();
await stack.functions.stop();
const sql = connect(stack.info.DB_URL, 1);
const rows = Array.from({ length: 250 }, (_, i) => ({ at: new Date(), level: "info", component: "task-worker", message: "task noop succeeded", context: sql.json({ attempt: 1, duration_ms: 0.05 }), task_id: 1000 + i, request_id: "2b1f0c3e-1111-4444-8888-123456789abc" }));
async function run(label: string) {
  const t = performance.now();
  for (let i = 0; i < 80; i++) await sql`insert into orchestrator.logs ${sql(rows, "at", "level", "component", "message", "context", "task_id", "request_id")}`;
  const a = performance.now() - t;
  const t2 = performance.now();
  for (let i = 0; i < 80; i++) await sql`insert into orchestrator.logs (at, level, component, message, context, task_id, request_id)
    select * from unnest(${rows.map(r => r.at.toISOString())}::timestamptz[], ${rows.map(r => r.level)}::orchestrator.log_level[], ${rows.map(r => r.component)}::text[], ${rows.map(r => r.message)}::text[], ${rows.map(r => JSON.stringify({ attempt: 1, duration_ms: 0.05 }))}::jsonb[], ${rows.map(r => r.task_id)}::bigint[], ${rows.map(r => r.request_id)}::text[])`;
  const b = performance.now() - t2;
  console.log(`${label}: VALUES ${a.toFixed(0)} ms, unnest ${b.toFixed(0)} ms (20k rows each)`);
}
try {
  await run("all indexes");
  await run("all indexes");
  await sql`drop index orchestrator.logs_message_trgm_idx`;
  await run("no trgm");
  await sql`drop index orchestrator.logs_component_idx`; await sql`drop index orchestrator.logs_level_idx`;
  await run("no trgm/component/level");
} finally {
  await sql.end(); await stack.stop(); rmSync(dataDir, { recursive: true, force: true });
}
