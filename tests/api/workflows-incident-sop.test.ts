// The shipped incident -> SOP workflow on the local stack, over real HTTP: the
// Deno functions serve the API and the Deno worker runs every step (gather and the
// two apps' evidence in parallel, sop.generate with the template generator, the
// approval, approved here over REST, then notion.push where configured and notify).
import { describe, expect, it } from "vitest";
import { http, sql, waitFor } from "../helpers/stack.ts";

interface RunBody {
  id: number;
  status: string;
  error: string | null;
  failed_step: string | null;
  created_at: string;
  finished_at: string | null;
  steps: { name: string; type: string; kind: string; after: string[]; status: string; error: string | null; result: Record<string, unknown> | null; task: { status: string; attempts: number } | null }[];
}

async function getRun(name: string, id: number): Promise<RunBody> {
  const res = await http(`/workflows/${name}/runs/${id}`);
  expect(res.status).toBe(200);
  return await res.json();
}

const finished = (name: string, id: number, timeoutMs = 30_000) =>
  waitFor(async () => {
    const run = await getRun(name, id);
    return run.status !== "running" && run;
  }, `run ${id} of ${name} to finish`, timeoutMs, 100);

async function openTicket(title: string, status = "open"): Promise<number> {
  const [t] = await sql()<{ id: number }[]>`
    insert into orchestrator.tickets (title, status, priority, source)
    values (${title}, ${status}::orchestrator.ticket_status, 'high', 'test') returning id`;
  return t.id;
}

/** Waits for the run's approval step to wait, then approves it over REST. */
async function approve(id: number, by = "test-approver"): Promise<void> {
  await waitFor(async () => (await getRun("incident-sop", id)).steps.find((s) => s.name === "approve")!.status === "waiting", `run ${id} to ask for approval`, 30_000, 100);
  const res = await http(`/workflows/incident-sop/runs/${id}/steps/approve/approve`, { method: "POST", body: JSON.stringify({ by }) });
  expect(res.status, await res.clone().text()).toBe(200);
}

describe("incident -> SOP on the local stack", () => {
  it("runs end to end from POST /workflows/incident-sop/runs: ticket -> gather -> SOP -> notify", async () => {
    const ticket = await openTicket(`Checkout fails with card_declined ${Math.random().toString(36).slice(2, 8)}`, "resolved");
    const t0 = performance.now();
    const res = await http("/workflows/incident-sop/runs", { method: "POST", body: JSON.stringify({ input: { ticket_id: ticket, audience: "support team" } }) });
    expect(res.status).toBe(201);
    const started = await res.json();
    await approve(started.id);
    const run = await finished("incident-sop", started.id);
    const ms = performance.now() - t0;

    expect(run.error).toBeNull();
    expect(run.status).toBe("succeeded");
    const byName = Object.fromEntries(run.steps.map((s) => [s.name, s]));
    expect(byName.gather.status).toBe("succeeded");
    expect(byName.gather.result!.ticket).toMatchObject({ id: ticket, status: "resolved" });
    expect(byName.knisoci).toMatchObject({ status: "succeeded", after: [], result: { app: "knisoci" } });
    expect(byName.candyland).toMatchObject({ status: "succeeded", after: [], result: { app: "candyland" } });
    expect(byName.sop.after).toEqual(["gather", "knisoci", "candyland"]);
    expect(byName.approve).toMatchObject({ kind: "approval", status: "succeeded", result: { decision: "approved", by: "test-approver" } });
    expect(byName.sop.status).toBe("succeeded");
    expect(byName.sop.result!.sop).toMatchObject({ slug: `incident-${ticket}`, version: 1 });
    expect(byName.sop.result!.generator).toBe("template");
    // No Notion configured on the test stack: the notion step is skipped, not failed.
    expect(byName.notion.status).toBe("skipped");
    expect(byName.notify.status).toBe("succeeded");
    expect(byName.notify.result).toMatchObject({ event: "workflow.incident-sop.completed", subject: expect.stringContaining(`#${ticket}`) });

    const [sop] = await sql()<{ slug: string; ticket_ids: number[]; body_md: string; source_task_id: number }[]>`
      select slug, ticket_ids, body_md, source_task_id from orchestrator.sops where slug = ${`incident-${ticket}`}`;
    expect(sop.ticket_ids).toEqual([ticket]);
    expect(sop.body_md.length).toBeGreaterThan(200);
    // The worker writes its log rows after the completion, off the task's path: wait for the row, not the run.
    const notifyLog = await waitFor(async () => (await sql()`
      select message from orchestrator.logs where component = 'task-worker' and message like ${`notify: SOP ready for ticket #${ticket}%`}`)[0],
    "notify's log row", 10_000, 50);
    expect(notifyLog).toBeDefined();
    console.log(`[incident-sop] ticket ${ticket}: run ${run.id} succeeded in ${ms.toFixed(0)} ms ` +
      `(${run.steps.map((s) => `${s.name}=${s.status}`).join(", ")})`);
  });

  it("starts by itself when a ticket is resolved (event rule incident-sop-on-ticket-resolved, shipped disabled)", async () => {
    const ticket = await openTicket(`Payment webhook timeouts ${Math.random().toString(36).slice(2, 8)}`);
    const [rule] = await sql()`select enabled, task_type from orchestrator.event_rules where name = 'incident-sop-on-ticket-resolved'`;
    expect(rule).toEqual({ enabled: false, task_type: "workflow.start" });
    // Rules route in the inserting transaction: enabled only inside this one, no other test's ticket starts a run.
    await sql().begin(async (tx) => {
      await tx`update orchestrator.event_rules set enabled = true where name = 'incident-sop-on-ticket-resolved'`;
      await tx`update orchestrator.tickets set status = 'resolved' where id = ${ticket}`;
      await tx`update orchestrator.event_rules set enabled = false where name = 'incident-sop-on-ticket-resolved'`;
    });
    const runId = await waitFor(async () => {
      const [r] = await sql()<{ id: number }[]>`
        select id from orchestrator.workflow_runs where workflow_name = 'incident-sop' and input = ${sql().json({ ticket_id: ticket })}`;
      return r?.id;
    }, "the ticket-resolved run to start", 20_000, 100);
    await approve(runId);
    const run = await finished("incident-sop", runId);
    expect(run.status).toBe("succeeded");
    expect(run.steps.find((s) => s.name === "sop")!.result!.sop).toMatchObject({ slug: `incident-${ticket}` });
  });

  it("a step that fails fails the run with the step's error (unknown ticket: gather cannot succeed)", async () => {
    const res = await http("/workflows/incident-sop/runs", { method: "POST", body: JSON.stringify({ input: { ticket_id: 2_000_000_000 } }) });
    const run = await finished("incident-sop", (await res.json()).id);
    expect(run.status).toBe("failed");
    expect(run.failed_step).toBe("gather");
    expect(run.error).toBe("step gather (incident.gather) failed after 1 attempt: PermanentTaskError: ticket 2000000000 does not exist");
    const statuses = Object.fromEntries(run.steps.map((s) => [s.name, s.status]));
    expect(statuses.gather).toBe("failed");
    // The evidence steps ran beside it: done, or cancelled with the run; the rest never started.
    expect(["succeeded", "cancelled", "failed"]).toContain(statuses.knisoci);
    expect(["succeeded", "cancelled", "failed"]).toContain(statuses.candyland);
    expect([statuses.sop, statuses.approve, statuses.notion, statuses.notify]).toEqual(["skipped", "skipped", "skipped", "skipped"]);
  });

  it("cancel on the live stack stops the remaining steps while a step is running", async () => {
    const name = `wf-cancel-${Math.random().toString(36).slice(2, 8)}`;
    const created = await http("/workflows", {
      method: "POST",
      body: JSON.stringify({ name, steps: [{ name: "slow", type: "noop", input: { delay_ms: 3000 } }, { name: "after", type: "noop", input: { echo: "must not run" } }] }),
    });
    expect(created.status).toBe(201);
    const started = await (await http(`/workflows/${name}/runs`, { method: "POST", body: "{}" })).json();
    await waitFor(async () => (await getRun(name, started.id)).steps[0].task?.status === "running", "step 1 to be running", 15_000, 50);
    const cancel = await http(`/workflows/${name}/runs/${started.id}/cancel`, { method: "POST" });
    expect(cancel.status).toBe(200);
    // Past the slow step's 3 s: its worker's late complete must change nothing.
    await new Promise((r) => setTimeout(r, 3500));
    const run = await getRun(name, started.id);
    expect(run.status).toBe("cancelled");
    expect(run.steps.map((s) => [s.status, s.task?.status ?? null])).toEqual([["cancelled", "cancelled"], ["cancelled", null]]);
    const [{ n }] = await sql()`select count(*)::int as n from orchestrator.tasks where source = ${`workflow:${name}`}`;
    expect(n).toBe(1);
  });
});
