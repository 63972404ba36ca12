// The dashboard in headless Chromium against the test stack: the overview's
// counts match the database, Retry/Cancel in the Tasks view change a task's
// status, paging walks the list, the logs view tails a line written during the test.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { createLogger, flushLogs } from "../../functions/_shared/logger.ts";
import { sql, uniqueType, waitFor } from "../helpers/stack.ts";
import { claim, deadTask, enqueue, launchChromium, openPage, signIn, taskStatus } from "./dashboard-helpers.ts";

const STATUSES = ["queued", "running", "succeeded", "dead", "cancelled"] as const;

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

async function dbCounts(): Promise<Record<string, number>> {
  const rows = await sql()<{ status: string; n: number }[]>`select status::text, count(*)::int as n from orchestrator.tasks group by status`;
  const counts: Record<string, number> = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const r of rows) counts[r.status] = r.n;
  return counts;
}

describe("overview", () => {
  it("shows the task counts the database holds, the cron jobs and a throughput chart", { timeout: 150_000 }, async () => {
    // One task in every status, so no count is trivially zero.
    const type = uniqueType("dash-overview");
    await enqueue(type);
    await claim(type, 600); // running, holding a lease
    await enqueue(type);
    const c = await claim(type);
    await sql()`select orchestrator.complete(${c.id}, ${c.lease_token}::uuid, '{"ok": true}'::jsonb)`; // succeeded
    await deadTask(type);
    const cancelled = await enqueue(type);
    await sql()`select orchestrator.cancel(${cancelled})`;
    await enqueue(type); // stays queued: no handler claims this type
    await enqueue(type);

    const { page, errors, close } = await openPage(browser);
    try {
      await signIn(page, "#/overview");
      // Other test files change the queue at the same time: compare against a database
      // snapshot that did not move while the page read /health.
      let matched = false;
      for (let attempt = 0; attempt < 90 && !matched; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, 300));
        const before = await dbCounts();
        await page.reload();
        await page.getByTestId("count-queued").waitFor();
        const shown: Record<string, number> = {};
        for (const s of STATUSES) shown[s] = Number((await page.getByTestId(`count-${s}`).textContent())!.replace(/,/g, ""));
        const after = await dbCounts();
        if (JSON.stringify(before) !== JSON.stringify(after)) continue;
        expect(shown).toEqual(before);
        matched = true;
      }
      expect(matched, "a quiet moment in which to compare the counts").toBe(true);
      for (const s of STATUSES) expect(Number((await page.getByTestId(`count-${s}`).textContent())!.replace(/,/g, ""))).toBeGreaterThan(0);

      // Oldest queued age is shown as a duration.
      await expect.poll(async () => await page.getByTestId("oldest-queued").textContent()).toMatch(/^\d+[smhd]/);

      // Cron jobs: every orchestrator job in cron.job is listed.
      const jobs = await sql()<{ jobname: string }[]>`select jobname from cron.job where jobname like 'orchestrator-%' order by jobname`;
      expect(jobs.length).toBeGreaterThan(0);
      const cronText = await page.getByTestId("cron-table").textContent();
      for (const j of jobs) expect(cronText).toContain(j.jobname.replace(/^orchestrator-/, ""));

      // Throughput: the task completed and the task failed above fall in the last hour.
      await page.getByTestId("throughput-chart").waitFor();
      const capped = (await page.locator(".overview").textContent())!.includes("Only the newest");
      if (!capped) {
        // Shown with thousands separators (1,234), as the counts above.
        expect(Number((await page.getByTestId("throughput-succeeded").textContent())!.replace(/,/g, ""))).toBeGreaterThanOrEqual(1);
        expect(Number((await page.getByTestId("throughput-failed").textContent())!.replace(/,/g, ""))).toBeGreaterThanOrEqual(1);
      }
      await page.getByRole("button", { name: "Last 24 hours" }).click();
      await expect.poll(async () => await page.locator(".chart-bars .bar").count()).toBe(24);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });
});

describe("tasks", () => {
  it("retries a dead task from its detail panel, and the task is queued again", async () => {
    const type = uniqueType("dash-retry");
    const id = await deadTask(type, "upstream said 503: try later");
    const { page, errors, close } = await openPage(browser);
    try {
      await signIn(page, `#/tasks?type=${encodeURIComponent(type)}`);
      const table = page.getByTestId("tasks-table");
      await expect.poll(async () => await table.locator("tbody tr").count()).toBe(1);
      expect(await table.locator("tbody tr").textContent()).toContain("dead");
      await page.getByRole("link", { name: `Task ${id} details` }).click();

      const detail = page.getByTestId("task-detail");
      await expect.poll(async () => await detail.getByTestId("detail-status").textContent()).toBe("dead");
      expect(await detail.getByTestId("detail-error").textContent()).toContain("upstream said 503");
      expect(await detail.getByRole("button", { name: "Cancel task" }).isDisabled()).toBe(true);
      await detail.getByRole("button", { name: "Retry" }).click();

      await expect.poll(async () => await page.getByTestId("action-outcome").textContent()).toContain(`Task #${id} is queued again`);
      expect(await taskStatus(id)).toBe("queued");
      await expect.poll(async () => await detail.getByTestId("detail-status").textContent()).toBe("queued");
      await expect.poll(async () => await table.locator("tbody tr").textContent()).toContain("queued");
      expect(await detail.getByRole("button", { name: "Retry" }).isDisabled()).toBe(true);

      // And Cancel, which asks for a confirmation first.
      await detail.getByRole("button", { name: "Cancel task" }).click();
      expect(await taskStatus(id)).toBe("queued");
      await detail.getByRole("button", { name: "Confirm cancel" }).click();
      await expect.poll(async () => await detail.getByTestId("detail-status").textContent()).toBe("cancelled");
      expect(await taskStatus(id)).toBe("cancelled");
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  it("says why a queued task waits (flow control) in its detail panel", async () => {
    const type = uniqueType("dash-wait");
    const [{ id }] = await sql()<{ id: number }[]>`
      select (r.task).id from orchestrator.enqueue(${type}, '{}'::jsonb, '{"debounce": {"key": "dash-wait", "seconds": 600}}'::jsonb) r`;
    const { page, errors, close } = await openPage(browser);
    try {
      await signIn(page, `#/tasks?type=${encodeURIComponent(type)}`);
      const table = page.getByTestId("tasks-table");
      await expect.poll(async () => await table.locator("tbody tr").count()).toBe(1);
      await page.getByRole("link", { name: `Task ${id} details` }).click();
      const detail = page.getByTestId("task-detail");
      await expect.poll(async () => await detail.getByTestId("detail-wait-reason").textContent()).toMatch(/^debounce window for dash-wait ends at /);
      expect(errors).toEqual([]);
    } finally {
      await close();
      await sql()`select orchestrator.cancel(${id})`;
    }
  });

  it("shows a refused action's error instead of swallowing it", async () => {
    const type = uniqueType("dash-conflict");
    const id = await deadTask(type);
    const { page, close } = await openPage(browser);
    try {
      await signIn(page, `#/tasks/${id}`);
      const detail = page.getByTestId("task-detail");
      await expect.poll(async () => await detail.getByTestId("detail-status").textContent()).toBe("dead");
      // Someone else retries it meanwhile; the panel still offers Retry until it refreshes.
      await sql()`select orchestrator.retry(${id})`;
      await sql()`select orchestrator.cancel(${id})`;
      await sql()`select orchestrator.retry(${id})`;
      await detail.getByRole("button", { name: "Retry" }).click();
      await expect.poll(async () => await page.getByTestId("action-outcome").textContent()).toMatch(/Retry failed: Task \d+ is queued; only dead or cancelled tasks can be retried/);
    } finally {
      await close();
    }
  });

  it("filters by status and type, and pages through with the cursor", async () => {
    const type = uniqueType("dash-page");
    await deadTask(type);
    const ids: number[] = [];
    for (let i = 0; i < 30; i++) ids.push(await enqueue(type, { i }));
    const { page, errors, close } = await openPage(browser);
    try {
      await signIn(page, "#/tasks");
      await page.getByLabel("Type").fill(type);
      await page.getByRole("checkbox", { name: "queued" }).check();
      await page.getByRole("button", { name: "Apply" }).click();
      const rows = page.getByTestId("tasks-table").locator("tbody tr");
      const idsShown = async () => (await rows.locator("td:first-child").allTextContents()).map((t) => Number(t.replace("#", "")));
      await expect.poll(idsShown).toEqual(ids.slice(5).reverse());
      expect(page.url()).toContain("status=queued");
      await page.getByRole("button", { name: "Older →" }).click();
      await expect.poll(idsShown).toEqual(ids.slice(0, 5).reverse());
      expect(await page.getByRole("button", { name: "Older →" }).isDisabled()).toBe(true);
      await page.getByRole("button", { name: "← Newer" }).click();
      await expect.poll(idsShown).toEqual(ids.slice(5).reverse());
      // A filter that matches nothing says so.
      await page.getByRole("checkbox", { name: "queued" }).uncheck();
      await page.getByRole("checkbox", { name: "succeeded" }).check();
      await page.getByRole("button", { name: "Apply" }).click();
      await page.getByText("No tasks match these filters.").waitFor();
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });
});

describe("logs", () => {
  it("tails a line written during the test without a reload, and filters it", async () => {
    const marker = `dash-${Math.random().toString(36).slice(2, 10)}`;
    const { page, errors, close } = await openPage(browser);
    try {
      await signIn(page, "#/logs");
      await page.getByText(/^checked /).waitFor(); // the first poll answered
      expect(await page.locator("main").textContent()).not.toContain(marker);

      // Written by the project's own logger (a row in orchestrator.logs), while the page is open.
      const log = createLogger({ component: "dashboard-test" });
      log.warn(`payment webhook slow ${marker}`, { ms: 5400 });
      await flushLogs();

      const line = page.locator(".log", { hasText: marker });
      await line.waitFor({ timeout: 10_000 });
      expect(await line.textContent()).toContain("dashboard-test");
      expect(await line.locator(".badge").textContent()).toBe("warn");

      // Text search keeps it; a higher minimum level hides it.
      await page.getByLabel("Search").fill(marker);
      await page.getByRole("button", { name: "Apply" }).click();
      await expect.poll(async () => await page.locator(".log").count()).toBe(1);
      await page.getByLabel("Level at least").selectOption("error");
      await page.getByRole("button", { name: "Apply" }).click();
      await page.getByText("No log lines match these filters yet.").waitFor();
      expect(page.url()).toContain(`q=${marker}`);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });
});

describe("phone width", () => {
  it("keeps every view usable at 390 px: no sideways scrolling of the page", async () => {
    const { page, errors, close } = await openPage(browser, { width: 390, height: 844 });
    try {
      await signIn(page, "#/overview");
      for (const view of ["overview", "tasks", "logs"]) {
        await page.getByRole("navigation", { name: "Views" }).getByRole("link", { name: new RegExp(`^${view}$`, "i") }).click();
        await page.locator("h1").filter({ hasText: new RegExp(view, "i") }).waitFor();
        await page.locator(".state.loading").first().waitFor({ state: "detached" }).catch(() => {});
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        expect(overflow, `${view} scrolls sideways by ${overflow}px`).toBeLessThanOrEqual(0);
      }
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });
});
