// Issue 14, item 13: orchestrator.notion_repush_dead() on real PostgreSQL. One push per
// row comes back; everything else about that row is coalesced into it, never a 409.
// In a transaction that is rolled back: nothing reaches the shared stack's worker.
import { describe, expect, it } from "vitest";
import type postgres from "postgres";
import { sql } from "../helpers/stack.ts";

class Rollback extends Error {}
const rand = () => Math.random().toString(36).slice(2, 10);

async function inRollback(fn: (tx: postgres.TransactionSql) => Promise<void>): Promise<void> {
  await expect(sql().begin(async (tx) => {
    await fn(tx);
    throw new Rollback("rollback");
  })).rejects.toBeInstanceOf(Rollback);
}

async function deadPush(tx: postgres.TransactionSql, payload: object, dedupeKey: string | null): Promise<number> {
  const [{ id }] = await tx`
    insert into orchestrator.tasks (type, payload, status, attempts, max_attempts, dedupe_key, last_error, finished_at, source)
    values ('notion.push', ${tx.json(payload as never)}, 'dead', 1, 8, ${dedupeKey},
            'Notion status option "Published" … does not exist', now() - interval '1 minute', 'notion-sync')
    returning id`;
  return id;
}
const row = async (tx: postgres.TransactionSql, id: number) =>
  (await tx`select status::text, attempts, dedupe_key, result, run_at <= now() as due from orchestrator.tasks where id = ${id}`)[0];

describe("notion_repush_dead()", () => {
  it("re-queues the newest dead push of each row, coalesces the rest and any row with a push already queued", async () => {
    await inRollback(async (tx) => {
      const [x, slug, z] = [`9${Math.floor(Math.random() * 1e9)}`, `hn-slug-${rand()}`, `8${Math.floor(Math.random() * 1e9)}`];
      // Row X: two dead pushes (the second was the ":next" one queued behind a running push).
      const x1 = await deadPush(tx, { entity: "task", key: x }, `notion.push:task:${x}`);
      const x2 = await deadPush(tx, { entity: "task", key: x }, `notion.push:task:${x}:next`);
      // Row Y: a dead push in the SOP generator's {kind, id} form, and a live push of the same slug due later.
      const y1 = await deadPush(tx, { kind: "sop", id: 424242 }, `notion.push:sop:${slug}`);
      const [{ id: yLive }] = await tx`select (r.task).id from orchestrator.enqueue('notion.push', ${tx.json({ entity: "sop", key: slug })},
        ${tx.json({ dedupe_key: `notion.push:sop:${slug}`, run_at: "2099-01-01T00:00:00Z" })}) r`;
      // Row Z: a dead push without a dedupe key.
      const z1 = await deadPush(tx, { entity: "ticket", key: z }, null);

      const [out] = await tx`select requeued, coalesced, task_ids from orchestrator.notion_repush_dead()`;
      expect(out.task_ids.map(Number)).toEqual(expect.arrayContaining([x2, z1]));
      expect(out.task_ids.map(Number)).not.toContain(x1);
      expect(out.task_ids.map(Number)).not.toContain(y1);

      expect(await row(tx, x2)).toMatchObject({ status: "queued", attempts: 0, dedupe_key: `notion.push:task:${x}`, result: null, due: true });
      expect(await row(tx, x1)).toMatchObject({ status: "cancelled", result: { coalesced_into: x2 } });
      expect(await row(tx, y1)).toMatchObject({ status: "cancelled", result: { coalesced_into: yLive } });
      expect(await row(tx, yLive)).toMatchObject({ status: "queued", due: true });
      expect(await row(tx, z1)).toMatchObject({ status: "queued", attempts: 0, dedupe_key: null });

      // Nothing left to re-push for these rows; a second call changes none of them.
      await tx`select * from orchestrator.notion_repush_dead()`;
      for (const id of [x1, x2, y1, yLive, z1]) expect((await row(tx, id)).status).not.toBe("dead");
      const live = await tx`select count(*)::int as n from orchestrator.tasks where type = 'notion.push' and status = 'queued'
        and dedupe_key in (${`notion.push:task:${x}`}, ${`notion.push:sop:${slug}`})`;
      expect(live[0].n).toBe(2);
    });
  });
});
