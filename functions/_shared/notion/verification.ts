// Notion's webhook verification handshake, made safe to leave public.
//
// When a subscription is created, Notion POSTs {"verification_token": "..."} once,
// unsigned: nothing in that request can prove it came from Notion. So a token is
// accepted only while an operator has opened a short window with the service key,
// the first token to arrive closes the window, and a stored token is never
// overwritten unless the operator asked for that when opening the window (or
// cleared it). Outside a window a token changes nothing and the refusal is logged
// sampled (at most one row a minute, however often it is sent).
import { z } from "zod";
import { db } from "../db.ts";
import { notionSettings } from "../env.ts";
import { AppError, badRequest } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { normaliseId } from "./context.ts";

export const openWindowSchema = z.strictObject({
  /** How long a token is accepted (10 s .. 1 h). */
  open_for_seconds: z.number().int().min(10).max(3600).optional().default(600),
  /** Let the token arriving in this window replace the one stored (a new subscription). */
  replace: z.boolean().optional().default(false),
});
export type OpenWindowInput = z.infer<typeof openWindowSchema>;

const WINDOW_PATH = "/functions/v1/notion/webhook/verification";
const HOW_TO_OPEN =
  `an operator opens a verification window with the service key (POST ${WINDOW_PATH} {"open_for_seconds": 600}), ` +
  `then creates the subscription in Notion (or clicks "Resend token" there) while it is open`;
const NEXT_STEPS =
  "Read the token from Vault (notion_webhook_verification_token), paste it into Notion's Verify dialog and set " +
  "NOTION_WEBHOOK_SECRET to it. If Notion says it does not match, someone else sent a token first: clear it " +
  `(DELETE ${WINDOW_PATH}) and open a new window.`;

const iso = (d: Date | string | null) => (d ? new Date(d).toISOString() : null);

/** POST /notion/webhook/verification (service key). */
export async function openVerificationWindow(input: OpenWindowInput, log: Logger) {
  const [row] = await db()<{ outcome: string; open_until: Date | null; token_received_at: Date | null }[]>`
    select outcome, open_until, token_received_at from orchestrator.notion_verification_open(${input.open_for_seconds}, ${input.replace})`;
  if (row.outcome === "token_stored") {
    throw new AppError(409, "verification_token_stored",
      `A verification token is already stored${row.token_received_at ? ` (received ${iso(row.token_received_at)})` : ""}, and it is never ` +
        `overwritten silently. To accept a new one, open the window with {"replace": true}, or clear the stored token first ` +
        `(DELETE ${WINDOW_PATH}).`);
  }
  log.child({ component: "notion-sync" }).info(`Notion webhook verification window opened until ${iso(row.open_until)}`, {
    open_for_seconds: input.open_for_seconds, replace: input.replace,
  });
  return {
    window_open_until: iso(row.open_until),
    replace: input.replace,
    webhook_path: "/functions/v1/notion/webhook",
    next: `Create the webhook subscription in Notion now (URL: <project>/functions/v1/notion/webhook). The first token that arrives ` +
      `before ${iso(row.open_until)} is stored in Vault and closes the window. ${NEXT_STEPS}`,
  };
}

/** DELETE /notion/webhook/verification (service key): forget the stored token, close any window. */
export async function clearVerificationToken(log: Logger) {
  const [{ cleared }] = await db()<{ cleared: boolean }[]>`select orchestrator.notion_verification_clear() as cleared`;
  log.child({ component: "notion-sync" }).info(cleared
    ? "Notion webhook verification token cleared from Vault"
    : "Notion webhook verification: no token was stored; any open window is closed");
  return { cleared, next: `Open a window to receive a new token: POST ${WINDOW_PATH} {"open_for_seconds": 600}.` };
}

/** Who sent an unauthenticated request, as far as the headers say (for the operator reading the logs). */
function sender(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  const from = headers.get("x-forwarded-for") ?? headers.get("x-real-ip");
  const agent = headers.get("user-agent");
  if (from) out.forwarded_for = from.slice(0, 200);
  if (agent) out.user_agent = agent.slice(0, 200);
  return out;
}

/** {"verification_token": "..."} on the public webhook: stored only inside an open window. */
export async function offerVerificationToken(token: string, headers: Headers, log: Logger) {
  if (token.length < 8 || token.length > 500) throw badRequest("verification_token has an unexpected length (8..500 characters).");
  const databaseId = notionSettings.databaseId ? normaliseId(notionSettings.databaseId) : null;
  const [{ outcome }] = await db()<{ outcome: "stored" | "closed" | "token_stored" }[]>`
    select orchestrator.notion_verification_offer(${token}, ${databaseId}) as outcome`;
  const from = sender(headers);
  if (outcome === "closed") {
    log.sampled("warn", "notion-webhook:verification-window-closed",
      "Notion webhook verification token refused: no verification window is open (nothing stored)", from);
    throw new AppError(403, "verification_window_closed",
      `No verification window is open, so the token was not stored. Notion's verification request cannot be authenticated, ` +
        `so a token is only accepted while ${HOW_TO_OPEN}.`);
  }
  if (outcome === "token_stored") {
    log.sampled("warn", "notion-webhook:verification-token-stored",
      "Notion webhook verification token refused: a token is already stored and the window does not allow replacing it", from);
    throw new AppError(409, "verification_token_stored",
      `A verification token is already stored and this window does not replace it. An operator can open one that does: ` +
        `POST ${WINDOW_PATH} {"replace": true}.`);
  }
  // At most once per window an operator opened: not sampled.
  log.info("Notion webhook verification token received in the open window and stored in Vault as notion_webhook_verification_token", from);
  return { verification: "received", next: NEXT_STEPS };
}
