// The AI concurrency cap lives in Postgres (orchestrator.semaphore_*): it holds
// across workers that share nothing but the database. Each "worker" here has its
// own connection pool and its own AI client; the provider is mocked by msw and
// counts the calls in flight.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { http, HttpResponse, delay } from "msw";
import { setupServer } from "msw/node";
import postgres from "postgres";
import { AiClient } from "../../functions/_shared/ai/client.ts";
import { AiBusyError } from "../../functions/_shared/ai/errors.ts";
import { pgSemaphore } from "../../functions/_shared/ai/semaphore.ts";
import { sql, stack } from "../helpers/stack.ts";

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: "bypass" }));
afterAll(() => server.close());

const semName = () => `test.sem.${Math.random().toString(36).slice(2, 10)}`;

function countingProvider(host: string, ms: number) {
  const stats = { inFlight: 0, max: 0, calls: 0 };
  server.use(http.post(`https://${host}/v1/chat/completions`, async () => {
    stats.calls++;
    stats.inFlight++;
    stats.max = Math.max(stats.max, stats.inFlight);
    await delay(ms);
    stats.inFlight--;
    return HttpResponse.json({ model: "m", choices: [{ message: { role: "assistant", content: "ok" }, finish_reason: "stop" }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
  }));
  return stats;
}

describe("semaphore in SQL", () => {
  it("hands out at most `capacity` slots; release frees one; a stale token frees nothing", async () => {
    const name = semName();
    await sql()`select orchestrator.set_semaphore_capacity(${name}, 2)`;
    const take = async () => (await sql()`select orchestrator.semaphore_acquire(${name}, 'test', 60) as t`)[0].t as string | null;
    const a = await take();
    const b = await take();
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(b).toMatch(/^[0-9a-f-]{36}$/);
    expect(await take()).toBeNull();
    expect((await sql()`select * from orchestrator.semaphore_status(${name})`)[0]).toEqual({ name, capacity: 2, in_use: 2 });
    expect((await sql()`select orchestrator.semaphore_release(${name}, ${a}::uuid) as ok`)[0].ok).toBe(true);
    expect((await sql()`select orchestrator.semaphore_release(${name}, ${a}::uuid) as ok`)[0].ok).toBe(false);
    expect(await take()).not.toBeNull();
  });

  it("a holder that dies loses its slot when the lease expires", async () => {
    const name = semName();
    await sql()`select orchestrator.set_semaphore_capacity(${name}, 1)`;
    const [{ t }] = await sql()`select orchestrator.semaphore_acquire(${name}, 'dead-worker', 60) as t`;
    expect((await sql()`select orchestrator.semaphore_acquire(${name}, 'w2', 60) as t`)[0].t).toBeNull();
    await sql()`update orchestrator.semaphore_slots set locked_until = now() - interval '1 second' where name = ${name}`;
    const [{ t: t2 }] = await sql()`select orchestrator.semaphore_acquire(${name}, 'w2', 60) as t`;
    expect(t2).not.toBeNull();
    // The dead worker's late release cannot free the slot it no longer holds.
    expect((await sql()`select orchestrator.semaphore_release(${name}, ${t}::uuid) as ok`)[0].ok).toBe(false);
    expect((await sql()`select in_use from orchestrator.semaphore_status(${name})`)[0].in_use).toBe(1);
  });

  it("capacity can be raised and lowered; unknown semaphores and bad capacities raise", async () => {
    const name = semName();
    await sql()`select orchestrator.set_semaphore_capacity(${name}, 5)`;
    await sql()`select orchestrator.set_semaphore_capacity(${name}, 2)`;
    expect((await sql()`select count(*)::int as n from orchestrator.semaphore_slots where name = ${name}`)[0].n).toBe(2);
    await expect(sql()`select orchestrator.semaphore_acquire(${semName()}, 'x', 60)`).rejects.toThrow(/no semaphore named/);
    await expect(sql()`select orchestrator.set_semaphore_capacity(${name}, 0)`).rejects.toThrow(/capacity must be 1-1000/);
    const [ai] = await sql()`select * from orchestrator.semaphore_status('ai')`;
    expect(ai.capacity).toBe(4);
  });
});

describe("AI concurrency cap across workers", () => {
  it("4 workers x 6 concurrent calls with a cap of 3: never more than 3 provider calls in flight", async () => {
    const name = semName();
    await sql()`select orchestrator.set_semaphore_capacity(${name}, 3)`;
    const stats = countingProvider("capped.ai.test", 40);
    const pools = Array.from({ length: 4 }, () => postgres(stack().DB_URL, { max: 2, onnotice: () => {} }));
    const started = Date.now();
    try {
      const results = await Promise.all(pools.flatMap((pool, w) => {
        const client = new AiClient({
          baseUrl: "https://capped.ai.test/v1",
          model: "m",
          maxRetries: 0,
          semaphore: pgSemaphore({ sql: () => pool, name, holder: `worker-${w}`, leaseSeconds: 60 }),
        });
        return Array.from({ length: 6 }, () => client.chat({ messages: [{ role: "user", content: "hi" }] }));
      }));
      expect(results).toHaveLength(24);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
    const ms = Date.now() - started;
    console.log(`[measure] cap 3, 24 calls of 40 ms from 4 workers: max in flight ${stats.max}, ${ms} ms total`);
    expect(stats.calls).toBe(24);
    expect(stats.max).toBe(3);
    expect((await sql()`select in_use from orchestrator.semaphore_status(${name})`)[0].in_use).toBe(0);
  });

  it("control: the same load without the cap runs far more calls at once", async () => {
    const stats = countingProvider("uncapped.ai.test", 40);
    const client = new AiClient({ baseUrl: "https://uncapped.ai.test/v1", model: "m", maxRetries: 0, semaphore: null });
    await Promise.all(Array.from({ length: 24 }, () => client.chat({ messages: [{ role: "user", content: "hi" }] })));
    console.log(`[measure] no cap, 24 calls: max in flight ${stats.max}`);
    expect(stats.max).toBeGreaterThan(3);
  });

  it("a worker that waits too long for a slot fails with a retryable AiBusyError", async () => {
    const name = semName();
    await sql()`select orchestrator.set_semaphore_capacity(${name}, 1)`;
    await sql()`select orchestrator.semaphore_acquire(${name}, 'hog', 60)`;
    const sem = pgSemaphore({ sql, name, holder: "waiter", leaseSeconds: 60, maxWaitMs: 300 });
    const started = Date.now();
    const err = await sem.acquire().catch((e) => e);
    expect(err).toBeInstanceOf(AiBusyError);
    expect(err.message).toMatch(/all slots of the "test\.sem\.[a-z0-9]+" concurrency cap stayed busy/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });
});
