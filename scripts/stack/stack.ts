// The Docker-free local Supabase stack: PostgreSQL + pg_cron, the compat layer,
// migrations through the real Supabase CLI, the pg_net dispatcher and Deno
// serving every function. Used by `npm start` and by the test suite (each test
// run gets its own data dir and ports).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { parseEnv } from "node:util";
import postgres from "postgres";
import { Cluster, ensurePostgresInstalled, StackError } from "./postgres.ts";
import { loadOrCreateKeys, type StackKeys } from "./keys.ts";
import { ensureDashboard } from "./dashboard.ts";

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
}

export interface StackInfo {
  API_URL: string;
  FUNCTIONS_URL: string;
  DB_URL: string;
  ANON_KEY: string;
  SERVICE_ROLE_KEY: string;
  JWT_SECRET: string;
  /** orchestrator.log and tasks.md (scripts/logs-mirror.ts). */
  LOGS_DIR?: string;
}

export class ManagedProcess {
  child: ChildProcess | undefined;
  readonly name: string;
  private readonly cmd: string;
  private readonly args: string[];
  private readonly env: Record<string, string>;
  private readonly onLine: (source: string, line: string) => void;
  constructor(
    name: string,
    cmd: string,
    args: string[],
    env: Record<string, string>,
    onLine: (source: string, line: string) => void,
  ) {
    this.name = name;
    this.cmd = cmd;
    this.args = args;
    this.env = env;
    this.onLine = onLine;
  }

  start(): void {
    const child = spawn(this.cmd, this.args, { cwd: ROOT, env: { ...process.env, ...this.env }, stdio: ["ignore", "pipe", "pipe"] });
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream! }).on("line", (line) => this.onLine(this.name, line));
    }
    child.on("exit", (code, signal) => {
      if (this.child === child && code !== 0 && signal !== "SIGTERM" && signal !== "SIGKILL" && signal !== "SIGINT") {
        this.onLine(this.name, `exited unexpectedly (code ${code}, signal ${signal})`);
      }
    });
    this.child = child;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}

export class LocalStack {
  readonly cluster: Cluster;
  keys!: StackKeys;
  info!: StackInfo;
  dispatcher!: ManagedProcess;
  logsMirror!: ManagedProcess;
  functions!: ManagedProcess;
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
    ensurePostgresInstalled(this.progress);
    this.progress(this.cluster.init() ? `created a new cluster in ${this.cluster.pgdata}` : `reusing cluster ${this.cluster.pgdata}`);
    this.progress(`starting PostgreSQL 15 + pg_cron on 127.0.0.1:${this.opts.pgPort}`);
    this.cluster.start();
    this.keys = await loadOrCreateKeys(this.opts.dataDir);
    const apiUrl = `http://127.0.0.1:${this.opts.apiPort}`;
    this.info = {
      API_URL: apiUrl,
      FUNCTIONS_URL: `${apiUrl}/functions/v1`,
      DB_URL: this.cluster.url,
      ANON_KEY: this.keys.anonKey,
      SERVICE_ROLE_KEY: this.keys.serviceRoleKey,
      JWT_SECRET: this.keys.jwtSecret,
      LOGS_DIR: this.opts.logsDir ?? join(this.opts.dataDir, "logs"),
    };
    await this.prepareDatabase();
    ensureDashboard(ROOT, this.progress);
    this.progress("starting the pg_net dispatcher and the functions (Deno)");
    this.dispatcher = new ManagedProcess("pg_net", process.execPath, [join(ROOT, "scripts/pg-net-dispatcher.ts")], {
      DB_URL: this.info.DB_URL,
    }, this.onLine);
    this.functions = new ManagedProcess("functions", join(BIN, "deno"), [
      "run", "--allow-net", "--allow-env", "--allow-read", "--allow-sys", "--no-prompt", "--unstable-no-legacy-abort",
      "--config", join(ROOT, "deno.json"), join(ROOT, "scripts/edge-runtime.ts"),
    ], this.functionEnv(), this.onLine);
    this.logsMirror = new ManagedProcess("logs", process.execPath, [join(ROOT, "scripts/logs-mirror.ts")], {
      DB_URL: this.info.DB_URL, LOGS_DIR: this.info.LOGS_DIR!, FUNCTIONS_URL: this.info.FUNCTIONS_URL,
    }, this.onLine);
    this.dispatcher.start();
    this.logsMirror.start();
    this.functions.start();
    await this.waitHealthy();
    return this.info;
  }

  private functionEnv(): Record<string, string> {
    const envLocal = join(ROOT, ".env.local");
    const fromFile = existsSync(envLocal) ? (parseEnv(readFileSync(envLocal, "utf8")) as Record<string, string>) : {};
    return {
      ...fromFile,
      ...this.opts.functionEnv,
      SUPABASE_URL: this.info.API_URL,
      SUPABASE_DB_URL: this.info.DB_URL,
      SUPABASE_ANON_KEY: this.info.ANON_KEY,
      SUPABASE_SERVICE_ROLE_KEY: this.info.SERVICE_ROLE_KEY,
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
      await sql`select orchestrator.set_worker_endpoint(${this.info.API_URL}, ${this.info.SERVICE_ROLE_KEY})`;
    } finally {
      await sql.end();
    }
  }

  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      if (!this.functions.running) throw new StackError(`the function server exited during start-up. ${last}`);
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
    await Promise.allSettled([this.functions?.stop(), this.dispatcher?.stop(), this.logsMirror?.stop()]);
    this.cluster.stop("fast");
  }
}

export function writeStackFile(dataDir: string, content: unknown): void {
  writeFileSync(join(dataDir, "stack.json"), JSON.stringify(content, null, 2), { mode: 0o600 });
}
