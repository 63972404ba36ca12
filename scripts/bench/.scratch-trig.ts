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
const B = Number(process.env.B ?? 250);
try {
  for (const mode of ["triggers on", "triggers off", "triggers on", "triggers off"]) {
    if (mode === "triggers off") await sql`alter table orchestrator.tasks disable trigger tasks_notion_push_upd, disable trigger tasks_webhook_events, disable trigger tasks_notion_push_ins`.catch(async () => { await sql`alter table orchestrator.tasks disable trigger tasks_notion_push_upd`; await sql`alter table orchestrator.tasks disable trigger tasks_webhook_events`; await sql`alter table orchestrator.tasks disable trigger tasks_notion_push_ins`; });
    else await sql`alter table orchestrator.tasks enable trigger all`;
    await sql`delete from orchestrator.tasks`;
    await sql`select count(*) from orchestrator.enqueue_many('noop', array(select '{}'::jsonb from generate_series(1, 20000)), '{}')`;
    await sql`vacuum analyze orchestrator.tasks`;
    let tc = 0, tm = 0, tl = 0;
    for (;;) {
      let t = performance.now();
      const rows = await sql<{ id: number; lease_token: string }[]>`select * from orchestrator.claim('w', ${B}, 60, array['noop'], '{}')`;
      tc += performance.now() - t;
      if (!rows.length) break;
      t = performance.now();
      await sql`select count(*) from orchestrator.complete_many(${rows.map(r => r.id)}::bigint[], ${rows.map(r => r.lease_token)}::uuid[], (select array_agg('{"ok":true}'::jsonb) from generate_series(1, ${rows.length})))`;
      tm += performance.now() - t;
      t = performance.now();
      await sql`insert into orchestrator.logs (level, component, message, context, task_id, request_id) select 'info', 'task-worker', 'task noop succeeded', '{"attempt":1,"duration_ms":0}', id, 'r' from unnest(${rows.map(r => r.id)}::bigint[]) id`;
      tl += performance.now() - t;
    }
    console.log(`${mode}: claim ${tc.toFixed(0)} ms, complete ${tm.toFixed(0)} ms, logs ${tl.toFixed(0)} ms`);
  }
} finally {
  await sql.end(); await stack.stop(); rmSync(dataDir, { recursive: true, force: true });
}
