// The shared concurrency cap, seen from TypeScript: a slot of a Postgres
// semaphore (migrations/20261124020000_concurrency_semaphores.sql) is held
// around each provider call, so the cap holds across every worker at once.
import type { Sql } from "../db.ts";
import { AiBusyError } from "./errors.ts";
import { delay } from "deno-std/async/delay.js";

export interface Semaphore {
  /** Waits for a slot; resolves with the function that frees it. */
  acquire(signal?: AbortSignal): Promise<() => Promise<void>>;
}

export interface PgSemaphoreOptions {
  sql: () => Sql;
  name: string;
  /** Who holds the slot (shown in orchestrator.semaphore_slots). */
  holder: string;
  /** A holder that dies keeps its slot this long at most. */
  leaseSeconds: number;
  /** Give up (a retryable error) after waiting this long for a slot. */
  maxWaitMs?: number;
}

export function pgSemaphore(opts: PgSemaphoreOptions): Semaphore {
  const maxWaitMs = opts.maxWaitMs ?? 60_000;
  return {
    async acquire(signal?: AbortSignal) {
      const started = Date.now();
      for (let round = 0;; round++) {
        signal?.throwIfAborted();
        const [{ token }] = await opts.sql()<{ token: string | null }[]>`
          select orchestrator.semaphore_acquire(${opts.name}, ${opts.holder}, ${opts.leaseSeconds}) as token`;
        if (token) {
          let released = false;
          return async () => {
            if (released) return;
            released = true;
            await opts.sql()`select orchestrator.semaphore_release(${opts.name}, ${token}::uuid)`;
          };
        }
        if (Date.now() - started >= maxWaitMs) {
          throw new AiBusyError(
            `all slots of the "${opts.name}" concurrency cap stayed busy for ${Math.round((Date.now() - started) / 1000)} s; ` +
              `the task will be retried (raise it with orchestrator.set_semaphore_capacity('${opts.name}', n))`,
          );
        }
        // 25 ms doubling to 250 ms, with jitter so waiting workers do not poll in lockstep.
        const base = Math.min(25 * 2 ** round, 250);
        await delay(base / 2 + Math.random() * base / 2, { signal });
      }
    },
  };
}
