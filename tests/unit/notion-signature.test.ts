// Signatures: Notion's X-Notion-Signature (what /notion/webhook checks) and
// ours on outbound webhooks (what a receiver checks).
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signWebhookPayload, verifyWebhookSignature } from "@notionhq/client";
import { signPayload, verifyPayload } from "../../functions/_shared/webhooks/signature.ts";
import { slackMessage } from "../../functions/_shared/webhooks/deliver.ts";

describe("X-Notion-Signature", () => {
  const token = "secret_verification_token_0123456789";
  const body = JSON.stringify({ type: "page.properties_updated", entity: { id: "p1", type: "page" } });

  it("is sha256=<hex HMAC-SHA256 of the raw body keyed by the verification token>", async () => {
    const expected = "sha256=" + createHmac("sha256", token).update(body).digest("hex");
    expect(await signWebhookPayload({ body, verificationToken: token })).toBe(expected);
    expect(await verifyWebhookSignature({ body, signature: expected, verificationToken: token })).toBe(true);
  });

  it("fails for another token, a changed body, a re-serialised body, or a malformed header", async () => {
    const sig = "sha256=" + createHmac("sha256", token).update(body).digest("hex");
    expect(await verifyWebhookSignature({ body, signature: sig, verificationToken: token + "x" })).toBe(false);
    expect(await verifyWebhookSignature({ body: body.replace("p1", "p2"), signature: sig, verificationToken: token })).toBe(false);
    expect(await verifyWebhookSignature({ body: JSON.stringify(JSON.parse(body), null, 2), signature: sig, verificationToken: token })).toBe(false);
    expect(await verifyWebhookSignature({ body, signature: sig.replace("sha256=", ""), verificationToken: token })).toBe(false);
    expect(await verifyWebhookSignature({ body, signature: null, verificationToken: token })).toBe(false);
  });
});

describe("outbound webhook signatures", () => {
  const secret = "whsec_0123456789abcdef";
  const body = '{"event":"task.dead"}';

  it("is v1=<hex HMAC-SHA256 over timestamp.body>", async () => {
    const ts = 1_790_000_000;
    const expected = "v1=" + createHmac("sha256", secret).update(`${ts}.${body}`).digest("hex");
    expect(await signPayload(secret, ts, body)).toBe(expected);
  });

  it("verifies within the tolerance and rejects stale, tampered or unsigned deliveries", async () => {
    const now = Date.now();
    const ts = Math.floor(now / 1000);
    const sig = await signPayload(secret, ts, body);
    expect(await verifyPayload(secret, String(ts), body, sig, 300, now)).toBe(true);
    expect(await verifyPayload(secret, String(ts), body + " ", sig, 300, now)).toBe(false);
    expect(await verifyPayload(secret, String(ts - 301), body, await signPayload(secret, ts - 301, body), 300, now)).toBe(false);
    expect(await verifyPayload("whsec_other_0123456789", String(ts), body, sig, 300, now)).toBe(false);
    expect(await verifyPayload(secret, null, body, sig, 300, now)).toBe(false);
  });

  it("renders Slack messages for task, ticket and SOP events", () => {
    expect(slackMessage({ event: "task.dead", occurred_at: "", data: { task: { id: 7, type: "ai.run", status: "dead", last_error: "timeout" } } }).text)
      .toBe("*task.dead* · Task #7 `ai.run` dead: timeout");
    expect(slackMessage({ event: "ticket.opened", occurred_at: "", data: { ticket: { id: 3, title: "Checkout fails", status: "open" } } }).text)
      .toBe("*ticket.opened* · Ticket #3 opened: Checkout fails (open)");
    expect(slackMessage({ event: "sop.created", occurred_at: "", data: { sop: { slug: "reset", version: 2, title: "Reset" } } }).text)
      .toBe("*sop.created* · SOP `reset` v2: Reset");
  });
});
