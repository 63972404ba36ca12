import { afterEach, describe, expect, it } from "vitest";
import { redact, redactString } from "../../functions/_shared/redact.ts";
import { isSecretUrl, maskUrl } from "../../functions/_shared/secret-url.ts";

describe("redact", () => {
  afterEach(() => {
    delete process.env.NOTION_API_KEY;
    delete process.env.EVENTS_SIGNING_SECRET;
    delete process.env.SUPABASE_SECRET_KEYS;
  });

  it("masks values under secret-looking keys at any depth", () => {
    const out = redact({ headers: { Authorization: "Bearer abc", apikey: "k", "x-ok": "fine" }, nested: [{ password: "p", n: 1 }], token_count: 3 });
    expect(out).toEqual({ headers: { Authorization: "[redacted]", apikey: "[redacted]", "x-ok": "fine" }, nested: [{ password: "[redacted]", n: 1 }], token_count: "[redacted]" });
  });

  it("masks token-shaped text inside strings", () => {
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
    expect(redactString(`calling with ${jwt}`)).toBe("calling with [redacted-jwt]");
    expect(redactString("Authorization: Bearer abc.def")).toBe("Authorization: Bearer [redacted]");
    expect(redactString("key sk-abcdefghijklmnop1234 and ntn_1234567890abcdef")).toBe("key [redacted-key] and [redacted-key]");
    expect(redactString("postgresql://postgres:hunter2@db:5432/postgres")).toBe("postgresql://postgres:[redacted]@db:5432/postgres");
  });

  it("masks configured secret values wherever they appear", () => {
    process.env.NOTION_API_KEY = "plain-looking-notion-value";
    expect(redactString("failed with plain-looking-notion-value in url")).toBe("failed with [redacted] in url");
  });

  it("masks EVENTS_SIGNING_SECRET, each secret of a comma-separated rotation list", () => {
    process.env.EVENTS_SIGNING_SECRET = "old-signing-value-1, new-signing-value-2";
    expect(redactString("hmac with old-signing-value-1 failed; now new-signing-value-2")).toBe("hmac with [redacted] failed; now [redacted]");
    expect(redactString("env: old-signing-value-1, new-signing-value-2")).toBe("env: [redacted]");
    expect(redact({ detail: "sig new-signing-value-2" })).toEqual({ detail: "sig [redacted]" });
  });

  it("masks every key of SUPABASE_SECRET_KEYS (hosted's JSON dictionary), whatever its shape", () => {
    process.env.SUPABASE_SECRET_KEYS = JSON.stringify({ default: "hand-rolled-secret-value-1", ci: "another.secret.value.2" });
    expect(redactString("called with hand-rolled-secret-value-1 and another.secret.value.2")).toBe("called with [redacted] and [redacted]");
  });

  it("masks incoming-webhook URLs (the URL is the credential) in any string, keeping scheme, host and a hint", () => {
    const slack = "https://hooks.slack.com/services/T000/B000/XXXX";
    const out = redactString(`delivery to ${slack} failed`);
    expect(out).toBe("delivery to https://hooks.slack.com/… failed");
    expect(out).not.toContain("T000/B000");
    const real = "https://hooks.slack.com/services/T01ABCDEF/B02GHIJKL/aB3dE5gH7jK9mN1pQ3sT5vW7";
    expect(redactString(real)).toBe("https://hooks.slack.com/…5vW7");
    const leaks = [
      "https://discord.com/api/webhooks/1234567890/abcDEF_ghi-JKL",
      "https://discordapp.com/api/webhooks/1/tok",
      "https://contoso.webhook.office.com/webhookb2/0f0f0f0f-0f0f/IncomingWebhook/abc/def",
      "https://outlook.office.com/webhook/abc@def/IncomingWebhook/123/456",
      "https://chat.googleapis.com/v1/spaces/AAA/messages?key=K&token=T",
      "https://mattermost.example.com/hooks/xyz123",
      "https://receiver.example.com/in?token=s3cr3t",
      "https://receiver.example.com/in?sig=abc&x=1",
      "https://receiver.example.com/in/Zk3pQ9vT2mL8xR4wN6yB",
      "https://user:pass@receiver.example.com/in",
    ];
    for (const url of leaks) {
      expect(isSecretUrl(url), url).toBe(true);
      const masked = redactString(`POST ${url} -> 500`);
      expect(masked, url).toMatch(/^POST https:\/\/[^/]+\/…[A-Za-z0-9_-]{0,4}(\?…)? -> 500$/);
      const u = new URL(url);
      if (u.pathname.length > 4) expect(masked).not.toContain(u.pathname);
      if (u.search) expect(masked).not.toContain(u.search);
      if (u.password) expect(masked).not.toContain(u.password);
    }
  });

  it("leaves URLs that carry no credential readable (API calls, ids)", () => {
    for (const url of [
      "https://api.notion.com/v1/pages/0f0f0f0f-0f0f-0f0f-0f0f-0f0f0f0f0f0f",
      "https://api.notion.com/v1/databases/0123456789abcdef0123456789abcdef/query",
      "https://www.notion.so/Checkout-502s-0123456789abcdef0123456789abcdef",
      "https://api.openai.com/v1/chat/completions",
      "http://127.0.0.1:54321/functions/v1/task-worker",
    ]) {
      expect(isSecretUrl(url), url).toBe(false);
      expect(redactString(`calling ${url}`)).toBe(`calling ${url}`);
    }
  });

  it("maskUrl: the documented form", () => {
    expect(maskUrl("https://hooks.slack.com/services/T01ABCDEF/B02GHIJKL/aB3dE5gH7jK9mN1pQ3sT5vW7")).toBe("https://hooks.slack.com/…5vW7");
    expect(maskUrl("https://discord.com/api/webhooks/123/abc?wait=true")).toBe("https://discord.com/…?…");
    expect(maskUrl("https://u:p@example.com:8443/a")).toBe("https://example.com:8443/…");
    expect(maskUrl("https://example.com/")).toBe("https://example.com/");
    expect(maskUrl("not a url")).toBe("[redacted-url]");
  });

  it("keeps ordinary data intact", () => {
    const data = { type: "noop", count: 3, ok: true, list: ["a", 1, null] };
    expect(redact(data)).toEqual(data);
  });
});
