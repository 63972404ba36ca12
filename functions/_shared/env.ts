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

/**
 * A hosted key dictionary (SUPABASE_SECRET_KEYS, SUPABASE_PUBLISHABLE_KEYS: a JSON object, name -> key): its keys.
 * A value that is not a JSON object is read as one key, so a hand-set single key still works.
 */
function keyDictionary(name: string): string[] {
  const raw = env(name)?.trim();
  if (!raw) return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed && typeof parsed === "object") {
      return Object.values(parsed).filter((v): v is string => typeof v === "string" && v.trim() !== "").map((v) => v.trim());
    }
    return typeof parsed === "string" && parsed ? [parsed] : [];
  } catch {
    return [raw];
  }
}

const distinct = (keys: (string | undefined)[]): string[] => [...new Set(keys.filter((v): v is string => !!v))];

/**
 * Keys that may call the protected endpoints: the legacy service_role key, every secret key of the new
 * system (SUPABASE_SECRET_KEYS, as hosted provides it; SUPABASE_SECRET_KEY where one is exported by hand,
 * self-hosted), and ORCHESTRATOR_API_KEY.
 */
export function serviceKeys(): string[] {
  return distinct([
    env("SUPABASE_SERVICE_ROLE_KEY"), ...keyDictionary("SUPABASE_SECRET_KEYS"), env("SUPABASE_SECRET_KEY"), env("ORCHESTRATOR_API_KEY"),
  ]);
}

/** The project's public keys (legacy anon, new publishable): real keys, but they open nothing but /health. */
export function publicKeys(): string[] {
  return distinct([env("SUPABASE_ANON_KEY"), ...keyDictionary("SUPABASE_PUBLISHABLE_KEYS"), env("SUPABASE_PUBLISHABLE_KEY")]);
}

export const settings = {
  get workerBudgetMs() {
    return envInt("WORKER_TIME_BUDGET_MS", 60_000);
  },
  /**
   * The isolate's CPU time (over its whole life) at which the worker stops claiming and hands the rest to a
   * fresh invocation. Past the platform's soft limit (1,000 ms: the isolate has retired, so the hand-off
   * reaches a fresh one), 800 ms before the hard limit (2,000 ms) for the handlers still running.
   */
  get workerCpuBudgetMs() {
    return envInt("WORKER_CPU_BUDGET_MS", 1_200);
  },
  /**
   * The isolate's CPU time at which the platform retires it (the soft limit, 1,000 ms): new requests then go
   * to a fresh isolate, so the worker wakes its successor here and works on until WORKER_CPU_BUDGET_MS.
   */
  get workerCpuRetireMs() {
    return envInt("WORKER_CPU_RETIRE_MS", 1_000);
  },
  /** The plan's wall clock per isolate (Free 150,000; paid 400,000): no handler starts that could outlive it. */
  get workerWallClockMs() {
    return envInt("WORKER_WALL_CLOCK_MS", 150_000);
  },
  /** Wall clock kept free before that limit, for recording the last outcomes. */
  get workerWallHeadroomMs() {
    return envInt("WORKER_WALL_HEADROOM_MS", 5_000);
  },
  /** The most tasks one claim takes. Fast tasks are claimed this many at a time; slow ones only as slots free up (worker.ts). */
  get workerBatchSize() {
    return envInt("WORKER_BATCH_SIZE", 1_000);
  },
  get workerConcurrency() {
    return envInt("WORKER_CONCURRENCY", 10);
  },
  /**
   * How long a background worker whose queue drained stays for new tasks (woken by the orchestrator_task_ready
   * NOTIFY, so new work starts without a fresh invocation). One worker per isolate lingers; 0 turns it off.
   */
  get workerLingerMs() {
    return envInt("WORKER_LINGER_MS", 1_000);
  },
  /** How long an idle worker waits for a retry or scheduled task due soon, instead of leaving it to cron. */
  get workerIdleWaitMs() {
    return envInt("WORKER_IDLE_WAIT_MS", 5_000);
  },
  /**
   * The transaction-mode pooler the functions' queries go through (hosted: Supavisor's port 6543 URL, set as a
   * secret; the local stack sets its pgbouncer). Unset: straight to SUPABASE_DB_URL.
   */
  get dbPoolerUrl() {
    return env("DB_POOLER_URL");
  },
  get maxBodyBytes() {
    return envInt("MAX_BODY_BYTES", 256 * 1024);
  },
  /** A bulk POST /tasks body (a JSON array of up to 1,000 tasks) may be this large; a single task stays within maxBodyBytes. */
  get maxBulkBodyBytes() {
    return envInt("MAX_BULK_BODY_BYTES", 4 * 1024 * 1024);
  },
  /** How long a body read waits for its next bytes before it gives up with a 408 (a stalled or trickling sender). */
  get bodyIdleTimeoutMs() {
    return envInt("BODY_IDLE_TIMEOUT_MS", 10_000);
  },
  get logLevel() {
    return env("LOG_LEVEL") ?? "info";
  },
  /** OpenAI-compatible chat-completions base URL (…/v1). Unset with AI_API_KEY set: OpenAI. Both unset: no AI provider. */
  get aiBaseUrl() {
    return env("AI_BASE_URL") ?? (env("AI_API_KEY") ? "https://api.openai.com/v1" : undefined);
  },
  /** Optional: local servers (Ollama, vLLM) need none. */
  get aiApiKey() {
    return env("AI_API_KEY");
  },
  get aiModel() {
    return env("AI_MODEL");
  },
  /** Per HTTP request to the provider. */
  get aiTimeoutMs() {
    return envInt("AI_TIMEOUT_MS", 60_000);
  },
  /** Retries of one call on 429, 5xx, timeouts and network errors. */
  get aiMaxRetries() {
    return envInt("AI_MAX_RETRIES", 3);
  },
  /** How structured output is asked for: json_schema (default), json_object, or none (prompt only). */
  get aiResponseFormat() {
    return env("AI_RESPONSE_FORMAT") ?? "json_schema";
  },
};

/** Notion sync and outbound webhooks (see functions/_shared/notion/). Unset NOTION_API_KEY: the sync is off. */
export const notionSettings = {
  get apiKey() {
    return env("NOTION_API_KEY");
  },
  get databaseId() {
    return env("NOTION_DATABASE_ID");
  },
  /** The verification token Notion sent to POST /notion/webhook; signs every webhook event. */
  get webhookSecret() {
    return env("NOTION_WEBHOOK_SECRET");
  },
  /** Override of https://api.notion.com (tests, proxies). */
  get apiBaseUrl() {
    return env("NOTION_API_BASE_URL") ?? "https://api.notion.com";
  },
  /** JSON: {"status": "State"} or {"priority": {"name": "P", "type": "select"}} or {"link": null}. */
  get propertyMap() {
    return env("NOTION_PROPERTY_MAP");
  },
  /** JSON: {"ticket": {"resolved": "Done"}, "task": {"dead": "Failed"}}: our values -> Notion option names. */
  get statusMap() {
    return env("NOTION_STATUS_MAP");
  },
  /** Notion's average limit per integration; the shared bucket spaces requests ~3% under it. */
  get ratePerSecond() {
    return envInt("NOTION_RATE_PER_SECOND", 3);
  },
  /** Base URL written into the Link property (defaults to SUPABASE_URL + /functions/v1). */
  get publicBaseUrl() {
    return env("ORCHESTRATOR_PUBLIC_URL") ?? (env("SUPABASE_URL") ? `${env("SUPABASE_URL")}/functions/v1` : undefined);
  },
};
