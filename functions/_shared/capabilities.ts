// GET /health/capabilities: what this deployment serves and which integrations are configured, in one
// answer, so a client (the dashboard) need not try endpoints to find out. It holds no secret: each
// integration is only said to be configured or not (never a key, token, URL or subscription secret).
import { inspectAiConfig } from "./ai/config.ts";
import { db } from "./db.ts";
import { notionSettings } from "./env.ts";
import { API_FAMILIES, type Capabilities } from "./responses.ts";
import { VERSION } from "./version.ts";

export async function capabilities(): Promise<Capabilities> {
  const [{ active }] = await db()<{ active: number }[]>`
    select count(*)::int as active from orchestrator.webhook_subscriptions where active`;
  const ai = inspectAiConfig();
  return {
    version: VERSION,
    apis: [...API_FAMILIES],
    integrations: {
      notion: { configured: !!notionSettings.apiKey && !!notionSettings.databaseId },
      ai: { configured: ai.configured, usable: ai.usable },
      webhooks: { configured: active > 0, active_subscriptions: active },
    },
  };
}
