// pg-boss 10 in its own database of the same cluster. Its docs' levers for
// throughput are batchSize (one fetch and one completion per batch), more workers
// (each work() call adds a polling worker) and the shortest polling interval
// (0.5 s); BENCH_PGBOSS_WORKERS / BENCH_PGBOSS_BATCH override the choice below. Workers poll; there is no push wake-up. Times, as for the other
// systems: created = client clock before send, started = job.started_on (its
// fetch statement), finished = job.completed_on (its completion statement).
import { createRequire } from "node:module";
import type postgres from "postgres";
import {
  type BenchSystem, wallClock, connect, ensureDatabase, type LatencyResult, sleep, steadyRate, summarize, type ThroughputResult, until,
} from "./common.ts";

const require = createRequire(import.meta.url);
// deno-lint-ignore no-explicit-any
type Any = any;
const PgBoss = require("pg-boss") as Any;

const QUEUE = "noop";

export class PgBossSystem implements BenchSystem {
  readonly name = "pg-boss";
  readonly label = "pg-boss 10 (in-process, polling)";
  readonly config: Record<string, unknown>;
  private readonly adminUrl: string;
  private readonly workers: number;
  private readonly batchSize: number;
  private url!: string;
  private sql!: postgres.Sql;
  private boss: Any;
  private working = false;
  private onJobs: ((jobs: { id: string; data: { i: number } }[]) => void) | undefined;

  constructor(adminUrl: string, opts: { workers?: number; batchSize?: number } = {}) {
    this.adminUrl = adminUrl;
    // Tuned on the bench machine: 4, 8 and 16 workers x batches of 250, 500 and 1,000; 4 x 1,000 was the
    // fastest setting that stayed steady (more workers contend on the fetch; 8 x 1,000 once stalled for 80 s).
    this.workers = opts.workers ?? 4;
    this.batchSize = opts.batchSize ?? 1000;
    this.config = {
      version: (require("pg-boss/package.json") as { version: string }).version,
      database: "bench_pgboss",
      workers: this.workers,
      batchSize: this.batchSize,
      pollingIntervalSeconds: 0.5,
      max: 10,
      source: "https://timgit.github.io/pg-boss/#/./api/workers",
    };
  }

  async setup(): Promise<void> {
    this.url = await ensureDatabase(this.adminUrl, "bench_pgboss");
    this.sql = connect(this.url, 4);
    this.boss = new PgBoss({ connectionString: this.url, max: 10, application_name: "bench-pgboss" });
    this.boss.on("error", (err: Error) => console.error(`pg-boss: ${err.message}`));
    await this.boss.start();
    await this.boss.createQueue(QUEUE);
  }

  private async startWorkers(): Promise<void> {
    if (this.working) return;
    this.working = true;
    for (let k = 0; k < this.workers; k++) {
      await this.boss.work(QUEUE, { batchSize: this.batchSize, pollingIntervalSeconds: 0.5 }, async (jobs: { id: string; data: { i: number } }[]) => {
        this.onJobs?.(jobs);
      });
    }
  }

  private async stopWorkers(): Promise<void> {
    if (!this.working) return;
    await this.boss.offWork(QUEUE);
    await sleep(1200);
    this.working = false;
  }

  async throughput(n: number, onProgress: (done: number) => void): Promise<ThroughputResult> {
    await this.startWorkers();
    let done = 0;
    this.onJobs = (jobs) => onProgress((done += jobs.length));
    const t0 = Date.now();
    const tMark = new Date(t0 - 1000);
    // insert(): pg-boss's batch API, one statement for the whole array.
    await this.boss.insert(Array.from({ length: n }, (_, i) => ({ name: QUEUE, data: { i } })));
    let last = 0;
    await until(async () => {
      const [r] = await this.sql<{ n: number; last: number | null }[]>`
        select count(*)::int as n, extract(epoch from max(completed_on))::float8 * 1000 as last
        from pgboss.job where name = ${QUEUE} and state = 'completed' and created_on >= ${tMark}`;
      last = r.last ?? 0;
      return r.n >= n;
    }, "pg-boss to complete every job", 15 * 60_000, 20);
    this.onJobs = undefined;
    const seconds = (last - t0) / 1000;
    return { tasks: n, seconds, tasks_per_s: n / seconds };
  }

  async latency(n: number, rate: number, onProgress: (done: number) => void): Promise<LatencyResult> {
    await this.startWorkers();
    const enq = new Array<number>(n);
    const ids = new Array<string>(n);
    await steadyRate(n, rate, async (i) => {
      enq[i] = wallClock();
      ids[i] = await this.boss.send(QUEUE, { i });
    }, onProgress);
    const rows = await until(async () => {
      const r = await this.sql<{ i: number; started: number | null; finished: number | null }[]>`
        select (data ->> 'i')::int as i, extract(epoch from started_on)::float8 * 1000 as started,
               extract(epoch from completed_on)::float8 * 1000 as finished
        from pgboss.job where name = ${QUEUE} and id = any(${ids}::uuid[])`;
      return r.length === n && r.every((x) => x.finished !== null) ? r : undefined;
    }, "pg-boss to complete every job", 5 * 60_000, 20);
    return {
      tasks: n,
      start: summarize(rows.map((r) => r.started! - enq[r.i])),
      finish: summarize(rows.map((r) => r.finished! - enq[r.i])),
    };
  }

  async loadDepth(depth: number, onProgress: (loaded: number) => void): Promise<void> {
    await this.stopWorkers();
    const chunk = 50_000;
    for (let done = 0; done < depth; done += chunk) {
      const k = Math.min(chunk, depth - done);
      await this.boss.insert(Array.from({ length: k }, () => ({ name: QUEUE, data: {} })));
      onProgress(done + k);
    }
    await this.sql`vacuum analyze pgboss.job`;
  }

  async claimLatency(samples: number, budgetMs = Infinity): Promise<number[]> {
    const began = performance.now();
    const times: number[] = [];
    for (let i = 0; i < samples && (i < 5 || performance.now() - began < budgetMs); i++) {
      const t = performance.now();
      const jobs = await this.boss.fetch(QUEUE);
      times.push(performance.now() - t);
      if (!jobs?.length) throw new Error("the pg-boss depth backlog ran out");
      await this.boss.complete(QUEUE, jobs[0].id);
    }
    return times;
  }

  async clearDepth(): Promise<void> {
    await this.sql`delete from pgboss.job where name = ${QUEUE}`;
    await this.reset();
  }

  async reset(): Promise<void> {
    await this.sql`delete from pgboss.job where name = ${QUEUE} and state = 'completed'`;
    await this.sql`vacuum analyze pgboss.job`;
    await this.sql`checkpoint`;
  }

  async teardown(): Promise<void> {
    await this.boss?.stop({ graceful: false, wait: true, timeout: 5000 }).catch(() => {});
    await this.sql?.end({ timeout: 5 });
  }
}
