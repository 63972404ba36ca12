// The Docker-free local Supabase stack: PostgreSQL + pg_cron, the compat layer,
// migrations through the real Supabase CLI, the pg_net dispatcher and Deno
// serving every function. Used by `npm start` and by the test suite (each test
// run gets its own data dir and ports). It supervises what it runs: a process
// that dies is reported and restarted (supervised-process.ts, and
// supervised-postgres.ts when it started PostgreSQL), with the restarts handed to
// /health through local_stack.processes; where pg_cron cannot sweep more often
// than once a minute, it sweeps itself (sweep-ticker.ts).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseEnv } from "node:util";
import postgres from "postgres";
import { Cluster, ensureDatabasePackages, StackError } from "./postgres.ts";
import { Pooler } from "./pooler.ts";
import { freePort } from "./ports.ts";
import { loadOrCreateKeys, type StackKeys } from "./keys.ts";
import { ensureDashboard } from "./dashboard.ts";
import { ManagedProcess } from "./supervised-process.ts";
import { SupervisedPostgres } from "./supervised-postgres.ts";
import { ProcessReport } from "./process-report.ts";
import { SweepTicker } from "./sweep-ticker.ts";
import type { ProcessSnapshot } from "./process-snapshot.ts";
import type { RestartPolicy } from "./restart-policy.ts";
export { ManagedProcess };

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = join(ROOT, "node_modules", ".bin");

export interface StackOptions {
  dataDir: string;
  pgPort: number;
  apiPort: number;
  fast?: boolean;
  /** Extra env for the functions (tests point third-party URLs at msw, tune budgets…). */
  functionEnv?: Record<string, string>;
  /** Load supabase/seed.sql after migrations. */
  seed?: boolean;
  /** Where the logs mirror writes orchestrator.log and tasks.md (default: <dataDir>/logs; `npm start` uses ./logs). */
  logsDir?: string;
  onLine?: (source: string, line: string) => void;
  onProgress?: (step: string) => void;
  /** Every change of a supervised process (npm start keeps its state file current with it). */
  onProcesses?: (processes: ProcessSnapshot[]) => void;
  /** Restart backoff and give-up rule (tests shorten it). */
  restartPolicy?: RestartPolicy;
  /** The pooler's (pgbouncer's) port; a free one when not given. */
  poolerPort?: number;
  /**
   * The key stored with set_worker_endpoint, which every pg_net wake-up carries: the secret key
   * (sb_secret_…, default) as hosted projects use after the key migration (the legacy keys are deprecated by
   * the end of 2026), or the legacy service_role JWT, as a project still on the legacy keys has it.
   */
  wakeupKey?: "secret" | "service_role";
}

export interface StackInfo {
  API_URL: string;
  FUNCTIONS_URL: string;
  DB_URL: string;
  /** Through the transaction-mode pooler (pgbouncer), as Supavisor's port 6543 is hosted; the functions get it as DB_POOLER_URL. */
  DB_POOLER_URL: string;
  ANON_KEY: string;
  SERVICE_ROLE_KEY: string;
  JWT_SECRET: string;
  /** New API keys (not JWTs): sent as `apikey`; functions read them from SUPABASE_*_KEYS. */
  PUBLISHABLE_KEY: string;
  SECRET_KEY: string;
  /** The public JWKS document (JSON) and where the gateway serves it, as hosted Auth does. */
  JWKS: string;
  JWKS_URL: string;
  /** The ES256 private JWK (JSON) that signs JWTs verifiable against JWKS; local stack only, like JWT_SECRET. */
  JWT_SIGNING_KEY: string;
  /** orchestrator.log and tasks.md (scripts/logs-mirror.ts). */
  LOGS_DIR?: string;
}

export class LocalStack {
  readonly cluster: Cluster;
  keys!: StackKeys;
  info!: StackInfo;
  dispatcher!: ManagedProcess;
  logsMirror!: ManagedProcess;
  functions!: ManagedProcess;
  pooler!: ManagedProcess;
  /** Set when this stack started PostgreSQL (a cluster someone else runs is theirs to watch). */
  postgres: SupervisedPostgres | undefined;
  sweepTicker: SweepTicker | undefined;
  private supervisorSql: postgres.Sql | undefined;
  private report: ProcessReport | undefined;
  private readonly onLine: (source: string, line: string) => void;
  private readonly progress: (step: string) => void;

  readonly opts: StackOptions;
  constructor(opts: StackOptions) {
    this.opts = opts;
    this.cluster = new Cluster({ dataDir: opts.dataDir, port: opts.pgPort, fast: opts.fast });
    this.onLine = opts.onLine ?? (() => {});
    this.progress = opts.onProgress ?? (() => {});
  }

  async start(): Promise<StackInfo> {
    ensureDatabasePackages(this.progress);
    this.progress(this.cluster.init() ? `created a new cluster in ${this.cluster.pgdata}` : `reusing cluster ${this.cluster.pgdata}`);
    this.progress(`starting PostgreSQL 15 + pg_cron on 127.0.0.1:${this.opts.pgPort}`);
    const startsPostgres = !this.cluster.isRunning();
    this.cluster.start();
    this.keys = await loadOrCreateKeys(this.opts.dataDir);
    const pooler = new Pooler({ dataDir: this.opts.dataDir, port: this.opts.poolerPort ?? (await freePort()), pgPort: this.opts.pgPort });
    const apiUrl = `http://127.0.0.1:${this.opts.apiPort}`;
    this.info = {
      API_URL: apiUrl,
      FUNCTIONS_URL: `${apiUrl}/functions/v1`,
      DB_URL: this.cluster.url,
      DB_POOLER_URL: pooler.url,
      ANON_KEY: this.keys.anonKey,
      SERVICE_ROLE_KEY: this.keys.serviceRoleKey,
      JWT_SECRET: this.keys.jwtSecret,
      PUBLISHABLE_KEY: this.keys.publishableKey,
      SECRET_KEY: this.keys.secretKey,
      JWKS: JSON.stringify(this.keys.jwks),
      JWKS_URL: `${apiUrl}/auth/v1/.well-known/jwks.json`,
      JWT_SIGNING_KEY: JSON.stringify(this.keys.signingKey),
      LOGS_DIR: this.opts.logsDir ?? join(this.opts.dataDir, "logs"),
    };
    await this.prepareDatabase();
    ensureDashboard(ROOT, this.progress);
    this.supervisorSql = postgres(this.info.DB_URL, {
      max: 2, onnotice: () => {}, connect_timeout: 3, connection: { application_name: "orchestrator_supervisor" },
    });
    this.report = new ProcessReport(this.supervisorSql);
    await this.report.reset();
    const onChange = (snapshot: ProcessSnapshot) => this.processChanged(snapshot);
    this.progress(`starting the pooler (pgbouncer, transaction mode) on 127.0.0.1:${pooler.opts.port}`);
    pooler.writeConfig();
    const [poolerCmd, poolerArgs] = pooler.command();
    this.pooler = new ManagedProcess("pooler", poolerCmd, poolerArgs, {}, this.onLine, { cwd: ROOT, onChange });
    this.pooler.start();
    await this.waitPooler();
    this.progress("starting the pg_net dispatcher and the functions (Deno)");
    this.dispatcher = new ManagedProcess("pg_net", process.execPath, [join(ROOT, "scripts/pg-net-dispatcher.ts")], {
      DB_URL: this.info.DB_URL,
    }, this.onLine, { cwd: ROOT, onChange });
    // --allow-all for the gateway only: it starts a Deno process per user worker (run access is all
    // access in effect) and reads their CPU and memory in /proc/<pid>, which Deno grants only with
    // all permissions. The functions run in those workers with the narrow set (user-worker-process.ts).
    this.functions = new ManagedProcess("functions", join(BIN, "deno"), [
      "run", "--allow-all", "--no-prompt", "--unstable-no-legacy-abort",
      "--config", join(ROOT, "deno.json"), join(ROOT, "scripts/edge-runtime.ts"),
    ], this.functionEnv(), this.onLine, { cwd: ROOT, onChange });
    this.logsMirror = new ManagedProcess("logs", process.execPath, [join(ROOT, "scripts/logs-mirror.ts")], {
      DB_URL: this.info.DB_URL, LOGS_DIR: this.info.LOGS_DIR!, FUNCTIONS_URL: this.info.FUNCTIONS_URL,
    }, this.onLine, { cwd: ROOT, onChange });
    if (startsPostgres) this.postgres = new SupervisedPostgres(this.cluster, this.onLine, onChange, this.opts.restartPolicy);
    this.dispatcher.start();
    this.logsMirror.start();
    this.functions.start();
    // A function server that cannot come up at all is a start-up error, not something to retry.
    await this.waitHealthy();
    // From here on, a process that dies is reported and restarted.
    for (const p of [this.pooler, this.dispatcher, this.logsMirror, this.functions]) p.supervise(this.opts.restartPolicy);
    if (this.postgres) {
      this.processChanged(this.postgres.snapshot);
      this.postgres.watch();
    }
    this.sweepTicker = new SweepTicker(this.supervisorSql, this.onLine);
    const sweeps = await this.sweepTicker.start();
    this.progress(sweeps === "pg_cron"
      ? "pg_cron sweeps every 10 seconds"
      : "pg_cron < 1.5 schedules by the minute only: the supervisor sweeps every 10 s and when a lease expires");
    return this.info;
  }

  /** What the supervisor knows about every process of the stack, PostgreSQL included when it started it. */
  processes(): ProcessSnapshot[] {
    return [this.functions, this.pooler, this.dispatcher, this.logsMirror, this.postgres].filter((p) => p !== undefined).map((p) => p.snapshot);
  }

  private processChanged(snapshot: ProcessSnapshot): void {
    this.report?.update(snapshot);
    if (this.functions && this.pooler && this.dispatcher && this.logsMirror) this.opts.onProcesses?.(this.processes());
  }

  private functionEnv(): Record<string, string> {
    const envLocal = join(ROOT, ".env.local");
    const fromFile = existsSync(envLocal) ? (parseEnv(readFileSync(envLocal, "utf8")) as Record<string, string>) : {};
    return {
      ...fromFile,
      // Before the caller's env: a test sets DB_POOLER_URL="" to run the functions on the direct URL.
      DB_POOLER_URL: this.info.DB_POOLER_URL,
      ...this.opts.functionEnv,
      SUPABASE_URL: this.info.API_URL,
      SUPABASE_DB_URL: this.info.DB_URL,
      SUPABASE_ANON_KEY: this.info.ANON_KEY,
      SUPABASE_SERVICE_ROLE_KEY: this.info.SERVICE_ROLE_KEY,
      // The new keys as hosted hands them to functions: JSON objects, name -> key; and the project's JWKS.
      SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: this.info.PUBLISHABLE_KEY }),
      SUPABASE_SECRET_KEYS: JSON.stringify({ default: this.info.SECRET_KEY }),
      SUPABASE_JWKS: this.info.JWKS,
      LOCAL_JWT_SECRET: this.info.JWT_SECRET,
      EDGE_PORT: String(this.opts.apiPort),
      NO_COLOR: "1",
    };
  }

  /** Compat layer, then the real Supabase CLI applies migrations, then Vault gets the worker endpoint. */
  private async prepareDatabase(): Promise<void> {
    const sql = postgres(this.info.DB_URL, { max: 1, onnotice: () => {} });
    try {
      this.progress("loading the compat layer (roles, auth, vault, net)");
      await sql.unsafe(readFileSync(join(ROOT, "supabase/compat/compat.sql"), "utf8"));
      this.progress("applying migrations with the Supabase CLI");
      const r = spawnSync(join(BIN, "supabase"), [
        "migration", "up", "--db-url", this.info.DB_URL, "--yes", "--workdir", ROOT,
      ], { encoding: "utf8", env: { ...process.env, PGSSLMODE: "disable", DO_NOT_TRACK: "1", SUPABASE_TELEMETRY_DISABLED: "1" } });
      if (r.status !== 0) {
        throw new StackError(`supabase migration up failed:\n${r.stdout}\n${r.stderr}\nFix the migration named above, then run again.`);
      }
      for (const line of r.stdout.split("\n")) if (line.startsWith("Applying migration")) this.progress(line.trim());
      if (this.opts.seed && existsSync(join(ROOT, "supabase/seed.sql"))) {
        this.progress("loading supabase/seed.sql");
        await sql.unsafe(readFileSync(join(ROOT, "supabase/seed.sql"), "utf8"));
      }
      // The secret key by default: it goes as `apikey` only (not a JWT), which task-worker checks itself
      // (verify_jwt = false); the legacy service_role JWT still works there, sent as apikey and Bearer.
      const wakeupKey = this.opts.wakeupKey === "service_role" ? this.info.SERVICE_ROLE_KEY : this.info.SECRET_KEY;
      await sql`select orchestrator.set_worker_endpoint(${this.info.API_URL}, ${wakeupKey})`;
    } finally {
      await sql.end();
    }
  }

  /** A pooler that cannot take a connection at all is a start-up error (a bad config, a port in use). */
  private async waitPooler(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      const p = this.pooler.snapshot;
      if (p.state === "failed" || p.state === "stopped") {
        throw new StackError(`pgbouncer exited (${p.last_exit ?? "stopped"}) at start-up. Its last lines:\n  ${p.last_stderr.join("\n  ")}`);
      }
      const sql = postgres(this.info.DB_POOLER_URL, { max: 1, prepare: false, connect_timeout: 2, onnotice: () => {} });
      try {
        await sql`select 1`;
        return;
      } catch (err) {
        last = (err as Error).message;
      } finally {
        await sql.end({ timeout: 1 }).catch(() => {});
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new StackError(`the pooler (pgbouncer) took no connection within ${timeoutMs / 1000}s (${last}); its config: ${join(this.opts.dataDir, "pooler")}`);
  }

  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      const f = this.functions.snapshot;
      if (f.state === "failed" || f.state === "stopped") {
        const stderr = f.last_stderr.length ? ` Its last stderr lines:\n  ${f.last_stderr.join("\n  ")}` : "";
        throw new StackError(`the function server exited (${f.last_exit ?? "stopped"}) before it answered /health. ${last}${stderr}`);
      }
      try {
        const res = await fetch(`${this.info.FUNCTIONS_URL}/health`);
        if (res.status === 200) return;
        last = `health answered ${res.status}`;
      } catch (err) {
        last = String((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new StackError(`functions did not become healthy within ${timeoutMs / 1000}s (${last})`);
  }

  /** kill -9 the function server (fault tests), then start it again. */
  async restartFunctions(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    await this.functions.stop(signal);
    this.functions.start();
    await this.waitHealthy();
  }

  async stop(): Promise<void> {
    this.sweepTicker?.stop();
    this.postgres?.stop();
    this.report?.close();
    await Promise.allSettled([this.functions?.stop(), this.dispatcher?.stop(), this.logsMirror?.stop()]);
    await this.pooler?.stop();
    await this.supervisorSql?.end({ timeout: 2 }).catch(() => {});
    this.cluster.stop("fast");
  }
}
