// Views over the endpoint families a deployment may not serve: each shows exactly when GET
// /health/capabilities lists its API (one answer, no endpoint tried to find out), with the integrations
// it says are configured; the SOP view renders Markdown (untrusted text stays text) with its versions.
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
  { label: "Tickets", api: "tickets" },
  { label: "SOPs", api: "sops" },
  { label: "Schedules", api: "schedules" },
  { label: "Workflows", api: "workflows" },
  { label: "Rules", api: "rules" },
];

async function capabilities(): Promise<{ apis: string[]; integrations: Record<string, { configured: boolean; usable?: boolean; active_subscriptions?: number }> }> {
  const res = await http("/health/capabilities");
  expect(res.status).toBe(200);
  return await res.json();
}

describe("optional views", () => {
  it("shows a view exactly when /health/capabilities lists its API, and tries no endpoint to find out", async () => {
    const caps = await capabilities();
    const { page, errors, close } = await openPage(browser);
    const requested: string[] = [];
    page.on("request", (r) => requested.push(new URL(r.url()).pathname));
    try {
      await signIn(page, "#/overview");
      await page.getByTestId("count-queued").waitFor();
      const nav = page.getByRole("navigation", { name: "Views" });
      for (const o of OPTIONAL) {
        const link = nav.getByRole("link", { name: o.label, exact: true });
        expect(await link.count(), o.label).toBe(caps.apis.includes(o.api) ? 1 : 0);
      }
      // The Notion sync card follows the capabilities the same way.
      if (caps.apis.includes("notion")) await page.getByTestId("sync-status").waitFor();
      else expect(await page.getByTestId("sync-status").count()).toBe(0);
      // The overview asked the capabilities, and no optional API it does not show.
      const api = requested.filter((p) => p.startsWith("/functions/v1/")).map((p) => p.slice("/functions/v1".length));
      expect(api).toContain("/health/capabilities");
      for (const o of OPTIONAL) expect(api.filter((p) => p.startsWith(`/${o.api}`)), o.api).toEqual([]);
      expect(api.filter((p) => p.startsWith("/sync/"))).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  it("hides a view the capabilities do not list, and its address says why", async () => {
    const caps = await capabilities();
    const { page, context, errors, close } = await openPage(browser);
    try {
      // A deployment without /rules and /schedules: the same answer, two families fewer.
      await context.route("**/functions/v1/health/capabilities", async (route) => {
        const res = await route.fetch();
        const body = await res.json();
        await route.fulfill({ response: res, json: { ...body, apis: body.apis.filter((a: string) => a !== "rules" && a !== "schedules") } });
      });
      await signIn(page, "#/overview");
      const nav = page.getByRole("navigation", { name: "Views" });
      await nav.getByRole("link", { name: "Tickets", exact: true }).waitFor();
      expect(await nav.getByRole("link", { name: "Rules", exact: true }).count()).toBe(0);
      expect(await nav.getByRole("link", { name: "Schedules", exact: true }).count()).toBe(0);
      expect(caps.apis).toContain("rules"); // the real answer lists it: the route above took it away
      await page.goto(page.url().replace(/#.*$/, "#/rules"));
      await page.getByText("it does not serve that API").waitFor();
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  it("shows which integrations are configured, as the capabilities say", async () => {
    const { integrations } = await capabilities();
    const { page, errors, close } = await openPage(browser);
    try {
      await signIn(page, "#/overview");
      const card = page.getByTestId("integrations");
      await card.waitFor();
      const state = (c: { configured: boolean; usable?: boolean }) => (c.configured ? (c.usable === false ? "not usable" : "configured") : "not configured");
      expect((await page.getByTestId("integration-notion").textContent())?.trim()).toBe(state(integrations.notion));
      expect((await page.getByTestId("integration-ai").textContent())?.trim()).toBe(state(integrations.ai));
      expect(await page.getByTestId("integration-webhooks").textContent()).toContain(state(integrations.webhooks));
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  it("lists the schedules, workflows and rules the database holds, and opens one of each", async () => {
    const [schedule] = await sql()<{ name: string }[]>`select name from orchestrator.schedules order by builtin desc, name limit 1`;
    const [workflow] = await sql()<{ name: string }[]>`select name from orchestrator.workflows order by builtin desc, name limit 1`;
    const [rule] = await sql()<{ id: number; name: string }[]>`select id, name from orchestrator.event_rules order by id limit 1`;
    expect(schedule && workflow && rule, "the migrations ship a schedule, a workflow and a rule").toBeTruthy();
    const { page, errors, close } = await openPage(browser);
    try {
      await signIn(page, "#/schedules");
      await page.getByRole("link", { name: schedule.name, exact: true }).click();
      const schedulePane = page.getByRole("complementary", { name: `Schedule ${schedule.name}` });
      await schedulePane.getByRole("heading", { name: "Recent runs" }).waitFor();
      await schedulePane.getByRole("heading", { name: "Payload" }).waitFor();

      await page.getByRole("navigation", { name: "Views" }).getByRole("link", { name: "Workflows", exact: true }).click();
      await page.getByRole("link", { name: workflow.name, exact: true }).click();
      const runsPane = page.getByRole("complementary", { name: `Runs of ${workflow.name}` });
      await runsPane.locator("table, .state.empty").first().waitFor();

      await page.getByRole("navigation", { name: "Views" }).getByRole("link", { name: "Rules", exact: true }).click();
      await page.getByRole("link", { name: rule.name, exact: true }).click();
      const rulePane = page.getByRole("complementary", { name: `Rule ${rule.id}` });
      await expect.poll(async () => await rulePane.locator(".fields").first().textContent()).toContain(`name${rule.name}`);
      expect(await page.locator(".error-box").count()).toBe(0);
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
    expect(ticket.notion_url).toBeNull();
    // As the Notion sync records a pushed page: the API then answers its notion_url, and the list links it.
    const pageId = "0123abcd-4567-89ab-cdef-0123456789ab";
    await sql()`insert into orchestrator.notion_pages (entity, row_key, page_id) values ('ticket', ${String(ticket.id)}, ${pageId})`;
    const { page, errors, close } = await openPage(browser);
    try {
      await signIn(page, "#/tickets?priority=high");
      const row = page.locator("tbody tr", { hasText: title });
      await row.waitFor();
      expect(await row.textContent()).toMatch(/open.*high.*1×/);
      expect(await row.getByRole("link", { name: "Notion ↗" }).getAttribute("href")).toBe("https://www.notion.so/0123abcd456789abcdef0123456789ab");
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
      await sql()`delete from orchestrator.notion_pages where entity = 'ticket' and row_key = ${String(ticket.id)}`;
    }
  });
});
