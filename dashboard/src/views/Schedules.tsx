// Schedules: cron schedules (with the zone they are read in) with their last and next fires, the system cron
// jobs, and a schedule's runs.
import { call } from "../api.ts";
import type { Schedule, ScheduleList, ScheduleRuns } from "../api-types.ts";
import { DetailResource, Loaded, ResourcePage, TaskLink } from "../components/resource.tsx";
import { Badge, Empty, Field, Fields, JsonSection, Table, When } from "../components/ui.tsx";
import { useApp } from "../context.ts";
import { useLoad } from "../hooks.ts";
import { href, navigate, type Route } from "../router.ts";

const enabledBadge = (s: { enabled: boolean }) => <Badge value={s.enabled ? "enabled" : "disabled"} />;

/** The cron expression and the zone its fields are read in. */
const CronInZone = ({ s }: { s: Schedule }) => <span><code>{s.cron}</code> <span class="muted">{s.timezone}</span></span>;

/** A fire time: how far off, and the wall-clock time in the schedule's zone (the UTC instant in the tooltip). */
function NextFire({ fire }: { fire: Schedule["next_fires"][number] | undefined }) {
  if (!fire) return <span class="muted">—</span>;
  return <span><When iso={fire.utc} future /> <span class="muted">{fire.local.replace("T", " ")}</span></span>;
}

export function Schedules({ route }: { route: Route }) {
  const selected = route.parts[1];
  return (
    <ResourcePage<ScheduleList, Schedule> title="Schedules" path="/schedules" route={route}
      detail={<ScheduleDetail key={selected} name={selected} />}
      rows={(b) => b.schedules}
      rowKey={(s) => s.name}
      empty="No schedules. POST /functions/v1/schedules creates one."
      columns={[
        { key: "name", label: "name", render: (s) => <a href={href(`/schedules/${encodeURIComponent(s.name)}`)}>{s.name}</a> },
        { key: "cron", label: "cron", render: (s) => <CronInZone s={s} /> },
        { key: "task_type", label: "task type", optional: true, render: (s) => <code>{s.task_type}</code> },
        { key: "enabled", label: "enabled", render: enabledBadge },
        { key: "last_run", label: "last run", render: (s) => <LastRun run={s.last_run} /> },
        { key: "next_fires", label: "next", optional: true, render: (s) => <NextFire fire={s.next_fires[0]} /> },
      ]}
      after={(b) => <SystemJobs jobs={b.system_jobs} />}
    />
  );
}

function LastRun({ run }: { run: Schedule["last_run"] }) {
  if (!run) return <span class="muted">—</span>;
  return (
    <span>
      <When iso={run.tick} /> {run.task_status ? <Badge value={run.task_status} /> : null}{" "}
      {run.task_id != null && <TaskLink id={run.task_id} />}
    </span>
  );
}

function SystemJobs({ jobs }: { jobs: ScheduleList["system_jobs"] }) {
  if (!jobs.length) return null;
  return (
    <section class="card">
      <h2>System cron jobs</h2>
      <Table
        rows={jobs}
        rowKey={(j) => j.job}
        columns={[
          { key: "job", label: "job", render: (j) => <code>{j.job}</code> },
          { key: "schedule", label: "schedule", render: (j) => <code>{j.schedule}</code> },
          { key: "last_run", label: "last run" },
          { key: "last_status", label: "status", render: (j) => <Badge value={j.last_status ?? "never run"} kind={j.last_status ?? "never"} /> },
        ]}
      />
    </section>
  );
}

function ScheduleDetail({ name }: { name: string }) {
  const { session } = useApp();
  const path = `/schedules/${encodeURIComponent(name)}`;
  const runs = useLoad((signal) => call<ScheduleRuns>(session, `${path}/runs`, { signal }), `schedule-runs:${name}`, 10_000);
  return (
    <DetailResource<Schedule> path={path} label={`Schedule ${name}`} onClose={() => navigate("/schedules")}>
      {(s) => (
        <>
          <dl class="fields">
            <Field label="cron"><CronInZone s={s} /></Field>
            <Field label="task type"><code>{s.task_type}</code></Field>
            <Field label="enabled">{enabledBadge(s)}</Field>
            {s.description && <Field label="description">{s.description}</Field>}
            <Field label="last run"><LastRun run={s.last_run} /></Field>
            {s.next_fires.length > 0 && (
              <Field label="next fires">{s.next_fires.map((f) => <div><NextFire fire={f} /></div>)}</Field>
            )}
          </dl>
          <JsonSection title="Payload" value={s.payload} />
          <section class="sub">
            <h3>Recent runs</h3>
            <Loaded state={runs} what="Loading runs" errorTitle="Could not list runs">
              {(r) => r.runs.length === 0 ? <Empty>No runs yet.</Empty> : (
                <Table
                  rows={r.runs}
                  rowKey={(run) => run.id}
                  columns={[
                    { key: "tick", label: "tick" },
                    { key: "trigger", label: "trigger", optional: true },
                    { key: "task_id", label: "task", render: (run) => <TaskLink id={run.task_id} /> },
                    { key: "status", label: "status", render: (run) => <Badge value={run.task?.status} /> },
                    { key: "duplicates", label: "dupes", optional: true },
                  ]}
                />
              )}
            </Loaded>
          </section>
          <details class="sub">
            <summary>All fields</summary>
            <Fields value={s} skip={["payload", "next_runs", "next_fires", "last_run"]} />
          </details>
        </>
      )}
    </DetailResource>
  );
}
