// npm run bench:workflows: what the workflow engine costs per step, on a private stack (its own temp
// cluster and ports; a running `npm start` is untouched), the steps being noop tasks run by the real
// task-worker function (Deno) through the real wake-up path.
//
//   chain    20 steps, each after the one before
//   map      one map step over 1,000 elements, parallelism 50
//   fan-out  100 steps that start with the run, then one join after all of them
//
// For each, per step (or element), medians of 3 repetitions with the range:
//   end to end   the run's wall time / its steps: the engine, the queue's hops and the worker, but no
//                handler time (noop returns at once)
//   engine       the time in the engine's SQL alone: the completing transaction of a step's task
//                (which records the step and starts the next) less that of a plain task's, played
//                in-process, one task at a time (chain and fan-out; for the map, per element)
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { freePort } from "./stack/ports.ts";
import { LocalStack } from "./stack/stack.ts";

const say = (s: string) => console.log(s);
const reps = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number, d = 2) => n.toFixed(d);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dataDir = mkdtempSync(join(tmpdir(), "orchestrator-bench-wf-"));
chmodSync(dataDir, 0o755);
const stack = new LocalStack({ dataDir, pgPort: await freePort(), apiPort: await freePort(), fast: false });

type Steps = Record<string, unknown>[];
const workloads: { name: string; steps: Steps; input: object; units: number; unit: string }[] = [
  { name: "chain of 20", unit: "step", units: 20, input: {},
    steps: Array.from({ length: 20 }, (_, i) => ({ name: `s${i}`, type: "noop", input: { echo: i } })) },
  { name: "map of 1,000 (parallelism 50)", unit: "element", units: 1000, input: { items: Array.from({ length: 1000 }, (_, i) => i) },
    steps: [{ name: "each", type: "noop", map: { over: "{{input.items}}", parallelism: 50 }, input: { echo: "{{item}}" } }] },
  { name: "fan-out of 100 + join", unit: "step", units: 101, input: {},
    steps: [...Array.from({ length: 100 }, (_, i) => ({ name: `f${i}`, type: "noop", after: [], input: { echo: i } })),
      { name: "join", type: "noop", after: Array.from({ length: 100 }, (_, i) => `f${i}`), input: {} }] },
];

async function endToEnd(sql: postgres.Sql, name: string, input: object): Promise<number> {
  const [{ id }] = await sql<{ id: number }[]>`select (r.run).id from orchestrator.start_workflow_run(${name}, ${sql.json(input as never)}, '{}') r`;
  for (;;) {
    const [r] = await sql<{ status: string; ms: number }[]>`
      select status::text, extract(epoch from (coalesce(finished_at, now()) - created_at)) * 1000 as ms from orchestrator.workflow_runs where id = ${id}`;
    if (r.status === "succeeded") return r.ms;
    if (r.status !== "running") throw new Error(`run ${id} of ${name} ${r.status}: see orchestrator.workflow_runs`);
    await sleep(20);
  }
}

/** Plays the worker for a run of `type` tasks: claims one task at a time and completes it, timing each completion. */
async function engineMs(sql: postgres.Sql, name: string, type: string, input: object): Promise<number[]> {
  await sql`select (r.run).id from orchestrator.start_workflow_run(${name}, ${sql.json(input as never)}, '{}') r`;
  const times: number[] = [];
  for (;;) {
    const [t] = await sql<{ id: number; lease_token: string }[]>`select id, lease_token from orchestrator.claim('bench-wf', 1, 60, ${[type]}::text[])`;
    if (!t) return times;
    const at = performance.now();
    await sql`select orchestrator.complete(${t.id}, ${t.lease_token}::uuid, '{"ok": true}'::jsonb)`;
    times.push(performance.now() - at);
  }
}

async function main(): Promise<void> {
  say(`bench:workflows: starting a private stack in ${dataDir} (PostgreSQL fsync on)…`);
  await stack.start();
  const sql = postgres(stack.info.DB_URL, { max: 2, onnotice: () => {} });
  try {
    // A plain task's completion, for the engine's share.
    const plain: number[] = [];
    for (let i = 0; i < 200; i++) {
      await sql`select orchestrator.enqueue('bench.plain', '{}'::jsonb, '{"source": "bench"}')`;
      const [t] = await sql<{ id: number; lease_token: string }[]>`select id, lease_token from orchestrator.claim('bench-wf', 1, 60, array['bench.plain'])`;
      const at = performance.now();
      await sql`select orchestrator.complete(${t.id}, ${t.lease_token}::uuid, '{"ok": true}'::jsonb)`;
      plain.push(performance.now() - at);
    }
    const plainMs = median(plain);
    say(`[bench:workflows] a plain task's completion: ${fmt(plainMs)} ms (median of 200)`);
    const rows: string[][] = [];
    for (const w of workloads) {
      const name = `bench-${w.name.split(" ")[0]}-${Math.random().toString(36).slice(2, 7)}`;
      await sql`insert into orchestrator.workflows (name, steps) values (${name}, ${sql.json(w.steps as never)})`;
      await endToEnd(sql, name, w.input); // warm-up
      const e2e: number[] = [];
      for (let r = 0; r < reps; r++) {
        e2e.push((await endToEnd(sql, name, w.input)) / w.units);
        say(`[bench:workflows] ${w.name} rep ${r + 1}/${reps}: ${fmt(e2e.at(-1)!)} ms per ${w.unit} end to end`);
      }
      // The engine's SQL alone: the same definition with a task type no worker runs, played here.
      const type = `bench.engine.${Math.random().toString(36).slice(2, 7)}`;
      const played = `${name}-sql`;
      await sql`insert into orchestrator.workflows (name, steps) values (${played}, ${sql.json(JSON.parse(JSON.stringify(w.steps).replaceAll('"noop"', `"${type}"`)) as never)})`;
      const engine: number[] = [];
      for (let r = 0; r < reps; r++) {
        const times = await engineMs(sql, played, type, w.input);
        if (times.length !== w.units) throw new Error(`${w.name}: played ${times.length} of ${w.units} ${w.unit}s`);
        engine.push(median(times) - plainMs);
      }
      rows.push([w.name, `${fmt(median(e2e))} [${fmt(Math.min(...e2e))}–${fmt(Math.max(...e2e))}]`, `${fmt(median(engine))} [${fmt(Math.min(...engine))}–${fmt(Math.max(...engine))}]`, w.unit]);
    }
    say("\n| workload (median of 3 [range]) | end to end, ms per step | engine's SQL, ms per step | unit |");
    say("|---|---|---|---|");
    for (const r of rows) say(`| ${r.join(" | ")} |`);
    say(`\nTarget: at most 5 ms of engine overhead per step. For comparison, pgflow's Edge Worker polls for new tasks every`);
    say(`100 ms by default (pollIntervalMs, https://www.pgflow.dev/reference/configuration/worker), so a step whose`);
    say(`dependencies are done can wait up to that long to be picked up there; here the insert's NOTIFY reaches a listening worker.`);
  } finally {
    await sql.end();
    await stack.stop().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch(async (err) => {
  console.error(`bench:workflows failed: ${(err as Error).message}`);
  await stack.stop().catch(() => {});
  process.exit(1);
});
