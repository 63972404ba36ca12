// /health when the database cannot be reached: 503, same shape, no hang.
import { beforeAll, expect, it } from "vitest";
import { freePort } from "../helpers/private-stack.ts";
import { request } from "../helpers/stack.ts";

let health: { fetch(r: Request): Promise<Response> };
beforeAll(async () => {
  // Nothing listens on this port; this file's process has its own pool.
  process.env.SUPABASE_DB_URL = `postgresql://postgres@127.0.0.1:${await freePort()}/postgres`;
  health = (await import("../../functions/health/index.ts")).default;
});

it("answers 503 with the report's shape when the database is unreachable", async () => {
  const started = Date.now();
  const res = await health.fetch(request("/health"));
  expect(res.status).toBe(503);
  const body = await res.json();
  expect(body).toMatchObject({ status: "degraded", db: { ok: false, latency_ms: null }, queue: { queued: null }, cron: [] });
  expect(body.db.error).toMatch(/database unreachable/);
  expect(body.db.error).not.toMatch(/postgres@/);
  expect(Date.now() - started).toBeLessThan(6000);
  const anon = await health.fetch(request("/health", { key: "none" }));
  expect(anon.status).toBe(503);
  expect(await anon.json()).toEqual({ status: "degraded" });
});
