// How much CPU time this process has used, where the runtime tells us. Deno and Node
// answer node:process cpuUsage() for real; Supabase's hosted edge-runtime stubs it to
// zeros (ext/node/polyfills/process.ts: "not implemented"), so callers must be ready
// for `undefined` and fall back (isolate-life.ts estimates from event-loop lag).
import process from "node:process";

/** CPU time (user + system) of this process since it started, in ms; undefined when the runtime does not measure it. */
export function processCpuMs(): number | undefined {
  let usage: { user: number; system: number };
  try {
    usage = process.cpuUsage();
  } catch {
    return undefined;
  }
  const us = usage.user + usage.system;
  // No real process reaches its first line of JavaScript without CPU time: zero means a stub.
  return us > 0 ? us / 1000 : undefined;
}

/**
 * Keeps the CPU busy until `ms` of CPU time (not wall time) have passed, synchronously, as CPU-bound code
 * does: no timer or abort runs meanwhile. Without a CPU clock it spins for `ms` of wall time, which a
 * busy loop spends on the CPU anyway.
 */
export function burnCpu(ms: number): number {
  const clock = processCpuMs() === undefined ? () => performance.now() : () => processCpuMs()!;
  const start = clock();
  while (clock() - start < ms) {
    // The clock call itself is the work: a syscall per turn, all of it CPU time.
  }
  return Math.round((clock() - start) * 100) / 100;
}
