// The life of this isolate as the platform counts it, so the worker can stop before a limit ends it:
// CPU time and wall clock since the isolate started, the budgets it must stay within, and the
// `beforeunload` event the runtime sends shortly before a wall-clock termination.
//
// The limits apply where the functions run: in Deno, which is always an edge user worker (hosted
// Supabase and `supabase functions serve` run edge-runtime, which also sets SB_EXECUTION_ID; the local
// stack runs one Deno process per worker). Tests that run the worker in Node get an unbounded life, as
// before, unless they pass one (lifeFromNow).
//
// CPU time: the runtime's counter where it offers one (cpu-clock.ts), counted from the isolate's
// first worker run, i.e. its first request. The platform's count starts once the isolate serves (the
// local gateway's at "ready", after the boot); counted from module load, ours ran ahead of it by the
// rest of the boot. In a local user worker the counter is the whole process's (Deno lets no function
// read its thread's /proc entry), so ours still runs ahead by the GC and I/O threads' time (about
// 10%): a successor's wake-up sent just past the soft limit can come back (worker.ts sends it again).
// Supabase's hosted edge-runtime offers none; there the CPU is estimated from event-loop lag while a
// worker runs (time a 10 ms timer fired late was time the thread was busy). The estimate misses
// bursts shorter than the tick, so it is doubled.
import { processCpuMs } from "./cpu-clock.ts";
import { env, settings } from "./env.ts";

export interface IsolateLife {
  /** CPU time this isolate has used, in ms (measured, or estimated where the runtime does not measure it). */
  cpuUsedMs(): number;
  /** Whether cpuUsedMs is measured (true) or estimated from event-loop lag (false). */
  readonly cpuMeasured: boolean;
  /** Wall clock since the isolate started, in ms. */
  ageMs(): number;
  /** Claims stop once cpuUsedMs reaches this. */
  readonly cpuBudgetMs: number;
  /** The platform retires the isolate once cpuUsedMs reaches this (its soft limit): the worker wakes its successor. */
  readonly cpuRetireMs: number;
  /** The plan's wall clock: the isolate is terminated at this age. */
  readonly wallClockMs: number;
  /** Wall clock kept free before the limit: no handler may still be due to run in it. */
  readonly wallHeadroomMs: number;
  /** Starts and stops the lag sampler (a no-op where CPU is measured); the worker brackets each run with it. */
  sample(on: boolean): void;
}

export interface LifeLimits {
  cpuBudgetMs?: number;
  cpuRetireMs?: number;
  wallClockMs?: number;
  wallHeadroomMs?: number;
}

/** A life that starts now: the baseline of both clocks is this moment (tests; a fresh isolate's view of itself). */
export function lifeFromNow(limits: LifeLimits = {}): IsolateLife {
  const cpuAt = processCpuMs();
  const wallAt = performance.now();
  return makeLife(limits, cpuAt, wallAt);
}

/** Whether this process is an edge user worker: one isolate per function, with the platform's limits. */
export const inEdgeWorker = (): boolean => env("SB_EXECUTION_ID") !== undefined || "Deno" in globalThis;

/**
 * This isolate's id as the runtime knows it (SB_EXECUTION_ID, one per user worker). Task leases carry
 * it (edge:<id>/<run>), so a runtime that terminates the isolate can say which tasks died with it.
 */
export const isolateId = (): string => env("SB_EXECUTION_ID") ?? "local";

let processLife: IsolateLife | undefined;
/**
 * This isolate's own life: CPU from the first call (its first worker run), wall clock from the process's
 * start (the platform's wall clock starts with the isolate). Unbounded outside an edge user worker.
 */
export function isolateLife(): IsolateLife {
  const unbounded = { cpuBudgetMs: Infinity, cpuRetireMs: Infinity, wallClockMs: Infinity, wallHeadroomMs: 0 };
  return (processLife ??= makeLife(inEdgeWorker() ? {} : unbounded, processCpuMs(), 0));
}

/**
 * The CPU clock is read at most this often (a syscall or a /proc read each time: the worker asks before
 * every task it starts); in between, the last reading plus the wall clock since, which CPU time cannot
 * outrun on one thread.
 */
const CPU_READ_EVERY_MS = 1;

function makeLife(limits: LifeLimits, cpuAt: number | undefined, wallAt: number): IsolateLife {
  const measured = processCpuMs() !== undefined;
  const lag = measured ? undefined : lagSampler();
  let readAt = -Infinity;
  let readMs = 0;
  const measuredCpu = () => {
    const now = performance.now();
    if (now - readAt < CPU_READ_EVERY_MS) return readMs + (now - readAt);
    readAt = now;
    return (readMs = processCpuMs()! - (cpuAt ?? 0));
  };
  return {
    cpuMeasured: measured,
    cpuUsedMs: () => (measured ? measuredCpu() : lag!.busyMs() * 2),
    ageMs: () => performance.now() - wallAt,
    cpuBudgetMs: limits.cpuBudgetMs ?? settings.workerCpuBudgetMs,
    cpuRetireMs: limits.cpuRetireMs ?? settings.workerCpuRetireMs,
    wallClockMs: limits.wallClockMs ?? settings.workerWallClockMs,
    wallHeadroomMs: limits.wallHeadroomMs ?? settings.workerWallHeadroomMs,
    sample: (on) => lag?.sample(on),
  };
}

/** Wall clock left before the headroom starts: a handler that starts now must finish within it. */
export const wallLeftMs = (life: IsolateLife): number => life.wallClockMs - life.wallHeadroomMs - life.ageMs();

const LAG_TICK_MS = 10;
/** The event-loop lag estimator (exported for its test): busy time is how late a 10 ms timer fires. */
export function lagSampler() {
  let busy = 0;
  let users = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  let last = 0;
  return {
    busyMs: () => busy,
    sample(on: boolean) {
      users += on ? 1 : -1;
      if (users > 0 && timer === undefined) {
        last = performance.now();
        timer = setInterval(() => {
          const now = performance.now();
          busy += Math.max(0, now - last - LAG_TICK_MS);
          last = now;
        }, LAG_TICK_MS);
      } else if (users <= 0 && timer !== undefined) {
        clearInterval(timer);
        timer = undefined;
        users = 0;
      }
    },
  };
}

// --- beforeunload: the runtime's last word before a wall-clock termination -------------
const unloadListeners = new Set<(reason: string) => void>();
let listening = false;

/** Calls `fn` when the isolate is about to be terminated; returns the unsubscribe. */
export function onBeforeUnload(fn: (reason: string) => void): () => void {
  const target = globalThis as { addEventListener?: (type: string, fn: (e: Event) => void) => void };
  if (!listening && typeof target.addEventListener === "function") {
    listening = true;
    target.addEventListener("beforeunload", (e) => beforeUnload(String((e as CustomEvent).detail?.reason ?? "beforeunload")));
  }
  unloadListeners.add(fn);
  return () => unloadListeners.delete(fn);
}

/** Tells every listener the isolate is going away (the event handler; tests in Node, which has no such event). */
export function beforeUnload(reason: string): void {
  for (const fn of [...unloadListeners]) fn(reason);
}
