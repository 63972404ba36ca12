// A warm successor before an isolate stops (20261202000500_successor_handoff.sql): what a stopping
// isolate leaves goes to another isolate's listening worker by NOTIFY, and a wake-up (an Edge
// invocation) is sent only when no other isolate listens; a new presence says so on
// orchestrator_worker_present. The wake-up checks run in transactions that are rolled back (their
// Vault endpoint and presence rows are never seen by other test files).
import { describe, expect, it } from "vitest";
import type postgres from "postgres";
import { lastRequest, ownEndpoint, wakeupsAfter } from "../helpers/wakeups.ts";
import { inRolledBackTx, sql, uniqueType, waitFor } from "../helpers/stack.ts";

/** Runs `fn` with only the given isolates present (in a rolled-back transaction), returning its result and the wake-ups it sent. */
async function withPresence<T>(isolates: string[], fn: (tx: postgres.TransactionSql) => Promise<T>): Promise<{ result: T; wakeups: string[] }> {
  return await inRolledBackTx(async (tx) => {
    const url = await ownEndpoint(tx, "successor");
    await tx`delete from orchestrator.worker_presence`;
    for (const isolate of isolates) await tx`select orchestrator.presence_renew(${isolate}, 3)`;
    const before = await lastRequest(tx);
    const result = await fn(tx);
    return { result, wakeups: await wakeupsAfter(tx, url, before) };
  });
}

describe("hand-off to a successor", () => {
  it("hand_off notifies another isolate's listening worker instead of waking one, wakes one when only its own isolate listens, and does nothing without runnable work", async () => {
    const type = uniqueType("handoff");
    const enqueue = (tx: postgres.TransactionSql) => tx`select orchestrator.enqueue(${type}, '{}')`;
    const handOff = async (tx: postgres.TransactionSql) =>
      (await tx<{ how: string }[]>`select orchestrator.hand_off('iso-old', ${[type]}::text[], 'handoff') as how`)[0].how;
    // (The insert itself sends no wake-up either: workers listen.)
    const other = await withPresence(["iso-old", "iso-new"], async (tx) => {
      await enqueue(tx);
      return await handOff(tx);
    });
    expect(other).toEqual({ result: "notified", wakeups: [] });
    const alone = await withPresence(["iso-old"], async (tx) => {
      await enqueue(tx);
      return await handOff(tx);
    });
    expect(alone).toEqual({ result: "woken", wakeups: ["handoff"] });
    const nothing = await withPresence(["iso-old"], (tx) => handOff(tx));
    expect(nothing).toEqual({ result: "none", wakeups: [] });
  });

  it("wake_successor wakes a fresh worker unless another isolate's worker listens already", async () => {
    const wake = async (tx: postgres.TransactionSql) => (await tx<{ woken: boolean }[]>`select orchestrator.wake_successor('iso-old') as woken`)[0].woken;
    expect(await withPresence(["iso-old"], wake)).toEqual({ result: true, wakeups: ["successor"] });
    expect(await withPresence(["iso-old", "iso-new"], wake)).toEqual({ result: false, wakeups: [] });
    // A presence that has lapsed listens no more.
    const lapsed = await withPresence(["iso-old", "iso-new"], async (tx) => {
      await tx`update orchestrator.worker_presence set until = now() - interval '1 second' where isolate = 'iso-new'`;
      return await wake(tx);
    });
    expect(lapsed).toEqual({ result: true, wakeups: ["successor"] });
  });

  it("presence_end hands what is runnable to the successor that listens, without a wake-up", async () => {
    const type = uniqueType("handoff");
    const r = await withPresence(["iso-old", "iso-new"], async (tx) => {
      await tx`select orchestrator.enqueue(${type}, '{}')`;
      const [{ handed }] = await tx`select orchestrator.presence_end('iso-old', 'linger_end') as handed`;
      const left = await tx`select isolate from orchestrator.worker_presence order by 1`;
      return { handed, left: left.map((l) => l.isolate) };
    });
    expect(r).toEqual({ result: { handed: true, left: ["iso-new"] }, wakeups: [] });
  });

  it("a new presence is announced on orchestrator_worker_present once, not on its renewals", async () => {
    const isolate = `iso-announce-${Math.random().toString(36).slice(2)}`;
    const heard: string[] = [];
    const listener = await sql().listen("orchestrator_worker_present", (payload) => heard.push(payload));
    try {
      await sql()`select orchestrator.presence_renew(${isolate}, 0.5)`;
      await sql()`select orchestrator.presence_renew(${isolate}, 0.5)`;
      await waitFor(async () => heard.includes(isolate), "the new presence's announcement", 5_000, 20);
      // A notification is delivered in commit order: one sent after the renewal arrives after it would have.
      await sql()`select pg_notify('orchestrator_worker_present', ${isolate + "/marker"})`;
      await waitFor(async () => heard.includes(isolate + "/marker"), "the marker", 5_000, 20);
      expect(heard.filter((h) => h.startsWith(isolate))).toEqual([isolate, isolate + "/marker"]);
    } finally {
      // presence_end, not a bare delete: an insert that saw the row meanwhile gets its worker.
      await sql()`select orchestrator.presence_end(${isolate}, 'linger_end')`;
      await listener.unlisten();
    }
  });
});
