// Workflows: definitions with their runs counted by status, a workflow's runs, and one run: its graph
// (components/run-graph.tsx), the selected step's details with Approve / Reject (a waiting approval) and
// "Re-run from this step", and its steps.
import { useEffect, useRef, useState } from "preact/hooks";
import { call } from "../api.ts";
import type { RunDetail as RunDetailRow, RunPage, Workflow, WorkflowList } from "../api-types.ts";
import { DetailPane, DetailResource, Loaded, ResourcePage, TaskLink } from "../components/resource.tsx";
import { ChildRunLink, RunGraph } from "../components/run-graph.tsx";
import { Badge, cell, Empty, errorText, Field, JsonSection, Table, When } from "../components/ui.tsx";
import { useApp } from "../context.ts";
import { kindLabel, waitingText, type RunStep } from "../graph-layout.ts";
import { useLoad } from "../hooks.ts";
import { href, navigate, type Route } from "../router.ts";

export function Workflows({ route }: { route: Route }) {
  const [, name, sub, runId] = route.parts;
  return (
    <ResourcePage<WorkflowList, Workflow> title="Workflows" path="/workflows" route={route} wide={sub === "runs" && !!runId}
      detail={sub === "runs" && runId ? (
        <DetailResource<RunDetailRow> key={`${name}/${runId}`} path={`/workflows/${encodeURIComponent(name)}/runs/${encodeURIComponent(runId)}`}
          label={`Run #${runId} of ${name}`} onClose={() => navigate(`/workflows/${name}`)}>
          {(r, reload) => <RunDetail run={r} reload={reload} />}
        </DetailResource>
      ) : (
        <WorkflowRuns key={name} name={name} />
      )}
      rows={(b) => b.workflows}
      rowKey={(w) => w.name}
      empty="No workflows defined."
      columns={[
        { key: "name", label: "name", render: (w) => <a href={href(`/workflows/${encodeURIComponent(w.name)}`)}>{w.name}</a> },
        { key: "description", label: "description", optional: true },
        { key: "steps", label: "steps", render: (w) => w.steps.map((s) => s.name).join(" → ") },
        { key: "runs", label: "runs", render: (w) => <RunCounts runs={w.runs} /> },
        {
          key: "enabled", label: "enabled", optional: true,
          render: (w) => <Badge value={!w.enabled ? "disabled" : !w.runnable ? "not runnable" : "enabled"} kind={w.enabled && w.runnable ? "enabled" : "disabled"} />,
        },
      ]}
    />
  );
}

function RunCounts({ runs }: { runs: Workflow["runs"] }) {
  const entries = Object.entries(runs);
  if (!entries.length) return <span class="muted">none</span>;
  return <span class="run-counts">{entries.map(([status, n]) => <Badge value={`${n} ${status}`} kind={status} />)}</span>;
}

const runPath = (workflow: string, id: number) => `/workflows/${encodeURIComponent(workflow)}/runs/${id}`;

function RunDetail({ run, reload }: { run: RunDetailRow; reload: () => void }) {
  const [selected, setSelected] = useState<string | null>(null);
  const step = run.steps.find((s) => s.name === selected);
  return (
    <>
      <dl class="fields">
        <Field label="status"><Badge value={run.status} /></Field>
        <Field label="started">{cell(run.created_at)}</Field>
        <Field label="finished">{cell(run.finished_at)}</Field>
        <Field label="source">{cell(run.source)}</Field>
        {run.failed_step != null && <Field label="failed step">{cell(run.failed_step)}</Field>}
        {run.rerun_of != null && (
          <Field label="re-run of">
            <span data-testid="rerun-of"><a href={href(runPath(run.workflow_name, run.rerun_of))}>#{run.rerun_of}</a>
              {run.rerun_from != null && <> from <code>{run.rerun_from}</code></>}</span>
          </Field>
        )}
        {run.parent_run_id != null && <Field label="parent run">#{run.parent_run_id} (depth {run.depth})</Field>}
      </dl>
      {run.error && <pre class="error-pre">{run.error}</pre>}
      <section class="sub">
        <h3>Graph</h3>
        {run.steps.length === 0 ? <Empty>No steps started yet.</Empty> : (
          <>
            <p class="muted small graph-hint">Steps in layers, left to right, each after the steps it waits for. Select a step for its details.</p>
            <RunGraph run={run} selected={selected} onSelect={setSelected} />
          </>
        )}
      </section>
      {step && <StepDetail key={step.name} run={run} step={step} onClose={() => setSelected(null)} onChanged={reload} />}
      <section class="sub">
        <h3>Steps</h3>
        {run.steps.length === 0 ? <Empty>No steps started yet.</Empty> : (
          <Table
            rows={run.steps}
            rowKey={(s) => s.index}
            caption={`Steps of run #${run.id}`}
            columns={[
              { key: "index", label: "#", render: (s) => s.index + 1 },
              { key: "name", label: "step", render: (s) => <code>{s.name}</code> },
              { key: "after", label: "after", optional: true, render: (s) => s.after.length ? s.after.join(", ") : <span class="muted">—</span> },
              { key: "status", label: "status", render: (s) => <><Badge value={s.status} />{s.reused && <> <Badge value="reused" /></>}</> },
              { key: "task_id", label: "task", render: (s) => <TaskLink id={s.task_id} /> },
              { key: "error", label: "error", render: (s) => <span class="error-text">{cell(s.error ?? s.task?.last_error)}</span> },
            ]}
          />
        )}
      </section>
      <JsonSection title="Input" value={run.input} />
      {run.output != null && <JsonSection title="Output" value={run.output} />}
    </>
  );
}

/** The selected node's details: Approve / Reject while an approval waits, "Re-run from this step" once the run has ended. */
function StepDetail({ run, step, onClose, onChanged }: { run: RunDetailRow; step: RunStep; onClose: () => void; onChanged: () => void }) {
  const { session } = useApp();
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | undefined>();
  const ref = useRef<HTMLElement>(null);
  useEffect(() => ref.current?.scrollIntoView?.({ block: "nearest" }), []);
  const ended = run.status !== "running";
  const waiting = step.status === "waiting" ? waitingText(step) : undefined;

  async function rerun() {
    setBusy(true);
    setFailure(undefined);
    try {
      const next = await call<RunDetailRow>(session, `${runPath(run.workflow_name, run.id)}/rerun`, { method: "POST", body: { from: step.name } });
      navigate(runPath(next.workflow_name, next.id));
    } catch (err) {
      setFailure(`Re-run failed: ${errorText(err)}`);
    } finally {
      setBusy(false);
    }
  }

  // An approval that waits: decided here as the API's approve / reject would be, "by" the dashboard.
  const deciding = step.kind === "approval" && step.status === "waiting" && !ended;
  async function decide(verb: "approve" | "reject") {
    setBusy(true);
    setFailure(undefined);
    try {
      await call<RunDetailRow>(session, `${runPath(run.workflow_name, run.id)}/steps/${encodeURIComponent(step.name)}/${verb}`, { method: "POST", body: { by: "dashboard" } });
      onChanged();
    } catch (err) {
      setFailure(`${verb === "approve" ? "Approving" : "Rejecting"} failed: ${errorText(err)}`);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="sub step-detail" id="step-detail" ref={ref} aria-label={`Step ${step.name}`} data-testid="step-detail">
      <div class="card-head">
        <h3>Step <code>{step.name}</code></h3>
        <button type="button" class="btn small" onClick={onClose} aria-label={`Close step ${step.name}`}>✕</button>
      </div>
      <dl class="fields">
        <Field label="status"><span data-testid="step-status">{step.status}</span>{step.reused && <> · reused from the run it re-runs</>}</Field>
        <Field label="kind">{kindLabel(step)}</Field>
        <Field label="after">{step.after.length ? step.after.join(", ") : <span class="muted">starts with the run</span>}</Field>
        {step.map && <Field label="map">{step.map.finished}/{step.map.total} finished ({step.map.failed} failed, {step.map.started} started)</Field>}
        {waiting && <Field label="waits for">{waiting}</Field>}
        {step.timeout_at && <Field label="times out"><When iso={step.timeout_at} future /></Field>}
        {step.child_run_id != null && <Field label="child run"><ChildRunLink step={step} /></Field>}
        <Field label="started">{cell(step.started_at)}</Field>
        <Field label="finished">{cell(step.finished_at)}</Field>
        <Field label="task"><TaskLink id={step.task_id} />{step.task && <> · {step.task.status}, attempt {step.task.attempts} of {step.task.max_attempts}</>}</Field>
      </dl>
      {(step.error ?? step.task?.last_error) && <pre class="error-pre" data-testid="step-error">{step.error ?? step.task?.last_error}</pre>}
      <div class="actions">
        {deciding && (
          <>
            <button type="button" class="btn primary" disabled={busy} onClick={() => decide("approve")}>Approve</button>
            <button type="button" class="btn" disabled={busy} onClick={() => decide("reject")}>Reject</button>
          </>
        )}
        {ended ? (
          <button type="button" class="btn primary" disabled={busy} onClick={rerun}>
            {busy ? "Re-running…" : "Re-run from this step"}
          </button>
        ) : <p class="muted small">The run is still running; it can be re-run from a step once it has ended.</p>}
      </div>
      <p class={failure ? "notice bad" : "sr-only"} role="status" aria-live="polite" data-testid="rerun-outcome">{failure}</p>
      <JsonSection title="Step input" value={step.input} />
      <JsonSection title="Step result" value={step.result} />
      {step.task && <JsonSection title="Step task" value={step.task} />}
    </section>
  );
}

function WorkflowRuns({ name }: { name: string }) {
  const { session } = useApp();
  const runs = useLoad(
    (signal) => call<RunPage>(session, `/workflows/${encodeURIComponent(name)}/runs`, { query: { limit: 50 }, signal }),
    `runs:${name}`,
    5_000,
  );
  return (
    <DetailPane title={`Runs of ${name}`} label={`Runs of ${name}`} onClose={() => navigate("/workflows")} closeLabel="Close runs">
      <Loaded state={runs} what="Loading runs" errorTitle="Could not list runs">
        {({ runs: rows }) => rows.length === 0 ? <Empty>No runs yet. POST /functions/v1/workflows/{name}/runs starts one.</Empty> : (
          <Table
            rows={rows}
            rowKey={(r) => r.id}
            caption={`Runs of ${name}`}
            columns={[
              { key: "id", label: "run", render: (r) => <a href={href(`/workflows/${encodeURIComponent(name)}/runs/${r.id}`)}>#{r.id}</a> },
              { key: "status", label: "status", render: (r) => <Badge value={r.status} /> },
              { key: "created_at", label: "started" },
              { key: "finished_at", label: "finished", optional: true },
              { key: "error", label: "error", optional: true, render: (r) => <span class="error-text">{cell(r.error)}</span> },
            ]}
          />
        )}
      </Loaded>
    </DetailPane>
  );
}
