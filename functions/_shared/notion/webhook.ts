// POST /notion/webhook: Notion's integration webhooks. Public (Notion sends no
// key): the verification handshake (verification.ts), then events signed with
// the verification token (X-Notion-Signature, HMAC-SHA256) that trigger a pull of
// the page they name. Anyone can call this route, so what a caller can repeat at
// will (no secret configured, a bad signature) is logged sampled, never a row per
// request.
import { verifyWebhookSignature } from "@notionhq/client";
import { z } from "zod";
import { db } from "../db.ts";
import { notionSettings } from "../env.ts";
import { AppError, badRequest, unauthorized } from "../errors.ts";
import { parseJsonBytes, readRawBody as readBoundedBody } from "../http.ts";
import type { Logger } from "../logger.ts";
import { normaliseId } from "./context.ts";
import { requestPull } from "./service.ts";
import { offerVerificationToken } from "./verification.ts";

const webhookEventSchema = z.object({
  id: z.string().optional(),
  type: z.string().min(1).max(100),
  timestamp: z.string().optional(),
  entity: z.object({ id: z.string().min(1).max(100), type: z.string().min(1).max(50) }).optional(),
  authors: z.array(z.object({ id: z.string(), type: z.string().optional() })).optional(),
  data: z.record(z.string(), z.unknown()).optional(),
}).passthrough();

export interface WebhookOutcome {
  status: number;
  body: Record<string, unknown>;
}

export async function handleNotionWebhook(raw: Uint8Array, headers: Headers, log: Logger): Promise<WebhookOutcome> {
  // The one strict parser: UTF-8, depth, NUL and surrogates checked as on every other route.
  const body = parseJsonBytes(raw);
  const slog = log.child({ component: "notion-sync" });
  // 1. The verification handshake: {"verification_token": "..."} once, when the subscription is created.
  const token = (body as { verification_token?: unknown })?.verification_token;
  if (typeof token === "string" && Object.keys(body as object).length === 1) {
    return { status: 200, body: await offerVerificationToken(token, headers, slog) };
  }
  // 2. Events: signed with the verification token.
  const secret = notionSettings.webhookSecret;
  if (!secret) {
    slog.sampled("error", "notion-webhook:no-secret",
      "Notion webhook event rejected: NOTION_WEBHOOK_SECRET is not set, so its signature cannot be checked");
    throw new AppError(503, "webhook_not_configured", "NOTION_WEBHOOK_SECRET is not set: events cannot be verified. Set it to the verification token.");
  }
  const signature = headers.get("x-notion-signature");
  if (!signature) throw unauthorized("Missing X-Notion-Signature header.");
  const valid = await verifyWebhookSignature({ body: raw, signature, verificationToken: secret });
  if (!valid) {
    slog.sampled("warn", "notion-webhook:bad-signature", "Notion webhook event rejected: bad X-Notion-Signature");
    throw unauthorized("Invalid X-Notion-Signature: the body was not signed with this integration's verification token.");
  }
  const parsed = webhookEventSchema.safeParse(body);
  if (!parsed.success) throw badRequest(`Not a Notion webhook event: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const event = parsed.data;
  const sql = db();
  const databaseId = notionSettings.databaseId ? normaliseId(notionSettings.databaseId) : undefined;
  const [state] = databaseId
    ? await sql<{ bot_user_id: string | null; enabled: boolean }[]>`select bot_user_id, enabled from orchestrator.sync_state where database_id = ${databaseId}`
    : [];
  if (event.type.startsWith("data_source.") || event.type.startsWith("database.")) {
    // A schema change: validate the mapping again before the next sync.
    if (event.type.endsWith("schema_updated") && databaseId) {
      await sql`update orchestrator.sync_state set config_checked_at = null, updated_at = now() where database_id = ${databaseId}`;
    }
    return { status: 200, body: { accepted: true, action: "schema check scheduled", event: event.type } };
  }
  if (!event.type.startsWith("page.") || event.entity?.type !== "page") {
    return { status: 200, body: { accepted: true, action: "ignored", event: event.type } };
  }
  if (!state?.enabled) return { status: 200, body: { accepted: true, action: "ignored (sync disabled)", event: event.type } };
  const authors = event.authors ?? [];
  if (state.bot_user_id && authors.length > 0 && authors.every((a) => a.id === state.bot_user_id)) {
    return { status: 200, body: { accepted: true, action: "ignored (our own edit)", event: event.type } };
  }
  const { task_id, created } = await requestPull(event.entity.id, "notion-webhook");
  slog.info(`Notion ${event.type} for page ${event.entity.id}: targeted pull ${created ? "enqueued" : "already queued"}`, { task_id });
  // Notion expects a 200 for every delivery it should not retry.
  return { status: 200, body: { accepted: true, action: "pull enqueued", task_id, event: event.type } };
}

/** The raw body (signatures are over the exact bytes), at most maxBytes. */
export function readRawBody(req: Request, maxBytes = 256 * 1024): Promise<Uint8Array> {
  return readBoundedBody(req, maxBytes);
}
