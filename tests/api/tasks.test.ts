// /tasks handler called in-process against the real database.
import { describe, expect, it } from "vitest";
import tasks from "../../functions/tasks/index.ts";
import { request, sql } from "../helpers/stack.ts";

async function call(path: string, init: Parameters<typeof request>[1] = {}) {
  const res = await tasks.fetch(request(path, init));
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

const post = (body: unknown, init: Parameters<typeof request>[1] = {}) =>
  call("/tasks", { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), ...init });

describe("POST /tasks", () => {
  it("201 with the new task; 200 with the same task for a repeated dedupe_key", async () => {
    const key = `dedupe-${Math.random()}`;
    const a = await post({ type: "noop", payload: { delay_ms: 1 }, dedupe_key: key, run_at: new Date(Date.now() + 3600_000).toISOString() });
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ type: "noop", status: "queued", dedupe_key: key, source: "api", attempts: 0 });
    expect(a.body.lease_token).toBeUndefined();
    const b = await post({ type: "noop", dedupe_key: key });
    expect(b.status).toBe(200);
    expect(b.body.id).toBe(a.body.id);
    expect(a.headers.get("x-request-id")).toBeTruthy();
  });

  it("400 with zod issues for malformed JSON, wrong types, unknown type, bad payload", async () => {
    const malformed = await post("{\"type\": ");
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.message).toMatch(/not valid JSON/);

    const wrong = await post({ type: "noop", priority: "high", max_attempts: 0 });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.code).toBe("validation_failed");
    expect(wrong.body.error.details.issues.map((i: { path: string }) => i.path).sort()).toEqual(["max_attempts", "priority"]);

    const unknown = await post({ type: "does.not.exist" });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toMatch(/Unknown task type "does.not.exist"/);

    const badPayload = await post({ type: "noop", payload: { delay_ms: -1 } });
    expect(badPayload.status).toBe(400);
    expect(badPayload.body.error.details.issues[0].path).toBe("delay_ms");

    const nul = await post({ type: "noop", payload: { echo: "a\u0000b" } });
    expect(nul.status).toBe(400);

    const missing = await post("");
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/Invalid body/);
  });

  it("413 for a body over 256 KiB, and nothing stored", async () => {
    const marker = `big-${Math.random()}`;
    const res = await post({ type: "noop", dedupe_key: marker, payload: { echo: "x".repeat(300 * 1024) } });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("payload_too_large");
    const rows = await sql()`select 1 from orchestrator.tasks where dedupe_key = ${marker}`;
    expect(rows).toHaveLength(0);
  });

  it("401 without a key, with the anon key, or with a wrong key; nothing stored", async () => {
    const marker = `auth-${Math.random()}`;
    for (const key of ["none", "anon", "wrong"] as const) {
      const res = await post({ type: "noop", dedupe_key: marker }, { key });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe("unauthorized");
    }
    expect(await sql()`select 1 from orchestrator.tasks where dedupe_key = ${marker}`).toHaveLength(0);
  });

  it("accepts the key as an apikey header, as supabase-js sends it: the legacy service_role key and the secret key", async () => {
    // Both systems whatever TEST_KEYS says: this is about the header, not about which keys a run prefers.
    const secret = JSON.parse(process.env.SUPABASE_SECRET_KEYS!).default as string;
    for (const key of [process.env.SUPABASE_SERVICE_ROLE_KEY!, secret]) {
      const res = await tasks.fetch(request("/tasks?limit=1", { key: "none", headers: { apikey: key } }));
      expect(res.status, key.slice(0, 10)).toBe(200);
    }
  });
});

describe("GET /tasks", () => {
  it("filters by status and type and pages with a cursor", async () => {
    const later = new Date(Date.now() + 3600_000).toISOString();
    const created: number[] = [];
    for (let i = 0; i < 5; i++) {
      created.push((await post({ type: "noop", run_at: later, payload: { echo: i } })).body.id);
    }
    const since = new Date(Date.now() - 60_000).toISOString();
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof call>> = await call(`/tasks?type=noop&status=queued&since=${encodeURIComponent(since)}&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.status).toBe(200);
      expect(page.body.tasks.length).toBeLessThanOrEqual(2);
      for (const t of page.body.tasks) expect(t).toMatchObject({ type: "noop", status: "queued" });
      seen.push(...page.body.tasks.map((t: { id: number }) => t.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    for (const id of created) expect(seen).toContain(id);
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("400 for bad filters, 404 for an absent task, 400 for a non-numeric id", async () => {
    expect((await call("/tasks?limit=500")).status).toBe(400);
    expect((await call("/tasks?status=sleeping")).status).toBe(400);
    expect((await call("/tasks?since=yesterday")).status).toBe(400);
    expect((await call("/tasks?cursor=zzz")).status).toBe(400);
    expect((await call("/tasks?bogus=1")).status).toBe(400);
    const absent = await call("/tasks/999999999");
    expect(absent.status).toBe(404);
    expect(absent.body.error.code).toBe("not_found");
    expect((await call("/tasks/abc")).status).toBe(400);
  });

  it("405 for a wrong method, 404 for an unknown path", async () => {
    expect((await call("/tasks/1", { method: "DELETE" })).status).toBe(405);
    expect((await call("/tasks/1/explode", { method: "POST" })).status).toBe(404);
  });
});

describe("cancel and retry", () => {
  it("cancels a queued task, refuses a second cancel with 409, retries it", async () => {
    const { body: t } = await post({ type: "noop", run_at: new Date(Date.now() + 3600_000).toISOString() });
    const c = await call(`/tasks/${t.id}/cancel`, { method: "POST" });
    expect(c.status).toBe(200);
    expect(c.body.status).toBe("cancelled");
    const again = await call(`/tasks/${t.id}/cancel`, { method: "POST" });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/is cancelled/);
    const r = await call(`/tasks/${t.id}/retry`, { method: "POST" });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: "queued", attempts: 0 });
    const r2 = await call(`/tasks/${t.id}/retry`, { method: "POST" });
    expect(r2.status).toBe(409);
    expect((await call(`/tasks/999999999/retry`, { method: "POST" })).status).toBe(404);
  });
});
