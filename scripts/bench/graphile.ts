// graphile-worker 0.17 in its own database of the same cluster, configured as
// its Performance page recommends for throughput (worker.graphile.org/docs/performance):
// concurrentJobs 24, maxPoolSize 25, localQueue.size 500, completeJobBatchDelay 0,
// failJobBatchDelay 0. It runs in this process (as a Node library does); jobs are
// woken by its LISTEN/NOTIFY. Times, as for the other systems: created = client
// clock before add_job, started = the claim (jobs.locked_at, set by its get-jobs
// statement), finished = the completion write (graphile-worker deletes a finished
// job: an AFTER DELETE trigger, installed only for the latency workload, notes the
// delete statement's now() and the row's locked_at).
import { createRequire } from "node:module";
import type postgres from "postgres";
import {
  type BenchSystem, wallClock, connect, ensureDatabase, type LatencyResult, sleep, steadyRate, summarize, type ThroughputResult, until,
} from "./common.ts";

const require = createRequire(import.meta.url);
// deno-lint-ignore no-explicit-any
type Any = any;
const gw = require("graphile-worker") as Any;
// The library's own claim and complete statements (the exact SQL its workers run), for the depth test.
const { batchGetJobs } = require("graphile-worker/dist/sql/getJobs.js") as Any;
const { batchCompleteJobs } = require("graphile-worker/dist/sql/completeJobs.js") as Any;
const pg = require("pg") as Any;

const SCHEMA = "graphile_worker";

export class GraphileSystem implements BenchSystem {
  readonly name = "graphile-worker";
  readonly label = "graphile-worker 0.17 (in-process, LISTEN/NOTIFY)";
  readonly config = {
    version: (require("graphile-worker/package.json") as { version: string }).version,
    database: "bench_graphile",
    concurrentJobs: 24,
    maxPoolSize: 25,
    localQueue: { size: 500 },
    completeJobBatchDelay: 0,
    failJobBatchDelay: 0,
    source: "https://worker.graphile.org/docs/performance",
  };
  private readonly adminUrl: string;
  private url!: string;
  private sql!: postgres.Sql;
  private utils: Any;
  private runner: Any;
  private onJob: ((payload: { i: number }, phase: "start" | "end") => void) | undefined;

  constructor(adminUrl: string) {
    this.adminUrl = adminUrl;
  }

  async setup(): Promise<void> {
    this.url = await ensureDatabase(this.adminUrl, "bench_graphile");
    this.sql = connect(this.url, 4);
    this.utils = await gw.makeWorkerUtils({ connectionString: this.url, logger: quietLogger() });
    await this.utils.migrate();
  }

  private async startRunner(): Promise<void> {
    if (this.runner) return;
    this.runner = await gw.run({
      logger: quietLogger(),
      noHandleSignals: true,
      taskList: {
        noop: async (payload: { i: number }) => {
          this.onJob?.(payload, "start");
          this.onJob?.(payload, "end");
        },
      },
      preset: {
        worker: {
          connectionString: this.url,
          schema: SCHEMA,
          concurrentJobs: 24,
          maxPoolSize: 25,
          localQueue: { size: 500 },
          completeJobBatchDelay: 0,
          failJobBatchDelay: 0,
          pollInterval: 2000,
        },
      },
    });
  }

  private async stopRunner(): Promise<void> {
    if (!this.runner) return;
    await this.runner.stop();
    this.runner = undefined;
  }

  private async remaining(): Promise<number> {
    const [{ n }] = await this.sql<{ n: number }[]>`select count(*)::int as n from graphile_worker._private_jobs`;
    return n;
  }

  async throughput(n: number, onProgress: (done: number) => void): Promise<ThroughputResult> {
    await this.startRunner();
    await sleep(300);
    let done = 0;
    this.onJob = (_p, phase) => {
      if (phase === "end") onProgress(++done);
    };
    const specs = Array.from({ length: n }, (_, i) => ({ identifier: "noop", payload: { i } }));
    const t0 = Date.now();
    await this.utils.addJobs(specs);
    await until(async () => done >= n, "graphile-worker to run every job", 15 * 60_000, 5);
    // Finished = the completions are written (jobs deleted).
    await until(async () => (await this.remaining()) === 0, "graphile-worker to record the completions", 60_000, 5);
    const seconds = (Date.now() - t0) / 1000;
    this.onJob = undefined;
    return { tasks: n, seconds, tasks_per_s: n / seconds };
  }

  async latency(n: number, rate: number, onProgress: (done: number) => void): Promise<LatencyResult> {
    await this.sql.unsafe(`
      create table if not exists public.bench_finished (i int primary key, locked_at timestamptz, deleted_at timestamptz);
      truncate public.bench_finished;
      create or replace function public.bench_note_finished() returns trigger language plpgsql as $$
      begin
        insert into public.bench_finished values ((old.payload ->> 'i')::int, old.locked_at, now()) on conflict do nothing;
        return null;
      end $$;
      create or replace trigger bench_note_finished after delete on graphile_worker._private_jobs
        for each row execute function public.bench_note_finished();`);
    try {
      await this.startRunner();
      await sleep(300);
      const enq = new Array<number>(n);
      await steadyRate(n, rate, async (i) => {
        enq[i] = wallClock();
        await this.utils.addJob("noop", { i });
      }, onProgress);
      const rows = await until(async () => {
        const r = await this.sql<{ i: number; started: number; finished: number }[]>`
          select i, extract(epoch from locked_at)::float8 * 1000 as started, extract(epoch from deleted_at)::float8 * 1000 as finished
          from public.bench_finished`;
        return r.length >= n ? r : undefined;
      }, "graphile-worker to finish every job", 5 * 60_000, 20);
      return {
        tasks: n,
        start: summarize(rows.map((r) => r.started - enq[r.i])),
        finish: summarize(rows.map((r) => r.finished - enq[r.i])),
      };
    } finally {
      await this.sql.unsafe(`drop trigger if exists bench_note_finished on graphile_worker._private_jobs`);
    }
  }

  async loadDepth(depth: number, onProgress: (loaded: number) => void): Promise<void> {
    await this.stopRunner();
    const chunk = 50_000;
    for (let done = 0; done < depth; done += chunk) {
      const k = Math.min(chunk, depth - done);
      // graphile_worker.add_jobs, its documented SQL API, fed from generate_series.
      await this.sql`
        select count(*) from graphile_worker.add_jobs(
          array(select json_populate_record(null::graphile_worker.job_spec, json_build_object('identifier', 'noop', 'payload', '{}'::json))
                from generate_series(1, ${k})))`;
      onProgress(done + k);
    }
    await this.sql`vacuum analyze graphile_worker._private_jobs`;
  }

  async claimLatency(samples: number, budgetMs = Infinity): Promise<number[]> {
    const began = performance.now();
    const client = new pg.Client({ connectionString: this.url });
    await client.connect();
    const withPgClient = Object.assign((fn: (c: Any) => Promise<unknown>) => fn(client), {
      withRetries: (fn: (c: Any) => Promise<unknown>) => fn(client),
    });
    const options = {
      escapedWorkerSchema: `"${SCHEMA}"`,
      workerSchema: SCHEMA,
      resolvedPreset: { worker: { preparedStatements: true, useNodeTime: false } },
      logger: quietLogger(),
    };
    const tasks = { noop: async () => {} };
    const times: number[] = [];
    try {
      for (let i = 0; i < samples && (i < 5 || performance.now() - began < budgetMs); i++) {
        const t = performance.now();
        const jobs = await batchGetJobs(options, withPgClient, tasks, "bench-depth", null, 1);
        times.push(performance.now() - t);
        if (jobs.length !== 1) throw new Error("the graphile-worker depth backlog ran out");
        await batchCompleteJobs(options, withPgClient, "bench-depth", jobs);
      }
    } finally {
      await client.end();
    }
    return times;
  }

  async clearDepth(): Promise<void> {
    await this.sql`delete from graphile_worker._private_jobs`;
    await this.reset();
  }

  async reset(): Promise<void> {
    await this.sql`vacuum analyze graphile_worker._private_jobs`;
    await this.sql`checkpoint`;
  }

  async teardown(): Promise<void> {
    await this.stopRunner();
    await this.utils?.release();
    await this.sql?.end({ timeout: 5 });
  }
}

function quietLogger(): Any {
  return new gw.Logger(() => (level: string, message: string) => {
    if (level === "error") console.error(`graphile-worker: ${message}`);
  });
}
