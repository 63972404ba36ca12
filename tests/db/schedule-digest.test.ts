// maintenance.digest (the maintenance-digest schedule's task), run in-process
// against the real database for a day no other test writes to.
import { describe, expect, it } from "vitest";
import { taskList } from "../helpers/task-types.ts";
import { createLogger, flushLogs } from "../../functions/_shared/logger.ts";
import { sql, uniqueType } from "../helpers/stack.ts";

// Five days ago: inside every retention window (so a concurrent prune in another test file
// cannot delete the rows under us), and a day no other test backdates tasks to.
const dayOffset = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);
const DAY = dayOffset(5);

async function backdated(type: string, status: string, n: number, error: string | null = null) {
  await sql()`
    insert into orchestrator.tasks (type, status, attempts, max_attempts, last_error, created_at, updated_at, finished_at)
    select ${type}, ${status}::orchestrator.task_status, 1, 1, ${error},
           ${`${DAY}T10:00:00Z`}::timestamptz + g * interval '1 second', ${`${DAY}T11:00:00Z`}::timestamptz, ${`${DAY}T11:00:00Z`}::timestamptz
    from generate_series(1, ${n}) g`;
}

describe("maintenance.digest", () => {
  it("summarises a day: tasks by type and status, top failing types, top open tickets; logs it and sends it to digest.daily subscribers", async () => {
    const [good, flaky, broken] = [uniqueType("dg"), uniqueType("df"), uniqueType("db")];
    await backdated(good, "succeeded", 12);
    await backdated(flaky, "succeeded", 3);
    await backdated(flaky, "dead", 2, "timeout talking to the provider");
    await backdated(broken, "dead", 5, "payload rejected");
    // The day before and after do not count.
    await sql()`insert into orchestrator.tasks (type, status, created_at) values (${good}, 'queued', ${`${dayOffset(6)}T23:59:59Z`}::timestamptz), (${good}, 'queued', ${`${dayOffset(4)}T00:00:00Z`}::timestamptz)`;
    const title = `Digest ticket ${Math.random().toString(36).slice(2, 8)}`;
    const [ticket] = await sql()<{ id: number }[]>`
      insert into orchestrator.tickets (title, status, priority, occurrences, source) values (${title}, 'open', 'urgent', 999999999, 'test') returning id`;
    const [sub] = await sql()<{ id: number }[]>`
      insert into orchestrator.webhook_subscriptions (url, events, secret, max_attempts)
      values ('http://127.0.0.1:9/digest', '{digest.daily}', 'test-secret-0123456789', 1) returning id`;

    try {
      const digest = taskList["maintenance.digest"];
      const log = createLogger({ component: "test-digest", taskId: 424242 });
      process.env.LOG_LEVEL = "info"; // the test setup keeps in-process logs at warn
      const out = await digest.handle(digest.payload.parse({ day: DAY, top_n: 50 }), { task: { id: 424242 } as never, log, signal: new AbortController().signal }) as {
        by_type: { type: string; total: number; succeeded: number; dead: number }[];
        top_failing: { type: string; dead: number; with_errors: number; last_error: string }[];
        open_tickets: { id: number; title: string }[];
        markdown: string;
        sent: { webhook_deliveries: number | null; notion: { enabled: boolean; push_enqueued: number } | null };
      };
      await flushLogs();
      process.env.LOG_LEVEL = "warn";
      const mine = out.by_type.filter((t) => [good, flaky, broken].includes(t.type));
      expect(mine.map((t) => [t.type, t.total, t.succeeded, t.dead])).toEqual([
        [good, 12, 12, 0], [flaky, 5, 3, 2], [broken, 5, 0, 5],
      ].sort((a, b) => (b[1] as number) - (a[1] as number) || String(a[0]).localeCompare(String(b[0]))));
      const failing = out.top_failing.filter((t) => [good, flaky, broken].includes(t.type));
      expect(failing.map((t) => [t.type, t.dead, t.last_error])).toEqual([[broken, 5, "payload rejected"], [flaky, 2, "timeout talking to the provider"]]);
      expect(out.open_tickets[0]).toMatchObject({ id: ticket.id, title });
      expect(out.markdown).toContain(`# Orchestrator digest for ${DAY} (UTC)`);
      expect(out.markdown).toContain(`| ${broken} | 5 | 5 | 5 | payload rejected |`);
      expect(out.markdown).toContain(`| ${ticket.id} | ${title} | open | urgent | 999999999 |`);

      // Kept for Notion (and whoever reads it later); the shared stack has no Notion sync, so no push.
      const [kept] = await sql()<{ body_md: string; summary: { day: string; totals: { total: number } } }[]>`
        select body_md, summary from orchestrator.digests where day = ${DAY}::date`;
      expect(kept.body_md).toBe(out.markdown);
      expect(kept.summary.day).toBe(DAY);
      expect(kept.summary.totals.total).toBeGreaterThanOrEqual(22);
      expect(out.sent.notion).toEqual({ enabled: false, push_enqueued: 0 });
      const pushes = await sql()`select id from orchestrator.tasks where type = 'notion.push' and payload = ${sql().json({ entity: "digest", key: DAY })}`;
      expect(pushes).toHaveLength(0);

      expect(out.sent.webhook_deliveries).toBeGreaterThanOrEqual(1);
      const [delivery] = await sql()<{ event: string; payload: { data: { day: string; markdown: string } }; task_id: number }[]>`
        select event, payload, task_id from orchestrator.webhook_deliveries where subscription_id = ${sub.id}`;
      expect(delivery.event).toBe("digest.daily");
      expect(delivery.payload.data.day).toBe(DAY);
      expect(delivery.payload.data.markdown).toBe(out.markdown);
      await sql()`select * from orchestrator.cancel(${delivery.task_id})`;

      const [row] = await sql()<{ message: string; context: { markdown: string } }[]>`
        select message, context from orchestrator.logs where task_id = 424242 and component = 'test-digest' order by id desc limit 1`;
      expect(row.message).toMatch(new RegExp(`^daily digest for ${DAY}: \\d+ tasks, \\d+ dead, \\d+ failing types$`));
      expect(row.context.markdown).toBe(out.markdown);
    } finally {
      await sql()`delete from orchestrator.webhook_subscriptions where id = ${sub.id}`;
      await sql()`update orchestrator.tickets set status = 'closed' where id = ${ticket.id}`;
    }
  });

  it("defaults to yesterday (UTC) and can skip sending", async () => {
    const digest = taskList["maintenance.digest"];
    const out = await digest.handle(digest.payload.parse({ send: false }), {
      task: { id: 1 } as never, log: createLogger({ component: "test-digest" }), signal: new AbortController().signal,
    }) as { day: string; markdown: string; sent: { webhook_deliveries: number | null; notion: unknown } };
    const y = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    expect(out.day).toBe(y);
    expect(out.sent).toEqual({ webhook_deliveries: null, notion: null });
    // A day digested again replaces its stored digest instead of failing or adding a second one.
    const again = await digest.handle(digest.payload.parse({ send: false, top_n: 1 }), {
      task: { id: 1 } as never, log: createLogger({ component: "test-digest" }), signal: new AbortController().signal,
    }) as { markdown: string };
    const kept = await sql()<{ body_md: string }[]>`select body_md from orchestrator.digests where day = ${y}::date`;
    expect(kept).toHaveLength(1);
    expect(kept[0].body_md).toBe(again.markdown);
    expect(digest.payload.safeParse({ day: "yesterday" }).success).toBe(false);
  });
});
