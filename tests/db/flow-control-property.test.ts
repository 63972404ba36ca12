// Properties of flow control under 8 concurrent claimers (fast-check): random tasks, keys and limits.
// Eight connections claim (random batch sizes), hold each task a random few ms, and complete it, as
// workers would. The checks read the database, not the claimers' word:
//   - concurrency: a sampler counts running tasks per key and per type while they run; never more than
//     the limit at any sample;
//   - rate: the recorded start times (started_at) never put more than limit + burst - 1 starts in any
//     window of period_seconds (a GCRA bucket's bound);
//   - debounce: each key's burst of enqueues runs once, with the last payload.
import fc from "fast-check";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql, stack, uniqueType } from "../helpers/stack.ts";

const CLAIMERS = 8;
let claimers: postgres.Sql[] = [];
beforeAll(() => {
  claimers = Array.from({ length: CLAIMERS }, () => postgres(stack().DB_URL, { max: 1, onnotice: () => {} }));
});
afterAll(async () => {
  await Promise.all(claimers.map((c) => c.end()));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Eight claimers drain every task of `type`: claim a random batch, hold each a random few ms, complete. */
async function drain(type: string, total: number, holdMs: [number, number], seed: number): Promise<void> {
  let rnd = seed;
  const next = () => (rnd = (rnd * 1103515245 + 12345) % 2147483648) / 2147483648;
  const deadline = Date.now() + 60_000;
  await Promise.all(claimers.map(async (c, i) => {
    while (Date.now() < deadline) {
      const rows = await c<{ id: number; lease_token: string }[]>`
        select id, lease_token from orchestrator.claim(${`prop-${i}`}, ${1 + Math.floor(next() * 4)}, 60, ${[type]}::text[])`;
      if (rows.length === 0) {
        const [{ left }] = await c<{ left: number }[]>`
          select count(*)::int as left from orchestrator.tasks where type = ${type} and status in ('queued', 'running')`;
        if (left === 0) return;
        await sleep(3);
        continue;
      }
      await Promise.all(rows.map(async (r) => {
        await sleep(holdMs[0] + next() * (holdMs[1] - holdMs[0]));
        await c`select orchestrator.complete(${r.id}, ${r.lease_token}::uuid, null)`;
      }));
    }
    throw new Error(`claimer ${i}: ${type} did not drain in 60 s`);
  }));
  const [{ done }] = await sql()<{ done: number }[]>`select count(*)::int as done from orchestrator.tasks where type = ${type} and status = 'succeeded' and attempts = 1`;
  expect(done).toBe(total);
}

describe("flow control with 8 concurrent claimers", () => {
  it("never more than a key's limit, or a type's, running at any sampled instant", async () => {
    let samples = 0;
    await fc.assert(fc.asyncProperty(
      fc.record({
        limits: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 5 }),
        typeLimit: fc.option(fc.integer({ min: 2, max: 6 }), { nil: undefined }),
        picks: fc.array(fc.nat(), { minLength: 10, maxLength: 60 }),
        seed: fc.integer({ min: 1, max: 1_000_000 }),
      }),
      async ({ limits, typeLimit, picks, seed }) => {
        const type = uniqueType("pconc");
        if (typeLimit) await sql()`select orchestrator.set_task_type_flow(${type}, ${sql().json({ type_concurrency_limit: typeLimit })})`;
        for (const [n, pick] of picks.entries()) {
          const k = pick % (limits.length + 1); // one slot in limits+1: no key at all
          const opts = k < limits.length ? { concurrency: { key: `${type}-k${k}`, limit: limits[k] } } : {};
          await sql()`select orchestrator.enqueue(${type}, ${sql().json({ n })}, ${sql().json(opts)})`;
        }
        let stop = false;
        let worst: { key: string; running: number; limit: number } | undefined;
        const sampler = (async () => {
          while (!stop) {
            const rows = await sql()<{ key: string | null; running: number; lim: number | null }[]>`
              select concurrency_key as key, count(*)::int as running, max(concurrency_limit) as lim
              from orchestrator.tasks where type = ${type} and status = 'running' group by rollup (concurrency_key)`;
            samples++;
            for (const r of rows) {
              // The rollup's total row is the type's count.
              const limit = r.key === null ? (rows.indexOf(r) === rows.length - 1 ? typeLimit : undefined) : r.lim ?? undefined;
              if (limit !== undefined && r.running > limit && !worst) worst = { key: r.key ?? `type ${type}`, running: r.running, limit };
            }
            await sleep(1);
          }
        })();
        try {
          await drain(type, picks.length, [1, 6], seed);
        } finally {
          stop = true;
          await sampler;
          if (typeLimit) await sql()`select orchestrator.set_task_type_flow(${type}, null)`;
        }
        expect(worst).toBeUndefined();
      },
    ), { numRuns: 12 });
    console.log(`concurrency property: 12 scenarios, ${samples} database samples, no limit exceeded`);
    expect(samples).toBeGreaterThan(100);
  }, 240_000);

  it("no rate exceeded in any window of its period (start times from the database)", async () => {
    await fc.assert(fc.asyncProperty(
      fc.record({
        limit: fc.integer({ min: 1, max: 5 }),
        periodMs: fc.integer({ min: 100, max: 300 }),
        burst: fc.integer({ min: 1, max: 3 }),
        tasks: fc.integer({ min: 8, max: 16 }),
        seed: fc.integer({ min: 1, max: 1_000_000 }),
      }),
      async ({ limit, periodMs, burst, tasks, seed }) => {
        const type = uniqueType("prate");
        const rate = { key: `r-${type}`, limit, period_seconds: periodMs / 1000, burst };
        await sql()`select count(*) from orchestrator.enqueue_many(${type}, (select array_agg(jsonb_build_object('n', g)) from generate_series(1, ${tasks}) g), ${sql().json({ rate })})`;
        await drain(type, tasks, [0, 2], seed);
        const starts = (await sql()<{ t: number }[]>`
          select extract(epoch from started_at)::float8 * 1000 as t from orchestrator.tasks where type = ${type} order by started_at`).map((r) => r.t);
        let most = 0;
        for (let i = 0; i < starts.length; i++) {
          let j = i;
          // A window [start, start + period), less a microsecond of interval rounding.
          while (j < starts.length && starts[j] < starts[i] + periodMs - 0.001) j++;
          most = Math.max(most, j - i);
        }
        expect(most).toBeLessThanOrEqual(limit + burst - 1);
      },
    ), { numRuns: 8 });
  }, 240_000);

  it("each debounce key's burst of enqueues runs once, with the last payload", async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 1, max: 1_000_000 }),
      async (bursts, seed) => {
        const type = uniqueType("pdeb");
        // One enqueuer per key (so "last" is well defined), all keys at once, then the claimers.
        await Promise.all(bursts.map(async (n, k) => {
          for (let i = 1; i <= n; i++) {
            await sql()`select orchestrator.enqueue(${type}, ${sql().json({ k, i })}, ${sql().json({ debounce: { key: "d{{payload.k}}", seconds: 0.2 } })})`;
          }
        }));
        await sleep(250);
        await drain(type, bursts.length, [0, 2], seed);
        const rows = await sql()<{ k: number; i: number; attempts: number }[]>`
          select (payload->>'k')::int as k, (payload->>'i')::int as i, attempts from orchestrator.tasks where type = ${type} order by 1`;
        expect(rows).toEqual(bursts.map((n, k) => ({ k, i: n, attempts: 1 })));
      },
    ), { numRuns: 8 });
  }, 240_000);
});
