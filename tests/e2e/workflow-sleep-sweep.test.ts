// A 90-second sleep in a workflow holds nothing: the function server is down for the whole of it, so no
// worker is alive, and the run goes on once it is back, woken by the sweep (the local supervisor's, as
// pg_cron's on hosted Supabase). It stops the function server, so it runs on a private stack of its own.
import { describe, expect, it } from "vitest";
import { usePrivateStack } from "../helpers/private-stack.ts";
import { waitFor } from "../helpers/stack.ts";

const priv = usePrivateStack();

describe("a 90-second workflow sleep with no worker alive", () => {
  it("ends by its scheduled wake-up after the function server comes back; the next step then runs", async () => {
    const name = `wfs-${Math.random().toString(36).slice(2, 10)}`;
    await priv.sql`insert into orchestrator.workflows (name, steps) values (${name}, ${priv.sql.json([
      { name: "nap", kind: "sleep", seconds: 90 },
      { name: "then", type: "noop", input: { echo: "{{steps.nap.result.slept_until}}" } },
    ] as never)})`;
    const [{ id }] = await priv.sql<{ id: number }[]>`select (r.run).id from orchestrator.start_workflow_run(${name}, '{}', '{}') r`;
    const startedAt = Date.now();
    await priv.stack.functions.stop("SIGTERM");
    const [{ status, waiting }] = await priv.sql<{ status: string; waiting: number }[]>`
      select (select status::text from orchestrator.workflow_steps where run_id = ${id} and name = 'nap') as status,
             (select count(*)::int from orchestrator.tasks where status = 'running') as waiting`;
    expect({ status, waiting }).toEqual({ status: "waiting", waiting: 0 }); // a row, not a held task
    await new Promise((r) => setTimeout(r, 91_000));
    priv.stack.functions.start();
    await priv.stack.waitHealthy();
    const restartedAt = Date.now();
    await waitFor(async () => {
      const [r] = await priv.sql<{ status: string }[]>`select status::text from orchestrator.workflow_runs where id = ${id}`;
      return r.status !== "running";
    }, "the run to finish after the restart", 60_000, 200);
    const [run] = await priv.sql<{ status: string; finished_at: Date; output: { nap: { slept_until: string }; then: { echo: string } } }[]>`
      select status::text, finished_at, output from orchestrator.workflow_runs where id = ${id}`;
    console.log(`[workflow-sleep] slept 90 s with no worker; finished ${Math.round((run.finished_at.getTime() - restartedAt) / 100) / 10} s after the restart`);
    expect(run.status).toBe("succeeded");
    expect(run.finished_at.getTime() - startedAt).toBeGreaterThanOrEqual(90_000);
    expect(run.output.then.echo).toBe(run.output.nap.slept_until);
  }, 180_000);
});
