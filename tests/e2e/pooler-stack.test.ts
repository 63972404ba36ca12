// Connections as hosted: PostgreSQL with a Micro's max_connections, the functions' queries through a
// transaction-mode pgbouncer (as through Supavisor on port 6543), LISTEN on a session of its own.
import { afterAll, describe, expect, it } from "vitest";
import postgres from "postgres";
import { http, sql, stack, waitFor } from "../helpers/stack.ts";

/** pgbouncer's admin console: simple protocol only, no type lookups. */
const admin = () => postgres(stack().DB_POOLER_URL.replace(/\/postgres$/, "/pgbouncer"), { max: 1, prepare: false, fetch_types: false, onnotice: () => {} });
type StatsRow = { database: string; total_xact_count: string };
type ClientRow = { database: string; application_name: string };

describe("connections as hosted", () => {
  it("runs PostgreSQL with a Micro's max_connections (60)", async () => {
    const [{ max_connections }] = await sql()<{ max_connections: string }[]>`show max_connections`;
    expect(Number(max_connections)).toBe(60);
  });

  it("sends the functions' queries through pgbouncer in transaction mode", async () => {
    const console = admin();
    try {
      const xacts = async () => {
        const rows = await console.unsafe<StatsRow[]>("show stats").simple();
        return Number(rows.find((r) => r.database === "postgres")?.total_xact_count ?? 0);
      };
      const before = await xacts();
      for (let i = 0; i < 10; i++) {
        const res = await http("/tasks", { method: "POST", body: JSON.stringify({ type: "noop", payload: { echo: `pooler-${i}` } }) });
        expect(res.status).toBe(201);
      }
      // Each enqueue is at least one transaction through the pooler (stats are refreshed every second or so).
      await waitFor(async () => (await xacts()) - before >= 10, "pgbouncer to count the enqueues' transactions", 10_000, 200);
      const pools = await console.unsafe<{ database: string; pool_mode: string }[]>("show pools").simple();
      expect(pools.find((p) => p.database === "postgres")?.pool_mode).toBe("transaction");
      const clients = await console.unsafe<ClientRow[]>("show clients").simple();
      expect(clients.some((c) => c.database === "postgres" && c.application_name === "orchestrator")).toBe(true);
    } finally {
      await console.end();
    }
  });
});

describe("db() through the pooler (in-process)", () => {
  const saved = process.env.DB_POOLER_URL;
  afterAll(async () => {
    const { closeDb } = await import("../../functions/_shared/db.ts");
    await closeDb();
    if (saved === undefined) delete process.env.DB_POOLER_URL;
    else process.env.DB_POOLER_URL = saved;
  });

  it("queries without named prepared statements, and hears NOTIFY on a direct session", async () => {
    process.env.DB_POOLER_URL = stack().DB_POOLER_URL;
    const { db, poolMode } = await import("../../functions/_shared/db.ts");
    expect(poolMode()).toBe("pooler");
    const channel = `pooler_test_${Math.random().toString(36).slice(2, 10)}`;
    const heard: string[] = [];
    await db().listen(channel, (payload) => heard.push(payload));
    // The same parameterised query many times: with named prepared statements, a later run would land on a
    // server connection that never saw the PREPARE.
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => db()<{ n: number }[]>`select ${i}::int + 1 as n`));
    expect(results.map(([r]) => r.n)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    await db()`select pg_notify(${channel}, 'through-the-pool')`;
    await waitFor(async () => heard.length > 0, "the notification", 5_000);
    expect(heard).toEqual(["through-the-pool"]);
    // The listening session is a direct backend: it shows in pg_stat_activity with its LISTEN.
    const [{ n }] = await sql()<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity where application_name = 'orchestrator' and query ilike ${`listen%${channel}%`}`;
    expect(n).toBe(1);
  });

  it("runs transactions whole on one server connection, many at once, and rolls back a failed one", async () => {
    const { db } = await import("../../functions/_shared/db.ts");
    const table = `pooler_tx_${Math.random().toString(36).slice(2, 10)}`;
    await sql().unsafe(`create table public.${table} (id int primary key, txid bigint not null)`);
    try {
      // 40 transactions over a pool of 5 (so most wait for a connection), two statements each, in parallel
      // inside the transaction: both rows of one transaction carry the same transaction id.
      await Promise.all(Array.from({ length: 40 }, (_, i) => db().begin((tx) => [
        tx.unsafe(`insert into public.${table} values ($1, txid_current())`, [i * 2]),
        tx.unsafe(`insert into public.${table} values ($1, txid_current())`, [i * 2 + 1]),
      ])));
      const rows = await sql()<{ pairs: number; split: number }[]>`
        select count(*)::int as pairs, count(*) filter (where a.txid <> b.txid)::int as split
        from ${sql()(table)} a join ${sql()(table)} b on b.id = a.id + 1 where a.id % 2 = 0`;
      expect(rows[0]).toEqual({ pairs: 40, split: 0 });
      await expect(db().begin(async (tx) => {
        await tx.unsafe(`insert into public.${table} values (1000, txid_current())`);
        throw new Error("changed my mind");
      })).rejects.toThrow("changed my mind");
      const [{ n }] = await sql()<{ n: number }[]>`select count(*)::int as n from ${sql()(table)} where id = 1000`;
      expect(n).toBe(0);
    } finally {
      await sql().unsafe(`drop table public.${table}`);
    }
  });
});
