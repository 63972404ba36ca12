// The one database module: a small postgres.js pool per isolate.
//
// Hosted, SUPABASE_DB_URL is a direct connection, and a Micro database takes 60 of them, shared with the
// apps; so with DB_POOLER_URL set (Supavisor's transaction mode, port 6543; pgbouncer on the local stack)
// the pool goes through the pooler and the database sees the pooler's few connections, however many
// isolates are warm. A transaction pooler lends a connection for one transaction: named prepared
// statements would land on another client's connection (hence `prepare: false`), and LISTEN would be
// lost with it, so LISTEN takes a session of its own on the direct URL.
import postgres from "postgres";
import { envInt, requireEnv, settings } from "./env.ts";
import { currentTrace } from "./trace.ts";

export type Sql = postgres.Sql;
/** A pool or a transaction: helpers that run in either take this. */
export type AnySql = postgres.Sql | postgres.TransactionSql;
let pool: Sql | undefined;
let session: Sql | undefined;

/** Supavisor's transaction-mode port: a URL on it is a pooler even when it is given as SUPABASE_DB_URL. */
const isTransactionPooler = (url: string) => /:6543\//.test(url);

/** How this isolate's queries reach the database. */
export function poolMode(): "pooler" | "direct" {
  return settings.dbPoolerUrl || isTransactionPooler(requireEnv("SUPABASE_DB_URL")) ? "pooler" : "direct";
}

/** Whether LISTEN can work here: it needs a session, which the direct URL gives and a transaction pooler does not. */
export function canListen(): boolean {
  return !isTransactionPooler(requireEnv("SUPABASE_DB_URL"));
}

/** Through a transaction pooler (`viaPooler`): no named prepared statements, no pipelining. */
function connect(url: string, max: number, viaPooler: boolean): Sql {
  // postgres.js pipelines up to 100 queries on a connection. pgbouncer (1.18, Debian's) hands the server
  // connection to another client at the first query's end, so the rest of the pipeline's answers go nowhere
  // ("got packet from server when not linked") and those queries hang: one query at a time per connection.
  // (max_pipeline is a postgres.js option its type declarations leave out.)
  const pipeline: object = { max_pipeline: viaPooler ? 0 : 100 };
  return postgres(url, {
    ...pipeline,
    max,
    idle_timeout: 20,
    connect_timeout: 5,
    prepare: !viaPooler,
    onnotice: () => {},
    // bigint ids fit in a JS number for any realistic table.
    types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
    connection: { application_name: "orchestrator" },
  });
}

/**
 * sql.begin on one reserved connection, for a pool with max_pipeline 0. postgres.js's own begin registers
 * its connection from inside the pipelining check that max_pipeline 0 short-circuits, so its BEGIN fails
 * with UNSAFE_TRANSACTION; a reserved connection runs BEGIN … COMMIT one statement at a time, and pgbouncer
 * keeps its server connection for the whole transaction. (No caller uses savepoints or begin's options.)
 */
function beginOnReserved(pool: Sql): Sql["begin"] {
  return (async (...args: unknown[]) => {
    const fn = args[args.length - 1] as (tx: postgres.TransactionSql) => unknown;
    const mode = args.length > 1 ? String(args[0]).replace(/[^a-z ]/gi, "") : "";
    const conn = await pool.reserve();
    try {
      await conn.unsafe(`begin ${mode}`);
      try {
        const out = await fn(conn as unknown as postgres.TransactionSql);
        const result = Array.isArray(out) ? await Promise.all(out) : out;
        await conn`commit`;
        return result;
      } catch (err) {
        await conn`rollback`.catch(() => {});
        throw err;
      }
    } finally {
      conn.release();
    }
  }) as Sql["begin"];
}

/**
 * sql.begin that names the current trace first (trace.ts): set_config('orchestrator.trace_id', …, true), for
 * this transaction only. The trace_id columns default to it, so every row the transaction makes, triggers
 * and rules included (a ticket, its Notion push, a workflow's first steps), joins the trace without any SQL
 * function taking it as an argument. Outside a trace, begin is unchanged.
 */
function beginUnderTrace(begin: Sql["begin"]): Sql["begin"] {
  return ((...args: unknown[]) => {
    const trace = currentTrace();
    const call = begin as unknown as (...a: unknown[]) => Promise<unknown>;
    if (!trace) return call(...args);
    const fn = args[args.length - 1] as (tx: postgres.TransactionSql) => unknown;
    args[args.length - 1] = async (tx: postgres.TransactionSql) => {
      await tx`select set_config('orchestrator.trace_id', ${trace.traceId}, true)`;
      const out = await fn(tx);
      return Array.isArray(out) ? await Promise.all(out) : out;
    };
    return call(...args);
  }) as Sql["begin"];
}

/**
 * Runs fn in a transaction under the current trace (the rows it makes take its trace id), or on the pool
 * outside one. For writes that are one statement and make rows through triggers (open_ticket, a workflow start).
 */
export function traced<T>(fn: (sql: AnySql) => Promise<T>): Promise<T> {
  const sql = db();
  return currentTrace() ? (sql.begin((tx) => fn(tx)) as Promise<T>) : fn(sql);
}

export function db(): Sql {
  if (!pool) {
    const direct = requireEnv("SUPABASE_DB_URL");
    const url = settings.dbPoolerUrl ?? direct;
    const viaPooler = poolMode() === "pooler";
    const sql = connect(url, envInt("DB_POOL_MAX", 5), viaPooler);
    sql.begin = beginUnderTrace(viaPooler ? beginOnReserved(sql) : sql.begin.bind(sql) as Sql["begin"]);
    if (viaPooler && url !== direct) {
      // postgres.js listens on one dedicated connection built from the pool's options: point it at the direct URL.
      sql.listen = ((channel, onnotify, onlisten) => {
        session ??= connect(direct, 1, false);
        return session.listen(channel, onnotify, onlisten);
      }) as Sql["listen"];
    }
    pool = sql;
  }
  return pool;
}

/** Whether a table exists here: only for what a deployment may lack (local_stack.processes exists on the local stack alone); every orchestrator table ships with the migrations. */
export async function tableExists(sql: AnySql, name: string): Promise<boolean> {
  const [{ exists }] = await sql<{ exists: boolean }[]>`select to_regclass(${name}) is not null as exists`;
  return exists;
}

export async function closeDb(): Promise<void> {
  const p = pool;
  const s = session;
  pool = undefined;
  session = undefined;
  await Promise.all([p?.end({ timeout: 5 }), s?.end({ timeout: 5 })]);
}
