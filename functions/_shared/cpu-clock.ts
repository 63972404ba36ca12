// How much CPU time this isolate's thread has used, where the runtime tells us:
//   1. /proc/thread-self/schedstat (Linux): the calling thread's time on the CPU, in ns. The thread
//      that runs our JavaScript is what the platform's CPU limit counts (edge-runtime meters the
//      isolate's thread; the local stack's gateway reads each user worker's main thread). Deno reads
//      it only with --allow-all, which user workers do not get.
//   2. node:process cpuUsage(): the whole process, helper threads too (counts more than the limit
//      does: what a local user worker reads).
//   3. Neither (Supabase's hosted edge-runtime stubs cpuUsage to zeros and has no /proc): undefined, and
//      callers fall back (isolate-life.ts estimates from event-loop lag).
import { readFileSync } from "node:fs";
import process from "node:process";

function threadCpuMs(): number | undefined {
  try {
    const ns = Number(readFileSync("/proc/thread-self/schedstat", "utf8").split(" ", 1)[0]);
    return Number.isFinite(ns) && ns > 0 ? ns / 1e6 : undefined;
  } catch {
    return undefined; // not Linux, or no read permission
  }
}

function processCpuUsageMs(): number | undefined {
  try {
    const usage = process.cpuUsage();
    const us = usage.user + usage.system;
    // No real process reaches its first line of JavaScript without CPU time: zero means a stub.
    return us > 0 ? us / 1000 : undefined;
  } catch {
    return undefined;
  }
}

type Clock = { source: "thread" | "process"; read: () => number } | undefined;
let clock: Clock | null = null; // null: not chosen yet

function chooseClock(): Clock {
  if (threadCpuMs() !== undefined) return { source: "thread", read: () => threadCpuMs() ?? 0 };
  if (processCpuUsageMs() !== undefined) return { source: "process", read: () => processCpuUsageMs() ?? 0 };
  return undefined;
}

/** CPU time of this thread (or process) since it started, in ms; undefined when the runtime does not measure it. */
export function processCpuMs(): number | undefined {
  if (clock === null) clock = chooseClock();
  return clock?.read();
}

/** Which clock processCpuMs reads: "thread", "process", or "none". */
export function cpuClockSource(): "thread" | "process" | "none" {
  if (clock === null) clock = chooseClock();
  return clock?.source ?? "none";
}

/**
 * Keeps the CPU busy until `ms` of CPU time (not wall time) have passed, synchronously, as CPU-bound code
 * does: no timer or abort runs meanwhile. Without a CPU clock it spins for `ms` of wall time, which a
 * busy loop spends on the CPU anyway.
 */
export function burnCpu(ms: number): number {
  const read = processCpuMs() === undefined ? () => performance.now() : () => processCpuMs()!;
  const start = read();
  while (read() - start < ms) {
    // The clock read itself is the work: a syscall per turn, all of it CPU time.
  }
  return Math.round((read() - start) * 100) / 100;
}
