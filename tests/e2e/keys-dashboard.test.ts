// The dashboard with the new keys, in headless Chromium: signed in with the secret key (sb_secret_…), every
// request it makes carries the key as `apikey` only (it is not a JWT), and the views load; the publishable
// key is refused at sign-in with a message that says which key to paste.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Request as PageRequest } from "playwright-core";
import { stack } from "../helpers/stack.ts";
import { dashboardUrl, deadTask, launchChromium, openPage, signIn } from "./dashboard-helpers.ts";

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe("dashboard with the new API keys", () => {
  it("signs in with the secret key and sends it as apikey only; the tasks view shows a task", async () => {
    const type = `test.keysdash.${Math.random().toString(36).slice(2, 8)}`;
    const id = await deadTask(type);
    const { page, errors, close } = await openPage(browser);
    const apiCalls: PageRequest[] = [];
    const refused: string[] = [];
    page.on("request", (r) => r.url().includes("/functions/v1/") && apiCalls.push(r));
    page.on("response", (r) => r.url().includes("/functions/v1/") && r.status() === 401 && refused.push(r.url()));
    try {
      await signIn(page, `#/tasks?type=${type}`, stack().SECRET_KEY);
      await page.getByText(type).first().waitFor();
      await expect.poll(() => page.getByText(String(id)).count()).toBeGreaterThan(0);
      expect(apiCalls.length).toBeGreaterThan(1);
      for (const r of apiCalls) {
        const h = r.headers();
        expect(h.apikey, r.url()).toBe(stack().SECRET_KEY);
        expect(h.authorization, r.url()).toBeUndefined();
      }
      expect(refused).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  it("refuses the publishable key at sign-in, saying it opens /health only", async () => {
    const { page, errors, close } = await openPage(browser);
    try {
      await page.goto(dashboardUrl());
      await page.getByLabel("API key").fill(stack().PUBLISHABLE_KEY);
      await page.getByRole("button", { name: "Sign in" }).click();
      const error = page.getByTestId("signin-error");
      await error.waitFor();
      expect(await error.textContent()).toMatch(/public key .*opens only \/health.*Paste the project's secret key \(sb_secret_…\)/);
      expect(await page.getByRole("navigation", { name: "Views" }).count()).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });
});
