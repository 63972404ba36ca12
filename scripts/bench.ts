// `npm run bench`: the Orchestrator against graphile-worker, pg-boss and a
// pure-SQL ceiling, on one private local stack (own temp data dir, free ports:
// it never touches a running `npm start`). Each system gets its own database of
// the same PostgreSQL cluster. Workloads:
//   throughput  N no-op tasks enqueued in one batch → all finished; tasks/s
//   latency     M tasks enqueued one at a time at R/s; enqueue→start and enqueue→finish p50/p95/p99
//   depth       claim latency with 1,000 vs 1,000,000 queued tasks
// A warm-up, then 3 repetitions; the table shows medians. Results go to bench/results.json.
//
//   npm run bench                      # full run (~10 min on 2 cores)
//   npm run bench -- --quick           # smaller sizes, 1 repetition (~2 min)
//   npm run bench -- --only=orchestrator,sql-ceiling --workloads=throughput
//   npm run bench -- --tasks=50000 --reps=5 --out=bench/results.local.json
//   npm run bench -- --env WORKER_BATCH_SIZE=100 --only=orchestrator   # try a setting
import { mkdirSync, mkdtempSync, chmodSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { cpus, totalmem, tmpdir, release, platform } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { spawnSync } from "node:child_process";
import { LocalStack, ROOT } from "./stack/stack.ts";
import {
  type BenchSystem, type RunCost, connect, type DepthResult, freePort, type LatencyResult, median, progress, say, summarize,
  type ThroughputResult,
} from "./bench/common.ts";
import { OrchestratorSystem } from "./bench/orchestrator.ts";
import { GraphileSystem } from "./bench/graphile.ts";
import { PgBossSystem } from "./bench/pgboss.ts";
import { SqlCeilingSystem } from "./bench/sql-ceiling.ts";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    workloads: { type: "string" },
    reps: { type: "string" },
    tasks: { type: "string" },
    "latency-tasks": { type: "string" },
    rate: { type: "string" },
    depth: { type: "string" },
    samples: { type: "string" },
    out: { type: "string" },
    env: { type: "string", multiple: true },
    "keep-stack": { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  console.log(readFileSync(new URL(import.meta.url), "utf8").split("\n").filter((l) => l.startsWith("//")).map((l) => l.slice(3)).join("\n"));
  process.exit(0);
}

const quick = args.quick!;
const num = (v: string | undefined, d: number) => (v === undefined ? d : Number(v.replace(/_/g, "")));
const cfg = {
  reps: num(args.reps, quick ? 1 : 3),
  throughputTasks: num(args.tasks, quick ? 5_000 : 20_000),
  latencyTasks: num(args["latency-tasks"], quick ? 300 : 1_000),
  rate: num(args.rate, 100),
  depths: (args.depth ?? (quick ? "1000,100000" : "1000,1000000")).split(",").map((d) => num(d, 0)),
  samples: num(args.samples, quick ? 100 : 200),
  out: args.out ?? join(ROOT, "bench", "results.json"),
};
/** The keyed depth run's entry in results.depth, and its number of keys. */
const KEYED = "orchestrator (keyed)";
const FLOW_KEYS = 10_000;
const workloads = (args.workloads ?? "throughput,latency,depth").split(",");
const ALL = ["orchestrator", "graphile-worker", "pg-boss", "sql-ceiling"];
const only = (args.only ?? ALL.join(",")).split(",");
for (const name of only) if (!ALL.includes(name)) throw new Error(`--only: unknown system ${name}; use ${ALL.join(", ")}`);

// The function server runs with the shipped defaults; nothing here is tuned for the bench.
// `--env WORKER_BATCH_SIZE=100` (repeatable) overrides one for an experiment.
const functionEnv: Record<string, string> = Object.fromEntries((args.env ?? []).map((kv) => {
  const at = kv.indexOf("=");
  if (at < 1) throw new Error(`--env wants KEY=VALUE, got ${kv}`);
  return [kv.slice(0, at), kv.slice(at + 1)];
}));

const runStarted = Date.now();
const elapsed = () => `${((Date.now() - runStarted) / 1000).toFixed(0)}s`;
const fmt = (n: number, d = 0) => (Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d }) : "–");

const dataDir = mkdtempSync(join(tmpdir(), "orchestrator-bench-"));
chmodSync(dataDir, 0o755);
const tail: string[] = [];
let functionLines = 0;
const stack = new LocalStack({
  dataDir,
  pgPort: await freePort(),
  apiPort: await freePort(),
  fast: false, // durable commits, as `npm start` and a hosted project run
  functionEnv,
  onProgress: (step) => args.verbose && say(`[stack] ${step}`),
  onLine: (source, line) => {
    functionLines++;
    tail.push(`${source}: ${line}`);
    if (tail.length > 400) tail.splice(0, 200);
    if (args.verbose) say(`[${source}] ${line}`);
  },
});

let stopping = false;
async function cleanup(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await stack.stop().catch(() => {});
  if (!args["keep-stack"]) rmSync(dataDir, { recursive: true, force: true });
}
process.on("SIGINT", () => void cleanup().then(() => process.exit(130)));

interface Results {
  throughput: Record<string, { runs: ThroughputResult[]; tasks_per_s: number }>;
  latency: Record<string, { runs: LatencyResult[]; start: LatencyResult["start"]; finish: LatencyResult["finish"] }>;
  depth: Record<string, Record<string, { runs: DepthResult[]; p50: number; p95: number }>>;
}
const results: Results = { throughput: {}, latency: {}, depth: {} };

async function main(): Promise<void> {
  say(`bench: starting a private stack in ${dataDir} (PostgreSQL fsync on, as npm start)…`);
  await stack.start();
  // The local stack's logs mirror (orchestrator.log / tasks.md on disk) is a local convenience that
  // hosted Supabase does not have; it polls the tables it mirrors, so it is stopped for the measurements.
  const mirror = (stack as unknown as { logsMirror?: { stop(): Promise<void> } }).logsMirror;
  if (mirror) await mirror.stop();

  say(`bench: stack healthy at ${elapsed()}; systems: ${only.join(", ")}; workloads: ${workloads.join(", ")}; ${cfg.reps} repetition(s)`);
  const admin = stack.info.DB_URL;

  const systems: BenchSystem[] = [];
  if (only.includes("orchestrator")) systems.push(new OrchestratorSystem(stack, functionEnv));
  if (only.includes("graphile-worker")) systems.push(new GraphileSystem(admin));
  if (only.includes("pg-boss")) {
    systems.push(new PgBossSystem(admin, {
      workers: process.env.BENCH_PGBOSS_WORKERS ? Number(process.env.BENCH_PGBOSS_WORKERS) : undefined,
      batchSize: process.env.BENCH_PGBOSS_BATCH ? Number(process.env.BENCH_PGBOSS_BATCH) : undefined,
    }));
  }
  if (only.includes("sql-ceiling")) systems.push(new SqlCeilingSystem(admin));
  for (const s of systems) await s.setup();

  if (workloads.includes("throughput")) {
    const n = cfg.throughputTasks;
    say(`\n── throughput: ${fmt(n)} no-op tasks in one batch → all finished`);
    for (const s of systems) {
      const warm = Math.max(500, Math.round(n / 10));
      progress(`[throughput] ${s.name} warm-up (${fmt(warm)} tasks)…`, true);
      await s.throughput(warm, (d) => progress(`[throughput] ${s.name} warm-up ${fmt(d)}/${fmt(warm)} (${elapsed()})`));
      await s.reset();
      const runs: ThroughputResult[] = [];
      for (let r = 1; r <= cfg.reps; r++) {
        const res = await s.throughput(n, (d) => progress(`[throughput] ${s.name} rep ${r}/${cfg.reps}: ${fmt(d)}/${fmt(n)} (${elapsed()})`));
        runs.push(res);
        say(`[throughput] ${s.name} rep ${r}/${cfg.reps}: ${fmt(res.tasks_per_s)} tasks/s (${res.seconds.toFixed(2)} s)${costLine(res)}`);
        await s.reset();
      }
      results.throughput[s.name] = { runs, tasks_per_s: median(runs.map((x) => x.tasks_per_s)) };
    }
  }

  if (workloads.includes("latency")) {
    const n = cfg.latencyTasks;
    say(`\n── latency: ${fmt(n)} tasks enqueued one at a time at ${cfg.rate}/s`);
    for (const s of systems) {
      const warm = Math.max(50, Math.round(n / 10));
      progress(`[latency] ${s.name} warm-up…`, true);
      await s.latency(warm, cfg.rate, (d) => progress(`[latency] ${s.name} warm-up ${d}/${warm} (${elapsed()})`));
      await s.reset();
      const runs: LatencyResult[] = [];
      for (let r = 1; r <= cfg.reps; r++) {
        const res = await s.latency(n, cfg.rate, (d) => progress(`[latency] ${s.name} rep ${r}/${cfg.reps}: ${d}/${n} enqueued (${elapsed()})`));
        runs.push(res);
        say(`[latency] ${s.name} rep ${r}/${cfg.reps}: start p50 ${fmt(res.start.p50, 1)} p95 ${fmt(res.start.p95, 1)} p99 ${fmt(res.start.p99, 1)} ms; ` +
          `finish p50 ${fmt(res.finish.p50, 1)} p95 ${fmt(res.finish.p95, 1)} p99 ${fmt(res.finish.p99, 1)} ms${costLine(res)}`);
        await s.reset();
      }
      const med = (pick: (r: LatencyResult) => number) => median(runs.map(pick));
      results.latency[s.name] = {
        runs,
        start: { p50: med((r) => r.start.p50), p95: med((r) => r.start.p95), p99: med((r) => r.start.p99), max: med((r) => r.start.max) },
        finish: { p50: med((r) => r.finish.p50), p95: med((r) => r.finish.p95), p99: med((r) => r.finish.p99), max: med((r) => r.finish.max) },
      };
    }
  }

  if (workloads.includes("depth")) {
    say(`\n── depth: claim latency (one task per claim, the system's own claim statement) at ${cfg.depths.map((d) => fmt(d)).join(" vs ")} queued`);
    for (const s of systems) {
      results.depth[s.name] = {};
      for (const depth of cfg.depths) {
        const warm = 20;
        const extra = warm + cfg.samples * cfg.reps;
        const t = Date.now();
        await s.loadDepth(depth + extra, (l) => progress(`[depth] ${s.name}: loading ${fmt(l)}/${fmt(depth + extra)} (${elapsed()})`));
        say(`[depth] ${s.name}: ${fmt(depth + extra)} tasks loaded in ${((Date.now() - t) / 1000).toFixed(1)} s`);
        // A system whose claim is slow at depth gets fewer samples (at least 5), so the run stays bounded.
        await s.claimLatency(warm, 5_000);
        const runs: DepthResult[] = [];
        for (let r = 1; r <= cfg.reps; r++) {
          progress(`[depth] ${s.name} @${fmt(depth)} rep ${r}/${cfg.reps}…`, true);
          const times = await s.claimLatency(cfg.samples, 10_000);
          runs.push({ depth, samples: times.length, claim: summarize(times) });
        }
        const p50 = median(runs.map((x) => x.claim.p50));
        const p95 = median(runs.map((x) => x.claim.p95));
        results.depth[s.name][String(depth)] = { runs, p50, p95 };
        say(`[depth] ${s.name} @${fmt(depth)} queued: claim p50 ${fmt(p50, 2)} ms, p95 ${fmt(p95, 2)} ms (${runs.map((x) => x.samples).join("/")} samples)`);
        await s.clearDepth();
      }
    }
    // Flow control's claim cost (issue 17): the same claim at the largest depth, every task on one of
    // 10,000 concurrency keys with limits, against the unkeyed figure above.
    const ours = systems.find((s): s is OrchestratorSystem => s instanceof OrchestratorSystem);
    if (ours) {
      const depth = Math.max(...cfg.depths);
      const warm = 20;
      const extra = warm + cfg.samples * cfg.reps;
      await ours.loadDepth(depth + extra, (l) => progress(`[depth] keyed: loading ${fmt(l)}/${fmt(depth + extra)} (${elapsed()})`), FLOW_KEYS);
      await ours.claimLatency(warm, 5_000);
      const runs: DepthResult[] = [];
      for (let r = 1; r <= cfg.reps; r++) {
        progress(`[depth] keyed @${fmt(depth)} rep ${r}/${cfg.reps}…`, true);
        const times = await ours.claimLatency(cfg.samples, 10_000);
        runs.push({ depth, samples: times.length, claim: summarize(times) });
      }
      const p50 = median(runs.map((x) => x.claim.p50));
      const p95 = median(runs.map((x) => x.claim.p95));
      results.depth[KEYED] = { [String(depth)]: { runs, p50, p95 } };
      const plain = results.depth[ours.name]?.[String(depth)]?.p50 ?? NaN;
      say(`[depth] orchestrator @${fmt(depth)} queued over ${fmt(FLOW_KEYS)} concurrency keys: claim p50 ${fmt(p50, 2)} ms, p95 ${fmt(p95, 2)} ms ` +
        `(${(p50 / plain).toFixed(2)}× the unkeyed claim; target ≤ 1.5×)`);
      await ours.clearDepth();
    }
  }

  for (const s of systems) await s.teardown();
  // The Orchestrator ran under the Edge limits: every user-worker end by reason. A limit kill (CPUTime,
  // WallClockTime, Memory) means the worker outgrew its isolate and the figures are not the shipped path's.
  const orchestrator = systems.find((s): s is OrchestratorSystem => s instanceof OrchestratorSystem);
  const terminations = orchestrator ? { ...orchestrator.terminations } : {};
  const limitKills = ["CPUTime", "WallClockTime", "Memory"].reduce((n, r) => n + (terminations[r] ?? 0), 0);

  const machine = await describeMachine(admin);
  const table = renderTable(systems);
  say(`\n${table}\n`);
  if (orchestrator) {
    const reasons = ["CPUTime", "WallClockTime", "Memory", "EarlyDrop", "EventLoopCompleted", "TerminationRequested"];
    const all = [...reasons, ...Object.keys(terminations).filter((r) => !reasons.includes(r))];
    say(`Orchestrator's Edge user-worker terminations by reason (limit kills: ${limitKills}): ${all.map((r) => `${r} ${terminations[r] ?? 0}`).join(", ")}`);
    const costs = (w: "throughput" | "latency") => (results[w]?.orchestrator?.runs ?? []) as RunCost[];
    for (const w of ["throughput", "latency"] as const) {
      const runs = costs(w);
      if (runs.length === 0) continue;
      say(`Orchestrator's cost, ${w} run (median of ${runs.length}): ${fmt(median(runs.map((r) => r.invocations_per_1000 ?? 0)), 1)} Edge invocations per 1,000 tasks ` +
        `[${runs.map((r) => fmt(r.invocations_per_1000 ?? 0, 1)).join(", ")}]; peak connections of its functions ${median(runs.map((r) => r.peak_connections ?? 0))} ` +
        `[${runs.map((r) => r.peak_connections).join(", ")}] (whole stack at its peak: ${JSON.stringify(runs.at(-1)?.peak_connections_by_app)}); ` +
        `tasks not done on their first attempt ${runs.reduce((n, r) => n + (r.run_again ?? 0), 0)}`);
    }
  }
  say(`machine: ${machine.cpu} × ${machine.cores}, ${machine.memory_gb} GB RAM, ${machine.os}; ${machine.postgres}; node ${machine.node}, deno ${machine.deno}`);
  mkdirSync(join(cfg.out, ".."), { recursive: true });
  writeFileSync(cfg.out, JSON.stringify({
    generated_at: new Date().toISOString(),
    command: `npm run bench${process.argv.slice(2).length ? " -- " + process.argv.slice(2).join(" ") : ""}`,
    duration_s: Math.round((Date.now() - runStarted) / 1000),
    machine,
    settings: cfg,
    systems: Object.fromEntries(systems.map((s) => [s.name, { label: s.label, config: s.config }])),
    results,
    edge_terminations: terminations,
    table,
  }, null, 2) + "\n");
  say(`bench: wrote ${cfg.out} (${elapsed()} in all)`);
}

async function describeMachine(dbUrl: string) {
  const sql = connect(dbUrl, 1);
  const [{ version }] = await sql<{ version: string }[]>`select version()`;
  const settings = await sql<{ name: string; setting: string }[]>`
    select name, setting from pg_settings where name in ('fsync', 'synchronous_commit', 'shared_buffers', 'max_wal_size')`;
  await sql.end();
  const deno = spawnSync(join(ROOT, "node_modules/.bin/deno"), ["--version"], { encoding: "utf8" }).stdout.split("\n")[0]?.replace(/^deno /, "") ?? "?";
  return {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memory_gb: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    postgres: version.split(",")[0],
    postgres_settings: Object.fromEntries(settings.map((s) => [s.name, s.setting])),
    node: process.versions.node,
    deno,
  };
}

function ratio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return "–";
  return `${(a / b).toFixed(a / b >= 10 ? 0 : 2)}×`;
}

/** The cost figures of a run, for its progress line (the Orchestrator's only). */
function costLine(r: RunCost): string {
  if (r.invocations_per_1000 === undefined) return "";
  return `; ${fmt(r.invocations_per_1000, 1)} invocations/1,000 tasks ${JSON.stringify(r.invocations_by_reason)} (a worker listened ${Math.round((r.listening_share ?? 0) * 100)}% of the time), peak ${r.peak_connections} function connections, ${r.run_again ?? 0} tasks not done on their first attempt`;
}

function renderTable(systems: BenchSystem[]): string {
  const names = systems.map((s) => s.name);
  const ours = "orchestrator";
  const others = ["graphile-worker", "pg-boss", "sql-ceiling"].filter((n) => names.includes(n));
  const header = ["workload (median of reps)", ...names, ...(names.includes(ours) ? others.map((o) => `ours vs ${o}`) : [])];
  const rows: string[][] = [];
  const add = (label: string, value: (n: string) => number, digits: number, higherIsBetter: boolean) => {
    const vals = names.map(value);
    if (vals.every((v) => !Number.isFinite(v))) return;
    const cells = vals.map((v) => fmt(v, digits));
    const mine = value(ours);
    const ratios = names.includes(ours)
      ? others.map((o) => (higherIsBetter ? ratio(mine, value(o)) : ratio(value(o), mine)))
      : [];
    rows.push([label, ...cells, ...ratios]);
  };
  add(`throughput, ${fmt(cfg.throughputTasks)} tasks (tasks/s)`, (n) => results.throughput[n]?.tasks_per_s ?? NaN, 0, true);
  for (const p of ["p50", "p95", "p99"] as const) {
    add(`enqueue→start ${p} (ms), ${cfg.rate}/s`, (n) => results.latency[n]?.start[p] ?? NaN, 1, false);
  }
  for (const p of ["p50", "p95", "p99"] as const) {
    add(`enqueue→finish ${p} (ms), ${cfg.rate}/s`, (n) => results.latency[n]?.finish[p] ?? NaN, 1, false);
  }
  for (const d of cfg.depths) {
    add(`claim p50 (ms), ${fmt(d)} queued`, (n) => results.depth[n]?.[String(d)]?.p50 ?? NaN, 2, false);
  }
  const keyed = results.depth[KEYED];
  if (keyed) {
    const [d, r] = Object.entries(keyed)[0];
    const plain = results.depth[ours]?.[d]?.p50 ?? NaN;
    rows.push([`claim p50 (ms), ${fmt(Number(d))} queued over ${fmt(FLOW_KEYS)} concurrency keys (flow control)`,
      ...names.map((n) => (n === ours ? `${fmt(r.p50, 2)} (${(r.p50 / plain).toFixed(2)}× unkeyed)` : "")), ...others.map(() => "")]);
  }
  const lines = [header, header.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`);
  return `${lines.join("\n")}\n\nRatios: "ours vs X" is how many times better the Orchestrator is (throughput: ours ÷ X; latency: X ÷ ours); above 1× = Orchestrator ahead.`;
}

try {
  await main();
} catch (err) {
  say(`\nbench failed: ${(err as Error).stack ?? err}`);
  say(`last lines from the stack:\n${tail.slice(-40).join("\n")}`);
  process.exitCode = 1;
} finally {
  await cleanup();
  // Libraries under test keep timers; the run is over.
  setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
}

