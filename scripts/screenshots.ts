// `npm run screenshots`: starts a private local stack (temp dir, free ports),
// fills it with demo tasks and logs, and photographs every dashboard view at a
// laptop and a phone width into docs/dashboard-<view>-<width>.png.
// Views whose API is not deployed yet are skipped (as the dashboard hides them).
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import type { Page } from "playwright-core";
import { launchChromium } from "./browser.ts";
import { LocalStack, ROOT, type StackInfo } from "./stack/stack.ts";
import { freePort } from "./stack/ports.ts";

const OUT = join(ROOT, "docs");
const WIDTHS = [
  { name: "laptop", width: 1366, height: 860, scale: 1 },
  { name: "phone", width: 390, height: 844, scale: 2 },
] as const;


async function api(info: StackInfo, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${info.FUNCTIONS_URL}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${info.SERVICE_ROLE_KEY}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return await res.json();
}

/** Demo data: real tasks through the API and the SQL contract, plus a day of finished history for the chart. */
async function seed(info: StackInfo): Promise<number> {
  const sql = postgres(info.DB_URL, { max: 2, onnotice: () => {} });
  try {
    await sql`
      insert into orchestrator.logs (at, level, component, message, context, task_id)
      values (now() - interval '50 seconds', 'info', 'events', 'knisoci.activity_logs: 3 new rows → 3 events', '{"source":"knisoci"}', null),
             (now() - interval '40 seconds', 'warn', 'notion', 'rate limited by Notion; retrying after 1.2 s', '{"retry_after_s":1.2}', null),
             (now() - interval '30 seconds', 'debug', 'task-worker', 'claimed 4 tasks', '{"types":["noop"]}', null),
             (now() - interval '20 seconds', 'info', 'rules', 'rule "errors open tickets" matched event 5121', '{"rule":"errors-open-tickets"}', null)`;
    for (let i = 0; i < 12; i++) await api(info, "/tasks", { type: "noop", payload: { echo: { order: 1000 + i } } });
    // History: finished tasks spread over the last 24 hours, busier in working hours, a few failures.
    await sql`
      insert into orchestrator.tasks (type, status, attempts, max_attempts, source, payload, result, last_error, created_at, run_at, started_at, finished_at, updated_at)
      select t.type, t.status, t.attempts, 5, 'demo', jsonb_build_object('n', g), t.result, t.err, t.at - interval '2 seconds', t.at - interval '2 seconds', t.at - interval '1 second', t.at, t.at
      from generate_series(1, 900) g
      cross join lateral (
        select now() - (((g * 7919) % 86000) || ' seconds')::interval as at,
               (array['notion.push', 'sop.generate', 'ticket.open', 'webhook.deliver', 'noop'])[1 + g % 5] as type,
               case when g % 23 = 0 then 'dead' else 'succeeded' end::orchestrator.task_status as status
      ) base
      cross join lateral (
        select base.at, base.type, base.status,
               case when base.status = 'dead' then 5 else 1 + (g % 7 = 0)::int end as attempts,
               case when base.status = 'dead' then null else jsonb_build_object('ok', true) end as result,
               case when base.status = 'dead' then 'Notion API 502: bad gateway (retried 5 times)' else null end as err
      ) t
      where extract(hour from base.at) not between 1 and 5 or g % 4 = 0
      order by base.at`;
    // Dead tasks through the real contract: claim, then a permanent failure. The demo types are ones no
    // handler is registered for, so the stack's own worker leaves them alone.
    const dead: number[] = [];
    for (const [type, payload, error] of [
      ["crm.export", { contact_id: 4812, target: "hubspot" }, "CRM answered 401 Unauthorized: the access token was revoked (not retryable)"],
      ["email.send", { to: "ops@example.com", template: "daily-digest" }, "SMTP 550 5.1.1 <ops@example.com>: mailbox unavailable"],
    ] as const) {
      const [row] = await sql`select (r.task).id from orchestrator.enqueue(${type}, ${sql.json(payload)}, '{"max_attempts": 1, "source": "api"}') r`;
      const [c] = await sql`select id, lease_token from orchestrator.claim('edge:demo01', 1, 60, ${[type]}::text[])`;
      await sql`select orchestrator.fail(${c.id}, ${c.lease_token}::uuid, ${error}, false)`;
      await sql`insert into orchestrator.logs (level, component, message, context, task_id) values ('error', 'task-worker', ${`task ${type} failed permanently`}, ${sql.json({ error })}, ${row.id})`;
      dead.push(Number(row.id));
    }
    // Queued work (one waiting a few minutes) and one running task holding a lease.
    await sql`select orchestrator.enqueue('report.render', '{"report": "weekly-orders"}', jsonb_build_object('run_at', now() - interval '3 minutes'))`;
    await sql`update orchestrator.tasks set created_at = now() - interval '3 minutes' where type = 'report.render'`;
    await sql`select orchestrator.enqueue('crm.export', '{"contact_id": 4813}', '{}')`;
    await sql`select orchestrator.claim('edge:7f3a9c21', 1, 300, array['crm.export']::text[])`;
    await sql`select orchestrator.enqueue('email.send', '{"to": "team@example.com", "template": "weekly"}', jsonb_build_object('run_at', now() + interval '10 minutes'))`;
    // SOPs (where that API is deployed): two versions of one, written by the embedded template generator.
    const hasSops = (await fetch(`${info.FUNCTIONS_URL}/sops`, { headers: { authorization: `Bearer ${info.SERVICE_ROLE_KEY}` } })).status === 200;
    if (hasSops) {
      for (const context of ["Customers ask for refunds by email.", "Customers ask for refunds by email or in the app; refunds over 100 EUR need a lead's approval."]) {
        await api(info, "/tasks/generate-sop", { topic: "Refund a Candyland order", audience: "support team", slug: "refund-a-candyland-order", context });
      }
      await api(info, "/tasks/generate-sop", { topic: "Rotate the Notion integration token", audience: "operations" });
    }
    // Tickets through the real pipeline (where the events issue has landed): app error rows → events → rules → tickets.
    const has = async (path: string) => {
      const res = await fetch(`${info.FUNCTIONS_URL}${path}`, { headers: { authorization: `Bearer ${info.SERVICE_ROLE_KEY}` } });
      await res.body?.cancel();
      return res.status === 200;
    };
    if ((await has("/tickets")) && (await sql`select to_regclass('knisoci.activity_logs') is not null as ok`)[0].ok) {
      for (const order of [1041, 1187, 1203, 1311]) {
        await sql`insert into knisoci.activity_logs (level, message) values ('error', ${`Payment provider timed out for order ${order} after 30000 ms`})`;
      }
      await sql`insert into candyland.app_logs (severity, msg) values ('ERROR', 'Image upload failed: bucket "products" is full')`;
      await sql`insert into candyland.app_logs (severity, msg) values ('FATAL', 'Checkout worker crashed: out of memory')`;
      await api(info, "/tickets", { title: "Update the refund policy page", priority: "low" });
      for (let i = 0; i < 100; i++) {
        const [{ n }] = await sql`select count(*)::int as n from orchestrator.tickets`;
        if (n >= 4) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // A workflow run (where workflows have landed): the shipped incident → SOP workflow for a resolved ticket.
    if (await has("/workflows")) {
      const [ticket] = await sql`select id from orchestrator.tickets order by id limit 1`.catch(() => []);
      if (ticket) {
        await fetch(`${info.FUNCTIONS_URL}/tickets/${ticket.id}`, {
          method: "PATCH",
          headers: { authorization: `Bearer ${info.SERVICE_ROLE_KEY}`, "content-type": "application/json" },
          body: JSON.stringify({ status: "resolved" }),
        });
        const res = await fetch(`${info.FUNCTIONS_URL}/workflows/incident-sop/runs`, {
          method: "POST",
          headers: { authorization: `Bearer ${info.SERVICE_ROLE_KEY}`, "content-type": "application/json" },
          body: JSON.stringify({ input: { ticket_id: Number(ticket.id), topic: "Payment provider timeouts" } }),
        });
        if (!res.ok) console.log(`  (workflow run not started: ${res.status} ${await res.text()})`);
      }
    }
    // Let the worker finish the noop and SOP tasks.
    for (let i = 0; i < 150; i++) {
      const [{ n }] = await sql`
        select count(*)::int as n from orchestrator.tasks
        where type in ('noop', 'sop.generate', 'ticket.open', 'incident.gather') and source <> 'demo' and status in ('queued', 'running')`;
      if (n === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return dead[0];
  } finally {
    await sql.end();
  }
}

async function shoot(page: Page, file: string, fullPage = true): Promise<void> {
  await page.mouse.move(0, 0);
  await page.waitForTimeout(250);
  await page.screenshot({ path: join(OUT, file), fullPage });
  console.log(`  docs/${file}`);
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "orchestrator-shots-"));
  chmodSync(dataDir, 0o755);
  const stack = new LocalStack({
    dataDir,
    pgPort: await freePort(),
    apiPort: await freePort(),
    fast: true,
    seed: true,
    functionEnv: { LOG_LEVEL: "info", EDGE_ACCESS_LOG: "0" },
    onProgress: (step) => console.log(`› ${step}`),
  });
  const browser = await launchChromium().catch(async (err) => {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  });
  try {
    const info = await stack.start();
    const deadTask = await seed(info);
    mkdirSync(OUT, { recursive: true });
    for (const w of WIDTHS) {
      console.log(`${w.name} (${w.width}×${w.height})`);
      const context = await browser.newContext({ viewport: { width: w.width, height: w.height }, deviceScaleFactor: w.scale });
      const page = await context.newPage();
      await page.goto(`${info.API_URL}/`);
      await page.getByLabel("API key").fill("not-the-key");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByTestId("signin-error").waitFor();
      await shoot(page, `dashboard-signin-${w.name}.png`, false);
      await page.getByLabel("API key").fill(info.SERVICE_ROLE_KEY);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByTestId("count-queued").waitFor();
      await page.getByTestId("throughput-chart").waitFor();
      await shoot(page, `dashboard-overview-${w.name}.png`);

      await page.goto(`${info.API_URL}/#/tasks`);
      await page.getByTestId("tasks-table").waitFor();
      await shoot(page, `dashboard-tasks-${w.name}.png`, false);
      await page.goto(`${info.API_URL}/#/tasks/${deadTask}?status=dead`);
      await page.getByTestId("detail-error").waitFor();
      await page.getByTestId("log-lines").first().waitFor();
      await shoot(page, `dashboard-task-detail-${w.name}.png`, w.name === "phone");

      await page.goto(`${info.API_URL}/#/logs`);
      await page.getByTestId("log-lines").waitFor();
      await shoot(page, `dashboard-logs-${w.name}.png`, false);

      for (const view of ["tickets", "sops", "schedules", "workflows", "rules"]) {
        const link = page.getByRole("navigation", { name: "Views" }).getByRole("link", { name: new RegExp(`^${view}$`, "i") });
        if ((await link.count()) === 0) {
          console.log(`  (no ${view} API on this stack: view skipped)`);
          continue;
        }
        await link.click();
        await page.locator("table, .empty, .error-box").first().waitFor();
        await shoot(page, `dashboard-${view}-${w.name}.png`, false);
        const rowLink = page.locator("tbody tr td:first-child a");
        if ((await rowLink.count()) > 0) {
          await rowLink.last().click();
          await page.locator(".detail-pane .markdown, .detail-pane .fields, .detail-pane table, .detail-pane .error-box").first().waitFor();
          await shoot(page, `dashboard-${view}-detail-${w.name}.png`, w.name === "phone");
          const runLink = page.locator(".detail-pane tbody tr td:first-child a");
          if (view === "workflows" && (await runLink.count()) > 0) {
            await runLink.first().click();
            await page.getByRole("heading", { name: "Steps" }).waitFor();
            await shoot(page, `dashboard-workflow-run-${w.name}.png`, w.name === "phone");
          }
        }
      }
      await context.close();
    }
  } finally {
    await browser.close();
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main().catch((err) => {
  console.error(`✗ screenshots failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
