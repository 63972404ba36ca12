// Access to the dashboard: the key is asked for once per browser session and kept
// in sessionStorage; a wrong key is a clear message; no key is built into the
// files; the local stack serves the files next to the API.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { ROOT } from "../../scripts/stack/stack.ts";
import { stack } from "../helpers/stack.ts";
import { dashboardUrl, launchChromium, openPage, signIn } from "./dashboard-helpers.ts";

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

const storage = (page: import("playwright-core").Page) =>
  page.evaluate(() => ({ session: { ...sessionStorage }, local: { ...localStorage } }));

describe("sign-in", () => {
  it("rejects a wrong key with a clear message and stores nothing", async () => {
    const { page, errors, close } = await openPage(browser);
    try {
      await page.goto(dashboardUrl());
      await page.getByLabel("API key").fill("not-a-real-key");
      await page.getByRole("button", { name: "Sign in" }).click();
      const error = page.getByTestId("signin-error");
      await error.waitFor();
      expect(await error.textContent()).toMatch(/rejected this key: Invalid API key: not a key of this project.*service role/);
      expect(await page.getByRole("navigation", { name: "Views" }).count()).toBe(0);
      const s = await storage(page);
      expect(Object.values(s.session)).not.toContain("not-a-real-key");
      expect(s.local).toEqual({});

      // The anon key is a real project key, but not enough for the dashboard.
      await page.getByLabel("API key").fill(stack().ANON_KEY);
      await page.getByRole("button", { name: "Sign in" }).click();
      await expect.poll(async () => await error.textContent()).toMatch(/needs the service role \(secret\) key, not the anon key/);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  it("keeps the key in sessionStorage for this browser session only", async () => {
    const first = await openPage(browser);
    try {
      await signIn(first.page, "#/tasks");
      const s = await storage(first.page);
      expect(Object.values(s.session)).toContain(stack().SERVICE_ROLE_KEY);
      expect(JSON.stringify(s.local)).not.toContain(stack().SERVICE_ROLE_KEY);
      // A reload in the same tab does not ask again.
      await first.page.reload();
      await first.page.getByRole("navigation", { name: "Views" }).waitFor();
      expect(await first.page.getByLabel("API key").count()).toBe(0);
      // Sign out forgets it.
      await first.page.getByRole("button", { name: "Sign out" }).click();
      await first.page.getByLabel("API key").waitFor();
      expect(Object.values((await storage(first.page)).session)).not.toContain(stack().SERVICE_ROLE_KEY);
    } finally {
      await first.close();
    }
    // A new browser session asks for the key again.
    const second = await openPage(browser);
    try {
      await second.page.goto(dashboardUrl("#/tasks"));
      await second.page.getByLabel("API key").waitFor();
    } finally {
      await second.close();
    }
  });

  it("returns to the sign-in form with a message when the saved key stops working", async () => {
    const { page, close } = await openPage(browser);
    try {
      await signIn(page, "#/overview");
      await page.evaluate(() => {
        for (const k of Object.keys(sessionStorage)) if (k.endsWith(".key")) sessionStorage.setItem(k, "revoked-key");
      });
      await page.reload();
      await page.getByLabel("API key").waitFor();
      expect(await page.getByRole("alert").first().textContent()).toMatch(/no longer accepts the saved key.*Sign in again/);
    } finally {
      await close();
    }
  });
});

describe("the built files", () => {
  it("carry no key", () => {
    const dist = join(ROOT, "dashboard", "dist");
    const files: string[] = [];
    const walk = (p: string) => (statSync(p).isDirectory() ? readdirSync(p).forEach((n) => walk(join(p, n))) : files.push(p));
    walk(dist);
    expect(files.some((f) => f.endsWith("index.html"))).toBe(true);
    expect(files.some((f) => f.endsWith(".js"))).toBe(true);
    for (const f of files) {
      const text = readFileSync(f, "utf8");
      expect(text, f).not.toContain(stack().SERVICE_ROLE_KEY);
      expect(text, f).not.toContain(stack().ANON_KEY);
      expect(text, f).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}/);
    }
  });
});

describe("served by the local stack", () => {
  it("serves index.html at / and for dashboard routes, assets with long caching, and keeps the API JSON", async () => {
    const root = await fetch(`${stack().API_URL}/`);
    expect(root.status).toBe(200);
    expect(root.headers.get("content-type")).toContain("text/html");
    expect(root.headers.get("content-security-policy")).toContain("script-src 'self'");
    const html = await root.text();
    expect(html).toContain('<div id="app">');

    const deep = await fetch(`${stack().API_URL}/tasks/42`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toBe(html);

    const asset = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)![1];
    const js = await fetch(`${stack().API_URL}/${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toContain("javascript");
    expect(js.headers.get("cache-control")).toContain("immutable");

    expect((await fetch(`${stack().API_URL}/assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${stack().API_URL}/%2e%2e/%2e%2e/package.json`)).status).toBe(404);
    expect((await fetch(`${stack().API_URL}/..%2fpackage.json`)).status).toBe(404);

    const api = await fetch(`${stack().FUNCTIONS_URL}/no-such-function`);
    expect(api.status).toBe(404);
    expect((await api.json()).error.code).toBe("not_found");
    const health = await fetch(`${stack().FUNCTIONS_URL}/health`);
    expect(await health.json()).toEqual({ status: "ok" });
    // Writes never reach the static files.
    expect((await fetch(`${stack().API_URL}/`, { method: "POST" })).status).toBe(404);
  });
});
