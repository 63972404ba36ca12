// The Postgres token bucket behind the Notion client: concurrent takers on
// separate connections never get slots closer than 1/rate apart.
import { describe, expect, it } from "vitest";
import postgres from "postgres";
import { sql, stack } from "../helpers/stack.ts";
import { maxInWindow } from "../helpers/notion-mock.ts";

const bucket = () => `test:${Math.random().toString(36).slice(2, 10)}`;


describe("rate_limit_take", () => {
  it("8 concurrent connections, 160 takes at 40/s: slots 25 ms apart, never more than 40 in any second", async () => {
    const name = bucket();
    const rate = 40;
    const conns = Array.from({ length: 8 }, () => postgres(stack().DB_URL, { max: 1, onnotice: () => {} }));
    const slots: number[] = [];
    const started = Date.now();
    await Promise.all(conns.map(async (c) => {
      for (let i = 0; i < 20; i++) {
        // The slot the bucket granted, on the database clock: with burst 1 the new
        // tat is slot + 1/rate, read in the same transaction (the row stays locked).
        const { wait, slot } = await c.begin(async (tx) => {
          const [{ w }] = await tx<{ w: number }[]>`select orchestrator.rate_limit_take(${name}, ${rate}, 1, 60) as w`;
          const [{ tat }] = await tx<{ tat: number }[]>`
            select extract(epoch from tat)::float8 * 1000 as tat from orchestrator.rate_limits where bucket = ${name}`;
          return { wait: w, slot: tat - 1000 / rate };
        });
        expect(wait).toBeGreaterThanOrEqual(0);
        slots.push(slot);
        await new Promise((r) => setTimeout(r, wait * 1000));
      }
    }));
    await Promise.all(conns.map((c) => c.end()));
    const elapsed = (Date.now() - started) / 1000;
    const sorted = [...slots].sort((a, b) => a - b);
    const gaps = sorted.slice(1).map((t, i) => t - sorted[i]);
    expect(slots).toHaveLength(160);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1000 / rate - 0.001);
    // Exactly 1/rate apart, 41 slots span exactly 1 s: any window 1 ms shorter holds at most 40.
    expect(maxInWindow(slots, 999)).toBeLessThanOrEqual(rate);
    // And it is not slower than it must be: 160 slots at 40/s span ~4 s.
    expect(elapsed).toBeGreaterThan(3.5);
    expect(elapsed).toBeLessThan(8);
    const [{ granted }] = await sql()`select granted::int from orchestrator.rate_limits where bucket = ${name}`;
    expect(granted).toBe(160);
  });

  it("a burst allowance lets that many through at once, then spaces the rest", async () => {
    const name = bucket();
    // Each wait is counted from the moment of its own call (clock_timestamp()), so the gap between two waits is
    // the 0.5 s spacing less the time between the two calls, measured here around each call.
    const waits: number[] = [];
    const calledAt: number[] = [];
    for (let i = 0; i < 6; i++) {
      calledAt.push(performance.now());
      const [{ w }] = await sql()`select orchestrator.rate_limit_take(${name}, 2, 3, 60) as w`;
      waits.push(w);
    }
    expect(waits.slice(0, 3).every((w) => w === 0)).toBe(true);
    expect(waits[3]).toBeGreaterThan(0.25);
    const between = (performance.now() - calledAt[4]) / 1000; // at least the time between the two calls
    expect(waits[5] - waits[4]).toBeGreaterThan(0.49 - between);
    expect(waits[5] - waits[4]).toBeLessThan(0.51);
  });

  it("a wait over the maximum is refused (negative) and reserves nothing", async () => {
    const name = bucket();
    for (let i = 0; i < 5; i++) await sql()`select orchestrator.rate_limit_take(${name}, 1, 1, 60)`;
    const [{ w }] = await sql()`select orchestrator.rate_limit_take(${name}, 1, 1, 2) as w`;
    expect(w).toBeLessThan(-2);
    const [{ granted }] = await sql()`select granted::int from orchestrator.rate_limits where bucket = ${name}`;
    expect(granted).toBe(5);
  });

  it("rate_limit_defer (a 429's Retry-After) holds every taker back", async () => {
    const name = bucket();
    await sql()`select orchestrator.rate_limit_take(${name}, 100, 1, 60)`;
    await sql()`select orchestrator.rate_limit_defer(${name}, 2)`;
    const [{ w }] = await sql()`select orchestrator.rate_limit_take(${name}, 100, 1, 60) as w`;
    expect(w).toBeGreaterThan(1.9);
    expect(w).toBeLessThan(2.1);
  });

  it("rejects a rate that is not positive", async () => {
    await expect(sql()`select orchestrator.rate_limit_take(${bucket()}, 0)`).rejects.toThrow(/rate must be > 0/);
  });
});
