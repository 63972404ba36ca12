// Workflows as graphs in SQL (20261202001300_workflow_graphs.sql): parallel steps joined, conditions,
// maps, sleeps and waits for events. Task steps use unique task types, which the stack's Deno worker
// never claims: the test plays their worker with claim/complete/fail. The wake-ups of waits
// (workflow.wake) are real tasks, which the stack's worker runs, as it would in production.
import { describe, expect, it } from "vitest";
import postgres from "postgres";
import { sql, stack, uniqueType, waitFor } from "../helpers/stack.ts";

type Step = Record<string, unknown> & { name: string };

async function defineWorkflow(steps: Step[]): Promise<string> {
  const name = `wfg-${Math.random().toString(36).slice(2, 10)}`;
  await sql()`insert into orchestrator.workflows (name, steps) values (${name}, ${sql().json(steps as never)})`;
  return name;
}

async function start(name: string, input: object = {}) {
  const [row] = await sql()<{ id: number; status: string }[]>`
    select (r.run).id, (r.run).status::text from orchestrator.start_workflow_run(${name}, ${sql().json(input as never)}, '{}') r`;
  return row;
}

async function run(id: number) {
  const [r] = await sql()<{ status: string; error: string | null; failed_step: string | null; output: Record<string, unknown> | null }[]>`
    select status::text, error, failed_step, output from orchestrator.workflow_runs where id = ${id}`;
  const steps = await sql()<{ name: string; status: string; input: unknown; result: unknown; error: string | null; map_started: number; map_finished: number }[]>`
    select name, status::text, input, result, error, map_started, map_finished from orchestrator.workflow_steps where run_id = ${id} order by step_index`;
  return { ...r, steps, step: (name: string) => steps.find((s) => s.name === name)! };
}

type Claimed = { id: number; lease_token: string; payload: Record<string, unknown>; attempts: number };
async function claimAll(type: string, max = 100): Promise<Claimed[]> {
  return await sql()<Claimed[]>`select id, lease_token, payload, attempts from orchestrator.claim('test-worker', ${max}, 60, ${[type]}::text[])`;
}

const complete = (t: { id: number; lease_token: string }, result: unknown) =>
  sql()`select orchestrator.complete(${t.id}, ${t.lease_token}::uuid, ${sql().json(result as never)}) as ok`.then(([r]) => r.ok as boolean);

const failForGood = (t: { id: number; lease_token: string }, error: string) =>
  sql()`select orchestrator.fail(${t.id}, ${t.lease_token}::uuid, ${error}, false) as s`.then(([r]) => r.s as string);

const queuedOf = async (type: string) =>
  (await sql()<{ n: number }[]>`select count(*)::int as n from orchestrator.tasks where type = ${type} and status = 'queued'`)[0].n;

describe("workflow graphs in SQL", () => {
  it("three parallel steps start with the run, and the join starts once all three succeeded, with their results", async () => {
    const [a, j] = [uniqueType("par"), uniqueType("join")];
    const wf = await defineWorkflow([
      { name: "knisoci", type: a, after: [], input: { app: "knisoci" } },
      { name: "candyland", type: a, after: [], input: { app: "candyland" } },
      { name: "notion", type: a, after: [], input: { app: "notion" } },
      { name: "join", type: j, after: ["knisoci", "candyland", "notion"],
        input: { k: "{{steps.knisoci.result}}", c: "{{steps.candyland.result}}", n: "{{steps.notion.result}}" } },
    ]);
    const r = await start(wf);
    const tasks = await claimAll(a);
    expect(tasks.map((t) => t.payload.app).sort()).toEqual(["candyland", "knisoci", "notion"]);
    for (const t of tasks.slice(0, 2)) await complete(t, { from: t.payload.app });
    expect(await queuedOf(j)).toBe(0); // two of three: the join waits
    await complete(tasks[2], { from: tasks[2].payload.app });
    const [join] = await claimAll(j);
    expect(join.payload).toEqual({ k: { from: "knisoci" }, c: { from: "candyland" }, n: { from: "notion" } });
    await complete(join, { ok: true });
    const done = await run(r.id);
    expect(done.status).toBe("succeeded");
    expect(done.output).toMatchObject({ join: { ok: true }, knisoci: { from: "knisoci" } });
  });

  it("a false condition skips its step and the steps that depend only on it; a step with another dependency still runs", async () => {
    const [a] = [uniqueType("cond")];
    const wf = await defineWorkflow([
      { name: "check", type: a, input: { q: 1 } },
      { name: "fast", type: a, after: ["check"], when: { equals: ["{{steps.check.result.mode}}", "fast"] }, input: { q: "fast" } },
      { name: "after-fast", type: a, after: ["fast"], input: { q: "after-fast" } },
      { name: "slow", type: a, after: ["check"], when: { not: { equals: ["{{steps.check.result.mode}}", "fast"] } }, input: { q: "slow" } },
      { name: "both", type: a, after: ["fast", "slow"], when: { any: [{ exists: "{{steps.slow.result}}" }, { in: ["{{input.force}}", [true]] }] }, input: { q: "both" } },
    ]);
    const r = await start(wf);
    await complete((await claimAll(a))[0], { mode: "slow" });
    const [slow] = await claimAll(a);
    expect(slow.payload).toEqual({ q: "slow" });
    await complete(slow, { done: 1 });
    const [both] = await claimAll(a);
    expect(both.payload).toEqual({ q: "both" });
    await complete(both, {});
    const done = await run(r.id);
    expect(done.status).toBe("succeeded");
    expect(done.steps.map((s) => [s.name, s.status])).toEqual([
      ["check", "succeeded"], ["fast", "skipped"], ["after-fast", "skipped"], ["slow", "succeeded"], ["both", "succeeded"],
    ]);
    expect(done.step("fast").error).toBe("its condition (when) is false");
    expect(done.step("after-fast").error).toBe("every step it depends on was skipped by its condition");
  });

  it("a map runs once per element, at most `parallelism` at a time, and its result keeps the order", async () => {
    const [m, n] = [uniqueType("map"), uniqueType("next")];
    const items = ["a", "b", "c", "d", "e", "f", "g"];
    const wf = await defineWorkflow([
      { name: "each", type: m, map: { over: "{{input.items}}", parallelism: 3 }, input: { letter: "{{item}}", at: "{{index}}" } },
      { name: "next", type: n, input: { all: "{{steps.each.result}}" } },
    ]);
    const r = await start(wf, { items });
    const seen: Claimed[] = [];
    let maxAtOnce = 0;
    for (;;) {
      const batch = await claimAll(m);
      if (batch.length === 0) break;
      const [{ running }] = await sql()<{ running: number }[]>`select count(*)::int as running from orchestrator.tasks where type = ${m} and status in ('queued', 'running')`;
      maxAtOnce = Math.max(maxAtOnce, running);
      // Finish them last first: the result still follows the elements' order.
      for (const t of [...batch].reverse()) await complete(t, `${t.payload.letter}${t.payload.at}`);
      seen.push(...batch);
    }
    expect(seen).toHaveLength(items.length);
    expect(maxAtOnce).toBe(3);
    const [next] = await claimAll(n);
    expect(next.payload).toEqual({ all: items.map((l, i) => `${l}${i}`) });
    const mid = await run(r.id);
    expect(mid.step("each")).toMatchObject({ status: "succeeded", map_started: 7, map_finished: 7 });
  });

  it("a dead element fails the map and the run, unless continue_on_error leaves its slot null", async () => {
    const [m] = [uniqueType("mapfail")];
    const strict = await defineWorkflow([{ name: "each", type: m, map: { over: "{{input.items}}", parallelism: 5 }, input: { i: "{{index}}" } }]);
    const lenient = await defineWorkflow([{ name: "each", type: m, map: { over: "{{input.items}}", parallelism: 5 }, continue_on_error: true, input: { i: "{{index}}" } }]);
    const r1 = await start(strict, { items: [1, 2, 3] });
    const batch1 = await claimAll(m);
    await complete(batch1[0], "ok");
    await failForGood(batch1[1], "bad element");
    const failed = await run(r1.id);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/step each .*element 1 failed after 1 attempt: bad element/);
    // The third element's task was cancelled with the run.
    const [{ status }] = await sql()<{ status: string }[]>`select status::text from orchestrator.tasks where id = ${batch1[2].id}`;
    expect(status).toBe("cancelled");

    const r2 = await start(lenient, { items: [1, 2, 3] });
    const batch2 = await claimAll(m);
    await complete(batch2[0], "ok0");
    await failForGood(batch2[1], "bad element");
    await complete(batch2[2], "ok2");
    const done = await run(r2.id);
    expect(done.status).toBe("succeeded");
    expect(done.output).toEqual({ each: ["ok0", null, "ok2"] });
  });

  it("a map over something that is not an array fails the run with the path; an empty one succeeds at once", async () => {
    const [m] = [uniqueType("mapbad")];
    const wf = await defineWorkflow([{ name: "each", type: m, map: { over: "{{input.items}}" }, input: { x: "{{item}}" } }]);
    const bad = await run((await start(wf, { items: { not: "an array" } })).id);
    expect(bad.status).toBe("failed");
    expect(bad.error).toMatch(/could not start: map over \{\{input\.items\}\}: not an array \(object\)/);
    const empty = await run((await start(wf, { items: [] })).id);
    expect(empty).toMatchObject({ status: "succeeded", output: { each: [] } });
  });

  it("a failed branch fails the run and cancels the tasks of the branches still running", async () => {
    const [a] = [uniqueType("branch")];
    const wf = await defineWorkflow([
      { name: "left", type: a, after: [], input: { side: "left" } },
      { name: "right", type: a, after: [], input: { side: "right" } },
      { name: "join", type: a, after: ["left", "right"], input: {} },
    ]);
    const r = await start(wf);
    const tasks = await claimAll(a);
    const left = tasks.find((t) => t.payload.side === "left")!;
    const right = tasks.find((t) => t.payload.side === "right")!;
    await failForGood(left, "left broke");
    const after = await run(r.id);
    expect(after).toMatchObject({ status: "failed", failed_step: "left" });
    expect(after.steps.map((s) => [s.name, s.status])).toEqual([["left", "failed"], ["right", "cancelled"], ["join", "skipped"]]);
    expect(await complete(right, "late")).toBe(false); // its lease went with the cancel
  });

  it("a sleep holds no task and no worker; its wake-up, a scheduled task the worker runs, moves the run on", async () => {
    const [a] = [uniqueType("sleepy")];
    const wf = await defineWorkflow([
      { name: "nap", kind: "sleep", seconds: 1 },
      { name: "then", type: a, input: { slept: "{{steps.nap.result.slept_until}}" } },
    ]);
    const r = await start(wf);
    const waiting = await run(r.id);
    expect(waiting.step("nap").status).toBe("waiting");
    const [wake] = await sql()<{ run_at: Date; status: string }[]>`
      select run_at, status::text from orchestrator.tasks where type = 'workflow.wake' and payload @> ${sql().json({ run_id: r.id, reason: "sleep" })}`;
    expect(wake.status).toBe("queued");
    await waitFor(async () => (await queuedOf(a)) === 1, "the sleep to end and the next step to be enqueued", 20_000);
    const [t] = await claimAll(a);
    expect(typeof t.payload.slept).toBe("string");
    expect(new Date(t.payload.slept as string).getTime()).toBeGreaterThanOrEqual(wake.run_at.getTime() - 1);
  });

  it("wait_for_event takes an event that came after the run started but before the step waited, and one that comes while it waits", async () => {
    const [a] = [uniqueType("evwait")];
    const key = uniqueType("order");
    const wf = await defineWorkflow([
      { name: "charge", type: a, input: { order: "{{input.order}}" } },
      { name: "paid", kind: "wait_for_event", timeout_seconds: 600, event: { source: "candyland", type: "payment.succeeded", match: { order: "{{input.order}}" } } },
      { name: "ship", type: a, input: { order: "{{input.order}}", event: "{{steps.paid.result.id}}" } },
    ]);
    // An event before the run started does not count.
    await sql()`insert into orchestrator.events (source, type, payload) values ('candyland', 'payment.succeeded', ${sql().json({ order: `${key}-early` })})`;
    const early = await start(wf, { order: `${key}-early` });
    const r = await start(wf, { order: key });
    const charges = await claimAll(a);
    // The event lands while "charge" runs, before "paid" waits.
    const [ev] = await sql()<{ id: number }[]>`
      insert into orchestrator.events (source, type, payload) values ('candyland', 'payment.succeeded', ${sql().json({ order: key, amount: 12 })}) returning id`;
    for (const t of charges) await complete(t, { charged: true });
    const [ship] = await claimAll(a);
    expect(ship.payload).toEqual({ order: key, event: ev.id });
    // The early run's step waits; a non-matching event leaves it waiting, a matching one resumes it.
    expect((await run(early.id)).step("paid").status).toBe("waiting");
    await sql()`insert into orchestrator.events (source, type, payload) values ('candyland', 'payment.succeeded', ${sql().json({ order: "someone-else" })})`;
    const [late] = await sql()<{ id: number }[]>`
      insert into orchestrator.events (source, type, payload) values ('candyland', 'payment.succeeded', ${sql().json({ order: `${key}-early` })}) returning id`;
    await waitFor(async () => (await run(early.id)).step("paid").status === "succeeded", "the waiting step to take the event", 20_000);
    expect((await run(early.id)).step("paid").result).toMatchObject({ id: late.id, source: "candyland", type: "payment.succeeded" });
  });

  it("an event whose transaction is open when the step begins to wait is seen: the step waits for that transaction", async () => {
    const [a] = [uniqueType("evrace")];
    const key = uniqueType("race");
    const wf = await defineWorkflow([
      { name: "first", type: a, input: {} },
      { name: "wait", kind: "wait_for_event", timeout_seconds: 600, event: { source: "knisoci", type: "race.test", match: { key } } },
    ]);
    const r = await start(wf);
    const [t] = await claimAll(a);
    // A second connection inserts the event and keeps its transaction open.
    const other = postgres(stack().DB_URL, { max: 1, onnotice: () => {} });
    let commit: () => void = () => {};
    const committed = new Promise<void>((res) => (commit = res));
    try {
      const eventTx = other.begin(async (tx) => {
        await tx`insert into orchestrator.events (source, type, payload) values ('knisoci', 'race.test', ${tx.json({ key })})`;
        await committed;
      });
      await new Promise((res) => setTimeout(res, 200)); // the insert (and its shared lock) happened
      let completedAt = 0;
      const completing = complete(t, {}).then((ok) => ((completedAt = performance.now()), ok));
      await new Promise((res) => setTimeout(res, 300));
      expect(completedAt).toBe(0); // the step's start waits for the event's transaction
      const committedAt = performance.now();
      commit();
      await eventTx;
      expect(await completing).toBe(true);
      expect(completedAt).toBeGreaterThanOrEqual(committedAt);
      const after = await run(r.id);
      expect(after.status).toBe("succeeded");
      expect(after.step("wait").result).toMatchObject({ source: "knisoci", type: "race.test", payload: { key } });
    } finally {
      commit(); // a failed check must not leave the event's transaction open
      await other.end();
    }
  });

  it("a wait's timeout fails the run, or with on_timeout continue ends the step and the run goes on", async () => {
    const [a] = [uniqueType("timeout")];
    const failing = await defineWorkflow([{ name: "wait", kind: "wait_for_event", timeout_seconds: 1, event: { source: "knisoci", type: "never.comes" } }]);
    const going = await defineWorkflow([
      { name: "wait", kind: "wait_for_event", timeout_seconds: 1, on_timeout: "continue", event: { source: "knisoci", type: "never.comes" } },
      { name: "then", type: a, input: { timed_out: "{{steps.wait.result.timed_out}}" } },
    ]);
    const r1 = await start(failing);
    const r2 = await start(going);
    await waitFor(async () => (await run(r1.id)).status === "failed", "the timeout to fail the run", 20_000);
    expect((await run(r1.id)).error).toMatch(/step wait \(wait_for_event\) timed out after 1 s/);
    await waitFor(async () => (await queuedOf(a)) === 1, "the timeout to let the run go on", 20_000);
    const [t] = await claimAll(a);
    expect(t.payload).toEqual({ timed_out: true });
    await complete(t, {});
    expect((await run(r2.id)).status).toBe("succeeded");
  });
});
