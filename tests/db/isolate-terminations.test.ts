// The queue's side of a terminated isolate (20261202000300_isolate_terminations.sql), in SQL:
// isolate_terminated() judges the tasks the isolate's workers held, claim() gives at most one
// suspect, only to a claimer whose isolate runs none, and reap()'s error says where to look.
// Each check runs in a transaction that is rolled back, so nothing else on the stack sees its rows.
import { describe, expect, it } from "vitest";
import type postgres from "postgres";
import { inRolledBackTx, sql, uniqueType } from "../helpers/stack.ts";

interface Row { id: number; status: string; attempts: number; suspect: boolean; last_error: string | null; locked_by: string | null; run_at: Date; now: Date }

async function enqueue(tx: postgres.TransactionSql, type: string, n: number, maxAttempts = 3): Promise<number[]> {
  const rows = await tx<{ id: number }[]>`
    select id from orchestrator.enqueue_many(${type}, ${Array.from({ length: n }, (_, i) => JSON.stringify({ i }))}::text[]::jsonb[],
      ${tx.json({ source: "test", max_attempts: maxAttempts })})`;
  return rows.map((r) => Number(r.id)).sort((a, b) => a - b);
}

async function rows(tx: postgres.TransactionSql, ids: number[]): Promise<Row[]> {
  return await tx<Row[]>`
    select id::int, status::text, attempts, suspect, last_error, locked_by, run_at, now() as now
    from orchestrator.tasks where id = any(${ids}::bigint[]) order by id`;
}

const claim = (tx: postgres.TransactionSql, worker: string, n: number, type: string, takeSuspect = false) =>
  tx<{ id: number; suspect: boolean }[]>`
    select id::int, suspect from orchestrator.claim(${worker}, ${n}, 60, ${[type]}::text[], null, ${takeSuspect})`;

describe("orchestrator.isolate_terminated()", () => {
  it("with no suspect among them, tasks are back at once, attempt not counted, as suspects; tasks of other isolates are untouched", async () => {
    const type = uniqueType("iso");
    const r = await inRolledBackTx(async (tx) => {
      const ids = await enqueue(tx, type, 5);
      await claim(tx, "edge:iso-a/run1", 3, type);
      await claim(tx, "edge:iso-b/run2", 2, type);
      const judged = await tx<{ id: number; status: string; attempt_counted: boolean }[]>`
        select id::int, status::text, attempt_counted from orchestrator.isolate_terminated('iso-a', 'CPUTime', 'CPU time 2010 ms ≥ hard limit 2000 ms')`;
      return { judged, after: await rows(tx, ids) };
    });
    expect(r.judged).toHaveLength(3);
    expect(r.judged.every((j) => j.status === "queued" && !j.attempt_counted)).toBe(true);
    const back = r.after.filter((t) => r.judged.some((j) => j.id === t.id));
    for (const t of back) {
      expect(t).toMatchObject({ status: "queued", attempts: 0, suspect: true, locked_by: null });
      expect(t.last_error).toMatch(/^isolate terminated: CPUTime \(CPU time 2010 ms ≥ hard limit 2000 ms\), while this task ran beside 2 other task\(s\); attempt 1 not counted, it runs as a suspect next/);
      expect(t.run_at.getTime()).toBeLessThanOrEqual(t.now.getTime());
    }
    const other = r.after.filter((t) => !r.judged.some((j) => j.id === t.id));
    expect(other.map((t) => [t.status, t.attempts, t.suspect, t.locked_by])).toEqual([
      ["running", 1, false, "edge:iso-b/run2"], ["running", 1, false, "edge:iso-b/run2"],
    ]);
  });

  it("the only task in the isolate caused it: the attempt fails with the reason, with backoff, and the last one is dead", async () => {
    const type = uniqueType("iso");
    const r = await inRolledBackTx(async (tx) => {
      const [id] = await enqueue(tx, type, 1, 2);
      await claim(tx, "edge:iso-c/r1", 1, type);
      const first = (await tx`select status::text, attempt_counted from orchestrator.isolate_terminated('iso-c', 'Memory', 'resident memory 300 MB > limit 256 MB')`)[0];
      const afterFirst = (await rows(tx, [id]))[0];
      await tx`update orchestrator.tasks set run_at = now() where id = ${id}`; // past its backoff
      const reclaimed = await claim(tx, "edge:iso-d/r2", 10, type, true);
      const second = (await tx`select status::text, attempt_counted from orchestrator.isolate_terminated('iso-d', 'Memory', 'resident memory 301 MB > limit 256 MB')`)[0];
      return { first, afterFirst, reclaimed, second, last: (await rows(tx, [id]))[0] };
    });
    expect(r.first).toEqual({ status: "queued", attempt_counted: true });
    expect(r.afterFirst).toMatchObject({ attempts: 1, suspect: true });
    expect(r.afterFirst.last_error).toMatch(/^isolate terminated: Memory \(resident memory 300 MB > limit 256 MB\), during attempt 1 of 2, as the only task there: this task caused it/);
    expect(r.afterFirst.run_at.getTime()).toBeGreaterThan(r.afterFirst.now.getTime()); // retry backoff
    expect(r.reclaimed).toEqual([{ id: r.afterFirst.id, suspect: true }]);
    expect(r.second).toEqual({ status: "dead", attempt_counted: true });
    expect(r.last).toMatchObject({ status: "dead", attempts: 2 });
    expect(r.last.last_error).toMatch(/^isolate terminated: Memory .*during attempt 2 of 2/);
  });

  it("the one suspect in the isolate is blamed; ordinary tasks beside it are spared and become suspects", async () => {
    const type = uniqueType("iso");
    const r = await inRolledBackTx(async (tx) => {
      const ids = await enqueue(tx, type, 3);
      await tx`update orchestrator.tasks set suspect = true where id = ${ids[0]}`;
      await claim(tx, "edge:iso-e/r1", 3, type, true);
      const judged = await tx<{ id: number; attempt_counted: boolean }[]>`
        select id::int, attempt_counted from orchestrator.isolate_terminated('iso-e', 'CPUTime') order by id`;
      return { ids, judged, after: await rows(tx, ids) };
    });
    expect(r.judged).toEqual([{ id: r.ids[0], attempt_counted: true }, { id: r.ids[1], attempt_counted: false }, { id: r.ids[2], attempt_counted: false }]);
    expect(r.after[0]).toMatchObject({ attempts: 1, suspect: true });
    expect(r.after[0].last_error).toMatch(/^isolate terminated: CPUTime, during attempt 1 of 3, as the only suspect there/);
    expect(r.after.slice(1).map((t) => [t.status, t.attempts, t.suspect])).toEqual([["queued", 0, true], ["queued", 0, true]]);
  });

  it("refuses a call without an execution id or reason (22023)", async () => {
    await expect(sql()`select * from orchestrator.isolate_terminated('', 'CPUTime')`).rejects.toMatchObject({ code: "22023" });
    await expect(sql()`select * from orchestrator.isolate_terminated('x', null)`).rejects.toMatchObject({ code: "22023" });
  });
});

describe("claim() and suspects", () => {
  it("a claim that may take a suspect takes the first one with the ordinary rows; one that may not takes none", async () => {
    const type = uniqueType("iso");
    const r = await inRolledBackTx(async (tx) => {
      const ids = await enqueue(tx, type, 6);
      await tx`update orchestrator.tasks set suspect = true where id = any(${[ids[1], ids[3]]}::bigint[])`;
      const first = await claim(tx, "w1", 3, type, false);
      const second = await claim(tx, "w2", 10, type, true);
      const left = await tx<{ id: number }[]>`select id::int from orchestrator.tasks where id = any(${ids}::bigint[]) and status = 'queued'`;
      return { ids, first, second, left: left.map((t) => t.id) };
    });
    const byId = (xs: { id: number }[]) => xs.map((t) => t.id).sort((a, b) => a - b);
    expect(byId(r.first)).toEqual([r.ids[0], r.ids[2], r.ids[4]]);
    expect(byId(r.second)).toEqual([r.ids[1], r.ids[5]]);
    expect(r.left).toEqual([r.ids[3]]);
  });
});

describe("reap()", () => {
  it("says where to look in its error, and makes no suspects (leases also expire together when a function server restarts)", async () => {
    const type = uniqueType("iso");
    const after = await inRolledBackTx(async (tx) => {
      const [id] = await enqueue(tx, type, 1);
      await claim(tx, "edge:iso-f/r", 1, type);
      await tx`update orchestrator.tasks set locked_until = now() - interval '1 second' where id = ${id}`;
      await tx`select orchestrator.reap()`;
      return (await rows(tx, [id]))[0];
    });
    expect(after).toMatchObject({ status: "queued", suspect: false, attempts: 1 });
    expect(after.last_error).toMatch(/^lease expired: worker edge:iso-f\/r did not finish attempt 1 .*terminated \(CPUTime, WallClockTime or Memory/);
  });
});
