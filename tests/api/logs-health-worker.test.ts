// /logs, /health and /task-worker handlers in-process against the real database.
import { describe, expect, it } from "vitest";
import logs from "../../functions/logs/index.ts";
import health from "../../functions/health/index.ts";
import worker from "../../functions/task-worker/index.ts";
import { request, sql } from "../helpers/stack.ts";
import { withEnv } from "../helpers/inprocess.ts";
import { registerTaskType, unregisterTaskType } from "../helpers/task-types.ts";
import { noop } from "../../functions/_shared/tasks/noop.ts";

async function call(fn: { fetch(r: Request): Promise<Response> }, path: string, init: Parameters<typeof request>[1] = {}) {
  const res = await fn.fetch(request(path, init));
  return { status: res.status, text: await res.text(), type: res.headers.get("content-type") };
}

describe("GET /logs", () => {
  it("filters by level (and above), component, task, request, text; pages; three formats", async () => {
    const rid = `req-${Math.random().toString(36).slice(2)}`;
    const word = `needle${Math.random().toString(36).slice(2)}`;
    await sql()`insert into orchestrator.logs (level, component, message, task_id, request_id, context) values
      ('debug', 'test-comp', ${`debug ${word}`}, 424242, ${rid}, '{}'),
      ('info', 'test-comp', ${`info ${word}`}, 424242, ${rid}, '{"k": 1}'),
      ('warn', 'test-comp', ${`warn ${word} 100%_done`}, 424242, ${rid}, '{}'),
      ('error', 'other-comp', ${`error ${word}`}, null, ${rid}, '{}')`;

    const warnUp = JSON.parse((await call(logs, `/logs?request_id=${rid}&level=warn`)).text);
    expect(warnUp.logs.map((l: { level: string }) => l.level)).toEqual(["error", "warn"]);

    const byComp = JSON.parse((await call(logs, `/logs?request_id=${rid}&component=test-comp`)).text);
    expect(byComp.logs).toHaveLength(3);
    const byTask = JSON.parse((await call(logs, `/logs?task_id=424242&request_id=${rid}`)).text);
    expect(byTask.logs).toHaveLength(3);
    const text = JSON.parse((await call(logs, `/logs?q=${encodeURIComponent("100%_done")}`)).text);
    expect(text.logs.map((l: { message: string }) => l.message)).toEqual([`warn ${word} 100%_done`]);

    const page1 = JSON.parse((await call(logs, `/logs?request_id=${rid}&limit=3`)).text);
    expect(page1.logs).toHaveLength(3);
    const page2 = JSON.parse((await call(logs, `/logs?request_id=${rid}&limit=3&cursor=${page1.next_cursor}`)).text);
    expect(page2.logs).toHaveLength(1);
    expect(page2.next_cursor).toBeNull();

    const nd = await call(logs, `/logs?request_id=${rid}&format=ndjson`);
    expect(nd.type).toMatch(/ndjson/);
    const lines = nd.text.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines).toHaveLength(4);
    const md = await call(logs, `/logs?request_id=${rid}&format=md`);
    expect(md.type).toMatch(/markdown/);
    expect(md.text).toContain("| at | level | component | task | message |");
    expect(md.text).toContain("100%_done");
  });

  it("400 for a bad level, format, date or task id", async () => {
    for (const q of ["level=loud", "format=xml", "since=notadate", "task_id=-1", "limit=0"]) {
      const res = await call(logs, `/logs?${q}`);
      expect(res.status, q).toBe(400);
      expect(JSON.parse(res.text).error.details.issues.length).toBeGreaterThan(0);
    }
    const nul = await call(logs, "/logs?request_id=a%00b");
    expect(nul.status).toBe(400);
    expect(JSON.parse(nul.text).error.message).toMatch(/NUL/);
  });
});

describe("GET /health", () => {
  it("gives anyone { status } and the service key the full report", async () => {
    const anon = await call(health, "/health", { key: "none" });
    expect(anon.status).toBe(200);
    expect(JSON.parse(anon.text)).toEqual({ status: "ok" });
    const full = JSON.parse((await call(health, "/health")).text);
    expect(full).toMatchObject({ status: "ok", db: { ok: true } });
    expect(full.queue).toHaveProperty("queued");
    expect(full.queue).toHaveProperty("oldest_queued_age_s");
    expect(full.cron.map((c: { job: string }) => c.job)).toEqual(expect.arrayContaining(["orchestrator-reap", "orchestrator-sweep"]));
    expect(typeof full.db.latency_ms).toBe("number");
    // The local stack's supervised processes (local_stack.processes; absent on hosted Supabase).
    expect(full.local_stack.processes.map((p: { name: string }) => p.name).sort()).toEqual(["functions", "logs", "pg_net", "pooler", "postgres"]);
    for (const p of full.local_stack.processes) {
      expect(p).toMatchObject({ state: "running", restarts: expect.any(Number), since: expect.any(String) });
      expect(p.pid).toBeGreaterThan(0);
    }
    // No AI_* set: the template writes SOPs, nothing is wrong.
    expect(full.ai).toMatchObject({ configured: false, usable: false, problems: [] });
  });

  it("says what is missing from the AI configuration, degraded, without the key", async () => {
    const restore = withEnv({ AI_BASE_URL: "https://api.openai.com/v1", AI_API_KEY: "sk-health-0123456789abcdefghij", AI_MODEL: undefined });
    try {
      const res = await call(health, "/health");
      const full = JSON.parse(res.text);
      expect(res.status).toBe(200);
      expect(full.status).toBe("degraded");
      expect(full.ai).toMatchObject({ configured: true, usable: false, api_key_set: true, base_url: "https://api.openai.com/v1" });
      expect(full.ai.problems.join(" ")).toMatch(/AI_MODEL is not set: set AI_MODEL/);
      expect(res.text).not.toContain("sk-health-0123456789abcdefghij");
    } finally {
      restore();
    }
  });
});

describe("POST /task-worker", () => {
  it("runs claimed tasks and reports what it did", async () => {
    // A type registered only in this process: the stack's Deno worker cannot claim it, so this call does.
    const type = `test.inprocess.${Math.random().toString(36).slice(2, 8)}`;
    registerTaskType(type, noop);
    try {
      const [{ id }] = await sql()`select (r.task).id from orchestrator.enqueue(${type}, '{"echo": "w"}') r`;
      const [{ id: bad }] = await sql()`select (r.task).id from orchestrator.enqueue(${type}, '{"delay_ms": "soon"}', '{"max_attempts": 3}') r`;
      const res = await call(worker, "/task-worker", { method: "POST", body: JSON.stringify({ budget_ms: 5000, types: [type] }) });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.text)).toMatchObject({ claimed: 2, succeeded: 1, failed: 1, retried: 0, dead: 1 });
      const [row] = await sql()`select status, result, attempts from orchestrator.tasks where id = ${id}`;
      expect(row).toEqual({ status: "succeeded", result: { ok: true, echo: "w" }, attempts: 1 });
      const [dead] = await sql()`select status, last_error from orchestrator.tasks where id = ${bad}`;
      expect(dead.status).toBe("dead");
      expect(dead.last_error).toMatch(/payload does not match/);
    } finally {
      unregisterTaskType(type);
    }
  });

  it("400 for a bad body, 401 without the key", async () => {
    expect((await call(worker, "/task-worker", { method: "POST", body: JSON.stringify({ budget_ms: "long" }) })).status).toBe(400);
    expect((await call(worker, "/task-worker", { method: "POST", body: "{}", key: "anon" })).status).toBe(401);
  });
});
