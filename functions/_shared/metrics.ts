// GET /metrics: the Prometheus text exposition of orchestrator.metrics_snapshot(). The numbers are
// computed in SQL, in one statement (one snapshot: a scrape never mixes two moments); this module only
// names them (HELP, TYPE) and formats them with prom-client's registry, which does the escaping and
// the exposition format. A fresh registry per scrape: the values are the database's, not this isolate's.
import { Registry } from "prom-client";
import { db, type AnySql } from "./db.ts";

type MetricType = "gauge" | "counter" | "histogram";

/** Every metric /metrics serves. docs/grafana-dashboard.json uses these names (a test holds it to them). */
export const METRIC_FAMILIES: Record<string, { type: MetricType; help: string }> = {
  orchestrator_tasks: { type: "gauge", help: "Tasks in the table, by type and status." },
  orchestrator_queue_oldest_age_seconds: { type: "gauge", help: "Age of the oldest runnable queued task (run_at passed), by type." },
  orchestrator_task_duration_seconds: {
    type: "histogram",
    help: "Run time of finished tasks (finished_at - started_at of the last attempt), by type and outcome, over the tasks retention keeps.",
  },
  orchestrator_task_retries_total: { type: "counter", help: "Attempts that failed and were retried, by type, over the tasks retention keeps." },
  orchestrator_tasks_dead_total: { type: "counter", help: "Tasks that ended dead (out of attempts or a permanent error), by type." },
  orchestrator_worker_invocations_recent: {
    type: "gauge",
    help: "task-worker invocations through pg_net (wake-ups) in the last 10 minutes, by reason (insert, handoff, cron, ...).",
  },
  orchestrator_worker_terminations_total: {
    type: "counter",
    help: "Edge user workers the runtime shut down, by reason (CPUTime, WallClockTime, Memory are limit terminations); local runtime only.",
  },
  orchestrator_worker_retirements_total: { type: "counter", help: "Edge isolates retired at a soft limit, by reason; local runtime only." },
  orchestrator_workers_listening: { type: "gauge", help: "Task workers listening for NOTIFY now (inserts send no wake-up while one listens)." },
  orchestrator_pg_net_queue_depth: { type: "gauge", help: "Requests waiting in pg_net's queue (net.http_request_queue): wake-ups not yet sent." },
  orchestrator_schedule_enabled: { type: "gauge", help: "1 when the schedule is enabled, by schedule." },
  orchestrator_schedule_last_tick_timestamp_seconds: { type: "gauge", help: "Unix time of the schedule's last tick that enqueued a run, by schedule." },
  orchestrator_rate_limit_backlog_seconds: { type: "gauge", help: "How long a new request on the rate-limit bucket would wait now (Notion, AI), by bucket." },
  orchestrator_rate_limit_granted_total: { type: "counter", help: "Requests the rate-limit bucket has granted, by bucket." },
  orchestrator_concurrency_running: { type: "gauge", help: "Running tasks of a flow-control concurrency key (key:<key>, or type:<type> for a type's limit)." },
  orchestrator_concurrency_parked: { type: "gauge", help: "Queued tasks waiting for room under a concurrency key's limit." },
  orchestrator_concurrency_limit: { type: "gauge", help: "A concurrency key's limit (the AI cap is key:ai)." },
};

export interface MetricRow {
  metric: string;
  labels: Record<string, string>;
  value: number;
}

/** The snapshot's rows; `sql` may be a transaction (a test reads it beside its own counts, in one snapshot). */
export async function metricsSnapshot(sql: AnySql = db()): Promise<MetricRow[]> {
  return await sql<MetricRow[]>`select metric, labels, value from orchestrator.metrics_snapshot()`;
}

const HISTOGRAM_SUFFIX = /_(bucket|sum|count)$/;
const leOrder = (le: string | undefined) => (le === undefined ? Infinity + 1 : le === "+Inf" ? Infinity : Number(le));

/** The family a row belongs to: its metric name, or a histogram's name without _bucket/_sum/_count. */
function familyOf(metric: string): string {
  if (METRIC_FAMILIES[metric]) return metric;
  const base = metric.replace(HISTOGRAM_SUFFIX, "");
  if (METRIC_FAMILIES[base]?.type === "histogram") return base;
  throw new Error(`metrics_snapshot() returned ${metric}, which METRIC_FAMILIES does not describe`);
}

/** The text exposition (Prometheus 0.0.4) of these rows, and its content type. */
export async function renderMetrics(rows: MetricRow[]): Promise<{ body: string; contentType: string }> {
  const byFamily = new Map<string, MetricRow[]>(Object.keys(METRIC_FAMILIES).map((name) => [name, []]));
  for (const row of rows) byFamily.get(familyOf(row.metric))!.push(row);
  const registry = new Registry();
  for (const [name, { type, help }] of Object.entries(METRIC_FAMILIES)) {
    const family = byFamily.get(name)!;
    if (type === "histogram") {
      // A histogram's series: each label set's buckets in ascending le, then its _sum and _count.
      const key = (r: MetricRow) => JSON.stringify(Object.entries(r.labels).filter(([k]) => k !== "le").sort());
      family.sort((a, b) => key(a).localeCompare(key(b)) || leOrder(a.metric.endsWith("_bucket") ? a.labels.le : undefined) -
        leOrder(b.metric.endsWith("_bucket") ? b.labels.le : undefined) || a.metric.localeCompare(b.metric));
    }
    // prom-client's registry formats any metric object with name, help, type and get() (its custom-metric
    // contract); the values are already aggregated in SQL, so no Gauge/Histogram keeps state here.
    registry.registerMetric({
      name, help, type, aggregator: "sum",
      get: () => ({ name, help, type, aggregator: "sum", values: family.map((r) => ({ metricName: r.metric, labels: r.labels, value: r.value })) }),
    } as never);
  }
  return { body: await registry.metrics(), contentType: registry.contentType };
}
