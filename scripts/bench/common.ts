// Shared bits of the benchmark: statistics, timing, progress lines, free ports.
import postgres from "postgres";
export { freePort } from "../stack/ports.ts";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// The wall clock at sub-millisecond resolution, anchored to Date.now() (the system clock
// PostgreSQL's now() also reads). performance.timeOrigin + performance.now() drifts from
// the system clock over a long run (NTP slewing), which skews enqueue->start figures
// computed against database timestamps; re-anchor before each measurement.
let anchorWall = Date.now();
let anchorPerf = performance.now();
export function calibrateClock(): void {
  const t = Date.now();
  while (Date.now() === t) { /* wait for the next millisecond boundary */ }
  anchorWall = Date.now();
  anchorPerf = performance.now();
}
export const wallClock = () => anchorWall + (performance.now() - anchorPerf);

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export const median = (values: number[]) => {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function summarize(values: number[]): LatencySummary {
  return { p50: percentile(values, 50), p95: percentile(values, 95), p99: percentile(values, 99), max: Math.max(...values) };
}

/** One progress line, rewritten in place on a terminal, appended otherwise. */
let lastProgressAt = 0;
export function progress(line: string, force = false): void {
  const now = Date.now();
  if (!force && now - lastProgressAt < 250) return;
  lastProgressAt = now;
  if (process.stdout.isTTY) process.stdout.write(`\r\x1b[2K${line}`);
  else if (force) console.log(line);
}
export function say(line: string): void {
  if (process.stdout.isTTY) process.stdout.write("\r\x1b[2K");
  console.log(line);
}


export function connect(url: string, max = 4): postgres.Sql {
  return postgres(url, {
    max,
    onnotice: () => {},
    types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
    connection: { application_name: "bench" },
  });
}

/** The same cluster, another database. */
export function databaseUrl(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  const sql = connect(adminUrl, 1);
  try {
    const [row] = await sql`select 1 as ok from pg_database where datname = ${name}`;
    if (!row) await sql.unsafe(`create database ${name}`);
  } finally {
    await sql.end();
  }
  return databaseUrl(adminUrl, name);
}

/** Polls until probe() is truthy; throws after timeoutMs. */
export async function until<T>(probe: () => Promise<T | undefined | false | null>, what: string, timeoutMs: number, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v) return v;
    await sleep(everyMs);
  }
  throw new Error(`bench: timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
}

/** Runs `count` calls of fn at a steady `perSecond` rate (open loop: a slow call does not delay the next). */
export async function steadyRate(count: number, perSecond: number, fn: (i: number) => Promise<void>, onTick?: (done: number) => void): Promise<void> {
  calibrateClock();
  const interval = 1000 / perSecond;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  let done = 0;
  for (let i = 0; i < count; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    pending.push(fn(i).then(() => {
      done++;
      onTick?.(done);
    }));
  }
  await Promise.all(pending);
}

/** What a run cost the Orchestrator's platform (Edge invocations, database connections); other systems leave it out. */
export interface RunCost {
  /** POSTs to task-worker (wake-ups, hand-offs, sweeps) during the run, per 1,000 tasks. */
  invocations_per_1000?: number;
  /** Share of the samples in which a worker listened (a live worker_presence row: inserts sent no wake-up). */
  listening_share?: number;
  /** The same invocations by the wake-up's reason (insert, handoff, linger_end, cron, …). */
  invocations_by_reason?: Record<string, number>;
  /** Tasks of the run that did not finish on their first attempt (the Orchestrator's only; the target is 0). */
  run_again?: number;
  /** Most client connections the Orchestrator's functions held at once (pooler's server connections, LISTEN sessions). */
  peak_connections?: number;
  /** Same moment, every connection of the stack but the bench's own, by application_name (pg_net's dispatcher etc. included). */
  peak_connections_by_app?: Record<string, number>;
}

export interface ThroughputResult extends RunCost {
  tasks: number;
  seconds: number;
  tasks_per_s: number;
}

export interface LatencyResult extends RunCost {
  tasks: number;
  start: LatencySummary;
  finish: LatencySummary;
}

export interface DepthResult {
  depth: number;
  samples: number;
  claim: LatencySummary;
}

/** A queue system under test. */
export interface BenchSystem {
  readonly name: string;
  readonly label: string;
  /** How it is configured, for the report. */
  readonly config: Record<string, unknown>;
  setup(): Promise<void>;
  /** n no-op tasks in one batch; resolves when all are finished. */
  throughput(n: number, onProgress: (done: number) => void): Promise<ThroughputResult>;
  /** n tasks enqueued one at a time at `rate`/s. */
  latency(n: number, rate: number, onProgress: (done: number) => void): Promise<LatencyResult>;
  /** Leaves `depth` runnable tasks queued (no worker running) for claim measurements. */
  loadDepth(depth: number, onProgress: (loaded: number) => void): Promise<void>;
  /** Claims one task at a time `samples` times (or until budgetMs, at least 5) with the system's own claim statement, each then completed. */
  claimLatency(samples: number, budgetMs?: number): Promise<number[]>;
  clearDepth(): Promise<void>;
  /** Between repetitions: clear finished rows, vacuum, checkpoint. */
  reset(): Promise<void>;
  teardown(): Promise<void>;
}
