// The gateway in front of the user workers serves, besides /functions/v1/*, the project's JWKS where
// hosted Auth does, so a caller can verify the project's ES256 tokens (shared test stack, real HTTP).
import { describe, expect, it } from "vitest";
import { stack } from "../helpers/stack.ts";

describe("gateway routes", () => {
  it("GET /auth/v1/.well-known/jwks.json is the stack's public JWKS, with no private part", async () => {
    const info = stack() as unknown as { API_URL: string; JWKS: string };
    const res = await fetch(`${info.API_URL}/auth/v1/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const doc = await res.json();
    expect(doc).toEqual(JSON.parse(info.JWKS));
    expect(doc.keys.length).toBeGreaterThan(0);
    for (const key of doc.keys) expect(key).not.toHaveProperty("d");
    // Other paths outside /functions/v1 are still the dashboard's.
    const page = await fetch(`${info.API_URL}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
  });
});
