// GET /metrics: Prometheus text format, service key only; parsed with parse-prometheus-text-format; during a
// load run its queue depths equal SQL counts taken in the same snapshot; the sample Grafana dashboard uses
// only metrics it serves.
import { readFileSync } from "node:fs";
import parse, { type PrometheusFamily } from "parse-prometheus-text-format";
import { afterAll, describe, expect, it } from "vitest";
import { METRIC_FAMILIES, metricsSnapshot, renderMetrics } from "../../functions/_shared/metrics.ts";
import { http, sql, stack, waitFor, type KeyKind } from "../helpers/stack.ts";

const HISTOGRAM = "orchestrator_task_duration_seconds";

async function scrape(): Promise<string> {
  const res = await http("/metrics");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return await res.text();
}

/**
 * The parser folds a labelled histogram's buckets into one map, losing the labels; with the histogram's TYPE
 * line left out it reads _bucket, _sum and _count as plain families, every sample with its labels.
 */
function samples(text: string): Map<string, { labels: Record<string, string>; value: number }[]> {
  // Untyped, each series' _bucket, _count and _sum lines come out as families of their own, one after another
  // for every label set: samples of the same name are gathered.
  const out = new Map<string, { labels: Record<string, string>; value: number }[]>();
  for (const f of parse(text.replace(`# TYPE ${HISTOGRAM} histogram\n`, ""))) {
    out.set(f.name, [...(out.get(f.name) ?? []), ...f.metrics.map((m) => ({ labels: m.labels ?? {}, value: Number(m.value) }))]);
  }
  return out;
}

const value = (s: ReturnType<typeof samples>, name: string, labels: Record<string, string>) =>
  s.get(name)?.find((m) => Object.entries(labels).every(([k, v]) => m.labels[k] === v) && Object.keys(m.labels).length === Object.keys(labels).length)?.value;

const markers: string[] = [];
afterAll(async () => {
  await sql()`delete from orchestrator.tasks where payload->'echo'->>'m' = any(${markers})`;
});

describe("GET /metrics", () => {
  it("401 without the service key: none, a wrong key, the anon key, the publishable key", async () => {
    for (const key of ["none", "wrong", "anon", "publishable"] as KeyKind[]) {
      const res = await http("/metrics", { key });
      expect(res.status, key).toBe(401);
      expect((await res.json()).error.code).toBe("unauthorized");
    }
  });

  it("serves every family with HELP and TYPE in the text format a parser reads, and no key of the project", async () => {
    const text = await scrape();
    const families = new Map<string, PrometheusFamily>(parse(text).map((f) => [f.name, f]));
    for (const [name, { type, help }] of Object.entries(METRIC_FAMILIES)) {
      expect(families.get(name)?.type, name).toBe(type.toUpperCase());
      expect(families.get(name)?.help).toBe(help);
    }
    expect(families.size).toBe(Object.keys(METRIC_FAMILIES).length);
    const s = stack();
    for (const secret of [s.SERVICE_ROLE_KEY, s.SECRET_KEY, s.ANON_KEY, s.PUBLISHABLE_KEY]) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/sb_secret_|sb_publishable_|eyJ[A-Za-z0-9_-]{10,}/);
    // The schedules the migrations ship are there, and the pg_net queue is a number.
    const parsed = samples(text);
    expect(parsed.get("orchestrator_schedule_enabled")!.length).toBeGreaterThan(0);
    expect(Number.isFinite(value(parsed, "orchestrator_pg_net_queue_depth", {}))).toBe(true);
  });

  it("during a load run (3,000 tasks drained by the worker), queue depths equal SQL counts of the same snapshot", async () => {
    const m = `metrics-${Math.random().toString(36).slice(2)}`;
    markers.push(m);
    for (let batch = 0; batch < 3; batch++) {
      const res = await http("/tasks", {
        method: "POST",
        // 10 ms each: the worker drains 3,000 bare noops in a fraction of a second (a clean-clone CI run saw
        // them all finish before the first comparison); these last seconds, so samples land during the load.
        body: JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ type: "noop", payload: { delay_ms: 10, echo: { m, n: batch * 1000 + i } } }))),
      });
      expect(res.status).toBe(201);
    }
    let duringLoad = 0;
    let compared = 0;
    const mine = async () => Number((await sql()`
      select count(*)::int as n from orchestrator.tasks where payload->'echo'->>'m' = ${m} and status = 'succeeded'`)[0].n);
    while ((await mine()) < 3000 || compared < 2) {
      // One REPEATABLE READ transaction: metrics_snapshot() and the counts below read the same snapshot
      // (and the same now()), so they must agree exactly, however fast the worker drains meanwhile.
      const { text, counts, oldest, netQueue, mineLive } = await sql().begin("isolation level repeatable read", async (tx) => {
        const rows = await metricsSnapshot(tx);
        const counts = await tx<{ type: string; status: string; n: number }[]>`
          select type, status::text, count(*)::int as n from orchestrator.tasks group by 1, 2`;
        const oldest = await tx<{ type: string; age: number }[]>`
          select type, greatest(extract(epoch from now() - min(run_at)), 0)::float8 as age
          from orchestrator.tasks where status = 'queued' and run_at <= now() group by type`;
        const [{ n: netQueue }] = await tx<{ n: number }[]>`select count(*)::int as n from net.http_request_queue`;
        const [{ n: mineLive }] = await tx<{ n: number }[]>`
          select count(*)::int as n from orchestrator.tasks where payload->'echo'->>'m' = ${m} and status in ('queued', 'running')`;
        return { text: (await renderMetrics(rows)).body, counts, oldest, netQueue, mineLive };
      });
      const s = samples(text);
      const served = s.get("orchestrator_tasks") ?? [];
      expect(served.length).toBe(counts.length);
      for (const c of counts) expect(value(s, "orchestrator_tasks", { type: c.type, status: c.status }), `${c.type} ${c.status}`).toBe(c.n);
      expect((s.get("orchestrator_queue_oldest_age_seconds") ?? []).length).toBe(oldest.length);
      for (const o of oldest) expect(value(s, "orchestrator_queue_oldest_age_seconds", { type: o.type })).toBeCloseTo(o.age, 6);
      expect(value(s, "orchestrator_pg_net_queue_depth", {})).toBe(netQueue);
      compared++;
      if (mineLive > 0) duringLoad++;
      // And the endpoint itself answers during the load, in the same format.
      if (compared <= 3) expect(samples(await scrape()).get("orchestrator_tasks")!.some((x) => x.labels.type === "noop")).toBe(true);
      if (compared > 600) throw new Error("the worker did not drain 3,000 noop tasks");
    }
    console.log(`metrics vs SQL in one snapshot: ${compared} comparisons, ${duringLoad} while this run's tasks were queued or running`);
    expect(duringLoad).toBeGreaterThan(0);

    // The finished tasks are in the duration histogram: buckets cumulative, +Inf = _count.
    const s = samples(await scrape());
    const buckets = s.get(`${HISTOGRAM}_bucket`)!.filter((b) => b.labels.type === "noop" && b.labels.outcome === "succeeded");
    const bound = (le: string) => (le === "+Inf" ? Infinity : Number(le));
    buckets.sort((a, b) => bound(a.labels.le) - bound(b.labels.le));
    for (let i = 1; i < buckets.length; i++) expect(buckets[i].value).toBeGreaterThanOrEqual(buckets[i - 1].value);
    const count = value(s, `${HISTOGRAM}_count`, { type: "noop", outcome: "succeeded" })!;
    expect(buckets.at(-1)!.labels.le).toBe("+Inf");
    expect(buckets.at(-1)!.value).toBe(count);
    expect(count).toBeGreaterThanOrEqual(3000);
    expect(value(s, `${HISTOGRAM}_sum`, { type: "noop", outcome: "succeeded" })).toBeGreaterThan(0);
  }, 180_000);

  it("docs/grafana-dashboard.json uses only metrics /metrics serves", async () => {
    const dashboard = JSON.parse(readFileSync(new URL("../../docs/grafana-dashboard.json", import.meta.url), "utf8"));
    const exprs: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === "object") {
        for (const [k, x] of Object.entries(v)) {
          if (k === "expr" && typeof x === "string") exprs.push(x);
          else walk(x);
        }
      }
    };
    walk(dashboard);
    expect(exprs.length).toBeGreaterThan(5);
    const served = new Set(parse(await scrape()).flatMap((f) =>
      f.type === "HISTOGRAM" ? [`${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`] : [f.name]));
    const used = new Set(exprs.flatMap((e) => e.match(/\borchestrator_[a-z_]+\b/g) ?? []));
    expect(used.size).toBeGreaterThan(5);
    for (const name of used) expect(served, name).toContain(name);
    // Every family is on the dashboard.
    for (const name of Object.keys(METRIC_FAMILIES)) {
      expect([...used].some((u) => u === name || u.startsWith(`${name}_`)), name).toBe(true);
    }
  });
});
