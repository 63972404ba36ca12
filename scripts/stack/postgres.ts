// A project-local PostgreSQL 15 cluster with pg_cron preloaded, managed with
// Debian's binaries. Postgres refuses to run as root, so as root every server
// command runs as the `postgres` OS user, and the data dir is handed to it.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync, chownSync, appendFileSync, statSync, openSync, readSync, closeSync } from "node:fs";
import { join } from "node:path";
import { userInfo } from "node:os";

export const PG_BIN = "/usr/lib/postgresql/15/bin";
export const PGBOUNCER_BIN = "/usr/sbin/pgbouncer";
const PG_CRON_LIB = "/usr/lib/postgresql/15/lib/pg_cron.so";
const isRoot = process.getuid?.() === 0;

export class StackError extends Error {}

function asPostgresUser(cmd: string, args: string[]): [string, string[]] {
  return isRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
}

function run(cmd: string, args: string[], what: string): string {
  const [c, a] = asPostgresUser(cmd, args);
  const r = spawnSync(c, a, { encoding: "utf8" });
  if (r.status !== 0) {
    throw new StackError(`${what} failed (${c} ${a.join(" ")}):\n${r.stderr || r.stdout}`);
  }
  return r.stdout;
}

/** Installs PostgreSQL 15, pg_cron and pgbouncer (the pooler) from Debian when missing (as root), or says what to install. */
export function ensureDatabasePackages(log: (line: string) => void): void {
  const missing = [
    ...(existsSync(join(PG_BIN, "postgres")) ? [] : ["postgresql-15"]),
    ...(existsSync(PG_CRON_LIB) ? [] : ["postgresql-15-cron"]),
    ...(existsSync(PGBOUNCER_BIN) ? [] : ["pgbouncer"]),
  ];
  if (missing.length === 0) return;
  const packages = missing.join(" ");
  if (!isRoot) {
    throw new StackError(
      `The local stack needs PostgreSQL 15, pg_cron and pgbouncer; missing: ${packages}. Install them, then run again:\n  sudo apt-get install -y ${packages}`,
    );
  }
  log(`installing ${packages} with apt-get (first run only)…`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-q"], { stdio: "inherit", env });
  execFileSync("apt-get", ["install", "-y", "-q", ...packages.split(" ")], { stdio: "inherit", env });
}

/**
 * max_connections of Supabase's compute sizes (their "Compute and disk" docs). The local stack runs as a
 * Micro unless ORCH_PG_MAX_CONNECTIONS names another size or a number.
 */
export const COMPUTE_MAX_CONNECTIONS: Record<string, number> = {
  nano: 60, micro: 60, small: 90, medium: 120, large: 160, xl: 240, "2xl": 380, "4xl": 480,
};

/** ORCH_PG_MAX_CONNECTIONS: a compute size (micro, small, …) or a number of connections; default micro (60). */
export function maxConnectionsSetting(raw = process.env.ORCH_PG_MAX_CONNECTIONS): number {
  const value = (raw ?? "").trim().toLowerCase();
  if (value === "") return COMPUTE_MAX_CONNECTIONS.micro;
  if (value in COMPUTE_MAX_CONNECTIONS) return COMPUTE_MAX_CONNECTIONS[value];
  const n = Number(value);
  if (Number.isInteger(n) && n >= 20 && n <= 10_000) return n;
  throw new StackError(
    `ORCH_PG_MAX_CONNECTIONS=${raw} is neither a compute size (${Object.keys(COMPUTE_MAX_CONNECTIONS).join(", ")}) ` +
      "nor a whole number from 20 to 10000. Set one of those, or unset it for a Micro's 60.",
  );
}

export interface ClusterOptions {
  dataDir: string; // the cluster lives in <dataDir>/pgdata
  port: number;
  /** Given on the command line at every start, so a cluster created with another value follows it too. */
  maxConnections?: number;
  /** Tests trade durability for speed; `npm start` keeps fsync on. */
  fast?: boolean;
}

export class Cluster {
  readonly pgdata: string;
  readonly socketDir: string;
  readonly logFile: string;
  readonly opts: ClusterOptions;
  constructor(opts: ClusterOptions) {
    this.opts = opts;
    this.pgdata = join(opts.dataDir, "pgdata");
    this.socketDir = join(opts.dataDir, "run");
    this.logFile = join(opts.dataDir, "postgres.log");
  }

  get url(): string {
    return `postgresql://postgres:postgres@127.0.0.1:${this.opts.port}/postgres`;
  }

  /** initdb on first use; the same data dir is reused afterwards. */
  init(): boolean {
    if (existsSync(join(this.pgdata, "PG_VERSION"))) return false;
    mkdirSync(this.pgdata, { recursive: true });
    mkdirSync(this.socketDir, { recursive: true });
    if (!existsSync(this.logFile)) writeFileSync(this.logFile, "");
    if (isRoot) {
      const { uid, gid } = postgresIds();
      for (const p of [this.opts.dataDir, this.pgdata, this.socketDir, this.logFile]) chownSync(p, uid, gid);
    }
    run(join(PG_BIN, "initdb"), ["-D", this.pgdata, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"], "initdb");
    const conf = [
      "# orchestrator local stack",
      "listen_addresses = '127.0.0.1'",
      "shared_preload_libraries = 'pg_cron'",
      "cron.database_name = 'postgres'",
      // Background workers: cron jobs need no password or socket path.
      "cron.use_background_workers = on",
      "max_worker_processes = 32",
      "shared_buffers = 256MB",
      "log_min_messages = warning",
      "log_line_prefix = '%m [%p] '",
      ...(this.opts.fast ? ["fsync = off", "synchronous_commit = off", "full_page_writes = off"] : []),
    ].join("\n");
    appendFileSync(join(this.pgdata, "postgresql.conf"), `\n${conf}\n`);
    return true;
  }

  /** The running postmaster's pid, or undefined. */
  postmasterPid(): number | undefined {
    const pidFile = join(this.pgdata, "postmaster.pid");
    if (!existsSync(pidFile)) return undefined;
    const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
    return pidAlive(pid) ? pid : undefined;
  }

  isRunning(): boolean {
    return this.postmasterPid() !== undefined;
  }

  private startArgs(): string[] {
    return ["-D", this.pgdata, "-l", this.logFile, "-w", "-t", "60", "-o",
      `-p ${this.opts.port} -k ${this.socketDir} -c max_connections=${this.opts.maxConnections ?? maxConnectionsSetting()}`, "start"];
  }

  start(): void {
    if (this.isRunning()) return;
    run(join(PG_BIN, "pg_ctl"), this.startArgs(), `starting PostgreSQL on port ${this.opts.port} (log: ${this.logFile})`);
  }

  /** start() without blocking the caller's event loop (the supervisor keeps serving its other processes). */
  async startInBackground(): Promise<void> {
    if (this.isRunning()) return;
    const [cmd, args] = asPostgresUser(join(PG_BIN, "pg_ctl"), this.startArgs());
    const output: string[] = [];
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
      child.stdout.on("data", (d) => output.push(String(d)));
      child.stderr.on("data", (d) => output.push(String(d)));
      child.on("error", (err) => {
        output.push(err.message);
        resolve(-1);
      });
      child.on("exit", (c) => resolve(c));
    });
    if (code !== 0 && !this.isRunning()) {
      throw new StackError(`starting PostgreSQL on port ${this.opts.port} failed (log: ${this.logFile}):\n${output.join("").trim()}`);
    }
  }

  /** The last lines of the server log (what it said before it died). */
  logTail(lines: number): string[] {
    if (!existsSync(this.logFile)) return [];
    try {
      const size = statSync(this.logFile).size;
      const fd = openSync(this.logFile, "r");
      const buf = Buffer.alloc(Math.min(size, 16_384));
      readSync(fd, buf, 0, buf.length, size - buf.length);
      closeSync(fd);
      return buf.toString("utf8").split("\n").filter(Boolean).slice(-lines);
    } catch {
      return [];
    }
  }

  stop(mode: "fast" | "immediate" = "fast"): void {
    if (!this.isRunning()) return;
    run(join(PG_BIN, "pg_ctl"), ["-D", this.pgdata, "-m", mode, "-w", "stop"], "stopping PostgreSQL");
  }

  restart(): void {
    this.stop("fast");
    this.start();
  }
}

export function postgresIds(): { uid: number; gid: number } {
  const out = execFileSync("id", ["postgres"], { encoding: "utf8" });
  const uid = Number(/uid=(\d+)/.exec(out)?.[1]);
  const gid = Number(/gid=(\d+)/.exec(out)?.[1]);
  if (!Number.isFinite(uid)) throw new StackError("no `postgres` OS user: install postgresql-15 first");
  return { uid, gid };
}

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export const currentUser = () => userInfo().username;
