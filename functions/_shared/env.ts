// The one place that reads the environment, in Deno (Edge Functions) and in Node (tests, scripts).
type DenoLike = { env: { get(name: string): string | undefined } };
const deno = (globalThis as { Deno?: DenoLike }).Deno;

export function env(name: string): string | undefined {
  const value = deno ? deno.env.get(name) : (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env[name];
  return value === "" ? undefined : value;
}

export function envInt(name: string, fallback: number): number {
  const raw = env(name);
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(n) ? n : fallback;
}

export function requireEnv(name: string): string {
  const value = env(name);
  if (!value) throw new Error(`${name} is not set: the function cannot start without it (see .env.example)`);
  return value;
}

/** Keys that may call the protected endpoints: the service role key and, on projects with the new API keys, the secret key. */
export function serviceKeys(): string[] {
  return ["SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_SECRET_KEY", "ORCHESTRATOR_API_KEY"]
    .map((name) => env(name))
    .filter((v): v is string => !!v);
}

export const settings = {
  get workerBudgetMs() {
    return envInt("WORKER_TIME_BUDGET_MS", 60_000);
  },
  get workerBatchSize() {
    return envInt("WORKER_BATCH_SIZE", 25);
  },
  get workerConcurrency() {
    return envInt("WORKER_CONCURRENCY", 10);
  },
  /** How long an idle worker waits for a retry or scheduled task due soon, instead of leaving it to cron. */
  get workerIdleWaitMs() {
    return envInt("WORKER_IDLE_WAIT_MS", 5_000);
  },
  get maxBodyBytes() {
    return envInt("MAX_BODY_BYTES", 256 * 1024);
  },
  get logLevel() {
    return env("LOG_LEVEL") ?? "info";
  },
};
