// Schedules in SQL: the table keeps pg_cron in step, and a tick enqueues its
// task once however often it is delivered (also after the task has finished).
// Schedules here enqueue unique task types the Deno worker never claims.
import { describe, expect, it } from "vitest";
import postgres from "postgres";
import { sql, stack, uniqueType } from "../helpers/stack.ts";

const uniqueName = (p = "s") => `${p}-${Math.random().toString(36).slice(2, 10)}`;
const jobName = (name: string) => `orchestrator.schedule:${name}`;

async function createSchedule(name: string, cron: string, type: string, extra: Record<string, unknown> = {}) {
  const [row] = await sql()<{ id: number; cron: string }[]>`
    insert into orchestrator.schedules ${sql()({ name, cron, task_type: type, payload: sql().json({ n: 1 }), ...extra } as never)}
    returning id, cron`;
  return row;
}

async function job(name: string) {
  const [row] = await sql()<{ jobid: number; schedule: string; command: string; active: boolean }[]>`
    select jobid, schedule, command, active from cron.job where jobname = ${jobName(name)}`;
  return row;
}

async function tick(id: number, at: string | null = null, trigger = "cron") {
  const [{ task_id }] = await sql()<{ task_id: number | null }[]>`
    select orchestrator.schedule_tick(${id}, ${at}::timestamptz, ${trigger}) as task_id`;
  return task_id;
}

describe("schedules keep pg_cron in step", () => {
  it("insert schedules a job; update reschedules it; disable and delete unschedule it", async () => {
    const name = uniqueName();
    const s = await createSchedule(name, "*/5   *  * * *", uniqueType());
    expect(s.cron).toBe("*/5 * * * *");
    expect(await job(name)).toMatchObject({ schedule: "*/5 * * * *", command: `select orchestrator.schedule_tick(${s.id})`, active: true });

    await sql()`update orchestrator.schedules set cron = '@hourly' where id = ${s.id}`;
    expect((await job(name)).schedule).toBe("0 * * * *");

    await sql()`update orchestrator.schedules set enabled = false where id = ${s.id}`;
    expect(await job(name)).toBeUndefined();
    await sql()`update orchestrator.schedules set description = 'still off' where id = ${s.id}`;
    expect(await job(name)).toBeUndefined();

    await sql()`update orchestrator.schedules set enabled = true where id = ${s.id}`;
    expect((await job(name)).schedule).toBe("0 * * * *");

    const renamed = uniqueName();
    await sql()`update orchestrator.schedules set name = ${renamed} where id = ${s.id}`;
    expect(await job(name)).toBeUndefined();
    expect((await job(renamed)).command).toBe(`select orchestrator.schedule_tick(${s.id})`);

    await sql()`delete from orchestrator.schedules where id = ${s.id}`;
    expect(await job(renamed)).toBeUndefined();
  });

  it("refuses an invalid expression with a clear error and leaves neither a row nor a job", async () => {
    const name = uniqueName();
    await expect(createSchedule(name, "61 * * * *", uniqueType())).rejects.toThrow(/minute value 61 is out of range 0-59/);
    await expect(createSchedule(name, "0 0 31 2 *", uniqueType())).rejects.toThrow(/never run/);
    const [{ n }] = await sql()`select count(*)::int as n from orchestrator.schedules where name = ${name}`;
    expect(n).toBe(0);
    expect(await job(name)).toBeUndefined();
  });

  it("a rolled-back schedule leaves no pg_cron job behind", async () => {
    const name = uniqueName();
    await sql().begin(async (tx) => {
      await tx`insert into orchestrator.schedules (name, cron, task_type) values (${name}, '* * * * *', 'noop')`;
      await tx`select 1/0`;
    }).catch(() => {});
    expect(await job(name)).toBeUndefined();
  });

  it("ships the maintenance schedules with their jobs", async () => {
    const rows = await sql()<{ name: string; task_type: string; builtin: boolean; enabled: boolean }[]>`
      select name, task_type, builtin, enabled from orchestrator.schedules where name like 'maintenance-%' order by name`;
    expect(rows).toEqual([
      { name: "maintenance-digest", task_type: "maintenance.digest", builtin: true, enabled: true },
      { name: "maintenance-prune", task_type: "maintenance.prune", builtin: true, enabled: true },
    ]);
    expect((await job("maintenance-prune")).schedule).toBe("17 * * * *");
    expect((await job("maintenance-digest")).schedule).toBe("5 0 * * *");
  });
});

describe("schedule_tick", () => {
  it("enqueues one task per tick, with a per-tick dedupe key, also when the tick is delivered again after the task finished", async () => {
    const type = uniqueType("tick");
    const name = uniqueName();
    const s = await createSchedule(name, "* * * * *", type, { priority: 7, max_attempts: 2 });
    const first = await tick(s.id, "2026-11-24T10:15:00Z");
    expect(first).toBeGreaterThan(0);
    const [task] = await sql()`select type, payload, priority, max_attempts, dedupe_key, source from orchestrator.tasks where id = ${first}`;
    expect(task).toEqual({ type, payload: { n: 1 }, priority: 7, max_attempts: 2, dedupe_key: `schedule:${name}:2026-11-24T10:15Z`, source: `schedule:${name}` });

    // Doubled while the task is queued, and again at second 42 of the same minute.
    expect(await tick(s.id, "2026-11-24T10:15:00Z")).toBeNull();
    expect(await tick(s.id, "2026-11-24T10:15:42Z")).toBeNull();
    // The task finishes (its dedupe key is free in the queue again) and the tick arrives once more.
    const [claimed] = await sql()<{ id: number; lease_token: string }[]>`select id, lease_token from orchestrator.claim('w', 1, 60, ${[type]}::text[])`;
    await sql()`select orchestrator.complete(${claimed.id}, ${claimed.lease_token}::uuid, '{}'::jsonb)`;
    expect(await tick(s.id, "2026-11-24T10:15:00Z")).toBeNull();

    const [{ n }] = await sql()`select count(*)::int as n from orchestrator.tasks where type = ${type}`;
    expect(n).toBe(1);
    const [run] = await sql()`select task_id, duplicates from orchestrator.schedule_runs where schedule_id = ${s.id} and tick = '2026-11-24T10:15:00Z'`;
    expect(run).toEqual({ task_id: first, duplicates: 3 });

    // The next minute is a new tick.
    expect(await tick(s.id, "2026-11-24T10:16:00Z")).toBeGreaterThan(first!);
  });

  it("20 concurrent deliveries of one tick enqueue exactly one task", async () => {
    const type = uniqueType("race");
    const s = await createSchedule(uniqueName(), "* * * * *", type);
    const conns = Array.from({ length: 20 }, () => postgres(stack().DB_URL, { max: 1, onnotice: () => {} }));
    const out = await Promise.all(conns.map((c) => c<{ id: string | null }[]>`select orchestrator.schedule_tick(${s.id}, '2026-11-24T11:00:00Z') as id`));
    await Promise.all(conns.map((c) => c.end()));
    expect(out.filter(([r]) => r.id !== null)).toHaveLength(1);
    const [{ n }] = await sql()`select count(*)::int as n from orchestrator.tasks where type = ${type}`;
    expect(n).toBe(1);
    const [{ duplicates }] = await sql()`select duplicates from orchestrator.schedule_runs where schedule_id = ${s.id}`;
    expect(duplicates).toBe(19);
  });

  it("a tick pg_cron delivers late counts as the minute it was due", async () => {
    const type = uniqueType("late");
    // A schedule that is due every 10 minutes; its tick delivered without an explicit minute
    // is labelled with the latest due minute at or before now().
    const s = await createSchedule(uniqueName(), "*/10 * * * *", type);
    const id = await tick(s.id);
    const [run] = await sql()<{ tick: Date }[]>`select tick from orchestrator.schedule_runs where schedule_id = ${s.id}`;
    expect(run.tick.getUTCMinutes() % 10).toBe(0);
    expect(Date.now() - run.tick.getTime()).toBeLessThan(10 * 60_000 + 5_000);
    expect(id).toBeGreaterThan(0);
    // The same late delivery again is the same tick: nothing new.
    expect(await tick(s.id)).toBeNull();
  });

  it("a disabled schedule's stray cron tick enqueues nothing; a manual run still works", async () => {
    const type = uniqueType("off");
    const s = await createSchedule(uniqueName(), "* * * * *", type, { enabled: false });
    expect(await tick(s.id, "2026-11-24T12:00:00Z")).toBeNull();
    const manual = await tick(s.id, new Date().toISOString(), "manual");
    expect(manual).toBeGreaterThan(0);
    const [{ dedupe_key }] = await sql()`select dedupe_key from orchestrator.tasks where id = ${manual}`;
    expect(dedupe_key).toMatch(/^schedule:.+:manual:\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
  });
});
