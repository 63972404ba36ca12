import { mkdtempSync, chmodSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalStack } from "../stack/stack.ts";
import { connect, freePort, sleep } from "./common.ts";
const dataDir = mkdtempSync(join(tmpdir(), "orch-scratch-")); chmodSync(dataDir, 0o755);
let lines = 0;
const env = Object.fromEntries((process.env.FENV ?? "").split(",").filter(Boolean).map((kv) => kv.split("=")));
const stack = new LocalStack({ dataDir, pgPort: await freePort(), apiPort: await freePort(), fast: false, functionEnv: env, onLine: (s, l) => { lines++; if (process.env.SHOW && !l.includes('"info"')) console.log(s, l.slice(0, 300)); } });
await stack.start();
const sql = connect(stack.info.DB_URL, 2);
const N = Number(process.env.N ?? 20000);
try {
  for (let rep = 0; rep < Number(process.env.REPS ?? 2); rep++) {
    await sql`truncate orchestrator.logs`;
    await sql`delete from orchestrator.tasks`;
    await sql`vacuum analyze orchestrator.tasks`;
    await sql`checkpoint`;
    const { execSync } = await import("node:child_process");
    const before = execSync("/tmp/cpu.sh").toString();
    const t0 = Date.now();
    await sql`select count(*) from orchestrator.enqueue_many('noop', array(select '{}'::jsonb from generate_series(1, ${N})), '{}')`;
    const tIns = Date.now() - t0;
    for (;;) {
      const [{ open }] = await sql`select count(*)::int as open from orchestrator.tasks where status in ('queued','running')`;
      if (open === 0) break;
      await sleep(100);
    }
    const [{ first, last }] = await sql`select extract(epoch from min(started_at))*1000 as first, extract(epoch from max(finished_at))*1000 as last from orchestrator.tasks`;
    console.log(`rep ${rep}: insert ${tIns} ms; first start +${(first - t0).toFixed(0)} ms; all done +${(last - t0).toFixed(0)} ms = ${(N / (last - t0) * 1000).toFixed(0)}/s; lines ${lines}`);
    console.log("cpu before:\n" + before + "cpu after:\n" + execSync("/tmp/cpu.sh").toString());
    const workers = await sql`select context from orchestrator.logs where message like 'worker % done' or message like 'worker % stopped%' order by id`;
    for (const w of workers) console.log("  ", JSON.stringify(w.context));
  }
} finally {
  await sql.end(); await stack.stop(); rmSync(dataDir, { recursive: true, force: true });
}
