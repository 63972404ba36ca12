import { it } from "vitest";
import { sql, uniqueType } from "../helpers/stack.ts";
it("bench", async () => {
  const run = async (label: string) => {
    const type = uniqueType("bench");
    await sql()`select count(*) from orchestrator.enqueue_many(${type}, (select array_agg('{}'::jsonb) from generate_series(1, 20000)))`;
    const t0 = performance.now();
    let n = 0;
    while (true) {
      const rows = await sql()`select id, lease_token from orchestrator.claim('b', 100, 60, ${[type]}::text[])`;
      if (!rows.length) break;
      await sql()`select count(*) from orchestrator.complete_many(${rows.map((r) => r.id)}::bigint[], ${rows.map((r) => r.lease_token)}::uuid[], (select array_agg('{}'::jsonb) from generate_series(1, ${rows.length})))`;
      n += rows.length;
    }
    console.log(label, n, (performance.now() - t0).toFixed(0), "ms");
  };
  await run("with triggers (warm-up)");
  await run("with triggers");
  await sql()`alter table orchestrator.tasks disable trigger tasks_notion_push_upd`;
  await sql()`alter table orchestrator.tasks disable trigger tasks_notion_push_ins`;
  await sql()`alter table orchestrator.tasks disable trigger tasks_webhook_events`;
  try {
    await run("without my triggers");
    await run("without my triggers");
  } finally {
    await sql()`alter table orchestrator.tasks enable trigger tasks_notion_push_upd`;
    await sql()`alter table orchestrator.tasks enable trigger tasks_notion_push_ins`;
    await sql()`alter table orchestrator.tasks enable trigger tasks_webhook_events`;
  }
  await run("with triggers again");
}, 300_000);
