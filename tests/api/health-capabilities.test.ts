// GET /health/capabilities: what the deployment serves and which integrations are configured, so the
// dashboard never probes. What it says follows the configuration, and it holds no secret.
import { afterEach, describe, expect, it } from "vitest";
import health from "../../functions/health/index.ts";
import { capabilitiesSchema } from "../../functions/_shared/responses.ts";
import { withEnv } from "../helpers/inprocess.ts";
import { request, sql, stack } from "../helpers/stack.ts";

const NOTION_KEY = "ntn_capabilities_test_secret_0123456789";
const AI_KEY = "sk-capabilities-test-secret-0123456789abcdef";

let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});

async function capabilities(): Promise<{ status: number; text: string; body: Record<string, any> }> {
  const res = await health.fetch(request("/health/capabilities"));
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) };
}

const activeSubscriptions = async () =>
  (await sql()<{ n: number }[]>`select count(*)::int as n from orchestrator.webhook_subscriptions where active`)[0].n;

describe("GET /health/capabilities", () => {
  it("says nothing is configured when nothing is, and lists the APIs the dashboard reads", async () => {
    restore = withEnv({ NOTION_API_KEY: undefined, NOTION_DATABASE_ID: undefined, AI_BASE_URL: undefined, AI_API_KEY: undefined, AI_MODEL: undefined });
    const { status, body } = await capabilities();
    expect(status).toBe(200);
    expect(capabilitiesSchema.safeParse(body).success, JSON.stringify(body)).toBe(true);
    for (const api of ["tasks", "logs", "tickets", "sops", "schedules", "workflows", "rules", "notion"]) expect(body.apis).toContain(api);
    expect(body.integrations.notion).toEqual({ configured: false });
    expect(body.integrations.ai).toEqual({ configured: false, usable: false });
  });

  it("follows the Notion and AI settings, and says an AI provider with a setting missing is configured but not usable", async () => {
    restore = withEnv({ NOTION_API_KEY: NOTION_KEY, NOTION_DATABASE_ID: undefined, AI_BASE_URL: "https://api.openai.com/v1", AI_API_KEY: AI_KEY, AI_MODEL: undefined });
    let { body } = await capabilities();
    expect(body.integrations.notion).toEqual({ configured: false }); // a key without a database is not a sync
    expect(body.integrations.ai).toEqual({ configured: true, usable: false }); // no AI_MODEL
    restore();
    restore = withEnv({ NOTION_API_KEY: NOTION_KEY, NOTION_DATABASE_ID: "0123456789abcdef0123456789abcdef", AI_BASE_URL: "https://api.openai.com/v1", AI_API_KEY: AI_KEY, AI_MODEL: "gpt-4o-mini" });
    ({ body } = await capabilities());
    expect(body.integrations.notion).toEqual({ configured: true });
    expect(body.integrations.ai).toEqual({ configured: true, usable: true });
  });

  it("counts the active webhook subscriptions the database holds", async () => {
    // Read around the request: other files may add or remove subscriptions meanwhile.
    for (let attempt = 0; ; attempt++) {
      const before = await activeSubscriptions();
      const { body } = await capabilities();
      const after = await activeSubscriptions();
      if (before !== after && attempt < 5) continue;
      expect(body.integrations.webhooks).toEqual({ configured: after > 0, active_subscriptions: after });
      break;
    }
  });

  it("holds no secret: no key, token, database id or subscription secret", async () => {
    const databaseId = "fedcba9876543210fedcba9876543210";
    restore = withEnv({ NOTION_API_KEY: NOTION_KEY, NOTION_DATABASE_ID: databaseId, AI_BASE_URL: "https://api.openai.com/v1", AI_API_KEY: AI_KEY, AI_MODEL: "gpt-4o-mini" });
    const { text } = await capabilities();
    const s = stack();
    const subscriptionSecrets = (await sql()<{ secret: string }[]>`select secret from orchestrator.webhook_subscriptions`).map((r) => r.secret);
    for (const secret of [NOTION_KEY, databaseId, AI_KEY, s.SERVICE_ROLE_KEY, s.SECRET_KEY, s.ANON_KEY, s.PUBLISHABLE_KEY, ...subscriptionSecrets]) {
      expect(text).not.toContain(secret);
    }
    expect(text).not.toMatch(/https?:\/\//); // not even the AI provider's URL: /health (service key) shows that
  });

  it("needs the service key, and refuses a query parameter in the error shape", async () => {
    for (const key of ["none", "anon", "publishable", "wrong"] as const) {
      const res = await health.fetch(request("/health/capabilities", { key }));
      expect(res.status, key).toBe(401);
      expect(await res.text()).not.toContain("integrations");
    }
    const res = await health.fetch(request("/health/capabilities?verbose=1"));
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error.code).toBe("validation_failed");
    expect(body.error.message).toMatch(/verbose/);
    expect(body.error.details).toBeDefined();
    expect(typeof body.request_id).toBe("string");
  });
});
