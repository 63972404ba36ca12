// npm run bench:fairness: does one app's backlog starve the other's fresh work? (issue 17, `group`)
// On a private stack (its own temp cluster and ports; a running `npm start` is untouched), run by the
// real task-worker function (Deno) through the real wake-up path:
//
//   empty    group B ("candyland") enqueues one noop task per second for a minute, nothing else queued
//   backlog  the same, while group A ("knisoci") has 100,000 queued noop tasks of 10 ms each, which
//            the worker drains throughout the minute
//
// Prints B's enqueue→start p50 / p95 / max in both (from the database: started_at − created_at), and
// the ratio of the p95s (target ≤ 2×). In A's group (FIFO), B's task would wait behind A's whole
// backlog: the script also enqueues one such task as the minute begins and prints its wait.
//
//   npm run bench:fairness                 # ~3 min
//   npm run bench:fairness -- --seconds=20 # a shorter minute
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { freePort } from "./stack/ports.ts";
import { LocalStack } from "./stack/stack.ts";

const { values: args } = parseArgs({ options: { seconds: { type: "string", default: "60" }, backlog: { type: "string", default: "100000" } } });
const seconds = Number(args.seconds);
const backlog = Number(args.backlog);
const say = (s: string) => console.log(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const fmt = (n: number, d = 1) => n.toFixed(d);

const dataDir = mkdtempSync(join(tmpdir(), "orchestrator-bench-fair-"));
chmodSync(dataDir, 0o755);
const stack = new LocalStack({ dataDir, pgPort: await freePort(), apiPort: await freePort(), fast: false });

/** One group-B task per second; returns each one's enqueue→start in ms, read from the database. */
async function groupB(sql: postgres.Sql, label: string, n = seconds): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const [{ id }] = await sql<{ id: number }[]>`
      select (r.task).id from orchestrator.enqueue('noop', ${sql.json({ echo: `b-${i}` })}, '{"group": "candyland", "source": "bench"}') r`;
    ids.push(id);
    process.stdout.write(`\r[bench:fairness] ${label}: ${i + 1}/${n} group-B tasks enqueued`);
    await sleep(1000);
  }
  process.stdout.write("\n");
  for (;;) {
    const rows = await sql<{ ms: number | null }[]>`
      select extract(epoch from started_at - created_at)::float8 * 1000 as ms from orchestrator.tasks where id = any(${ids}::bigint[])`;
    if (rows.every((r) => r.ms !== null)) return rows.map((r) => r.ms!);
    await sleep(200);
  }
}

async function main(): Promise<void> {
  say(`bench:fairness: starting a private stack in ${dataDir}…`);
  await stack.start();
  const sql = postgres(stack.info.DB_URL, { max: 2, onnotice: () => {} });
  try {
    await groupB(sql, "warm-up", 5);
    const empty = await groupB(sql, "empty queue");

    await sql`
      insert into orchestrator.tasks (type, payload, source, group_key)
      select 'noop', '{"delay_ms": 10}'::jsonb, 'bench', 'knisoci' from generate_series(1, ${backlog})`;
    say(`[bench:fairness] group A: ${backlog.toLocaleString("en-US")} noop tasks of 10 ms queued`);
    await sleep(2000);
    // One B task in A's group: what FIFO gives it (behind A's backlog), for comparison.
    const [{ id: fifo }] = await sql<{ id: number }[]>`
      select (r.task).id from orchestrator.enqueue('noop', '{"echo": "fifo"}', '{"group": "knisoci", "source": "bench"}') r`;
    const busy = await groupB(sql, "behind A's backlog");
    const [{ left }] = await sql<{ left: number }[]>`
      select count(*)::int as left from orchestrator.tasks where group_key = 'knisoci' and status = 'queued'`;
    const [{ fifoMs, fifoDone }] = await sql<{ fifoMs: number; fifoDone: boolean }[]>`
      select extract(epoch from coalesce(started_at, now()) - created_at)::float8 * 1000 as "fifoMs", started_at is not null as "fifoDone"
      from orchestrator.tasks where id = ${fifo}`;

    say("\n| group B, one task per second | enqueue→start p50 (ms) | p95 (ms) | max (ms) |");
    say("|---|---|---|---|");
    say(`| empty queue | ${fmt(pct(empty, 50))} | ${fmt(pct(empty, 95))} | ${fmt(Math.max(...empty))} |`);
    say(`| behind group A's ${backlog.toLocaleString("en-US")} queued | ${fmt(pct(busy, 50))} | ${fmt(pct(busy, 95))} | ${fmt(Math.max(...busy))} |`);
    const ratio = pct(busy, 95) / pct(empty, 95);
    say(`\nB's p95 behind the backlog is ${ratio.toFixed(2)}× its p95 on an empty queue (target ≤ 2×).`);
    say(`Group A still had ${left.toLocaleString("en-US")} tasks queued at the end${left === 0 ? ": the backlog ran out, so the minute is not all under load" : " (the backlog lasted the whole minute)"}.`);
    say(`A B task put in A's group (FIFO), enqueued as the minute began: ${fifoDone ? "started after" : "still queued after"} ${fmt(fifoMs / 1000, 1)} s (FIFO behind group A).`);
  } finally {
    await sql.end();
    await stack.stop().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch(async (err) => {
  console.error(`bench:fairness failed: ${(err as Error).message}`);
  await stack.stop().catch(() => {});
  process.exit(1);
});
