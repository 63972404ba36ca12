// HMAC-SHA256 request signing for POST /events: what a sender computes, and
// what the function accepts and refuses.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AppError } from "../../functions/_shared/errors.ts";
import {
  offeredSignatures,
  SIGNATURE_HEADER,
  signBody,
  TIMESTAMP_HEADER,
  verifySignedRequest,
} from "../../functions/_shared/events/signature.ts";

const enc = new TextEncoder();
const now = Date.UTC(2026, 10, 24, 12, 0, 0);
const ts = Math.floor(now / 1000);

async function headers(secret: string, timestamp: number | string, body: string): Promise<Headers> {
  return new Headers({ [TIMESTAMP_HEADER]: String(timestamp), [SIGNATURE_HEADER]: await signBody(secret, timestamp, body) });
}

async function refusal(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    return err as AppError;
  }
  throw new Error("expected a refusal");
}

describe("verifySignedRequest", () => {
  it("accepts a fresh signature over the exact body and returns a replay key", async () => {
    const body = '{"source":"knisoci","type":"x"}';
    const key = await verifySignedRequest(await headers("s3cret", ts, body), enc.encode(body), ["s3cret"], now);
    expect(key).toMatch(new RegExp(`^${ts}:[0-9a-f]{64}$`));
  });

  it("refuses a changed body, a wrong secret and a garbled header as bad_signature", async () => {
    const body = '{"a":1}';
    const h = await headers("s3cret", ts, body);
    expect((await refusal(verifySignedRequest(h, enc.encode('{"a":2}'), ["s3cret"], now))).code).toBe("bad_signature");
    expect((await refusal(verifySignedRequest(h, enc.encode(body), ["other"], now))).code).toBe("bad_signature");
    h.set(SIGNATURE_HEADER, "v1=zz");
    const err = await refusal(verifySignedRequest(h, enc.encode(body), ["s3cret"], now));
    expect(err.status).toBe(401);
    expect(err.code).toBe("bad_signature");
  });

  it("refuses timestamps more than 5 minutes away, either way, and malformed ones", async () => {
    const body = "{}";
    for (const t of [ts - 301, ts + 301]) {
      const err = await refusal(verifySignedRequest(await headers("k", t, body), enc.encode(body), ["k"], now));
      expect(err.status).toBe(401);
      expect(err.code).toBe("stale_timestamp");
    }
    await expect(verifySignedRequest(await headers("k", ts - 299, body), enc.encode(body), ["k"], now)).resolves.toBeTruthy();
    expect((await refusal(verifySignedRequest(await headers("k", "soon", body), enc.encode(body), ["k"], now))).code).toBe("bad_timestamp");
  });

  it("accepts any of the rotated secrets, and says so when signing is not configured", async () => {
    const body = "[]";
    await expect(verifySignedRequest(await headers("new", ts, body), enc.encode(body), ["old", "new"], now)).resolves.toBeTruthy();
    expect((await refusal(verifySignedRequest(await headers("new", ts, body), enc.encode(body), [], now))).code).toBe("signing_disabled");
  });

  it("reads v1=, sha256= and bare hex, comma-separated", () => {
    expect(offeredSignatures("v1=aa, sha256=bb,cc")).toEqual(["aa", "bb", "cc"]);
  });

  it("property: a signature verifies its own body and no body with one byte changed", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.string({ minLength: 1, maxLength: 40 }), fc.nat(), async (body, secret, at) => {
        const h = new Headers({ [TIMESTAMP_HEADER]: String(ts), [SIGNATURE_HEADER]: await signBody(secret, ts, body) });
        await verifySignedRequest(h, body, [secret], now);
        const tampered = body.slice();
        tampered[at % body.length] ^= 1;
        const err = await refusal(verifySignedRequest(h, tampered, [secret], now));
        expect(err.code).toBe("bad_signature");
      }),
      { numRuns: 60 },
    );
  });
});
