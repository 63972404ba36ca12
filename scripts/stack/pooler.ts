// The local stand-in for Supavisor: pgbouncer (Debian's) in transaction mode in
// front of the stack's PostgreSQL, so the functions meet what they meet hosted on
// port 6543 — a connection is theirs for one transaction only, so no LISTEN and
// no named prepared statements (pgbouncer 1.18 has no prepared-statement
// support) — and the database sees at most a pool's worth of connections however
// many isolates are warm. Sized like Supavisor for a Micro project: a pool of 15
// server connections, 200 clients.
import { chownSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PGBOUNCER_BIN, postgresIds } from "./postgres.ts";

const isRoot = process.getuid?.() === 0;

export interface PoolerOptions {
  /** Its config lives in <dataDir>/pooler. */
  dataDir: string;
  port: number;
  /** The PostgreSQL it pools. */
  pgPort: number;
  /** Server connections to PostgreSQL, at most (Supavisor's pool size: 15 on Nano to Medium). */
  poolSize?: number;
  /** Client connections it takes, at most (Supavisor's: 200 on Nano and Micro). */
  maxClients?: number;
}

/** The stack's one database role; PostgreSQL trusts loopback, pgbouncer checks this password (SCRAM). */
const USER = "postgres";
const PASSWORD = "postgres";

export class Pooler {
  readonly dir: string;
  readonly opts: Required<PoolerOptions>;
  constructor(opts: PoolerOptions) {
    this.opts = { poolSize: 15, maxClients: 200, ...opts };
    this.dir = join(opts.dataDir, "pooler");
  }

  /** What the functions get as DB_POOLER_URL: the same credentials as the direct URL, the pooler's port. */
  get url(): string {
    return `postgresql://${USER}:${PASSWORD}@127.0.0.1:${this.opts.port}/postgres`;
  }

  get configFile(): string {
    return join(this.dir, "pgbouncer.ini");
  }

  /** Written on every start: the ports differ between runs of private stacks. */
  writeConfig(): void {
    mkdirSync(this.dir, { recursive: true });
    const userlist = join(this.dir, "userlist.txt");
    const { port, pgPort, poolSize, maxClients } = this.opts;
    const ini = [
      "[databases]",
      `postgres = host=127.0.0.1 port=${pgPort} dbname=postgres user=${USER}`,
      "",
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      // No unix socket: /var/run/postgresql may not be ours, and every client here uses TCP.
      "unix_socket_dir =",
      "auth_type = scram-sha-256",
      `auth_file = ${userlist}`,
      "pool_mode = transaction",
      `default_pool_size = ${poolSize}`,
      `max_db_connections = ${poolSize}`,
      "reserve_pool_size = 0",
      `max_client_conn = ${maxClients}`,
      // Server connections idle this long are closed, so the database's count falls back after a burst.
      "server_idle_timeout = 30",
      `admin_users = ${USER}`,
      `stats_users = ${USER}`,
      // Drivers (pgx, JDBC) send it at startup; pgbouncer would refuse the connection over it.
      "ignore_startup_parameters = extra_float_digits",
      // Its output is the stack's terminal: warnings and errors only, no per-minute stats or per-connection lines.
      "log_connections = 0",
      "log_disconnections = 0",
      "log_stats = 0",
      "",
    ].join("\n");
    writeFileSync(this.configFile, ini);
    writeFileSync(userlist, `"${USER}" "${PASSWORD}"\n`, { mode: 0o600 });
    // pgbouncer drops to the postgres OS user (-u) and reads its auth file as that user.
    if (isRoot) {
      const { uid, gid } = postgresIds();
      for (const p of [this.dir, this.configFile, userlist]) chownSync(p, uid, gid);
    }
  }

  /** The command that runs it in the foreground (supervised like the stack's other processes). */
  command(): [string, string[]] {
    return [PGBOUNCER_BIN, [...(isRoot ? ["-u", "postgres"] : []), this.configFile]];
  }
}

