// `npm run latency`: POST /tasks {"type":"noop"} 200 times (one every 50 ms) on a
// private stack and report insert→finish latency through the webhook path alone
// (pg_net wake-up → task-worker), from the database's own timestamps.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { LocalStack } from "./stack/stack.ts";
import { freePort } from "./stack/ports.ts";

const COUNT = Number(process.argv[2] ?? 200);
const GAP_MS = 50;
const dataDir = mkdtempSync(join(tmpdir(), "orchestrator-latency-"));
chmodSync(dataDir, 0o755);
const stack = new LocalStack({ dataDir, pgPort: await freePort(), apiPort: await freePort(), fast: false, onProgress: (s) => console.log(`› ${s}`) });
const info = await stack.start();
const sql = postgres(info.DB_URL, { max: 2, onnotice: () => {} });
try {
  // The cron sweep must not help: pause it for the measurement.
  await sql`update cron.job set active = false where jobname = 'orchestrator-sweep'`;
  const ids: number[] = [];
  for (let i = 0; i < COUNT; i++) {
    const res = await fetch(`${info.FUNCTIONS_URL}/tasks`, {
      method: "POST",
      headers: { authorization: `Bearer ${info.SERVICE_ROLE_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ type: "noop" }),
    });
    if (res.status !== 201) throw new Error(`POST /tasks answered ${res.status}: ${await res.text()}`);
    ids.push((await res.json()).id);
    if ((i + 1) % 50 === 0) process.stdout.write(`  ${i + 1}/${COUNT} posted\n`);
    await new Promise((r) => setTimeout(r, GAP_MS));
  }
  const deadline = Date.now() + 30_000;
  let rows: { ms: number }[] = [];
  while (Date.now() < deadline) {
    rows = await sql<{ ms: number }[]>`
      select extract(epoch from finished_at - created_at)::float8 * 1000 as ms
      from orchestrator.tasks where id = any(${ids}::bigint[]) and status = 'succeeded'`;
    if (rows.length === COUNT) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const ms = rows.map((r) => r.ms).sort((a, b) => a - b);
  const pct = (p: number) => ms[Math.min(ms.length - 1, Math.floor((p / 100) * ms.length))].toFixed(1);
  console.log(`\nwebhook path, ${ms.length}/${COUNT} succeeded (cron sweep paused)`);
  console.log(`insert → finish  p50 ${pct(50)} ms   p95 ${pct(95)} ms   p99 ${pct(99)} ms   max ${ms[ms.length - 1].toFixed(1)} ms`);
  if (ms.length !== COUNT) process.exitCode = 1;
} finally {
  await sql`update cron.job set active = true where jobname = 'orchestrator-sweep'`.catch(() => {});
  await sql.end();
  await stack.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
