// Workflows: definitions with their runs counted by status, a workflow's runs, and one run's steps.
import { call } from "../api.ts";
import type { RunDetail as RunDetailRow, RunPage, Workflow, WorkflowList } from "../api-types.ts";
import { DetailPane, DetailResource, Loaded, ResourcePage, TaskLink } from "../components/resource.tsx";
import { Badge, cell, Empty, Field, JsonSection, Table } from "../components/ui.tsx";
import { useApp } from "../context.ts";
import { useLoad } from "../hooks.ts";
import { href, navigate, type Route } from "../router.ts";

export function Workflows({ route }: { route: Route }) {
  const [, name, sub, runId] = route.parts;
  return (
    <ResourcePage<WorkflowList, Workflow> title="Workflows" path="/workflows" route={route}
      detail={sub === "runs" && runId ? (
        <DetailResource<RunDetailRow> key={`${name}/${runId}`} path={`/workflows/${encodeURIComponent(name)}/runs/${encodeURIComponent(runId)}`}
          label={`Run #${runId} of ${name}`} onClose={() => navigate(`/workflows/${name}`)}>
          {(r) => <RunDetail run={r} />}
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

function RunDetail({ run }: { run: RunDetailRow }) {
  return (
    <>
      <dl class="fields">
        <Field label="status"><Badge value={run.status} /></Field>
        <Field label="started">{cell(run.created_at)}</Field>
        <Field label="finished">{cell(run.finished_at)}</Field>
        <Field label="source">{cell(run.source)}</Field>
        {run.failed_step != null && <Field label="failed step">{cell(run.failed_step)}</Field>}
      </dl>
      {run.error && <pre class="error-pre">{run.error}</pre>}
      <section class="sub">
        <h3>Steps</h3>
        {run.steps.length === 0 ? <Empty>No steps started yet.</Empty> : (
          <Table
            rows={run.steps}
            rowKey={(s) => s.index}
            columns={[
              { key: "index", label: "#", render: (s) => s.index + 1 },
              { key: "name", label: "step", render: (s) => <code>{s.name}</code> },
              { key: "status", label: "status", render: (s) => <Badge value={s.status} /> },
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
