// The dashboard's run graph in headless Chromium: workflows made and run over REST (noop steps run by
// the real task-worker), then opened in the Workflows view. A fan-out and its join shows three nodes and
// two edges into the join; a failed run is re-run from its failing step, which makes a new run (rerun_of
// set) that the page then shows, and a refused re-run shows the API's message.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { http, sql, waitFor } from "../helpers/stack.ts";
import { launchChromium, openPage, signIn } from "./dashboard-helpers.ts";

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

const uniqueName = () => `dash-graph-${Math.random().toString(36).slice(2, 10)}`;

async function post(path: string, body: unknown) {
  const res = await http(path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
  return { status: res.status, body: await res.json() };
}

/** Defines `steps` as a workflow, starts a run and waits for it to end; returns the run's id. */
async function runToEnd(name: string, steps: unknown[], input: object = {}): Promise<{ id: number; status: string }> {
  const created = await post("/workflows", { name, steps });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const started = await post(`/workflows/${name}/runs`, { input });
  expect(started.status, JSON.stringify(started.body)).toBe(201);
  const id = started.body.id as number;
  const status = await waitFor(async () => {
    const run = await (await http(`/workflows/${name}/runs/${id}`)).json();
    return run.status !== "running" && (run.status as string);
  }, `run ${id} of ${name} to end`, 60_000, 100);
  return { id, status };
}

const nodeOf = (page: Page, step: string) => page.locator(`[data-testid="graph-node"][data-step="${step}"]`);

describe("the run graph", () => {
  it("draws a fan-out and its join: three nodes in two layers, two edges into the join, each step's status", async () => {
    const name = uniqueName();
    const run = await runToEnd(name, [
      { name: "a", type: "noop", after: [] },
      { name: "b", type: "noop", after: [] },
      { name: "join", type: "noop", after: ["a", "b"] },
    ]);
    expect(run.status).toBe("succeeded");

    const { page, errors, close } = await openPage(browser);
    try {
      await signIn(page, `#/workflows/${name}/runs/${run.id}`);
      const graph = page.getByRole("region", { name: `Graph of run #${run.id}` });
      await graph.waitFor();
      const nodes = graph.getByTestId("graph-node");
      await expect.poll(async () => await nodes.count()).toBe(3);
      expect(await nodes.evaluateAll((els) => els.map((e) => e.getAttribute("data-step")).sort())).toEqual(["a", "b", "join"]);
      for (const step of ["a", "b", "join"]) {
        expect(await nodeOf(page, step).getAttribute("data-status")).toBe("succeeded");
        // The status is text on the node, not only its colour.
        expect(await nodeOf(page, step).getByRole("button").textContent()).toContain("succeeded");
      }
      const edges = graph.getByTestId("graph-edge");
      expect(await edges.count()).toBe(2);
      expect(await edges.evaluateAll((els) => els.map((e) => `${e.getAttribute("data-from")}->${e.getAttribute("data-to")}`).sort()))
        .toEqual(["a->join", "b->join"]);
      // Laid out in layers: a and b in one column, join to their right.
      const [boxA, boxB, boxJoin] = await Promise.all(["a", "b", "join"].map(async (s) => (await nodeOf(page, s).boundingBox())!));
      expect(boxA.x).toBe(boxB.x);
      expect(boxA.y).not.toBe(boxB.y);
      expect(boxJoin.x).toBeGreaterThan(boxA.x + boxA.width);

      // A node opens its step's details; the list of steps stays below.
      await nodeOf(page, "join").getByRole("button").click();
      const detail = page.getByRole("region", { name: "Step join" });
      await detail.waitFor();
      expect(await detail.getByTestId("step-status").textContent()).toBe("succeeded");
      expect(await detail.textContent()).toContain("a, b");
      expect(await nodeOf(page, "join").getByRole("button").getAttribute("aria-pressed")).toBe("true");
      expect(await page.getByRole("table", { name: `Steps of run #${run.id}` }).locator("tbody tr").count()).toBe(3);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  it("re-runs a failed run from its failing step: a refused re-run shows the API's message, an accepted one opens the new run", async () => {
    const name = uniqueName();
    const run = await runToEnd(name, [
      { name: "first", type: "noop", after: [] },
      // Rendered from the run's input, its payload does not fit noop's schema (the API refuses a literal
      // "x" on write): the step fails for good.
      { name: "broken", type: "noop", after: ["first"], input: { delay_ms: "{{input.delay}}" } },
    ], { delay: "x" });
    expect(run.status).toBe("failed");

    const { page, errors, close } = await openPage(browser);
    try {
      await signIn(page, `#/workflows/${name}/runs/${run.id}`);
      await expect.poll(async () => await page.getByTestId("graph-node").count()).toBe(2);
      expect(await nodeOf(page, "first").getAttribute("data-status")).toBe("succeeded");
      expect(await nodeOf(page, "broken").getAttribute("data-status")).toBe("failed");
      expect(await nodeOf(page, "broken").getByRole("button").textContent()).toContain("failed");
      await nodeOf(page, "broken").getByRole("button").click();
      const detail = page.getByRole("region", { name: "Step broken" });
      await detail.waitFor();
      expect(await detail.getByTestId("step-status").textContent()).toBe("failed");

      // Refused: the API's message is shown, and no run is made.
      const refusal = "Run is still running; cancel it or wait for it to end, then re-run it. (said the test)";
      await page.route("**/rerun", (route) =>
        route.fulfill({ status: 409, contentType: "application/json", body: JSON.stringify({ error: { code: "conflict", message: refusal } }) }));
      await detail.getByRole("button", { name: "Re-run from this step" }).click();
      await expect.poll(async () => await detail.getByTestId("rerun-outcome").textContent()).toContain(refusal);
      await page.unroute("**/rerun");
      const rerunsBefore = await sql()<{ n: number }[]>`select count(*)::int as n from orchestrator.workflow_runs where rerun_of = ${run.id}`;
      expect(rerunsBefore[0].n).toBe(0);

      // Accepted: a new run, linked to this one, which the page opens.
      await detail.getByRole("button", { name: "Re-run from this step" }).click();
      const [rerun] = await waitFor(async () => {
        const rows = await sql()<{ id: number; rerun_from: string }[]>`
          select id, rerun_from from orchestrator.workflow_runs where rerun_of = ${run.id}`;
        return rows.length > 0 && rows;
      }, "the re-run to exist", 15_000, 100);
      expect(rerun.rerun_from).toBe("broken");
      await expect.poll(() => page.url()).toContain(`#/workflows/${name}/runs/${rerun.id}`);
      await page.getByRole("region", { name: `Graph of run #${rerun.id}` }).waitFor();
      expect(await page.getByTestId("rerun-of").textContent()).toContain(`#${run.id} from broken`);
      // The step before the one re-run keeps its outcome, marked as reused.
      await expect.poll(async () => await nodeOf(page, "first").getByRole("button").textContent()).toContain("reused");
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  it("approves a waiting approval from its node: the run goes on and the step's result says the dashboard decided", async () => {
    const name = uniqueName();
    expect((await post("/workflows", { name, steps: [
      { name: "ask", kind: "approval", title: "Ship it?", timeout_seconds: 600 },
      { name: "ship", type: "noop", input: { echo: "{{steps.ask.result.by}}" } },
    ] })).status).toBe(201);
    const started = await post(`/workflows/${name}/runs`, {});
    const { page, errors, close } = await openPage(browser);
    try {
      await signIn(page, `#/workflows/${name}/runs/${started.body.id}`);
      await nodeOf(page, "ask").waitFor();
      expect(await nodeOf(page, "ask").getAttribute("data-status")).toBe("waiting");
      await nodeOf(page, "ask").getByRole("button").click();
      const detail = page.getByRole("region", { name: "Step ask" });
      await detail.getByRole("button", { name: "Approve" }).click();
      const run = await waitFor(async () => {
        const r = await (await http(`/workflows/${name}/runs/${started.body.id}`)).json();
        return r.status !== "running" && r;
      }, "the approved run to end", 30_000, 100);
      expect(run.status).toBe("succeeded");
      expect(run.steps[0].result).toMatchObject({ decision: "approved", by: "dashboard" });
      expect(run.output.ship).toEqual({ ok: true, echo: "dashboard" });
      // The page shows it without a reload of its own.
      await expect.poll(async () => await nodeOf(page, "ask").getAttribute("data-status"), { timeout: 20_000 }).toBe("succeeded");
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });
});
