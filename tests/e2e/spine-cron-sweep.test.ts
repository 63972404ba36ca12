// Breaks the stack on purpose, so it runs on a private stack of its own: the
// shared test stack (and every other test file) never sees the fault.
import { describe, expect, it } from "vitest";
import { usePrivateStack } from "../helpers/private-stack.ts";
import { waitFor } from "../helpers/stack.ts";

const priv = usePrivateStack();

async function taskStatus(id: number) {
  const [row] = await priv.sql<{ id: number; status: string; attempts: number }[]>`select id, status, attempts from orchestrator.tasks where id = ${id}`;
  return row;
}

describe("cron sweep", () => {
  it("picks up a task whose wake-up was lost while the dispatcher was stopped", async () => {
    await priv.stack.dispatcher.stop();
    try {
      const [{ id }] = await priv.sql`select (r.task).id from orchestrator.enqueue('noop', '{"echo": "swept"}') r`;
      // The insert's wake-up is queued but undelivered; drop it, as a lost webhook.
      const dropped = await priv.sql`delete from net.http_request_queue where body is not null and convert_from(body, 'UTF8')::jsonb ->> 'reason' = 'insert' returning id`;
      expect(dropped.length).toBeGreaterThanOrEqual(1);
      // The next sweep queues a wake-up of its own: pg_cron's (every minute on 1.4, 10 s on 1.5+), or the
      // local stack's supervisor's (every 10 s where pg_cron is older than 1.5).
      await waitFor(async () => {
        const rows = await priv.sql`select 1 from net.http_request_queue where convert_from(body, 'UTF8')::jsonb ->> 'reason' = 'cron'`;
        return rows.length > 0;
      }, "the cron sweep to queue a wake-up", 75_000, 500);
      expect((await taskStatus(id)).status).toBe("queued");
      if (!priv.stack.dispatcher.running) priv.stack.dispatcher.start();
      const done = await waitFor(async () => {
        const t = await taskStatus(id);
        return t.status === "succeeded" && t;
      }, "the swept task to succeed", 10_000);
      expect(done.attempts).toBe(1);
    } finally {
      if (!priv.stack.dispatcher.running) priv.stack.dispatcher.start();
    }
  }, 120_000);
});

