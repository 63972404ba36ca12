import { afterEach, describe, expect, it } from "vitest";
import { redact, redactString } from "../../functions/_shared/redact.ts";

describe("redact", () => {
  afterEach(() => {
    delete process.env.NOTION_API_KEY;
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

  it("keeps ordinary data intact", () => {
    const data = { type: "noop", count: 3, ok: true, list: ["a", 1, null] };
    expect(redact(data)).toEqual(data);
  });
});
