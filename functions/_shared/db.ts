// The one database module: a small postgres.js pool per isolate.
import postgres from "postgres";
import { envInt, requireEnv } from "./env.ts";

export type Sql = postgres.Sql;
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

export async function closeDb(): Promise<void> {
  const p = pool;
  pool = undefined;
  await p?.end({ timeout: 5 });
}
