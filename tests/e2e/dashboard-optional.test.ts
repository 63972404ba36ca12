// Views over APIs that land alongside the dashboard: each shows only when its API
// answers; the SOP view renders Markdown (untrusted text stays text) with its versions.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { http, sql, waitFor } from "../helpers/stack.ts";
import { launchChromium, openPage, signIn } from "./dashboard-helpers.ts";

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

const OPTIONAL = [
  { label: "Tickets", api: "/tickets" },
  { label: "SOPs", api: "/sops" },
  { label: "Schedules", api: "/schedules" },
  { label: "Workflows", api: "/workflows" },
  { label: "Rules", api: "/rules" },
];

describe("optional views", () => {
  it("shows a view exactly when its API answers, and hides it on 404", async () => {
    const { page, errors, close } = await openPage(browser);
    try {
      await signIn(page, "#/overview");
      await page.getByTestId("count-queued").waitFor(); // views render once the probes answered
      const nav = page.getByRole("navigation", { name: "Views" });
      for (const o of OPTIONAL) {
        const res = await http(o.api);
        await res.body?.cancel();
        const link = nav.getByRole("link", { name: o.label, exact: true });
        expect(await link.count(), `${o.label}: API answered ${res.status}`).toBe(res.status === 404 ? 0 : 1);
      }
      // The Notion sync card follows GET /notion/status the same way.
      const sync = await http("/notion/status");
      await sync.body?.cancel();
      if (sync.status !== 404) await page.getByTestId("sync-status").waitFor();
      else expect(await page.getByTestId("sync-status").count()).toBe(0);
      // A hidden view's address explains itself instead of showing a blank page.
      const hidden = OPTIONAL.find((o) => o.label !== "SOPs");
      if (hidden && (await nav.getByRole("link", { name: hidden.label, exact: true }).count()) === 0) {
        await page.goto(page.url().replace(/#.*$/, `#/${hidden.label.toLowerCase()}`));
        await page.getByText("its API does not answer yet").waitFor();
      }
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  it("renders an SOP's Markdown, switches versions, and keeps hostile text inert", async () => {
    const slug = `dash-sop-${Math.random().toString(36).slice(2, 8)}`;
    const hostile = `<img src=x onerror="window.__xss=1"> [click me](javascript:window.__xss=2) <script>window.__xss=3</script>`;
    // One after the other: version numbers follow the order the tasks finish in.
    for (const context of [`First notes. ${hostile}`, "Second notes: refunds over 100 EUR need approval."]) {
      const res = await http("/tasks/generate-sop", { method: "POST", body: JSON.stringify({ topic: "Refund an order", slug, context }) });
      expect(res.status, await res.clone().text()).toBe(202);
      const id = (await res.json()).id as number;
      await waitFor(async () => {
        const [row] = await sql()<{ status: string }[]>`select status::text from orchestrator.tasks where id = ${id}`;
        if (row.status === "dead") throw new Error(`sop.generate task ${id} died`);
        return row.status === "succeeded";
      }, `sop.generate task ${id} to succeed`, 30_000);
    }

    const { page, errors, close } = await openPage(browser);
    try {
      await signIn(page, "#/sops");
      await page.getByRole("link", { name: slug }).click();
      const article = page.locator("article.markdown");
      await article.waitFor();
      expect(await article.locator("h1, h2").count()).toBeGreaterThan(1);
      expect(await article.textContent()).toContain("Second notes");
      const version = page.getByLabel("Version");
      expect(await version.locator("option").allTextContents()).toEqual(["v2 (latest)", "v1"]);

      await version.selectOption("1");
      await expect.poll(async () => await article.textContent()).toContain("First notes");
      expect(page.url()).toContain("version=1");
      // The hostile markup is shown as text, never run.
      expect(await article.textContent()).toContain("onerror");
      expect(await article.locator("img, script").count()).toBe(0);
      expect(await article.locator('a[href^="javascript"]').count()).toBe(0);
      expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });
});

describe("tickets", () => {
  it("lists a ticket with its occurrences and opens its detail", async () => {
    const title = `Dashboard test ticket ${Math.random().toString(36).slice(2, 8)}`;
    const res = await http("/tickets", { method: "POST", body: JSON.stringify({ title, priority: "high" }) });
    expect(res.status, await res.clone().text()).toBe(201);
    const ticket = await res.json();
    const { page, errors, close } = await openPage(browser);
    try {
      await signIn(page, "#/tickets?priority=high");
      const row = page.locator("tbody tr", { hasText: title });
      await row.waitFor();
      expect(await row.textContent()).toMatch(/open.*high.*1×/);
      await row.getByRole("link", { name: `#${ticket.id}` }).click();
      const panel = page.getByRole("complementary", { name: `Ticket #${ticket.id}` });
      await panel.getByText(title).waitFor();
      expect(await panel.locator(".fields").first().textContent()).toContain("occurrences1");
      // A status filter that excludes it hides it.
      await page.getByRole("button", { name: "Close details" }).click();
      await page.getByLabel("Status").selectOption("resolved");
      await expect.poll(async () => await page.locator("tbody tr", { hasText: title }).count()).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });
});
