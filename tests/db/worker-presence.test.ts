// No wake-up while a worker listens (20261202000400_worker_presence.sql): the insert trigger sends
// the NOTIFY always and the pg_net wake-up only without a live presence row; presence_end() deletes
// the row and wakes a worker for what is runnable. Each check runs in a transaction that is rolled
// back, so nothing else on the stack sees its rows (or loses its wake-ups).
import { describe, expect, it } from "vitest";
import { lastRequest, ownEndpoint, wakeupsAfter } from "../helpers/wakeups.ts";
import { inRolledBackTx, sql, uniqueType } from "../helpers/stack.ts";

describe("worker presence", () => {
  it("an insert sends no wake-up while a worker listens, and one again once its presence has lapsed", async () => {
    const type = uniqueType("presence");
    const r = await inRolledBackTx(async (tx) => {
      const url = await ownEndpoint(tx, "presence");
      await tx`delete from orchestrator.worker_presence`;
      let before = await lastRequest(tx);
      await tx`select orchestrator.enqueue(${type}, '{}')`;
      const nobody = await wakeupsAfter(tx, url, before);
      before = await lastRequest(tx);
      await tx`select orchestrator.presence_renew('iso-p', 3)`;
      await tx`select orchestrator.enqueue(${type}, '{}')`;
      const listening = await wakeupsAfter(tx, url, before);
      before = await lastRequest(tx);
      await tx`update orchestrator.worker_presence set until = now() - interval '1 second' where isolate = 'iso-p'`;
      await tx`select orchestrator.enqueue(${type}, '{}')`;
      const lapsed = await wakeupsAfter(tx, url, before);
      return { nobody, listening, lapsed };
    });
    expect(r.nobody).toEqual(["insert"]);
    expect(r.listening).toEqual([]);
    expect(r.lapsed).toEqual(["insert"]);
  });

  it("presence_end() deletes the row and wakes a worker for a task inserted while it listened", async () => {
    const type = uniqueType("presence");
    const r = await inRolledBackTx(async (tx) => {
      const url = await ownEndpoint(tx, "presence");
      await tx`delete from orchestrator.worker_presence`;
      await tx`select orchestrator.presence_renew('iso-q', 3)`;
      const before = await lastRequest(tx);
      await tx`select orchestrator.enqueue(${type}, '{}')`;
      const [{ woken }] = await tx`select orchestrator.presence_end('iso-q', 'linger_end') as woken`;
      // Only its own row: the stack's worker may announce itself meanwhile (another transaction, committed).
      const [{ rows }] = await tx`select count(*)::int as rows from orchestrator.worker_presence where isolate = 'iso-q'`;
      return { woken, wakeups: await wakeupsAfter(tx, url, before), rows };
    });
    expect(r).toEqual({ woken: true, wakeups: ["linger_end"], rows: 0 });
  });

  it("the apps' roles cannot read presence rows", async () => {
    const denied = await inRolledBackTx(async (tx) => {
      await tx`set local role authenticated`;
      return await tx`select * from orchestrator.worker_presence`.then(() => "read", (err) => err.code);
    });
    expect(denied).toBe("42501");
  });
});
