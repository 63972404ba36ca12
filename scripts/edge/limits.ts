// The limits every user worker lives under, as hosted Supabase and `supabase functions serve`
// apply them (per-worker policy). Read once from the gateway's environment; none of them can be
// switched off, only made smaller or larger (tests use small ones to reach them quickly).
export type Plan = "free" | "pro";

export interface WorkerLimits {
  plan: Plan;
  /** CPU time over the worker's life: at the soft limit it retires, at the hard limit it is killed. */
  cpuSoftMs: number;
  cpuHardMs: number;
  /** Resident memory of the worker process; over it the worker is killed. */
  memoryMb: number;
  /** Wall clock of the worker's life: retire at half, `beforeunload` shortly before, kill at the limit. */
  wallClockMs: number;
  /** A request with no response after this long gets 504 (hosted: 150 s). */
  requestTimeoutMs: number;
}

// Free is the default, not the 400 s of `supabase functions serve`: code that fits the Free plan
// fits every plan, and the handler timeouts must fit Free (issue 12). EDGE_PLAN=pro for 400 s.
const PLAN_WALL_CLOCK_MS: Record<Plan, number> = { free: 150_000, pro: 400_000 };

export class LimitsError extends Error {}

function positive(env: (name: string) => string | undefined, name: string, fallback: number): number {
  const raw = env(name);
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    throw new LimitsError(`${name}=${raw} is not a positive number; set it to a number of ${name.endsWith("_MB") ? "MB" : "ms"} or unset it for ${fallback}.`);
  }
  return n;
}

export function readLimits(env: (name: string) => string | undefined = (n) => Deno.env.get(n)): WorkerLimits {
  const plan = (env("EDGE_PLAN") || "free") as Plan;
  if (!(plan in PLAN_WALL_CLOCK_MS)) throw new LimitsError(`EDGE_PLAN=${plan} is not a plan; use free (150 s wall clock) or pro (400 s).`);
  const limits: WorkerLimits = {
    plan,
    cpuSoftMs: positive(env, "EDGE_CPU_SOFT_LIMIT_MS", 1_000),
    cpuHardMs: positive(env, "EDGE_CPU_HARD_LIMIT_MS", 2_000),
    memoryMb: positive(env, "EDGE_MEMORY_LIMIT_MB", 256),
    wallClockMs: positive(env, "EDGE_WALL_CLOCK_LIMIT_MS", PLAN_WALL_CLOCK_MS[plan]),
    requestTimeoutMs: positive(env, "EDGE_REQUEST_TIMEOUT_MS", 150_000),
  };
  if (limits.cpuSoftMs > limits.cpuHardMs) {
    throw new LimitsError(`EDGE_CPU_SOFT_LIMIT_MS (${limits.cpuSoftMs}) is above EDGE_CPU_HARD_LIMIT_MS (${limits.cpuHardMs}); the soft limit must come first.`);
  }
  return limits;
}

/** When `beforeunload` reaches a worker: shortly before its wall-clock limit (1 s, or 10% of short limits). */
export function beforeUnloadAtMs(limits: WorkerLimits): number {
  return limits.wallClockMs - Math.min(1_000, limits.wallClockMs * 0.1);
}
