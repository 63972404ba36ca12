// The AI cap is flow control on the AI task types (20261203001100_flow_defaults_notion_ai.sql): ai.run and
// sop.generate run at most 4 at once over the concurrency key "ai", whoever enqueues them and however many
// workers claim. (It was a semaphore slot per provider call, held by a task that was already running.)
// Inside a transaction that is rolled back: the stack's own worker runs these types and must not see them.
import { describe, expect, it } from "vitest";
import { inRolledBackTx, sql } from "../helpers/stack.ts";

describe("AI concurrency, in the claim", () => {
  it("ai.run and sop.generate share key \"ai\" with a limit of 4: a claim of 100 starts 4, the rest wait and say why", async () => {
    await inRolledBackTx(async (tx) => {
      for (let i = 0; i < 6; i++) await tx`select orchestrator.enqueue('ai.run', ${tx.json({ prompt: `p${i}` })})`;
      for (let i = 0; i < 6; i++) await tx`select orchestrator.enqueue('sop.generate', ${tx.json({ topic: `t${i}` })})`;
      const keys = await tx<{ key: string | null; lim: number | null; n: number }[]>`
        select concurrency_key as key, max(concurrency_limit) as lim, count(*)::int as n from orchestrator.tasks
        where type in ('ai.run', 'sop.generate') and status = 'queued' group by 1`;
      expect(keys).toEqual([{ key: "ai", lim: 4, n: 12 }]);
      const claimed = await tx<{ id: number }[]>`select id from orchestrator.claim('ai-test', 100, 60, array['ai.run', 'sop.generate'])`;
      expect(claimed).toHaveLength(4);
      const [w] = await tx<{ r: { kind: string; key: string; running: number; limit: number } }[]>`
        select orchestrator.task_wait_reason(t) as r from orchestrator.tasks t
        where type in ('ai.run', 'sop.generate') and status = 'queued' limit 1`;
      expect(w.r).toMatchObject({ kind: "concurrency", key: "ai", running: 4, limit: 4 });
    });
  });

  it("an operator raises the cap with set_task_type_flow; tasks enqueued after it take the new limit", async () => {
    await inRolledBackTx(async (tx) => {
      await tx`select orchestrator.set_task_type_flow('ai.run', '{"concurrency": {"key": "ai", "limit": 8}}')`;
      const [t] = await tx<{ concurrency_limit: number }[]>`select (r.task).concurrency_limit from orchestrator.enqueue('ai.run', '{"prompt": "x"}') r`;
      expect(t.concurrency_limit).toBe(8);
    });
  });

  it("the semaphore is gone: one mechanism", async () => {
    const [{ n }] = await sql()<{ n: number }[]>`
      select count(*)::int as n from pg_proc p join pg_namespace s on s.oid = p.pronamespace
      where s.nspname = 'orchestrator' and p.proname like 'semaphore%'`;
    expect(n).toBe(0);
  });
});
