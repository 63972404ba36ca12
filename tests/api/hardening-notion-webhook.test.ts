// Issue 14, items 1 and 2: the public /notion/webhook cannot be used to write
// Vault or to fill orchestrator.logs. In this process against the real database.
// The only test file that touches the verification window (one row, global).
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import notion from "../../functions/notion/index.ts";
import { resetLogSampling } from "../../functions/_shared/logger.ts";
import { withEnv } from "../helpers/inprocess.ts";
import { request, sql } from "../helpers/stack.ts";

const rand = () => Math.random().toString(36).slice(2, 10);
const databaseId = crypto.randomUUID();
const restoreEnv = withEnv({
  NOTION_API_KEY: `secret_test_${rand()}${rand()}`,
  NOTION_DATABASE_ID: databaseId,
  NOTION_WEBHOOK_SECRET: undefined,
  LOG_LEVEL: "info",
});
afterAll(() => restoreEnv());

const offer = (token: string, requestId: string) =>
  notion.fetch(request("/notion/webhook", {
    method: "POST", key: "none", body: JSON.stringify({ verification_token: token }), headers: { "x-request-id": requestId },
  }));
const openWindow = (body: object = {}, key: "service" | "none" | "anon" = "service") =>
  notion.fetch(request("/notion/webhook/verification", { method: "POST", key, body: JSON.stringify(body) }));
const clearToken = () => notion.fetch(request("/notion/webhook/verification", { method: "DELETE" }));
const storedToken = async () =>
  (await sql()`select decrypted_secret from vault.decrypted_secrets where name = 'notion_webhook_verification_token'`)[0]?.decrypted_secret as string | undefined;
const syncState = async () => (await sql()`select webhook_token_received_at from orchestrator.sync_state where database_id = ${databaseId}`)[0];
const logsOf = (prefix: string) =>
  sql()<{ level: string; message: string; context: Record<string, unknown> }[]>`
    select level::text, message, context from orchestrator.logs where request_id like ${prefix + "%"} order by id`;

beforeEach(async () => {
  resetLogSampling();
  await clearToken();
});

describe("the webhook verification handshake (item 1)", () => {
  it("outside a window an unauthenticated token is refused with how to open one: Vault and sync_state untouched, one log row for 25 tries", async () => {
    const run = `hn-closed-${rand()}`;
    const statuses: number[] = [];
    let body: any;
    for (let i = 0; i < 25; i++) {
      const res = await offer(`ATTACKER_TOKEN_${rand()}`, `${run}-${i}`);
      statuses.push(res.status);
      body = await res.json();
    }
    expect(new Set(statuses)).toEqual(new Set([403]));
    expect(body.error.code).toBe("verification_window_closed");
    expect(body.error.message).toContain('POST /functions/v1/notion/webhook/verification {"open_for_seconds": 600}');
    expect(await storedToken()).toBeUndefined();
    expect(await syncState()).toBeUndefined();
    // Every attempt is counted; one row is stored for the lot.
    const rows = await logsOf(run);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ level: "warn", context: { sample_key: "notion-webhook:verification-window-closed" } });
    expect(rows[0].message).toMatch(/no verification window is open \(nothing stored\)/);
    expect(JSON.stringify(rows)).not.toContain("ATTACKER_TOKEN");
  });

  it("an operator's window takes exactly one token; later ones (an attacker's) never overwrite it", async () => {
    expect((await openWindow({ open_for_seconds: 120 }, "none")).status).toBe(401);
    expect((await openWindow({ open_for_seconds: 120 }, "anon")).status).toBe(401);
    expect((await openWindow({ open_for_seconds: 5 })).status).toBe(400);
    const opened = await openWindow({ open_for_seconds: 120 });
    expect(opened.status).toBe(200);
    const window = await opened.json();
    expect(new Date(window.window_open_until).getTime()).toBeGreaterThan(Date.now() + 100_000);
    const status = await (await notion.fetch(request("/notion/status"))).json();
    expect(status.webhook).toMatchObject({ verification_token_stored: false, verification_window_open_until: window.window_open_until });

    const notionToken = `secret_from_notion_${rand()}${rand()}`;
    const run = `hn-window-${rand()}`;
    const first = await offer(notionToken, `${run}-0`);
    expect(first.status).toBe(200);
    const firstText = await first.text();
    expect(firstText).not.toContain(notionToken);
    expect(JSON.parse(firstText)).toMatchObject({ verification: "received" });
    expect(await storedToken()).toBe(notionToken);
    expect((await syncState()).webhook_token_received_at).not.toBeNull();

    // The first token closed the window: the attacker's, right after, changes nothing.
    const second = await offer("ATTACKER_TOKEN_after", `${run}-1`);
    expect(second.status).toBe(403);
    expect(await storedToken()).toBe(notionToken);
    const rows = await logsOf(run);
    expect(rows.map((r) => r.message)).toEqual([
      "Notion webhook verification token received in the open window and stored in Vault as notion_webhook_verification_token",
      "Notion webhook verification token refused: no verification window is open (nothing stored)",
    ]);
    expect(JSON.stringify(rows)).not.toContain(notionToken);

    // A stored token is never replaced by opening a window casually.
    const again = await openWindow({ open_for_seconds: 60 });
    expect(again.status).toBe(409);
    const conflict = await again.json();
    expect(conflict.error.code).toBe("verification_token_stored");
    expect(conflict.error.message).toMatch(/\{"replace": true\}.*DELETE \/functions\/v1\/notion\/webhook\/verification/);
    expect((await offer("ATTACKER_TOKEN_again", `${run}-2`)).status).toBe(403);
    expect(await storedToken()).toBe(notionToken);

    // Replacing is explicit: a window opened with replace takes the next token, once.
    expect((await openWindow({ open_for_seconds: 60, replace: true })).status).toBe(200);
    const rotated = `secret_rotated_${rand()}${rand()}`;
    expect((await offer(rotated, `${run}-3`)).status).toBe(200);
    expect(await storedToken()).toBe(rotated);
    expect((await offer("ATTACKER_TOKEN_late", `${run}-4`)).status).toBe(403);
    expect(await storedToken()).toBe(rotated);

    // Clearing forgets it.
    const cleared = await clearToken();
    expect(cleared.status).toBe(200);
    expect(await cleared.json()).toMatchObject({ cleared: true });
    expect(await storedToken()).toBeUndefined();
  });

  it("a token in a body that is not clean JSON is refused by the one parser, even inside an open window: nothing stored", async () => {
    expect((await openWindow({ open_for_seconds: 60 })).status).toBe(200);
    const token = `WINDOW_TOKEN_${rand()}`;
    const utf8 = new Uint8Array([...new TextEncoder().encode(`{"verification_token":"${token}`), 0xff, ...new TextEncoder().encode('"}')]);
    const deep = `{"verification_token":"${token}","x":${"[".repeat(100)}${"]".repeat(100)}}`;
    const surrogate = `{"verification_token":"${token}\\ud800"}`;
    for (const body of [utf8, deep, surrogate]) {
      const res = await notion.fetch(request("/notion/webhook", { method: "POST", key: "none", body }));
      expect(res.status, String(body).slice(0, 40)).toBe(400);
      expect((await res.json()).error.code).toMatch(/^(invalid_utf8|too_deep|invalid_string)$/);
    }
    expect(await storedToken()).toBeUndefined();
  });

  it("a window that expired accepts nothing", async () => {
    expect((await openWindow({ open_for_seconds: 30 })).status).toBe(200);
    await sql()`update orchestrator.notion_webhook_verification set open_until = now() - interval '1 second'`;
    const res = await offer(`secret_too_late_${rand()}`, `hn-expired-${rand()}`);
    expect(res.status).toBe(403);
    expect(await storedToken()).toBeUndefined();
  });

  it("the database refuses a token without a window even when called directly, and anon cannot call it", async () => {
    expect(await sql()`select orchestrator.notion_verification_offer('direct_sql_token', null) as o`).toEqual([{ o: "closed" }]);
    expect(await storedToken()).toBeUndefined();
    const [{ can }] = await sql()`select has_function_privilege('anon', 'orchestrator.notion_verification_offer(text, text)', 'execute') as can`;
    expect(can).toBe(false);
  });
});

describe("unauthenticated requests do not become a row each (item 2)", () => {
  it("events while NOTION_WEBHOOK_SECRET is unset: 503 each, one stored error row for 30 requests", async () => {
    const run = `hn-nosecret-${rand()}`;
    const event = JSON.stringify({ id: crypto.randomUUID(), type: "page.properties_updated", entity: { id: crypto.randomUUID(), type: "page" } });
    for (let i = 0; i < 30; i++) {
      const res = await notion.fetch(request("/notion/webhook", { method: "POST", key: "none", body: event, headers: { "x-request-id": `${run}-${i}` } }));
      expect(res.status).toBe(503);
      expect((await res.json()).error.code).toBe("webhook_not_configured");
    }
    const rows = await logsOf(run);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ level: "error", context: { sample_key: "notion-webhook:no-secret", suppressed_since_last: 0 } });
  });

  it("badly signed events: 401 each, one stored row for 30 requests", async () => {
    const restore = withEnv({ NOTION_WEBHOOK_SECRET: `secret_hook_${rand()}${rand()}` });
    try {
      const run = `hn-badsig-${rand()}`;
      const event = JSON.stringify({ id: crypto.randomUUID(), type: "page.created", entity: { id: crypto.randomUUID(), type: "page" } });
      for (let i = 0; i < 30; i++) {
        const res = await notion.fetch(request("/notion/webhook", {
          method: "POST", key: "none", body: event, headers: { "x-request-id": `${run}-${i}`, "x-notion-signature": `sha256=${"0".repeat(64)}` },
        }));
        expect(res.status).toBe(401);
      }
      const rows = await logsOf(run);
      expect(rows).toHaveLength(1);
      expect(rows[0].context).toMatchObject({ sample_key: "notion-webhook:bad-signature" });
    } finally {
      restore();
    }
  });
});
