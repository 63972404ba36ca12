import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, orchestrator, TASK_STATUSES, unwrap } from "../api.ts";
import type { LogPage, Task, TaskPage } from "../api-types.ts";
import { DetailPane, Loaded } from "../components/resource.tsx";
import { Badge, Empty, ErrorBox, errorText, Field, FilterActions, JsonSection, Loading, Pager, Table, When } from "../components/ui.tsx";
import { useApp } from "../context.ts";
import { isoToLocal, localToIso, truncate } from "../format.ts";
import { useLoad } from "../hooks.ts";
import { href, navigate, type Route } from "../router.ts";
import { LogLines } from "./Logs.tsx";

const FILTER_KEYS = ["status", "type", "since", "until"] as const;

function listQuery(q: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams();
  for (const k of [...FILTER_KEYS, "cursor"]) {
    const v = q.get(k);
    if (v) out.set(k, v);
  }
  return out;
}

export function Tasks({ route }: { route: Route }) {
  const { session } = useApp();
  const q = listQuery(route.query);
  const selected = route.parts[1];
  const filterKey = FILTER_KEYS.map((k) => `${k}=${q.get(k) ?? ""}`).join("&");
  const cursor = q.get("cursor");
  const [stack, setStack] = useState<{ filter: string; cursors: string[] }>({ filter: filterKey, cursors: [] });
  const prevCursors = stack.filter === filterKey ? stack.cursors : [];
  const [tick, setTick] = useState(0);

  const list = useLoad(
    (signal) =>
      unwrap<TaskPage>(session, orchestrator(session).GET("/functions/v1/tasks", {
        params: { query: { status: orUndefined(q.get("status")), type: orUndefined(q.get("type")), since: orUndefined(q.get("since")), until: orUndefined(q.get("until")), cursor: orUndefined(cursor), limit: 25 } },
        signal,
        cache: "no-store",
      })),
    `tasks?${q.toString()}#${tick}`,
    cursor ? undefined : 5_000,
  );

  const go = (next: URLSearchParams, id = selected) => navigate(id ? `/tasks/${id}` : "/tasks", next);
  const page = (c: string | null) => {
    const next = new URLSearchParams(q);
    if (c) next.set("cursor", c);
    else next.delete("cursor");
    go(next);
  };

  return (
    <div class={`view tasks split${selected ? " has-detail" : ""}`}>
      <div class="list-pane">
        <header class="view-head">
          <h1>Tasks</h1>
        </header>
        <TaskFilters query={q} onApply={(next) => go(next)} />
        {list.error !== undefined && <ErrorBox error={list.error} onRetry={list.reload} title="Could not list tasks" />}
        {!list.data && list.loading && <Loading what="Loading tasks" />}
        {list.data && list.data.tasks.length === 0 && (
          <Empty>{cursor ? "No older tasks." : q.toString() ? "No tasks match these filters." : "No tasks yet. Enqueue one with POST /functions/v1/tasks."}</Empty>
        )}
        {list.data && list.data.tasks.length > 0 && (
          <Table<Task>
            testId="tasks-table"
            caption="Tasks, newest first"
            rows={list.data.tasks}
            rowKey={(t) => t.id}
            selected={selected}
            columns={[
              { key: "id", label: "id", render: (t) => <a href={href(`/tasks/${t.id}`, q)} aria-label={`Task ${t.id} details`}>#{t.id}</a> },
              { key: "type", label: "type", render: (t) => <code>{t.type}</code> },
              { key: "status", label: "status", render: (t) => <Badge value={t.status} /> },
              // Why a queued task is not running (flow control or run_at), as the queue's SQL says it.
              { key: "wait_reason", label: "waiting for", optional: true, render: (t) => <span data-testid="wait-reason">{t.wait_reason?.message ?? ""}</span> },
              { key: "attempts", label: "attempts", optional: true, render: (t) => `${t.attempts}/${t.max_attempts}` },
              { key: "created_at", label: "created", render: (t) => <When iso={t.created_at} /> },
              { key: "finished_at", label: "finished", optional: true, render: (t) => <When iso={t.finished_at} /> },
              { key: "last_error", label: "error", optional: true, className: "err-col", render: (t) => <span class="error-text">{truncate(t.last_error, 80)}</span> },
            ]}
          />
        )}
        {list.data && (cursor || list.data.next_cursor) && (
          <Pager
            label="Task pages"
            hasPrev={!!cursor}
            hasNext={!!list.data.next_cursor}
            onFirst={() => {
              setStack({ filter: filterKey, cursors: [] });
              page(null);
            }}
            onPrev={() => {
              const cursors = [...prevCursors];
              const back = cursors.pop() ?? null;
              setStack({ filter: filterKey, cursors });
              page(back);
            }}
            onNext={() => {
              setStack({ filter: filterKey, cursors: [...prevCursors, cursor ?? ""] });
              page(list.data!.next_cursor);
            }}
          />
        )}
      </div>
      {selected && (
        <TaskDetail
          key={selected}
          id={selected}
          onClose={() => go(q, undefined)}
          onChanged={() => setTick((t) => t + 1)}
        />
      )}
    </div>
  );
}

function TaskFilters({ query, onApply }: { query: URLSearchParams; onApply: (q: URLSearchParams) => void }) {
  const [statuses, setStatuses] = useState<string[]>(() => (query.get("status") ?? "").split(",").filter(Boolean));
  const [type, setType] = useState(query.get("type") ?? "");
  const [since, setSince] = useState(isoToLocal(query.get("since")));
  const [until, setUntil] = useState(isoToLocal(query.get("until")));
  const key = FILTER_KEYS.map((k) => query.get(k) ?? "").join("|");
  useEffect(() => {
    setStatuses((query.get("status") ?? "").split(",").filter(Boolean));
    setType(query.get("type") ?? "");
    setSince(isoToLocal(query.get("since")));
    setUntil(isoToLocal(query.get("until")));
  }, [key]);

  const submit = (e: Event) => {
    e.preventDefault();
    const next = new URLSearchParams();
    if (statuses.length) next.set("status", statuses.join(","));
    if (type.trim()) next.set("type", type.trim());
    const s = localToIso(since);
    const u = localToIso(until);
    if (s) next.set("since", s);
    if (u) next.set("until", u);
    onApply(next);
  };
  const toggle = (s: string) => setStatuses((cur) => (cur.includes(s) ? cur.filter((x) => x !== s) : [...cur, s]));

  return (
    <form class="filters" onSubmit={submit} aria-label="Filter tasks">
      <fieldset class="statuses">
        <legend>Status</legend>
        {TASK_STATUSES.map((s) => (
          <label class="check">
            <input type="checkbox" name="status" value={s} checked={statuses.includes(s)} onChange={() => toggle(s)} /> {s}
          </label>
        ))}
      </fieldset>
      <label>
        Type
        <input type="text" name="type" value={type} placeholder="e.g. noop" onInput={(e) => setType(e.currentTarget.value)} spellcheck={false} />
      </label>
      <label>
        Created after
        <input type="datetime-local" name="since" value={since} onInput={(e) => setSince(e.currentTarget.value)} />
      </label>
      <label>
        Created before
        <input type="datetime-local" name="until" value={until} onInput={(e) => setUntil(e.currentTarget.value)} />
      </label>
      <FilterActions
        onClear={() => {
          setStatuses([]);
          setType("");
          setSince("");
          setUntil("");
          onApply(new URLSearchParams());
        }}
      />
    </form>
  );
}

const orUndefined = (v: string | null) => v ?? undefined;

export function TaskDetail({ id, onClose, onChanged }: { id: string; onClose: () => void; onChanged: () => void }) {
  const { session } = useApp();
  const [tick, setTick] = useState(0);
  const [live, setLive] = useState(true);
  const task = useLoad(
    (signal) => unwrap<Task>(session, orchestrator(session).GET("/functions/v1/tasks/{id}", { params: { path: { id: Number(id) } }, signal, cache: "no-store" })),
    `task:${id}:${tick}`,
    live ? 3_000 : 10_000,
  );
  const logs = useLoad(
    (signal) =>
      unwrap<LogPage>(session, orchestrator(session).GET("/functions/v1/logs", {
        params: { query: { task_id: /^\d+$/.test(id) ? Number(id) : undefined, limit: 200 } },
        signal,
        cache: "no-store",
      })),
    `task-logs:${id}:${tick}`,
    live ? 3_000 : 10_000,
  );
  const [busy, setBusy] = useState<"" | "retry" | "cancel">("");
  const [confirmCancel, setConfirmCancel] = useState(false);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | undefined>();
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [id]);
  const t = task.data;
  useEffect(() => setLive(!t || t.status === "queued" || t.status === "running"), [t?.status]);

  const act = async (action: "retry" | "cancel") => {
    setBusy(action);
    setOutcome(undefined);
    try {
      const path = action === "retry" ? "/functions/v1/tasks/{id}/retry" : "/functions/v1/tasks/{id}/cancel";
      const updated = await unwrap<Task>(session, orchestrator(session).POST(path, { params: { path: { id: Number(id) } } }));
      setOutcome({ ok: true, text: action === "retry" ? `Task #${updated.id} is ${updated.status} again.` : `Task #${updated.id} is ${updated.status}.` });
      setTick((x) => x + 1);
      onChanged();
    } catch (err) {
      setOutcome({ ok: false, text: `${action === "retry" ? "Retry" : "Cancel"} failed: ${errorText(err)}` });
      setTick((x) => x + 1);
    } finally {
      setBusy("");
      setConfirmCancel(false);
    }
  };

  return (
    <DetailPane
      title={<>Task #{id} {t && <Badge value={t.status} />}</>}
      label={`Task #${id}`}
      onClose={onClose}
      closeLabel="Close task details"
      headingRef={heading}
      testId="task-detail"
    >
      {task.error !== undefined && (
        <ErrorBox error={task.error} onRetry={task.reload} title={task.error instanceof ApiError && task.error.status === 404 ? "Task not found" : "Could not load the task"} />
      )}
      {!t && task.loading && <Loading what="Loading the task" />}
      {t && (
        <>
          <div class="actions">
            <button type="button" class="btn primary" disabled={!!busy || !(t.status === "dead" || t.status === "cancelled")} onClick={() => act("retry")}
              title="Queue a dead or cancelled task again">
              {busy === "retry" ? "Retrying…" : "Retry"}
            </button>
            {!confirmCancel ? (
              <button type="button" class="btn danger" disabled={!!busy || !(t.status === "queued" || t.status === "running")} onClick={() => setConfirmCancel(true)}
                title="Cancel a queued or running task">
                Cancel task
              </button>
            ) : (
              <>
                <button type="button" class="btn danger" disabled={!!busy} onClick={() => act("cancel")} autoFocus>
                  {busy === "cancel" ? "Cancelling…" : "Confirm cancel"}
                </button>
                <button type="button" class="btn" onClick={() => setConfirmCancel(false)}>Keep it</button>
              </>
            )}
          </div>
          <p class={outcome ? (outcome.ok ? "notice ok" : "notice bad") : "sr-only"} role="status" aria-live="polite" data-testid="action-outcome">
            {outcome?.text ?? ""}
          </p>
          <dl class="fields">
            <Field label="type"><code>{t.type}</code></Field>
            <Field label="status"><span data-testid="detail-status">{t.status}</span></Field>
            {t.wait_reason && <Field label="waiting for"><span data-testid="detail-wait-reason">{t.wait_reason.message}</span></Field>}
            {t.concurrency_key && <Field label="concurrency">key <code>{t.concurrency_key}</code>, at most {t.concurrency_limit} at once</Field>}
            {t.rate_key && <Field label="rate bucket"><code>{t.rate_key}</code></Field>}
            {t.group_key && <Field label="group"><code>{t.group_key}</code></Field>}
            <Field label="attempts">{t.attempts} of {t.max_attempts}</Field>
            <Field label="priority">{t.priority}</Field>
            <Field label="source">{t.source}</Field>
            <Field label="run at"><When iso={t.run_at} future /></Field>
            <Field label="created"><When iso={t.created_at} /></Field>
            <Field label="started"><When iso={t.started_at} /></Field>
            <Field label="finished"><When iso={t.finished_at} /></Field>
            <Field label="lease">
              {t.locked_by ? (
                <>
                  <code>{t.locked_by}</code> until <When iso={t.locked_until} future />
                </>
              ) : (
                <span class="muted">none</span>
              )}
            </Field>
            {t.dedupe_key && <Field label="dedupe key"><code>{t.dedupe_key}</code></Field>}
            {t.parent_id && <Field label="parent"><a href={href(`/tasks/${t.parent_id}`)}>#{t.parent_id}</a></Field>}
          </dl>
          {t.last_error && (
            <section class="sub">
              <h3>Error</h3>
              <pre class="error-pre" data-testid="detail-error" tabIndex={0}>{t.last_error}</pre>
            </section>
          )}
          <JsonSection title="Payload" value={t.payload} />
          <JsonSection title="Result" value={t.result} />
        </>
      )}
      <section class="sub">
        <h3>Logs</h3>
        <Loaded state={logs} what="Loading logs" errorTitle="Could not load this task's logs">
          {(page) => (page.logs.length ? <LogLines logs={page.logs} compact /> : <Empty>No log lines for this task.</Empty>)}
        </Loaded>
        <p class="small"><a href={href("/logs", { task_id: id })}>Open in the Logs view →</a></p>
      </section>
    </DetailPane>
  );
}
