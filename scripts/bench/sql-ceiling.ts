// The ceiling: the least a Postgres queue can do per task on this machine. A
// minimal table (no lease token, attempts, logs, HTTP or handler), one claim
// statement (UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING)
// and one completion statement per batch, driven from this process: one loop
// per CPU core for throughput, a LISTEN/NOTIFY consumer for latency.
import { cpus } from "node:os";
import type postgres from "postgres";
import {
  type BenchSystem, wallClock, connect, ensureDatabase, type LatencyResult, sleep, steadyRate, summarize, type ThroughputResult, until,
} from "./common.ts";

const BATCH = 500;

export class SqlCeilingSystem implements BenchSystem {
  readonly name = "sql-ceiling";
  readonly label = "pure-SQL claim+complete loop (ceiling)";
  readonly config = {
    database: "bench_sql",
    loops: Math.max(1, cpus().length),
    batch: BATCH,
    claim: "update jobs set status = 1 … where id in (select id … for update skip locked limit N) returning id",
    complete: "update jobs set status = 2, finished_at = now() where id = any($1)",
  };
  private readonly adminUrl: string;
  private url!: string;
  private sql!: postgres.Sql;

  constructor(adminUrl: string) {
    this.adminUrl = adminUrl;
  }

  async setup(): Promise<void> {
    this.url = await ensureDatabase(this.adminUrl, "bench_sql");
    this.sql = connect(this.url, 8);
    await this.sql.unsafe(`
      create table if not exists jobs (
        id bigint generated always as identity primary key,
        payload jsonb not null default '{}',
        status smallint not null default 0,
        run_at timestamptz not null default now(),
        started_at timestamptz,
        finished_at timestamptz
      );
      create index if not exists jobs_claim_idx on jobs (run_at, id) where status = 0;
      create or replace function jobs_notify() returns trigger language plpgsql as $$
      begin perform pg_notify('jobs', ''); return null; end $$;
      drop trigger if exists jobs_notify on jobs;
      create trigger jobs_notify after insert on jobs for each statement execute function jobs_notify();
    `);
  }

  private async claim(db: postgres.Sql | postgres.ReservedSql, n: number): Promise<number[]> {
    const rows = await db<{ id: number }[]>`
      update jobs set status = 1, started_at = now()
      where id in (select id from jobs where status = 0 and run_at <= now() order by run_at, id limit ${n} for update skip locked)
      returning id`;
    return rows.map((r) => r.id);
  }

  private async complete(db: postgres.Sql | postgres.ReservedSql, ids: number[]): Promise<void> {
    await db`update jobs set status = 2, finished_at = now() where id = any(${ids}::bigint[])`;
  }

  async throughput(n: number, onProgress: (done: number) => void): Promise<ThroughputResult> {
    const t0 = Date.now();
    await this.sql`insert into jobs (payload) select '{}'::jsonb from generate_series(1, ${n})`;
    let done = 0;
    const loop = async () => {
      const db = await this.sql.reserve();
      try {
        for (;;) {
          const ids = await this.claim(db, BATCH);
          if (ids.length === 0) return;
          await this.complete(db, ids);
          onProgress((done += ids.length));
        }
      } finally {
        db.release();
      }
    };
    await Promise.all(Array.from({ length: this.config.loops }, loop));
    const seconds = (Date.now() - t0) / 1000;
    return { tasks: n, seconds, tasks_per_s: n / seconds };
  }

  async latency(n: number, rate: number, onProgress: (done: number) => void): Promise<LatencyResult> {
    const consumer = connect(this.url, 2);
    let draining = false;
    let again = false;
    const drain = async () => {
      if (draining) {
        again = true;
        return;
      }
      draining = true;
      try {
        do {
          again = false;
          for (;;) {
            const ids = await this.claim(consumer, 100);
            if (ids.length === 0) break;
            await this.complete(consumer, ids);
          }
        } while (again);
      } finally {
        draining = false;
      }
    };
    const listener = await consumer.listen("jobs", () => void drain());
    const enq = new Map<number, number>();
    await steadyRate(n, rate, async () => {
      const t = wallClock();
      const [{ id }] = await this.sql<{ id: number }[]>`insert into jobs default values returning id`;
      enq.set(id, t);
    }, onProgress);
    const ids = [...enq.keys()];
    const rows = await until(async () => {
      const r = await this.sql<{ id: number; started: number; finished: number | null }[]>`
        select id, extract(epoch from started_at)::float8 * 1000 as started, extract(epoch from finished_at)::float8 * 1000 as finished
        from jobs where id = any(${ids}::bigint[])`;
      return r.every((x) => x.finished !== null) ? r : undefined;
    }, "the ceiling consumer to finish", 60_000, 20);
    await listener.unlisten();
    await consumer.end();
    return {
      tasks: rows.length,
      start: summarize(rows.map((r) => r.started - enq.get(r.id)!)),
      finish: summarize(rows.map((r) => r.finished! - enq.get(r.id)!)),
    };
  }

  async loadDepth(depth: number, onProgress: (loaded: number) => void): Promise<void> {
    const chunk = 100_000;
    for (let done = 0; done < depth; done += chunk) {
      const k = Math.min(chunk, depth - done);
      await this.sql`insert into jobs (payload) select '{}'::jsonb from generate_series(1, ${k})`;
      onProgress(done + k);
    }
    await this.sql`vacuum analyze jobs`;
  }

  async claimLatency(samples: number, budgetMs = Infinity): Promise<number[]> {
    const began = performance.now();
    const db = await this.sql.reserve();
    const times: number[] = [];
    try {
      for (let i = 0; i < samples && (i < 5 || performance.now() - began < budgetMs); i++) {
        const t = performance.now();
        const ids = await this.claim(db, 1);
        times.push(performance.now() - t);
        if (ids.length !== 1) throw new Error("the ceiling depth backlog ran out");
        await this.complete(db, ids);
      }
    } finally {
      db.release();
    }
    return times;
  }

  async clearDepth(): Promise<void> {
    await this.sql`truncate jobs`;
    await this.reset();
  }

  async reset(): Promise<void> {
    await this.sql`delete from jobs where status = 2`;
    await this.sql`vacuum analyze jobs`;
    await this.sql`checkpoint`;
    await sleep(100);
  }

  async teardown(): Promise<void> {
    await this.sql?.end({ timeout: 5 });
  }
}
