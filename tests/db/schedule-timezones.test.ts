// Schedules in IANA time zones, driven by a simulated clock: schedule_tick(id, p_now => t) for every minute t
// around both 2027 DST transitions in Berlin, as pg_cron would call it each minute. The fires are read back
// from schedule_runs (what actually enqueued), per Berlin day. Schedules here enqueue unique task types the
// Deno worker never claims; the real pg_cron ticks them too, but only at today's instants, outside 2027.
import { describe, expect, it } from "vitest";
import { nextRuns, parseCron, type ParsedCron } from "../../functions/_shared/schedules/cron.ts";
import { sql, uniqueType } from "../helpers/stack.ts";

const uniqueName = (p = "tz") => `${p}-${Math.random().toString(36).slice(2, 10)}`;

async function createSchedule(cron: string, timezone: string | undefined, type = uniqueType("tz")) {
  const name = uniqueName();
  const [row] = await sql()<{ id: number; name: string; timezone: string }[]>`
    insert into orchestrator.schedules ${sql()({ name, cron, task_type: type, ...(timezone ? { timezone } : {}) } as never)}
    returning id, name, timezone`;
  return { ...row, type };
}

async function job(name: string) {
  const [row] = await sql()<{ schedule: string; command: string }[]>`
    select schedule, command from cron.job where jobname = ${`orchestrator.schedule:${name}`}`;
  return row;
}

/** Ticks every minute of [from, until) in one statement, in order; returns how many ticks enqueued a task. */
async function simulate(id: number, from: string, until: string) {
  const [{ fired }] = await sql()<{ fired: number }[]>`
    select count(*) filter (where task_id is not null)::int as fired from (
      select orchestrator.schedule_tick(${id}, p_now => m) as task_id
        from generate_series(${from}::timestamptz, ${until}::timestamptz - interval '1 minute', interval '1 minute') m
       order by m) t`;
  return fired;
}

/** The recorded fires in [from, until), with the Berlin day and wall time each belongs to. */
async function firesPerDay(id: number, from: string, until: string) {
  return await sql()<{ day: string; fires: number; utc: string[]; local: string[] }[]>`
    select to_char((r.tick at time zone 'Europe/Berlin')::date, 'YYYY-MM-DD') as day, count(*)::int as fires,
           array_agg(to_char(r.tick at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"') order by r.tick) as utc,
           array_agg(orchestrator.zoned_iso(r.tick, 'Europe/Berlin') order by r.tick) as local
      from orchestrator.schedule_runs r
      join orchestrator.tasks t on t.id = r.task_id
     where r.schedule_id = ${id} and r.tick >= ${from}::timestamptz and r.tick < ${until}::timestamptz
     group by 1 order by 1`;
}

describe("a 02:30 Europe/Berlin daily schedule across the 2027 transitions (every minute ticked)", () => {
  it("spring forward (2027-03-28): once a day; the missing 02:30 fires right after the gap, 03:00 CEST = 01:00 UTC", async () => {
    const s = await createSchedule("30 2 * * *", "Europe/Berlin");
    // Berlin midnight of 03-26 to midnight of 03-30 (4 local days).
    const from = "2027-03-25T23:00:00Z", until = "2027-03-29T22:00:00Z";
    const fired = await simulate(s.id, from, until);
    const days = await firesPerDay(s.id, from, until);
    console.log("spring:", JSON.stringify(days.map((d) => [d.day, d.fires, ...d.local])));
    expect(days).toEqual([
      { day: "2027-03-26", fires: 1, utc: ["2027-03-26T01:30Z"], local: ["2027-03-26T02:30:00+01:00"] },
      { day: "2027-03-27", fires: 1, utc: ["2027-03-27T01:30Z"], local: ["2027-03-27T02:30:00+01:00"] },
      { day: "2027-03-28", fires: 1, utc: ["2027-03-28T01:00Z"], local: ["2027-03-28T03:00:00+02:00"] },
      { day: "2027-03-29", fires: 1, utc: ["2027-03-29T00:30Z"], local: ["2027-03-29T02:30:00+02:00"] },
    ]);
    expect(fired).toBe(4);
    // The minutes after each fire found it already made: quiet, not counted as doubled deliveries.
    const runs = await sql()<{ duplicates: number }[]>`select duplicates from orchestrator.schedule_runs where schedule_id = ${s.id}`;
    expect(runs.map((r) => r.duplicates)).toEqual([0, 0, 0, 0]);
  });

  it("fall back (2027-10-31): once a day; the doubled 02:30 fires at its first occurrence (CEST) only", async () => {
    const s = await createSchedule("30 2 * * *", "Europe/Berlin");
    // Berlin midnight of 10-29 to midnight of 11-02 (4 local days, one of them 25 hours long).
    const from = "2027-10-28T22:00:00Z", until = "2027-11-01T23:00:00Z";
    const fired = await simulate(s.id, from, until);
    const days = await firesPerDay(s.id, from, until);
    console.log("autumn:", JSON.stringify(days.map((d) => [d.day, d.fires, ...d.local])));
    expect(days).toEqual([
      { day: "2027-10-29", fires: 1, utc: ["2027-10-29T00:30Z"], local: ["2027-10-29T02:30:00+02:00"] },
      { day: "2027-10-30", fires: 1, utc: ["2027-10-30T00:30Z"], local: ["2027-10-30T02:30:00+02:00"] },
      { day: "2027-10-31", fires: 1, utc: ["2027-10-31T00:30Z"], local: ["2027-10-31T02:30:00+02:00"] },
      { day: "2027-11-01", fires: 1, utc: ["2027-11-01T01:30Z"], local: ["2027-11-01T02:30:00+01:00"] },
    ]);
    expect(fired).toBe(4);
  });

  it("a doubled delivery of the due minute enqueues nothing and counts as a duplicate; a late tick still fires", async () => {
    const s = await createSchedule("30 2 * * *", "Europe/Berlin");
    const [first] = await sql()`select orchestrator.schedule_tick(${s.id}, p_now => '2027-03-28T01:00:20Z') as id`;
    const [again] = await sql()`select orchestrator.schedule_tick(${s.id}, p_now => '2027-03-28T01:00:50Z') as id`;
    const [later] = await sql()`select orchestrator.schedule_tick(${s.id}, p_now => '2027-03-28T01:01:00Z') as id`;
    expect(first.id).toBeGreaterThan(0);
    expect([again.id, later.id]).toEqual([null, null]);
    // The next day's 02:30 tick never came; the one 4 minutes later fires it (labelled with its due minute).
    const [late] = await sql()`select orchestrator.schedule_tick(${s.id}, p_now => '2027-03-29T00:34:00Z') as id`;
    expect(late.id).toBeGreaterThan(0);
    const runs = await sql()<{ tick: Date; duplicates: number }[]>`
      select tick, duplicates from orchestrator.schedule_runs where schedule_id = ${s.id} order by tick`;
    expect(runs.map((r) => [r.tick.toISOString(), r.duplicates])).toEqual([
      ["2027-03-28T01:00:00.000Z", 1],
      ["2027-03-29T00:30:00.000Z", 0],
    ]);
    const [{ dedupe_key }] = await sql()`select dedupe_key from orchestrator.tasks where id = ${first.id}`;
    expect(dedupe_key).toBe(`schedule:${s.name}:2027-03-28T01:00Z`);
  });

  it("a fire due before the schedule was written is not made up afterwards", async () => {
    const s = await createSchedule("* * * * *", "Europe/Berlin");
    // Ten minutes before its creation: inside the tick's catch-up window, but older than the schedule.
    const [row] = await sql()`select orchestrator.schedule_tick(${s.id}, p_now => now() - interval '2 minutes') as id`;
    expect(row.id).toBeNull();
    // It would fire every minute on the real clock for the rest of the run.
    await sql()`delete from orchestrator.schedules where id = ${s.id}`;
  });
});

describe("next fires (orchestrator.cron_fires / schedule_next_fires)", () => {
  it("lists the next 5 across a transition, in UTC and in the zone, with the gap and the doubled hour handled", async () => {
    const s = await createSchedule("30 2 * * *", "Europe/Berlin");
    const [{ spring }] = await sql()`select orchestrator.schedule_next_fires(${s.id}, '2027-03-26T12:00:00Z', 5) as spring`;
    expect(spring).toEqual([
      { utc: "2027-03-27T01:30:00Z", local: "2027-03-27T02:30:00+01:00" },
      { utc: "2027-03-28T01:00:00Z", local: "2027-03-28T03:00:00+02:00" },
      { utc: "2027-03-29T00:30:00Z", local: "2027-03-29T02:30:00+02:00" },
      { utc: "2027-03-30T00:30:00Z", local: "2027-03-30T02:30:00+02:00" },
      { utc: "2027-03-31T00:30:00Z", local: "2027-03-31T02:30:00+02:00" },
    ]);
    // Every 20 minutes of 01:00-03:59 on the night of fall back: 02:xx once (CEST), then straight on to 03:00 CET.
    const fall = await sql()<{ local_time: string }[]>`
      select local_time from orchestrator.cron_fires('*/20 1-3 * * *', 'Europe/Berlin', '2027-10-30T23:00:00Z', 12)`;
    expect(fall.map((f) => f.local_time)).toEqual([
      "2027-10-31T01:20:00+02:00", "2027-10-31T01:40:00+02:00",
      "2027-10-31T02:00:00+02:00", "2027-10-31T02:20:00+02:00", "2027-10-31T02:40:00+02:00",
      "2027-10-31T03:00:00+01:00", "2027-10-31T03:20:00+01:00", "2027-10-31T03:40:00+01:00",
      "2027-11-01T01:00:00+01:00", "2027-11-01T01:20:00+01:00", "2027-11-01T01:40:00+01:00", "2027-11-01T02:00:00+01:00",
    ]);
    // Every missing minute of the gap fires once, together, at its end; then the hour after it as usual.
    const gap = await sql()<{ local_time: string }[]>`
      select local_time from orchestrator.cron_fires('*/15 2-3 * * *', 'Europe/Berlin', '2027-03-27T12:00:00Z', 5)`;
    expect(gap.map((f) => f.local_time)).toEqual([
      "2027-03-28T03:00:00+02:00", "2027-03-28T03:15:00+02:00", "2027-03-28T03:30:00+02:00", "2027-03-28T03:45:00+02:00",
      "2027-03-29T02:00:00+02:00",
    ]);
    // Another zone, another rule: New York springs forward on 2027-03-14 at 02:00 EST, and a 45-minute offset.
    const ny = await sql()<{ local_time: string }[]>`
      select local_time from orchestrator.cron_fires('30 2 * * *', 'America/New_York', '2027-03-13T00:00:00Z', 3)`;
    expect(ny.map((f) => f.local_time)).toEqual(["2027-03-13T02:30:00-05:00", "2027-03-14T03:00:00-04:00", "2027-03-15T02:30:00-04:00"]);
    const [kathmandu] = await sql()<{ local_time: string; fire_at: Date }[]>`
      select local_time, fire_at from orchestrator.cron_fires('0 6 * * *', 'Asia/Kathmandu', '2027-01-01T00:00:00Z', 1)`;
    expect([kathmandu.local_time, kathmandu.fire_at.toISOString()]).toEqual(["2027-01-01T06:00:00+05:45", "2027-01-01T00:15:00.000Z"]);
  });

  it("a disabled schedule has no next fires", async () => {
    const s = await createSchedule("30 2 * * *", "Europe/Berlin");
    await sql()`update orchestrator.schedules set enabled = false where id = ${s.id}`;
    const [{ fires }] = await sql()`select orchestrator.schedule_next_fires(${s.id}) as fires`;
    expect(fires).toEqual([]);
  });
});

describe("UTC schedules are unchanged", () => {
  it("keep their own cron as the pg_cron job, the default zone, and the latest-due-minute tick", async () => {
    const s = await createSchedule("*/10 * * * *", undefined);
    expect(s.timezone).toBe("UTC");
    expect(await job(s.name)).toEqual({ schedule: "*/10 * * * *", command: `select orchestrator.schedule_tick(${s.id})` });
    // Delivered 3 minutes late, it is still the :10 tick; delivered again, nothing.
    const [late] = await sql()`select orchestrator.schedule_tick(${s.id}, p_now => '2027-03-28T01:13:00Z') as id`;
    const [again] = await sql()`select orchestrator.schedule_tick(${s.id}, p_now => '2027-03-28T01:14:00Z') as id`;
    expect(late.id).toBeGreaterThan(0);
    expect(again.id).toBeNull();
    const [run] = await sql()<{ tick: Date; duplicates: number }[]>`select tick, duplicates from orchestrator.schedule_runs where schedule_id = ${s.id}`;
    expect([run.tick.toISOString(), run.duplicates]).toEqual(["2027-03-28T01:10:00.000Z", 1]);
  });

  it("SQL's UTC fires are exactly the TypeScript cron's next runs (the listing's previous source)", async () => {
    const exprs = ["*/10 * * * *", "5 0 * * *", "30 2 * * *", "0 0 29 2 *", "0 12 1,15 * 1", "17 */3 * jan,jul sun", "@yearly", "59 23 31 12 *"];
    for (const expr of exprs) {
      const cron = (parseCron(expr) as { ok: true; cron: ParsedCron }).cron;
      for (const from of ["2027-03-28T00:59:30Z", "2027-10-31T02:00:00Z", "2028-02-28T23:59:00Z"]) {
        const rows = await sql()<{ fire_at: Date }[]>`select fire_at from orchestrator.cron_fires(${expr}, 'UTC', ${from}::timestamptz, 5)`;
        expect({ expr, from, fires: rows.map((r) => r.fire_at.toISOString()) })
          .toEqual({ expr, from, fires: nextRuns(cron, new Date(from), 5).map((d) => d.toISOString()) });
      }
    }
  });
});

describe("time zones are checked in SQL too", () => {
  it("stores the canonical spelling, reschedules on a zone change, and refuses an unknown zone with what to send", async () => {
    const s = await createSchedule("30 2 * * *", "europe/berlin");
    expect(s.timezone).toBe("Europe/Berlin");
    expect((await job(s.name)).schedule).toBe("* * * * *");
    await sql()`update orchestrator.schedules set timezone = 'UTC' where id = ${s.id}`;
    expect((await job(s.name)).schedule).toBe("30 2 * * *");
    await sql()`update orchestrator.schedules set timezone = 'America/New_York' where id = ${s.id}`;
    expect((await job(s.name)).schedule).toBe("* * * * *");

    const name = uniqueName();
    for (const tz of ["Mars/Olympus_Mons", "UTC+3", "posix/Europe/Berlin", ""]) {
      await expect(sql()`insert into orchestrator.schedules (name, cron, task_type, timezone) values (${name}, '30 2 * * *', 'noop', ${tz})`)
        .rejects.toThrow(/unknown time zone .*use an IANA name such as Europe\/Berlin/);
    }
    await expect(sql()`update orchestrator.schedules set timezone = 'Nowhere/Land' where id = ${s.id}`).rejects.toThrow(/unknown time zone/);
    expect(await sql()`select 1 from orchestrator.schedules where name = ${name}`).toHaveLength(0);
    expect(await job(name)).toBeUndefined();
    const [{ timezone }] = await sql()`select timezone from orchestrator.schedules where id = ${s.id}`;
    expect(timezone).toBe("America/New_York");
  });
});
