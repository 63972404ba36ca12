// The one slow test of schedules: a schedule created over REST waits for a real
// pg_cron minute tick (up to ~60 s), which enqueues exactly one task that the
// Deno worker runs; delivering that tick again, before and after the task has
// finished, enqueues nothing.
import { describe, expect, it } from "vitest";
import { http, sql, waitFor } from "../helpers/stack.ts";

describe("schedules on the local stack", () => {
  it("a schedule created over REST fires on its minute and enqueues exactly one task per tick, also when the tick is delivered twice", async () => {
    const name = `e2e-tick-${Math.random().toString(36).slice(2, 8)}`;
    const created = await http("/schedules", {
      method: "POST",
      body: JSON.stringify({ name, cron: "* * * * *", task_type: "noop", payload: { echo: name } }),
    });
    expect(created.status).toBe(201);
    const schedule = await created.json();
    const createdAt = Date.now();
    try {
      // The first real tick: pg_cron runs `select orchestrator.schedule_tick(<id>)` at the next minute.
      const first = await waitFor(async () => {
        const [r] = await sql()<{ id: number; tick: Date; task_id: number }[]>`
          select id, tick, task_id from orchestrator.schedule_runs where schedule_id = ${schedule.id} and trigger = 'cron' order by id limit 1`;
        return r;
      }, "the first pg_cron tick", 75_000, 100);
      const tickMs = first.tick.getTime();
      expect(first.tick.getUTCSeconds()).toBe(0);
      expect(tickMs).toBeGreaterThan(createdAt - 60_000);

      const task = await waitFor(async () => {
        const [t] = await sql()<{ status: string; created_at: Date; finished_at: Date | null; dedupe_key: string; result: unknown }[]>`
          select status::text, created_at, finished_at, dedupe_key, result from orchestrator.tasks where id = ${first.task_id}`;
        return t?.status === "succeeded" && t;
      }, "the tick's task to succeed", 20_000, 100);
      const minute = first.tick.toISOString().slice(0, 16) + "Z";
      expect(task.dedupe_key).toBe(`schedule:${name}:${minute}`);
      expect(task.result).toEqual({ ok: true, echo: name });

      const [cronRun] = await sql()<{ start_time: Date; status: string }[]>`
        select start_time, status from cron.job_run_details
        where command = ${`select orchestrator.schedule_tick(${schedule.id})`} order by runid limit 1`;
      expect(cronRun.status).toBe("succeeded");

      // The same tick delivered twice more, after its task finished (the queue's dedupe no longer holds the key).
      const again = [];
      for (let i = 0; i < 2; i++) {
        const [r] = await sql()<{ id: number | null }[]>`select orchestrator.schedule_tick(${schedule.id}, ${first.tick}) as id`;
        again.push(r.id);
      }
      expect(again).toEqual([null, null]);

      const [{ per_tick }] = await sql()<{ per_tick: number }[]>`
        select count(*)::int as per_tick from orchestrator.tasks where dedupe_key = ${`schedule:${name}:${minute}`}`;
      expect(per_tick).toBe(1);
      const [run] = await sql()`select duplicates from orchestrator.schedule_runs where id = ${first.id}`;
      expect(run.duplicates).toBe(2);
      // Every tick so far (a second minute may have passed) has exactly one task, each its own.
      const ticks = await sql()<{ tick: Date; tasks: number }[]>`
        select r.tick, (select count(*)::int from orchestrator.tasks t where t.dedupe_key = 'schedule:' || ${name} || ':' || to_char(r.tick at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"')) as tasks
        from orchestrator.schedule_runs r where r.schedule_id = ${schedule.id}`;
      expect(ticks.every((t) => t.tasks === 1)).toBe(true);
      const [{ total }] = await sql()`select count(*)::int as total from orchestrator.tasks where source = ${`schedule:${name}`}`;
      expect(total).toBe(ticks.length);

      const runs = await (await http(`/schedules/${name}/runs`)).json();
      expect(runs.runs.at(-1)).toMatchObject({ task_id: first.task_id, duplicates: 2, task: { status: "succeeded" } });
      expect(runs.cron_runs.at(-1).status).toBe("succeeded");

      console.log(`[schedule e2e] tick ${minute}: pg_cron started the job ${cronRun.start_time.getTime() - tickMs} ms after the minute, ` +
        `task enqueued at +${task.created_at.getTime() - tickMs} ms, succeeded at +${task.finished_at!.getTime() - tickMs} ms; ` +
        `2 more deliveries of the tick enqueued 0 tasks (ticks so far: ${ticks.length}, tasks: ${total})`);
    } finally {
      const del = await http(`/schedules/${name}`, { method: "DELETE" });
      expect(del.status).toBe(200);
      expect(await sql()`select 1 from cron.job where jobname = ${`orchestrator.schedule:${name}`}`).toHaveLength(0);
    }
  }, 110_000);
});
