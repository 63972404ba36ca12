// The whole local stack over real HTTP: Deno functions, pg_net dispatcher,
// pg_cron, PostgreSQL. Nothing of ours is mocked.
import { describe, expect, it } from "vitest";
import { createClient } from "@supabase/supabase-js";
import { http, sql, stack, waitFor } from "../helpers/stack.ts";

type TaskRow = { id: number; status: string; created_at: Date; started_at: Date | null; finished_at: Date | null; attempts: number };

async function taskStatus(id: number): Promise<TaskRow> {
  const [row] = await sql()<TaskRow[]>`select id, status, created_at, started_at, finished_at, attempts from orchestrator.tasks where id = ${id}`;
  return row;
}

describe("webhook path", () => {
  it("POST /tasks reaches succeeded through the insert webhook, each within 2 s (the cron sweep runs once a minute)", async () => {
    for (let i = 0; i < 10; i++) {
      const res = await http("/tasks", { method: "POST", body: JSON.stringify({ type: "noop", payload: { echo: i } }) });
      expect(res.status).toBe(201);
      const { id } = await res.json();
      const done = await waitFor(async () => {
        const t = await taskStatus(id);
        return t.status === "succeeded" && t;
      }, `task ${id} to succeed`, 2000, 10);
      expect(done.attempts).toBe(1);
      expect(done.finished_at!.getTime() - done.created_at.getTime()).toBeLessThan(2000);
    }
  });

  it("a KniSoci-style caller uses supabase-js functions.invoke", async () => {
    const s = stack();
    const supabase = createClient(s.API_URL, s.SERVICE_ROLE_KEY, { auth: { persistSession: false } });
    const { data, error } = await supabase.functions.invoke("tasks", { body: { type: "noop", payload: { echo: "from-knisoci" } } });
    expect(error).toBeNull();
    expect(data).toMatchObject({ type: "noop", status: "queued" });
    const done = await waitFor(async () => {
      const { data: t } = await supabase.functions.invoke(`tasks/${data.id}`, { method: "GET" });
      return t?.status === "succeeded" && t;
    }, "the invoked task to succeed", 5000);
    expect(done.result).toEqual({ ok: true, echo: "from-knisoci" });

    // The task's logs are readable over REST.
    const { data: logs } = await supabase.functions.invoke(`logs?task_id=${data.id}`, { method: "GET" });
    expect(logs.logs.map((l: { message: string }) => l.message)).toEqual(expect.arrayContaining(["task noop enqueued"]));

    // The anon key is refused by the function itself.
    const anon = createClient(s.API_URL, s.ANON_KEY, { auth: { persistSession: false } });
    const denied = await anon.functions.invoke("tasks", { body: { type: "noop" } });
    expect(denied.error).not.toBeNull();
    expect((denied.error as { context?: Response }).context?.status).toBe(401);
  });

  it("the gateway rejects calls without a valid project JWT (verify_jwt), /health stays open", async () => {
    expect((await http("/tasks", { key: "none" })).status).toBe(401);
    expect((await http("/tasks", { key: "wrong" })).status).toBe(401);
    expect((await http("/tasks", { key: "anon" })).status).toBe(401);
    const open = await http("/health", { key: "none" });
    expect(open.status).toBe(200);
    expect(await open.json()).toEqual({ status: "ok" });
  });
});

