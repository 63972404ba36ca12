// The one database module: a small postgres.js pool per isolate.
import postgres from "postgres";
import { envInt, requireEnv } from "./env.ts";

export type Sql = postgres.Sql;
/** A pool or a transaction: helpers that run in either take this. */
export type AnySql = postgres.Sql | postgres.TransactionSql;
let pool: Sql | undefined;

export function db(): Sql {
  if (!pool) {
    const url = requireEnv("SUPABASE_DB_URL");
    pool = postgres(url, {
      max: envInt("DB_POOL_MAX", 5),
      idle_timeout: 20,
      connect_timeout: 5,
      // Supavisor in transaction mode (port 6543) cannot keep prepared statements.
      prepare: !/:6543\//.test(url),
      onnotice: () => {},
      // bigint ids fit in a JS number for any realistic table.
      types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
      connection: { application_name: "orchestrator" },
    });
  }
  return pool;
}

/** Whether a table exists here: optional parts (tickets, SOPs, events) may be absent from a database. */
export async function tableExists(sql: AnySql, name: string): Promise<boolean> {
  const [{ exists }] = await sql<{ exists: boolean }[]>`select to_regclass(${name}) is not null as exists`;
  return exists;
}

export async function closeDb(): Promise<void> {
  const p = pool;
  pool = undefined;
  await p?.end({ timeout: 5 });
}
