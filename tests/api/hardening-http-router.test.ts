// Issue 14, item 2 (the router's part): a route reachable without a key must not
// turn each request into a stored error row. An unexpected error on such a
// request is logged sampled (one row a minute per kind, with the count held
// back); with the key, every one is logged as before.
import { beforeEach, describe, expect, it } from "vitest";
import { resetLogSampling } from "../../functions/_shared/logger.ts";
import { defineFunction } from "../../functions/_shared/router.ts";
import { request, sql } from "../helpers/stack.ts";

const rand = () => Math.random().toString(36).slice(2, 10);

function crashingFunction(name: string) {
  return defineFunction(name, [
    { method: "POST", path: "/", public: true, handler: () => { throw new TypeError("handler bug"); } },
  ]);
}

const rows = async (component: string) =>
  await sql()<{ level: string; message: string; context: Record<string, unknown> }[]>`
    select level, message, context from orchestrator.logs where component = ${component} order by id`;

describe("unexpected errors on a public route", () => {
  beforeEach(() => resetLogSampling());

  it("50 requests without a key: 50 answers of 500 without internals, 1 stored row", async () => {
    const name = `hardening-router-${rand()}`;
    const fn = crashingFunction(name);
    for (let i = 0; i < 50; i++) {
      const res = await fn.fetch(request(`/${name}`, { method: "POST", key: "none", body: "{}" }));
      expect(res.status).toBe(500);
      expect(await res.text()).not.toMatch(/handler bug|TypeError/);
    }
    const stored = await rows(name);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ level: "error", context: { sample_key: `unhandled:${name}:TypeError`, suppressed_since_last: 0 } });
  });

  it("with the key, each one is logged (an operator's own requests are not sampled)", async () => {
    const name = `hardening-router-${rand()}`;
    const fn = crashingFunction(name);
    for (let i = 0; i < 5; i++) expect((await fn.fetch(request(`/${name}`, { method: "POST", body: "{}" }))).status).toBe(500);
    const stored = await rows(name);
    expect(stored).toHaveLength(5);
    expect(stored.every((r) => r.message === "unhandled error" && r.context.sample_key === undefined)).toBe(true);
  });
});
