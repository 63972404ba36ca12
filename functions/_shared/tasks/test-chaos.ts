// test.chaos: a task type that misbehaves on purpose, for the fault suite
// (npm run test:faults). In the catalog ONLY when ORCHESTRATOR_TEST_TASKS=1 is set in
// the functions' environment (the fault suite's private stacks set it); a
// deployment never has it, so POST /tasks answers 400 "Unknown task type" there.
//
// Its timeout is TEST_CHAOS_TIMEOUT_MS (default 2,000 ms: `hang` and long `sleep`s end there); a fault
// that sleeps past the plan's wall clock raises it.
//
// Modes:
//   ok                 returns {ok: true}
//   sleep              waits `ms` of wall clock (default 50), then ok (steady load that is mid-flight when
//                      a fault hits; past the plan's wall clock for a WallClockTime termination)
//   burn_cpu           keeps the CPU busy for `ms` of CPU time (default 50), synchronously, as CPU-bound code
//                      does (no timer, no abort meanwhile): 6,000 reaches the runtime's hard CPU limit; with
//                      `succeed_on_attempt`, from that attempt on it succeeds without burning
//   alloc              allocates `mb` MB (default 16, pages touched so they are resident), holds them for
//                      `ms` (default 50) of wall clock, then lets them go: 400 passes the 256 MB memory limit
//   throw              throws an Error (retryable: retried with backoff, dead after max_attempts)
//   throw_permanent    throws PermanentTaskError (dead at once)
//   throw_string       throws a string, not an Error
//   hang               never settles and ignores its abort signal (the 2 s timeout ends it)
//   garbage_bigint     returns a BigInt, which JSON cannot hold
//   garbage_cycle      returns an object that contains itself
//   garbage_function   returns a function
//   garbage_huge       returns a 2 MB string (over the 1 MB result limit)
//   flaky              throws until attempt `succeed_on_attempt`, then ok
import { burnCpu } from "../cpu-clock.ts";
import { PermanentTaskError } from "../errors.ts";
import { testChaosSpec } from "../task-catalog.ts";
import { defineTaskType } from "../task-types.ts";

export { CHAOS_MODES } from "../task-catalog.ts";

export const testChaos = defineTaskType({
  ...testChaosSpec,
  async handle(payload, { task, signal }): Promise<unknown> {
    switch (payload.mode) {
      case "ok":
        return { ok: true, seq: payload.seq ?? null };
      case "sleep":
        await sleepFor(payload.ms ?? 50, signal);
        return { ok: true, slept_ms: payload.ms ?? 50 };
      case "burn_cpu":
        // From attempt `succeed_on_attempt` on (when given), it succeeds without burning: a step killed once, then retried.
        if (payload.succeed_on_attempt !== undefined && task.attempts >= payload.succeed_on_attempt) return { ok: true, cpu_ms: 0, attempt: task.attempts };
        return { ok: true, cpu_ms: burnCpu(payload.ms ?? 50) };
      case "alloc": {
        // 1 MB chunks: one huge buffer may be refused outright instead of counting against the limit.
        const held = Array.from({ length: payload.mb ?? 16 }, () => new Uint8Array(1024 * 1024).fill(1));
        await sleepFor(payload.ms ?? 50, signal);
        return { ok: true, held_mb: held.length, checksum: held.reduce((n, c) => n + c[c.length - 1], 0) };
      }
      case "throw":
        throw new Error(`chaos: thrown on attempt ${task.attempts}`);
      case "throw_permanent":
        throw new PermanentTaskError("chaos: permanent failure");
      case "throw_string":
        throw "chaos: a string, not an Error";
      case "hang":
        return await new Promise(() => {});
      case "garbage_bigint":
        return { n: 10n };
      case "garbage_cycle": {
        const o: Record<string, unknown> = { a: 1 };
        o.self = o;
        return o;
      }
      case "garbage_function":
        return () => "not JSON";
      case "garbage_huge":
        return "x".repeat(2_000_000);
      case "flaky":
        if (task.attempts < (payload.succeed_on_attempt ?? 2)) throw new Error(`chaos: flaky, attempt ${task.attempts}`);
        return { ok: true, attempt: task.attempts };
    }
  },
});

/** Waits `ms`, or rejects with the abort reason when the timeout aborts first. */
function sleepFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}
