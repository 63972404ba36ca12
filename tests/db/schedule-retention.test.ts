// Retention (orchestrator.prune_history, run by the maintenance-prune schedule):
// rows past their retention go, rows inside it stay, and unfinished work stays
// whatever its age. Each kind gets rows one minute on either side of its boundary.
import { describe, expect, it } from "vitest";
import { sql, uniqueType } from "../helpers/stack.ts";

const DAY = 86_400_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

async function insertTask(type: string, status: string, finishedAgoMs: number | null, createdAgoMs = 40 * DAY) {
  const [row] = await sql()<{ id: number }[]>`
    insert into orchestrator.tasks (type, status, attempts, finished_at, created_at, lease_token, locked_until)
    values (${type}, ${status}::orchestrator.task_status, ${status === "running" ? 1 : 0},
            ${finishedAgoMs === null ? null : ago(finishedAgoMs)}, ${ago(createdAgoMs)},
            ${status === "running" ? sql()`gen_random_uuid()` : null}, ${status === "running" ? ago(-60_000) : null})
    returning id`;
  return row.id;
}

async function exists(table: string, column: string, value: unknown): Promise<boolean> {
  const [{ n }] = await sql().unsafe<{ n: number }[]>(`select count(*)::int as n from ${table} where ${column} = $1`, [value as string]);
  return n > 0;
}

describe("prune_history", () => {
  it("deletes what is past retention and nothing else (defaults: tasks 14 d, logs 30 d, cron runs 7 d, responses 6 h)", async () => {
    const type = uniqueType("ret");
    const edge = 60_000;
    const tasks = {
      oldSucceeded: await insertTask(type, "succeeded", 14 * DAY + edge),
      oldDead: await insertTask(type, "dead", 14 * DAY + edge),
      oldCancelled: await insertTask(type, "cancelled", 20 * DAY),
      youngSucceeded: await insertTask(type, "succeeded", 14 * DAY - edge),
      // Unfinished work is never pruned, however old.
      oldQueued: await insertTask(type, "queued", null, 90 * DAY),
      oldRunning: await insertTask(type, "running", null, 90 * DAY),
    };
    const marker = `retention-${type}`;
    const [oldLog] = await sql()<{ id: number }[]>`insert into orchestrator.logs (at, message) values (${ago(30 * DAY + edge)}, ${marker}) returning id`;
    const [youngLog] = await sql()<{ id: number }[]>`insert into orchestrator.logs (at, message) values (${ago(30 * DAY - edge)}, ${marker}) returning id`;
    const [oldCron] = await sql()<{ runid: number }[]>`
      insert into cron.job_run_details (jobid, command, status, start_time, end_time)
      values (0, ${marker}, 'succeeded', ${ago(7 * DAY + edge + 1000)}, ${ago(7 * DAY + edge)}) returning runid`;
    const [youngCron] = await sql()<{ runid: number }[]>`
      insert into cron.job_run_details (jobid, command, status, start_time, end_time)
      values (0, ${marker}, 'succeeded', ${ago(7 * DAY - edge - 1000)}, ${ago(7 * DAY - edge)}) returning runid`;
    const respOld = -Math.floor(Math.random() * 1e9);
    const respYoung = respOld - 1;
    await sql()`insert into net._http_response (id, status_code, created) values (${respOld}, 200, ${ago(6 * 3600_000 + edge)}), (${respYoung}, 200, ${ago(6 * 3600_000 - edge)})`;

    const [{ out }] = await sql()<{ out: Record<string, { deleted: number; days?: number; hours?: number; error?: string }> }[]>`
      select orchestrator.prune_history() as out`;
    expect(out.tasks.days).toBe(14);
    expect(out.logs.days).toBe(30);
    expect(out.cron_runs.days).toBe(7);
    expect(out.http_responses.hours).toBe(6);
    expect(Object.values(out).filter((v) => v.error)).toEqual([]);
    // Other test files may have pruned some of ours first (hourly schedule): count what is left, not what this call deleted.
    expect(out.tasks.deleted).toBeGreaterThanOrEqual(0);

    const left = await sql()<{ id: number }[]>`select id from orchestrator.tasks where type = ${type} order by id`;
    expect(left.map((r) => r.id)).toEqual([tasks.youngSucceeded, tasks.oldQueued, tasks.oldRunning].sort((a, b) => a - b));
    expect(await exists("orchestrator.logs", "id", oldLog.id)).toBe(false);
    expect(await exists("orchestrator.logs", "id", youngLog.id)).toBe(true);
    expect(await exists("cron.job_run_details", "runid", oldCron.runid)).toBe(false);
    expect(await exists("cron.job_run_details", "runid", youngCron.runid)).toBe(true);
    expect(await exists("net._http_response", "id", respOld)).toBe(false);
    expect(await exists("net._http_response", "id", respYoung)).toBe(true);
  });

  it("prunes schedule runs and finished workflow runs (with their steps) but keeps running runs", async () => {
    const type = uniqueType("wfret");
    const wf = `ret-${Math.random().toString(36).slice(2, 8)}`;
    await sql()`insert into orchestrator.workflows (name, steps) values (${wf}, ${sql().json([{ name: "a", type, input: {} }])})`;
    const runs: Record<string, number> = {};
    for (const [key, status, finished] of [
      ["oldDone", "succeeded", 31 * DAY], ["oldFailed", "failed", 30 * DAY + 60_000], ["youngDone", "succeeded", 29 * DAY],
      ["oldRunning", "running", null],
    ] as const) {
      const [r] = await sql()<{ id: number }[]>`
        insert into orchestrator.workflow_runs (workflow_name, workflow_version, status, finished_at, created_at)
        values (${wf}, 1, ${status}::orchestrator.workflow_run_status, ${finished === null ? null : ago(finished)}, ${ago(60 * DAY)})
        returning id`;
      await sql()`insert into orchestrator.workflow_steps (run_id, step_index, name, type, input_template) values (${r.id}, 0, 'a', ${type}, '{}')`;
      runs[key] = r.id;
    }
    const [sched] = await sql()<{ id: number }[]>`
      insert into orchestrator.schedules (name, cron, task_type, enabled) values (${`ret-${wf}`}, '* * * * *', ${type}, false) returning id`;
    await sql()`
      insert into orchestrator.schedule_runs (schedule_id, tick, created_at)
      values (${sched.id}, '2026-01-01T00:00Z', ${ago(30 * DAY + 60_000)}), (${sched.id}, '2026-01-01T00:01Z', ${ago(30 * DAY - 60_000)})`;

    await sql()`select orchestrator.prune_history()`;
    const leftRuns = await sql()<{ id: number }[]>`select id from orchestrator.workflow_runs where workflow_name = ${wf} order by id`;
    expect(leftRuns.map((r) => r.id)).toEqual([runs.youngDone, runs.oldRunning]);
    const [{ steps }] = await sql()`select count(*)::int as steps from orchestrator.workflow_steps where type = ${type}`;
    expect(steps).toBe(2);
    const ticks = await sql()<{ tick: Date }[]>`select tick from orchestrator.schedule_runs where schedule_id = ${sched.id}`;
    expect(ticks.map((t) => t.tick.toISOString())).toEqual(["2026-01-01T00:01:00.000Z"]);
  });

  it("prunes routed events past retention (30 d) and keeps unrouted ones whatever their age; ticket counts stay", async () => {
    const type = `retention.${uniqueType("ev")}`;
    const edge = 60_000;
    const [ticket] = await sql()<{ id: number }[]>`
      insert into orchestrator.tickets (title, source, occurrences) values (${`Retention ${type}`}, 'test', 3) returning id`;
    const ids: Record<string, number> = {};
    for (const [key, receivedAgo] of [["old", 30 * DAY + edge], ["young", 30 * DAY - edge], ["oldUnrouted", 90 * DAY], ["oldOfTicket", 45 * DAY]] as const) {
      const [e] = await sql()<{ id: number }[]>`
        insert into orchestrator.events (source, type, message, occurred_at, received_at, ticket_id)
        values ('test', ${type}, ${key}, ${ago(receivedAgo)}, ${ago(receivedAgo)}, ${key === "oldOfTicket" ? ticket.id : null}) returning id`;
      ids[key] = e.id;
    }
    // A routing failure leaves processed_at null; the events job retries it, so it must survive.
    await sql()`update orchestrator.events set processed_at = null, route_error = 'rule failed' where id = ${ids.oldUnrouted}`;

    const [{ out }] = await sql()<{ out: Record<string, { deleted: number; days?: number }> }[]>`select orchestrator.prune_history() as out`;
    expect(out.events.days).toBe(30);
    expect(out.tasks.days).toBe(14); // the rest of the history is still pruned by the same call
    const left = await sql()<{ id: number }[]>`select id from orchestrator.events where type = ${type} order by id`;
    expect(left.map((r) => r.id)).toEqual([ids.young, ids.oldUnrouted]);
    const [t] = await sql()`select occurrences from orchestrator.tickets where id = ${ticket.id}`;
    expect(t.occurrences).toBe(3);

    // A call's option overrides the setting (29 days: nothing of other tests is that old).
    const [{ out: short }] = await sql()<{ out: { events: { days: number } } }[]>`select orchestrator.prune_events('{"events_days": 29}') as out`;
    expect(short.events.days).toBe(29);
    expect(await exists("orchestrator.events", "id", ids.young)).toBe(false);
    expect(await exists("orchestrator.events", "id", ids.oldUnrouted)).toBe(true);
    await sql()`update orchestrator.events set processed_at = now() where id = ${ids.oldUnrouted}`;
    await sql()`update orchestrator.tickets set status = 'closed' where id = ${ticket.id}`;
  });

  it("forgets the watcher (and its capture function) of a table that was dropped, and only that one", async () => {
    const suffix = Math.random().toString(36).slice(2, 8);
    const [gone, kept] = [`public.ret_gone_${suffix}`, `public.ret_kept_${suffix}`];
    await sql().unsafe(`create table ${gone} (id int, message text); create table ${kept} (id int, message text)`);
    try {
      const source = `ret-${suffix}`;
      for (const t of [gone, kept]) await sql()`select orchestrator.watch_table(${t}::regclass, ${source}, 'log', '{"message_column": "message"}'::jsonb)`;
      const [{ fn }] = await sql()<{ fn: string }[]>`select function_name as fn from orchestrator.watchers where table_name = ${gone}`;
      await sql().unsafe(`drop table ${gone}`);
      const before = await sql()`select table_name, active from orchestrator.watcher_status where table_name in (${gone}, ${kept}) order by table_name`;
      expect(before.map((w) => [w.table_name, w.active])).toEqual([[gone, false], [kept, true]]);

      const [{ out }] = await sql()<{ out: Record<string, { deleted: number }> }[]>`select orchestrator.prune_history() as out`;
      expect(out.watchers_of_dropped_tables.deleted).toBeGreaterThanOrEqual(1);
      const after = await sql()`select table_name from orchestrator.watchers where table_name in (${gone}, ${kept})`;
      expect(after.map((w) => w.table_name)).toEqual([kept]);
      const [{ left }] = await sql()`select to_regprocedure(${`orchestrator.${fn}()`}) is not null as left`;
      expect(left).toBe(false);
      // The kept table still turns inserts into events.
      await sql().unsafe(`insert into ${kept} (id, message) values (1, 'still watched')`);
      const evs = await sql()`select message from orchestrator.events where source = ${source}`;
      expect(evs.map((e) => e.message)).toEqual(["still watched"]);
    } finally {
      await sql()`select orchestrator.unwatch_table(${kept}::regclass)`;
      await sql().unsafe(`drop table if exists ${gone}; drop table if exists ${kept}`);
    }
  });

  it("reads retention from settings, and a call's options override them", async () => {
    const type = uniqueType("set");
    const threeDays = await insertTask(type, "succeeded", 3 * DAY + 60_000);
    const oneDay = await insertTask(type, "succeeded", 1 * DAY + 60_000);
    // Settings are transactional: the shorter retention is seen only inside this transaction,
    // which is rolled back afterwards, so no other test ever prunes with it.
    const ROLLBACK = new Error("rollback");
    await sql().begin(async (tx) => {
      await tx`update orchestrator.settings set value = '3' where key = 'retention.tasks_days'`;
      const [{ out }] = await tx`select orchestrator.prune_history() as out`;
      expect(out.tasks.days).toBe(3);
      const inside = await tx<{ id: number }[]>`select id from orchestrator.tasks where type = ${type}`;
      expect(inside.map((r) => r.id)).toEqual([oneDay]);
      throw ROLLBACK;
    }).catch((err) => {
      if (err !== ROLLBACK) throw err;
    });
    let left = await sql()<{ id: number }[]>`select id from orchestrator.tasks where type = ${type} order by id`;
    expect(left.map((r) => r.id)).toEqual([threeDays, oneDay]);
    const [{ setting }] = await sql()`select value as setting from orchestrator.settings where key = 'retention.tasks_days'`;
    expect(setting).toBe(14);

    await sql()`select orchestrator.prune_history('{"tasks_days": 1}')`;
    left = await sql()<{ id: number }[]>`select id from orchestrator.tasks where type = ${type}`;
    expect(left).toEqual([]);
  });

  it("refuses retention settings that are not whole days", async () => {
    await expect(sql()`update orchestrator.settings set value = '0' where key = 'retention.logs_days'`).rejects.toThrow(/check constraint/);
    await expect(sql()`update orchestrator.settings set value = '1.5' where key = 'retention.logs_days'`).rejects.toThrow(/check constraint/);
    await expect(sql()`update orchestrator.settings set value = '"ten"' where key = 'retention.logs_days'`).rejects.toThrow(/check constraint/);
  });
});
