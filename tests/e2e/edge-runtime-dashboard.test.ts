// The dashboard overview shows the local Edge runtime's worker terminations by shutdown reason,
// as /health counts them from the runtime's rows in orchestrator.logs (headless Chromium, shared stack).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { headersFor, sql, stack } from "../helpers/stack.ts";
import { launchChromium, openPage, signIn } from "./dashboard-helpers.ts";

const REASONS = ["CPUTime", "Memory", "WallClockTime", "EarlyDrop", "EventLoopCompleted", "TerminationRequested"];

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

async function dbTerminations(): Promise<Record<string, number>> {
  const rows = await sql()<{ reason: string; n: number }[]>`
    select context->>'reason' as reason, count(*)::int as n from orchestrator.logs
    where component = 'edge-runtime' and context->>'event' = 'shutdown' group by 1`;
  return Object.fromEntries(rows.map((r) => [r.reason, r.n]));
}

describe("overview: edge workers", () => {
  it("lists every shutdown reason with the count of terminations the runtime logged", { timeout: 90_000 }, async () => {
    const health = await (await fetch(`${stack().FUNCTIONS_URL}/health`, { headers: headersFor("service") })).json();
    expect(health.edge).toMatchObject({ terminations: expect.any(Object), retirements: expect.any(Object) });
    const { page, errors, close } = await openPage(browser);
    try {
      await signIn(page, "#/overview");
      const card = page.getByTestId("edge-terminations");
      await card.waitFor();
      // Workers end while the test runs (early drops): compare against a snapshot that did not move.
      let matched = false;
      for (let attempt = 0; attempt < 60 && !matched; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, 500));
        const before = await dbTerminations();
        const shown: Record<string, number> = {};
        for (const reason of REASONS) {
          const cell = await page.getByTestId(`edge-${reason}`).locator("td").nth(1).textContent();
          shown[reason] = Number(cell!.replace(/,/g, ""));
        }
        const after = await dbTerminations();
        if (JSON.stringify(before) !== JSON.stringify(after)) continue;
        matched = REASONS.every((r) => shown[r] === (after[r] ?? 0));
      }
      expect(matched, "the card's counts to match the rows in orchestrator.logs").toBe(true);
      expect(await card.getByRole("link", { name: /logs of edge-runtime/ }).getAttribute("href")).toContain("component=edge-runtime");
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });
});
