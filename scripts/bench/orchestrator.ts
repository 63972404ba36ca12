// The Orchestrator through its real serverless path: tasks are inserted with SQL
// (as the apps' triggers and POST /tasks do), the statement trigger queues a
// pg_net wake-up, the dispatcher POSTs it to the `task-worker` Edge Function
// (Deno), which claims and completes through the SQL contract. Times come from
// the database: created by the client clock before the insert, started =
// tasks.started_at (claim), finished = tasks.finished_at (complete).
import type postgres from "postgres";
import type { LocalStack } from "../stack/stack.ts";
import {
  type BenchSystem, type RunCost, wallClock, connect, type DepthResult, type LatencyResult, sleep, steadyRate, summarize, type ThroughputResult, until,
} from "./common.ts";

type QueueModule = typeof import("../../functions/_shared/queue.ts");
type CatalogModule = typeof import("../../functions/_shared/task-catalog.ts");

export class OrchestratorSystem implements BenchSystem {
  readonly name = "orchestrator";
  readonly label = "Orchestrator (webhook → pg_net → Edge Function)";
  readonly config: Record<string, unknown>;
  private readonly stack: LocalStack;
  private sql!: postgres.Sql;
  private queue!: QueueModule;
  private catalog!: CatalogModule;
  /** Edge user-worker ends during the runs, by shutdown reason (the local runtime's rows in orchestrator.logs). */
  readonly terminations: Record<string, number> = {};

  constructor(stack: LocalStack, functionEnv: Record<string, string>) {
    this.stack = stack;
    this.config = {
      path: "insert → statement trigger → net.http_post → dispatcher → POST /functions/v1/task-worker (Deno) → orchestrator.claim / complete_many",
      ...functionEnv,
    };
  }

  async setup(): Promise<void> {
    this.sql = connect(this.stack.info.DB_URL, 6);
    // The claim statement the worker runs, for the depth test, imported from the worker's own module.
    process.env.SUPABASE_DB_URL = this.stack.info.DB_URL;
    process.env.DB_POOL_MAX ??= "2";
    this.queue = await import("../../functions/_shared/queue.ts");
    this.catalog = await import("../../functions/_shared/task-catalog.ts");
  }

  private async waitFinished(from: number, to: number, n: number, onProgress: (done: number) => void, timeoutMs: number) {
    await until(async () => {
      const [{ open, dead }] = await this.sql<{ open: number; dead: number }[]>`
        select count(*) filter (where status in ('queued', 'running'))::int as open,
               count(*) filter (where status = 'dead')::int as dead
        from orchestrator.tasks where id between ${from} and ${to}`;
      if (dead > 0) throw new Error(`${dead} bench tasks went dead: see orchestrator.logs`);
      onProgress(n - open);
      return open === 0;
    // Every 250 ms, not faster: the count reads the range's rows on the same two cores the system under test
    // uses (5-9 ms a poll at 20,000 tasks), and the result comes from the tasks' own timestamps, so a slower
    // poll costs the figures nothing. (graphile-worker's harness counts in-process.)
    }, "the orchestrator to finish the tasks", timeoutMs, 250);
  }

  /**
   * Counts what a run costs while it runs: task-worker invocations (every one goes through pg_net here:
   * wake-ups on insert, hand-offs, sweeps) and the connections held, sampled every 50 ms. The functions'
   * are those named "orchestrator" (their pools, through pgbouncer, and their LISTEN sessions); pgbouncer's
   * own server connections, the gateway's log connection and the local stand-ins for pg_net and cron are
   * in the by-app breakdown.
   */
  private async measureCost(): Promise<() => Promise<RunCost & { invocations: number }>> {
    const [{ before }] = await this.sql<{ before: number }[]>`
      select greatest((select coalesce(max(id), 0) from net.http_request_queue), (select coalesce(max(id), 0) from net._http_response))::bigint as before`;
    const sampler = connect(this.stack.info.DB_URL, 1);
    let peak = 0, peakAll = 0, samples = 0, listened = 0;
    let byApp: Record<string, number> = {};
    let on = true;
    const loop = (async () => {
      while (on) {
        // One query per sample: the connections by application, and whether a worker listens.
        const rows = await sampler<{ app: string; n: number; listening: boolean }[]>`
          select coalesce(nullif(application_name, ''), '(none)') as app, count(*)::int as n,
                 exists (select 1 from orchestrator.worker_presence where until > now()) as listening
          from pg_stat_activity
          where backend_type = 'client backend' and datname = current_database() and application_name <> 'bench' group by 1`;
        const listening = rows.some((r) => r.listening);
        samples++;
        if (listening) listened++;
        const functions = rows.filter((r) => r.app === "orchestrator").reduce((a, r) => a + r.n, 0);
        const all = rows.reduce((a, r) => a + r.n, 0);
        peak = Math.max(peak, functions);
        if (all > peakAll) {
          peakAll = all;
          byApp = Object.fromEntries(rows.map((r) => [r.app, r.n]));
        }
        await sleep(50);
      }
    })();
    return async () => {
      on = false;
      await loop;
      await sampler.end({ timeout: 1 });
      // Every request pg_net was asked for since `before` (all go to task-worker here), by the reason in its body.
      const reasons = await this.sql<{ reason: string; n: number }[]>`
        select coalesce(w.reason, '?') as reason, count(*)::int as n
        from (select id from net.http_request_queue where id > ${before} and url like '%/task-worker'
              union all select id from net._http_response where id > ${before}) r
        left join orchestrator.wakeup_requests w on w.request_id = r.id
        group by 1 order by 2 desc`;
      const n = reasons.reduce((a, r) => a + r.n, 0);
      return {
        invocations: n, invocations_by_reason: Object.fromEntries(reasons.map((r) => [r.reason, r.n])),
        peak_connections: peak, peak_connections_by_app: byApp,
        listening_share: samples ? listened / samples : 0,
      };
    };
  }

  async throughput(n: number, onProgress: (done: number) => void): Promise<ThroughputResult> {
    const cost = await this.measureCost();
    const t0 = Date.now();
    const [{ lo, hi, count }] = await this.sql<{ lo: number; hi: number; count: number }[]>`
      with t as (
        select id from orchestrator.enqueue_many('noop', array(select '{}'::jsonb from generate_series(1, ${n})), '{"source": "bench"}')
      ) select min(id) as lo, max(id) as hi, count(*)::int as count from t`;
    if (count !== n) throw new Error(`enqueue_many inserted ${count} of ${n}`);
    await this.waitFinished(lo, hi, n, onProgress, 15 * 60_000);
    const [{ last }] = await this.sql<{ last: number }[]>`
      select extract(epoch from max(finished_at))::float8 * 1000 as last from orchestrator.tasks where id between ${lo} and ${hi}`;
    const seconds = (last - t0) / 1000;
    const { invocations, ...c } = await cost();
    return { tasks: n, seconds, tasks_per_s: n / seconds, invocations_per_1000: (invocations * 1000) / n, run_again: await this.runAgain(lo, hi), ...c };
  }

  async latency(n: number, rate: number, onProgress: (done: number) => void): Promise<LatencyResult> {
    const enqueuedAt = new Map<number, number>();
    const cost = await this.measureCost();
    await steadyRate(n, rate, async () => {
      const t = wallClock();
      const [{ id }] = await this.sql<{ id: number }[]>`
        select (r.task).id from orchestrator.enqueue('noop', '{}'::jsonb, '{"source": "bench"}'::jsonb) r`;
      enqueuedAt.set(id, t);
    }, onProgress);
    const ids = [...enqueuedAt.keys()];
    const lo = Math.min(...ids), hi = Math.max(...ids);
    await this.waitFinished(lo, hi, hi - lo + 1, () => {}, 5 * 60_000);
    const rows = await this.sql<{ id: number; started: number; finished: number }[]>`
      select id, extract(epoch from started_at)::float8 * 1000 as started, extract(epoch from finished_at)::float8 * 1000 as finished
      from orchestrator.tasks where id = any(${ids}::bigint[])`;
    const start = rows.map((r) => r.started - enqueuedAt.get(r.id)!);
    const finish = rows.map((r) => r.finished - enqueuedAt.get(r.id)!);
    const { invocations, ...c } = await cost();
    return {
      tasks: rows.length, start: summarize(start), finish: summarize(finish), invocations_per_1000: (invocations * 1000) / rows.length,
      run_again: await this.runAgain(lo, hi), ...c,
    };
  }

  /** Tasks of the range that did not finish on their first attempt (a lease lost, an isolate terminated, a retry). */
  private async runAgain(lo: number, hi: number): Promise<number> {
    const [{ n }] = await this.sql<{ n: number }[]>`
      select count(*)::int as n from orchestrator.tasks where id between ${lo} and ${hi} and attempts <> 1`;
    return n;
  }

  /**
   * `keys`: each task gets a concurrency key of that many (k0…), with limits of 2–5, as flow control
   * (issue 17) gives them: the claim then counts each key's running tasks under its lock.
   */
  async loadDepth(depth: number, onProgress: (loaded: number) => void, keys = 0): Promise<void> {
    // No worker may drain the backlog while claims are timed: the function server is stopped
    // (its wake-ups fail and are recorded by the dispatcher), then started again in clearDepth().
    await this.stack.functions.stop("SIGTERM");
    const chunk = 100_000;
    for (let done = 0; done < depth; done += chunk) {
      const k = Math.min(chunk, depth - done);
      if (keys > 0) {
        await this.sql`
          insert into orchestrator.tasks (type, payload, source, concurrency_key, concurrency_limit)
          select 'noop', '{}'::jsonb, 'bench', 'k' || ((${done} + g) % ${keys}), 2 + ((${done} + g) % ${keys}) % 4
          from generate_series(1, ${k}) g`;
      } else {
        await this.sql`
          insert into orchestrator.tasks (type, payload, source)
          select 'noop', '{}'::jsonb, 'bench' from generate_series(1, ${k})`;
      }
      onProgress(done + k);
    }
    await this.sql`vacuum analyze orchestrator.tasks`;
  }

  async claimLatency(samples: number, budgetMs = Infinity): Promise<number[]> {
    const began = performance.now();
    const types = this.catalog.knownTaskTypes();
    const times: number[] = [];
    for (let i = 0; i < samples && (i < 5 || performance.now() - began < budgetMs); i++) {
      const t = performance.now();
      const [task] = await this.queue.claimTasks("bench:depth", 1, 60, types);
      times.push(performance.now() - t);
      if (!task) throw new Error("the depth backlog ran out");
      await this.queue.completeTasks([{ id: task.id, token: task.lease_token!, result: null }]);
    }
    return times;
  }

  async clearDepth(): Promise<void> {
    await this.sql`delete from orchestrator.tasks where source = 'bench' and status = 'queued'`;
    await this.reset();
    this.stack.functions.start();
    await this.stack.waitHealthy();
  }

  async reset(): Promise<void> {
    await until(async () => {
      const [{ n }] = await this.sql<{ n: number }[]>`select count(*)::int as n from orchestrator.tasks where status = 'running'`;
      return n === 0;
    }, "running tasks to finish", 120_000, 100);
    await this.sql`delete from orchestrator.tasks where status in ('succeeded', 'dead', 'cancelled')`;
    await this.countTerminations();
    await this.sql`truncate orchestrator.logs`;
    await this.sql`delete from net._http_response`;
    await this.sql`vacuum analyze orchestrator.tasks`;
    await this.sql`vacuum analyze orchestrator.logs`;
    await this.sql`checkpoint`;
    await sleep(200);
  }

  /** Adds the user-worker shutdowns logged since the last reset (reset truncates the logs). */
  async countTerminations(): Promise<void> {
    const rows = await this.sql<{ reason: string; n: number }[]>`
      select context->>'reason' as reason, count(*)::int as n from orchestrator.logs
      where component = 'edge-runtime' and context->>'event' = 'shutdown' group by 1`;
    for (const r of rows) this.terminations[r.reason] = (this.terminations[r.reason] ?? 0) + r.n;
  }

  async teardown(): Promise<void> {
    await this.countTerminations();
    const { closeDb } = await import("../../functions/_shared/db.ts");
    await closeDb();
    await this.sql.end({ timeout: 5 });
  }
}

export type { DepthResult };
