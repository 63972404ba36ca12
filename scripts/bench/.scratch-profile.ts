import { mkdtempSync, chmodSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalStack } from "../stack/stack.ts";
import { connect, freePort } from "./common.ts";
const dataDir = mkdtempSync(join(tmpdir(), "orch-scratch-")); chmodSync(dataDir, 0o755);
const stack = new LocalStack({ dataDir, pgPort: await freePort(), apiPort: await freePort(), fast: false });
await stack.start();
await stack.functions.stop();
process.env.SUPABASE_DB_URL = stack.info.DB_URL;
const sql = connect(stack.info.DB_URL, 2);
const N = Number(process.env.N ?? 20000);
const q = await import("../../functions/_shared/queue.ts");
const { flushLogs, createLogger } = await import("../../functions/_shared/logger.ts");
const { runWorker } = await import("../../functions/_shared/worker.ts");
try {
  await sql`select count(*) from orchestrator.enqueue_many('noop', array(select '{}'::jsonb from generate_series(1, ${N})), '{}')`;
  const origLog = console.log;
  let lines = 0;
  console.log = () => { lines++; };
  const t0 = performance.now();
  if (process.env.MODE === "worker") {
    const stats = await runWorker({ workerId: "prof", log: createLogger({ component: "prof" }) });
    console.log = origLog;
    console.log(stats);
  } else {
    const t = { claim: 0, complete: 0, flush: 0, log: 0 };
    const log = createLogger({ component: "prof" });
    for (;;) {
      let s = performance.now();
      const batch = await q.claimTasks("prof", Number(process.env.B ?? 25), 60, ["noop"], {});
      t.claim += performance.now() - s;
      if (!batch.length) break;
      s = performance.now();
      await q.completeTasks(batch.map((b) => ({ id: b.id, token: b.lease_token!, result: { ok: true } })));
      t.complete += performance.now() - s;
      s = performance.now();
      if (!process.env.NOLOG) for (const b of batch) log.child({ taskId: b.id }).info("task noop succeeded", { attempt: 1, duration_ms: 0 });
      t.log += performance.now() - s;
      s = performance.now();
      await flushLogs();
      t.flush += performance.now() - s;
    }
    console.log = origLog;
    console.log(t);
  }
  const ms = performance.now() - t0;
  console.log(`${N} tasks in ${ms.toFixed(0)} ms = ${(N / ms * 1000).toFixed(0)}/s; ${lines} console lines`);
} finally {
  const { closeDb } = await import("../../functions/_shared/db.ts");
  await closeDb();
  await sql.end(); await stack.stop(); rmSync(dataDir, { recursive: true, force: true });
}
