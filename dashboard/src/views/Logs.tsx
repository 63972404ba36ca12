import { useEffect, useState } from "preact/hooks";
import { call, LOG_LEVELS } from "../api.ts";
import type { LogEntry, LogPage } from "../api-types.ts";
import { Badge, Empty, errorText, FilterActions, Loading } from "../components/ui.tsx";
import { useApp } from "../context.ts";
import { absolute, clock } from "../format.ts";
import { href, navigate, type Route } from "../router.ts";

const KEYS = ["level", "component", "task_id", "q"] as const;
const MAX_LINES = 1000;
const POLL_MS = 2_000;

export function Logs({ route }: { route: Route }) {
  const { session } = useApp();
  const filters = Object.fromEntries(KEYS.map((k) => [k, route.query.get(k) ?? ""])) as Record<(typeof KEYS)[number], string>;
  const filterKey = KEYS.map((k) => `${k}=${filters[k]}`).join("&");
  const [lines, setLines] = useState<LogEntry[]>([]);
  const [older, setOlder] = useState<string | null>(null);
  const [state, setState] = useState<{ loading: boolean; error?: unknown; polledAt?: number }>({ loading: true });
  const [live, setLive] = useState(true);
  const [loadingOlder, setLoadingOlder] = useState(false);

  // Live tail: poll the newest page and merge by id.
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let first = true;
    setLines([]);
    setOlder(null);
    setState({ loading: true });
    const ctrl = new AbortController();
    const poll = async () => {
      try {
        const page = await call<LogPage>(session, "/logs", {
          query: { ...filters, limit: 200 },
          signal: ctrl.signal,
        });
        if (stopped) return;
        setLines((cur) => merge(cur, page.logs));
        if (first) setOlder(page.next_cursor);
        first = false;
        setState({ loading: false, polledAt: Date.now() });
      } catch (error) {
        if (stopped || (error as Error).name === "AbortError") return;
        setState((s) => ({ ...s, loading: false, error }));
      }
      if (!stopped && live) timer = setTimeout(poll, POLL_MS);
    };
    void poll();
    return () => {
      stopped = true;
      ctrl.abort();
      clearTimeout(timer);
    };
  }, [filterKey, live]);

  const loadOlder = async () => {
    if (!older) return;
    setLoadingOlder(true);
    try {
      const page = await call<LogPage>(session, "/logs", { query: { ...filters, limit: 200, cursor: older } });
      setLines((cur) => merge(cur, page.logs, Infinity));
      setOlder(page.next_cursor);
    } catch (error) {
      setState((s) => ({ ...s, error }));
    } finally {
      setLoadingOlder(false);
    }
  };

  return (
    <div class="view logs">
      <header class="view-head">
        <h1>Logs</h1>
        <div class="live-toggle">
          <button type="button" class={`btn small${live ? " live-on" : ""}`} aria-pressed={live} onClick={() => setLive((l) => !l)}>
            {live ? "● Live" : "❚❚ Paused"}
          </button>
          <span class="muted small" aria-live="off">
            {state.polledAt ? `checked ${clock(new Date(state.polledAt).toISOString())}` : ""}
          </span>
        </div>
      </header>
      <LogFilters values={filters} onApply={(next) => navigate("/logs", next)} />
      {state.error !== undefined && (
        <div class="error-box" role="alert">
          <strong>Could not read the logs</strong>
          <p>{errorText(state.error)}</p>
          <p class="small muted">{live ? `Trying again every ${POLL_MS / 1000} s.` : "Resume the live tail to try again."}</p>
        </div>
      )}
      {state.loading && lines.length === 0 && <Loading what="Loading logs" />}
      {!state.loading && lines.length === 0 && !state.error && (
        <Empty>{Object.values(filters).some(Boolean) ? "No log lines match these filters yet." : "No log lines yet."}</Empty>
      )}
      {lines.length > 0 && <LogLines logs={lines} />}
      {older && lines.length > 0 && (
        <div class="pager">
          <button type="button" class="btn" onClick={loadOlder} disabled={loadingOlder}>
            {loadingOlder ? "Loading…" : "Load older lines"}
          </button>
        </div>
      )}
    </div>
  );
}

function merge(current: LogEntry[], incoming: LogEntry[], cap = MAX_LINES): LogEntry[] {
  const byId = new Map<number, LogEntry>();
  for (const l of current) byId.set(l.id, l);
  let added = false;
  for (const l of incoming) {
    if (!byId.has(l.id)) added = true;
    byId.set(l.id, l);
  }
  if (!added && incoming.length <= current.length) return current;
  return [...byId.values()].sort((a, b) => b.id - a.id).slice(0, cap === Infinity ? undefined : Math.max(cap, current.length));
}

function LogFilters({ values, onApply }: { values: Record<string, string>; onApply: (v: Record<string, string>) => void }) {
  const [v, setV] = useState(values);
  const key = JSON.stringify(values);
  useEffect(() => setV(values), [key]);
  const set = (k: string) => (e: Event) => setV((cur) => ({ ...cur, [k]: (e.currentTarget as HTMLInputElement).value }));
  return (
    <form
      class="filters"
      aria-label="Filter logs"
      onSubmit={(e) => {
        e.preventDefault();
        onApply(Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x.trim()])));
      }}
    >
      <label>
        Search
        <input type="search" name="q" value={v.q} onInput={set("q")} placeholder="text in the message" />
      </label>
      <label>
        Level at least
        <select name="level" value={v.level} onChange={set("level")}>
          <option value="">any</option>
          {LOG_LEVELS.map((l) => <option value={l}>{l}</option>)}
        </select>
      </label>
      <label>
        Component
        <input type="text" name="component" value={v.component} onInput={set("component")} placeholder="e.g. task-worker" spellcheck={false} />
      </label>
      <label>
        Task id
        <input type="text" inputMode="numeric" pattern="[0-9]*" name="task_id" value={v.task_id} onInput={set("task_id")} />
      </label>
      <FilterActions
        onClear={() => {
          setV({ q: "", level: "", component: "", task_id: "" });
          onApply({});
        }}
      />
    </form>
  );
}

export function LogLines({ logs, compact }: { logs: LogEntry[]; compact?: boolean }) {
  return (
    <ol class={`log-lines${compact ? " compact" : ""}`} data-testid="log-lines" aria-label="Log lines, newest first">
      {logs.map((l) => {
        const ctx = l.context && Object.keys(l.context).length ? l.context : undefined;
        return (
          <li class={`log log-${l.level}`} key={l.id}>
            <time dateTime={String(l.at)} title={absolute(String(l.at))}>{clock(String(l.at))}</time>
            <Badge value={l.level} />
            {!compact && <span class="log-component">{l.component}</span>}
            <span class="log-message">{l.message}</span>
            {!compact && l.task_id && <a class="log-task" href={href(`/tasks/${l.task_id}`)}>task #{l.task_id}</a>}
            {ctx && (
              <details class="log-context">
                <summary>context</summary>
                <pre class="json small">{JSON.stringify(ctx, null, 2)}</pre>
              </details>
            )}
          </li>
        );
      })}
    </ol>
  );
}
