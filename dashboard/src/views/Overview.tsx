import { useState } from "preact/hooks";
import { call, orchestrator, TASK_STATUSES, unwrap } from "../api.ts";
import type { Capabilities, Health, Task, TaskPage } from "../api-types.ts";
import { bucketize, ThroughputChart } from "../components/chart.tsx";
import { Badge, cell, Empty, ErrorBox, Loading, When } from "../components/ui.tsx";
import { useApp } from "../context.ts";
import { clock, duration, number } from "../format.ts";
import { useLoad } from "../hooks.ts";
import { href } from "../router.ts";

const WINDOWS = {
  hour: { label: "Last hour", ms: 3_600_000, buckets: 12, maxPages: 20, everyMs: 15_000 },
  day: { label: "Last 24 hours", ms: 86_400_000, buckets: 24, maxPages: 50, everyMs: 60_000 },
} as const;
type WindowName = keyof typeof WINDOWS;

export function Overview() {
  const { session, capabilities } = useApp();
  const health = useLoad((signal) => unwrap<Health>(session, orchestrator(session).GET("/functions/v1/health", { signal, cache: "no-store" })), "health", 5_000);
  const [win, setWin] = useState<WindowName>("hour");
  const w = WINDOWS[win];
  const finished = useLoad(async (signal) => {
    const since = new Date(Date.now() - w.ms).toISOString();
    const tasks: Task[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: TaskPage = await call(session, "/tasks", {
        query: { status: "succeeded,dead", since, limit: 100, cursor },
        signal,
      });
      tasks.push(...page.tasks);
      cursor = page.next_cursor;
      pages++;
    } while (cursor && pages < w.maxPages);
    return { tasks, capped: !!cursor, at: Date.now() };
  }, `finished:${win}`, w.everyMs);

  const h = health.data;
  return (
    <div class="view overview">
      <header class="view-head">
        <h1>Overview</h1>
        <p class="muted small" aria-live="polite">
          {health.loading && !h ? "loading…" : h ? `updated ${clock(new Date().toISOString())}` : ""}
        </p>
      </header>

      {health.error !== undefined && <ErrorBox error={health.error} onRetry={health.reload} title="Could not read /health" />}
      {!h && health.loading && <Loading what="Reading the queue" />}

      {h && (
        <>
          <section class="cards" aria-label="Tasks by status">
            {TASK_STATUSES.map((s) => (
              <a class={`card stat stat-${s}`} href={href("/tasks", { status: s })}>
                <span class="stat-label">{s}</span>
                <span class="stat-value" data-testid={`count-${s}`}>{number(h.queue?.[s] ?? null)}</span>
              </a>
            ))}
            <div class="card stat">
              <span class="stat-label">oldest queued</span>
              <span class="stat-value" data-testid="oldest-queued">{duration(h.queue?.oldest_queued_age_s ?? null)}</span>
            </div>
          </section>

          <div class="grid-2">
            <section class="card" aria-labelledby="health-h">
              <h2 id="health-h">Health</h2>
              <dl class="fields">
                <div class="field">
                  <dt>status</dt>
                  <dd><Badge value={h.status} /></dd>
                </div>
                <div class="field">
                  <dt>database</dt>
                  <dd>
                    {h.db?.ok ? <Badge value="reachable" kind="ok" /> : <Badge value="unreachable" kind="dead" />}
                    {h.db?.latency_ms != null && <span class="muted"> {h.db.latency_ms} ms</span>}
                  </dd>
                </div>
                {h.db?.error && (
                  <div class="field">
                    <dt>error</dt>
                    <dd class="error-text">{h.db.error}</dd>
                  </div>
                )}
                <div class="field">
                  <dt>version</dt>
                  <dd>{h.version}</dd>
                </div>
              </dl>
              <Integrations integrations={capabilities.integrations} />
            </section>

            <section class="card" aria-labelledby="cron-h">
              <h2 id="cron-h">Cron jobs</h2>
              {!h.cron?.length ? (
                <Empty>No orchestrator cron jobs are scheduled.</Empty>
              ) : (
                <div class="table-wrap">
                  <table data-testid="cron-table">
                    <thead>
                      <tr>
                        <th scope="col">job</th>
                        <th scope="col">schedule</th>
                        <th scope="col">last run</th>
                        <th scope="col">status</th>
                      </tr>
                    </thead>
                    <tbody>
                      {h.cron.map((c) => (
                        <tr>
                          <td data-label="job"><code>{c.job.replace(/^orchestrator-/, "")}</code></td>
                          <td data-label="schedule"><code>{c.schedule}</code></td>
                          <td data-label="last run"><When iso={c.last_run} /></td>
                          <td data-label="status"><Badge value={c.last_status ?? "never run"} kind={c.last_status ?? "never"} /></td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </section>
          </div>
          {h.edge && <EdgeWorkers edge={h.edge} />}
        </>
      )}

      <section class="card" aria-labelledby="tp-h">
        <div class="card-head">
          <h2 id="tp-h">Throughput and failures</h2>
          <div class="toggle" role="group" aria-label="Time window">
            {(Object.keys(WINDOWS) as WindowName[]).map((k) => (
              <button type="button" class="btn small" aria-pressed={win === k} onClick={() => setWin(k)}>
                {WINDOWS[k].label}
              </button>
            ))}
          </div>
        </div>
        {finished.error !== undefined && <ErrorBox error={finished.error} onRetry={finished.reload} title="Could not read finished tasks" />}
        {!finished.data && finished.loading && <Loading what="Counting finished tasks" />}
        {finished.data && (
          <>
            <ThroughputChart buckets={bucketize(finished.data.tasks, w.ms, w.buckets, finished.data.at)} label={w.label} />
            <p class="muted small">
              Tasks created in the window that finished, by finish time.
              {finished.data.capped && ` Only the newest ${finished.data.tasks.length.toLocaleString("en-US")} are counted; older bars are incomplete.`}
            </p>
          </>
        )}
      </section>

      {capabilities.apis.includes("notion") && <SyncStatus />}
    </div>
  );
}

// Shutdown reasons as Supabase's logs name them; the limit kills first, as they cost requests.
const SHUTDOWN_REASONS = ["CPUTime", "Memory", "WallClockTime", "EarlyDrop", "EventLoopCompleted", "TerminationRequested"] as const;
const LIMIT_KILLS = new Set(["CPUTime", "Memory", "WallClockTime"]);

function EdgeWorkers({ edge }: { edge: NonNullable<Health["edge"]> }) {
  const reasons = [...SHUTDOWN_REASONS, ...Object.keys(edge.terminations).filter((r) => !(SHUTDOWN_REASONS as readonly string[]).includes(r))];
  return (
    <section class="card" aria-labelledby="edge-h" data-testid="edge-terminations">
      <h2 id="edge-h">Edge workers: terminations by reason</h2>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">reason</th>
              <th scope="col">terminated</th>
              <th scope="col">retired first</th>
            </tr>
          </thead>
          <tbody>
            {reasons.map((r) => (
              <tr data-testid={`edge-${r}`}>
                <td data-label="reason"><code>{r}</code></td>
                <td data-label="terminated">
                  {LIMIT_KILLS.has(r) && (edge.terminations[r] ?? 0) > 0 ? <Badge value={number(edge.terminations[r])} kind="dead" /> : number(edge.terminations[r] ?? 0)}
                </td>
                <td data-label="retired first">{r === "CPUTime" || r === "WallClockTime" ? number(edge.retirements[r] ?? 0) : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p class="muted small">
        Each function runs in user workers under the hosted limits. CPUTime, Memory and WallClockTime kills answer the requests in flight with 546;
        EarlyDrop is a retired worker let go once idle. Rows: <a href={href("/logs", { component: "edge-runtime" })}>logs of edge-runtime</a>.
      </p>
    </section>
  );
}

/** What GET /health/capabilities says is configured; it never holds a secret. */
function Integrations({ integrations: i }: { integrations: Capabilities["integrations"] }) {
  const state = (configured: boolean, usable = true) => (configured ? (usable ? "configured" : "not usable") : "not configured");
  const kind = (configured: boolean, usable = true) => (configured ? (usable ? "ok" : "dead") : "never");
  return (
    <dl class="fields" data-testid="integrations" aria-label="Integrations">
      <div class="field">
        <dt>Notion</dt>
        <dd data-testid="integration-notion"><Badge value={state(i.notion.configured)} kind={kind(i.notion.configured)} /></dd>
      </div>
      <div class="field">
        <dt>AI provider</dt>
        <dd data-testid="integration-ai"><Badge value={state(i.ai.configured, i.ai.usable)} kind={kind(i.ai.configured, i.ai.usable)} /></dd>
      </div>
      <div class="field">
        <dt>webhooks</dt>
        <dd data-testid="integration-webhooks">
          <Badge value={state(i.webhooks.configured)} kind={kind(i.webhooks.configured)} />
          {i.webhooks.configured && <span class="muted"> {number(i.webhooks.active_subscriptions)} active</span>}
        </dd>
      </div>
    </dl>
  );
}

const SYNC_STATUS = "/notion/status";

function SyncStatus() {
  const { session } = useApp();
  // GET /notion/status's report is not typed by a response schema yet (functions/_shared/notion/service.ts builds it from untyped rows).
  const sync = useLoad((signal) => call<Record<string, unknown>>(session, SYNC_STATUS, { signal }), "sync", 15_000);
  const s = sync.data;
  return (
    <section class="card" aria-labelledby="sync-h" data-testid="sync-status">
      <div class="card-head">
        <h2 id="sync-h">Notion sync</h2>
        {s && typeof s.ok === "boolean" && (
          <Badge value={s.ok ? "ok" : s.configured === false ? "not configured" : s.enabled === false ? "off" : "needs attention"} kind={s.ok ? "ok" : s.configured === false || s.enabled === false ? "never" : "dead"} />
        )}
      </div>
      {sync.error !== undefined && <ErrorBox error={sync.error} onRetry={sync.reload} title={`Could not read ${SYNC_STATUS}`} />}
      {!s && sync.loading && <Loading />}
      {s && <NotionSync s={s} />}
    </section>
  );
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : undefined);

function NotionSync({ s }: { s: Obj }) {
  const push = obj(s.last_push) ?? {};
  const pull = obj(s.last_pull) ?? {};
  const hour = obj(s.last_hour) ?? {};
  const queue = obj(s.queue) ?? {};
  const problems = Array.isArray(s.problems) ? (s.problems as string[]) : [];
  const recent = Array.isArray(hour.recent_errors) ? (hour.recent_errors as Obj[]) : [];
  const pushError = obj(push.error);
  return (
    <>
      {problems.length > 0 && (
        <ul class="problems" data-testid="sync-problems">
          {problems.map((p) => <li class="error-text">{p}</li>)}
        </ul>
      )}
      <dl class="fields sync-fields">
        <div class="field"><dt>last push</dt><dd>{cell(push.at)}{pushError && <span class="error-text"> · {String(pushError.last_error ?? "")}</span>}</dd></div>
        <div class="field"><dt>last pull</dt><dd>{cell(pull.at)} {pull.status ? <Badge value={String(pull.status)} kind={pull.status === "ok" ? "ok" : String(pull.status)} /> : null}{pull.error ? <span class="error-text"> · {String(pull.error)}</span> : null}</dd></div>
        <div class="field"><dt>watermark</dt><dd>{cell(s.watermark)}</dd></div>
        <div class="field"><dt>pages mapped</dt><dd>{cell(s.pages_mapped)}{Number(s.pages_pending) > 0 && <span class="muted"> ({String(s.pages_pending)} pending)</span>}</dd></div>
        <div class="field"><dt>queue</dt><dd>{cell(queue.push_queued)} push queued · {cell(queue.push_running)} running · {cell(queue.pull_pending)} pull pending</dd></div>
        <div class="field"><dt>last hour</dt><dd>{cell(hour.errors)} errors · {cell(hour.conflicts)} conflicts · {Array.isArray(hour.dead_tasks) ? hour.dead_tasks.length : 0} dead tasks</dd></div>
      </dl>
      {recent.length > 0 && (
        <ul class="recent-errors">
          {recent.map((e) => (
            <li>
              <When iso={String(e.at)} /> <span class="error-text">{String(e.message)}</span> {e.task_id != null && <a href={href(`/tasks/${String(e.task_id)}`)}>task #{String(e.task_id)}</a>}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
