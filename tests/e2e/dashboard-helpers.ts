// Shared by the dashboard's browser tests: Debian's Chromium via playwright-core,
// signing in through the real sign-in form, and tasks made through the SQL contract.
import { expect } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "../../scripts/browser.ts";
import { sql, stack } from "../helpers/stack.ts";

export { launchChromium };

export interface OpenPage {
  page: Page;
  context: BrowserContext;
  /** Uncaught exceptions in the page: a test ends by checking there were none. */
  errors: string[];
  close: () => Promise<void>;
}

export async function openPage(browser: Browser, viewport = { width: 1280, height: 800 }): Promise<OpenPage> {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(String(err)));
  return { page, context, errors, close: () => context.close() };
}

export const dashboardUrl = (hash = "") => `${stack().API_URL}/${hash}`;

/** Signs in through the form; `hash` picks the view to land on. */
export async function signIn(page: Page, hash = "", key = stack().SERVICE_ROLE_KEY): Promise<void> {
  await page.goto(dashboardUrl(hash));
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Views" }).waitFor();
}

export async function enqueue(type: string, payload: object = {}, opts: object = {}): Promise<number> {
  const [row] = await sql()<{ id: number }[]>`
    select (r.task).id from orchestrator.enqueue(${type}, ${sql().json(payload as never)}, ${sql().json(opts as never)}) r`;
  return row.id;
}

/** Claims the oldest queued task of `type`; returns its id and lease token. */
export async function claim(type: string, leaseSeconds = 60): Promise<{ id: number; lease_token: string }> {
  const [row] = await sql()<{ id: number; lease_token: string }[]>`
    select id, lease_token from orchestrator.claim('dashboard-test', 1, ${leaseSeconds}, ${[type]}::text[])`;
  expect(row, `a queued ${type} task to claim`).toBeDefined();
  return row;
}

/** A dead task of a type no handler is registered for (so no worker touches it again). */
export async function deadTask(type: string, error = "boom: the dashboard test failed this task"): Promise<number> {
  const id = await enqueue(type, { order: 42 }, { max_attempts: 1 });
  const c = await claim(type);
  expect(c.id).toBe(id);
  const [{ status }] = await sql()<{ status: string }[]>`select orchestrator.fail(${c.id}, ${c.lease_token}::uuid, ${error}, false) as status`;
  expect(status).toBe("dead");
  return id;
}

export async function taskStatus(id: number): Promise<string> {
  const [row] = await sql()<{ status: string }[]>`select status::text from orchestrator.tasks where id = ${id}`;
  return row.status;
}
