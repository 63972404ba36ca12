// /schedules handler called in-process against the real database (and its pg_cron).
// Schedules made here run yearly, so none fires during the test run.
import { describe, expect, it } from "vitest";
import schedules from "../../functions/schedules/index.ts";
import { request, sql } from "../helpers/stack.ts";

async function call(path: string, init: Parameters<typeof request>[1] = {}) {
  const res = await schedules.fetch(request(path, init));
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
const send = (method: string, path: string, body: unknown) => call(path, { method, body: JSON.stringify(body) });
const uniqueName = () => `api-${Math.random().toString(36).slice(2, 10)}`;

async function cronJob(name: string) {
  const [row] = await sql()<{ schedule: string; command: string }[]>`
    select schedule, command from cron.job where jobname = ${`orchestrator.schedule:${name}`}`;
  return row;
}

describe("POST /schedules", () => {
  it("201 with the schedule, normalised, with its pg_cron job and next runs", async () => {
    const name = uniqueName();
    const res = await send("POST", "/schedules", { name, cron: "0  0 1 jan *", task_type: "noop", payload: { echo: "hi" }, description: "yearly hello" });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name, cron: "0 0 1 jan *", timezone: "UTC", task_type: "noop", payload: { echo: "hi" }, enabled: true, builtin: false,
      job_name: `orchestrator.schedule:${name}`, last_run: null,
    });
    expect(res.body.cron_job.active).toBe(true);
    expect(res.body.next_runs).toHaveLength(3);
    expect(res.body.next_runs[0]).toMatch(/-01-01T00:00:00.000Z$/);
    expect(await cronJob(name)).toEqual({ schedule: "0 0 1 jan *", command: `select orchestrator.schedule_tick(${res.body.id})` });
  });

  it("400 with zod issues for a bad cron expression, and neither a row nor a job is stored", async () => {
    const name = uniqueName();
    const res = await send("POST", "/schedules", { name, cron: "*/0 25 * * *", task_type: "noop" });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
    expect(res.body.error.details.issues).toEqual([
      { path: "cron", code: "custom", message: expect.stringMatching(/^minute: step 0/) },
      { path: "cron", code: "custom", message: expect.stringMatching(/^hour: 25 is out of range 0-23/) },
    ]);
    for (const cron of ["* * * *", "0 0 31 2 *", "5/10 * * * *", "30 seconds", "@reboot"]) {
      const r = await send("POST", "/schedules", { name, cron, task_type: "noop" });
      expect({ cron, status: r.status }).toEqual({ cron, status: 400 });
    }
    expect(await sql()`select 1 from orchestrator.schedules where name = ${name}`).toHaveLength(0);
    expect(await cronJob(name)).toBeUndefined();
  });

  it("400 for an unknown task type or a payload its schema refuses; 409 for a taken name", async () => {
    const name = uniqueName();
    const unknown = await send("POST", "/schedules", { name, cron: "@yearly", task_type: "no.such.type" });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toMatch(/Unknown task type "no.such.type"/);
    const bad = await send("POST", "/schedules", { name, cron: "@yearly", task_type: "noop", payload: { delay_ms: "soon" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.issues[0].path).toBe("delay_ms");
    const extra = await send("POST", "/schedules", { name, cron: "@yearly", task_type: "noop", timezone: "Europe/Atlantis" });
    expect(extra.status).toBe(400);
    expect(extra.body.error.details.issues[0].path).toBe("timezone");
    expect(await sql()`select 1 from orchestrator.schedules where name = ${name}`).toHaveLength(0);

    expect((await send("POST", "/schedules", { name, cron: "@yearly", task_type: "noop" })).status).toBe(201);
    const dup = await send("POST", "/schedules", { name, cron: "@yearly", task_type: "noop" });
    expect(dup.status).toBe(409);
    expect(dup.body.error.message).toMatch(/already exists/);
  });

  it("takes a time zone: GET shows the next 5 fires in UTC and in the zone, the same as SQL computes them", async () => {
    const name = uniqueName();
    const res = await send("POST", "/schedules", { name, cron: "30 2 * * *", task_type: "noop", timezone: "europe/berlin" });
    expect(res.status).toBe(201);
    expect(res.body.timezone).toBe("Europe/Berlin");
    // A zoned schedule's job ticks every minute; SQL decides which minute fires.
    expect(await cronJob(name)).toEqual({ schedule: "* * * * *", command: `select orchestrator.schedule_tick(${res.body.id})` });

    const got = await call(`/schedules/${name}`);
    expect(got.status).toBe(200);
    const fires: { utc: string; local: string }[] = got.body.next_fires;
    expect(fires).toHaveLength(5);
    const [{ expected }] = await sql()`select orchestrator.schedule_next_fires(${res.body.id}) as expected`;
    expect(fires).toEqual(expected);
    for (const f of fires) {
      // 02:30 on Berlin's wall clock, +01:00 in winter (+02:00 in summer, and 03:00 on the spring-forward day).
      expect(f.local).toMatch(/^\d{4}-\d{2}-\d{2}T0[23]:[03]0:00\+0[12]:00$/);
      expect(f.utc).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00Z$/);
      // The two say the same instant.
      expect(new Date(f.local).toISOString()).toBe(new Date(f.utc).toISOString());
    }
    expect(Date.parse(fires[0].utc)).toBeGreaterThan(Date.now());
    expect(got.body.next_runs).toEqual(fires.slice(0, 3).map((f) => new Date(f.utc).toISOString()));

    // PATCH moves it to another zone and back to UTC (its job on its own cron again).
    const ny = await send("PATCH", `/schedules/${name}`, { timezone: "America/New_York" });
    expect(ny.status).toBe(200);
    expect(ny.body.next_fires[0].local).toMatch(/T0[23]:[03]0:00-0[45]:00$/);
    const utc = await send("PATCH", `/schedules/${name}`, { timezone: "UTC" });
    expect(utc.body.next_fires[0].local).toMatch(/T02:30:00\+00:00$/);
    expect((await cronJob(name)).schedule).toBe("30 2 * * *");
  });

  it("400 naming timezone for an unknown zone, on POST and PATCH, and nothing stored or changed", async () => {
    const name = uniqueName();
    for (const timezone of ["Mars/Olympus_Mons", "+02:00", "UTC+3", ""]) {
      const res = await send("POST", "/schedules", { name, cron: "30 2 * * *", task_type: "noop", timezone });
      expect({ timezone, status: res.status, code: res.body.error.code }).toEqual({ timezone, status: 400, code: "validation_failed" });
      expect(res.body.error.details.issues).toEqual([
        { path: "timezone", code: "custom", message: expect.stringMatching(/^unknown time zone .*use an IANA name such as Europe\/Berlin/) },
      ]);
    }
    expect(await sql()`select 1 from orchestrator.schedules where name = ${name}`).toHaveLength(0);
    expect(await cronJob(name)).toBeUndefined();

    await send("POST", "/schedules", { name, cron: "30 2 * * *", task_type: "noop", timezone: "Asia/Tokyo" });
    const bad = await send("PATCH", `/schedules/${name}`, { timezone: "Asia/Atlantis", cron: "0 3 * * *" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.issues[0].path).toBe("timezone");
    const [row] = await sql()`select cron, timezone from orchestrator.schedules where name = ${name}`;
    expect(row).toEqual({ cron: "30 2 * * *", timezone: "Asia/Tokyo" });
  });

  it("401 without the service key", async () => {
    const res = await call("/schedules", { key: "anon" });
    expect(res.status).toBe(401);
    const post = await call("/schedules", { method: "POST", key: "none", body: JSON.stringify({ name: uniqueName(), cron: "@yearly", task_type: "noop" }) });
    expect(post.status).toBe(401);
  });
});

describe("GET, PATCH, DELETE /schedules/:name", () => {
  it("lists schedules (maintenance first) and the system pg_cron jobs", async () => {
    const res = await call("/schedules");
    expect(res.status).toBe(200);
    const names = res.body.schedules.map((s: { name: string }) => s.name);
    expect(names.slice(0, 2)).toEqual(["maintenance-digest", "maintenance-prune"]);
    expect(res.body.system_jobs.map((j: { job: string }) => j.job)).toEqual(expect.arrayContaining(["orchestrator-reap", "orchestrator-sweep"]));
  });

  it("PATCH reschedules, disables (no job) and re-enables; type and payload are validated together", async () => {
    const name = uniqueName();
    await send("POST", "/schedules", { name, cron: "@yearly", task_type: "noop" });
    const retimed = await send("PATCH", `/schedules/${name}`, { cron: "30 4 1 */3 *" });
    expect(retimed.status).toBe(200);
    expect(retimed.body.cron).toBe("30 4 1 */3 *");
    expect((await cronJob(name)).schedule).toBe("30 4 1 */3 *");

    const off = await send("PATCH", `/schedules/${name}`, { enabled: false });
    expect(off.body).toMatchObject({ enabled: false, cron_job: null, next_runs: [] });
    expect(await cronJob(name)).toBeUndefined();
    const on = await send("PATCH", `/schedules/${name}`, { enabled: true });
    expect(on.body.cron_job.active).toBe(true);

    const badPayload = await send("PATCH", `/schedules/${name}`, { payload: { delay_ms: -5 } });
    expect(badPayload.status).toBe(400);
    const badCron = await send("PATCH", `/schedules/${name}`, { cron: "1 2 3" });
    expect(badCron.status).toBe(400);
    const empty = await send("PATCH", `/schedules/${name}`, {});
    expect(empty.status).toBe(400);
    expect((await call(`/schedules/${name}`)).body.cron).toBe("30 4 1 */3 *");
    expect((await send("PATCH", "/schedules/nope-nope", { enabled: false })).status).toBe(404);
  });

  it("DELETE removes the schedule and its job; shipped maintenance schedules can only be disabled", async () => {
    const name = uniqueName();
    await send("POST", "/schedules", { name, cron: "@yearly", task_type: "noop" });
    const del = await call(`/schedules/${name}`, { method: "DELETE" });
    expect(del).toEqual({ status: 200, body: { deleted: true, name } });
    expect(await cronJob(name)).toBeUndefined();
    expect((await call(`/schedules/${name}`)).status).toBe(404);
    const builtin = await call("/schedules/maintenance-prune", { method: "DELETE" });
    expect(builtin.status).toBe(409);
    expect(builtin.body.error.message).toMatch(/disable it/);
    expect(await cronJob("maintenance-prune")).toBeDefined();
    expect((await call("/schedules/Bad!Name")).status).toBe(400);
  });
});

describe("runs and manual trigger", () => {
  it("POST /schedules/:name/run enqueues one task now; /runs shows it with the task's state", async () => {
    const name = uniqueName();
    await send("POST", "/schedules", { name, cron: "@yearly", task_type: "noop", payload: { echo: name } });
    const run = await call(`/schedules/${name}/run`, { method: "POST" });
    expect(run.status).toBe(201);
    expect(run.body.task).toMatchObject({ type: "noop", payload: { echo: name }, source: `schedule:${name}` });
    const runs = await call(`/schedules/${name}/runs?limit=5`);
    expect(runs.status).toBe(200);
    expect(runs.body.runs).toHaveLength(1);
    expect(runs.body.runs[0]).toMatchObject({ trigger: "manual", task_id: run.body.task.id, duplicates: 0 });
    expect(runs.body.runs[0].task.status).toMatch(/queued|running|succeeded/);
    expect(runs.body.cron_runs).toEqual([]);
    expect((await call(`/schedules/${name}/runs?limit=0`)).status).toBe(400);
  });
});

describe("/schedules/settings", () => {
  it("shows the retention defaults and validates changes", async () => {
    const res = await call("/schedules/settings");
    const byKey = Object.fromEntries(res.body.settings.map((s: { key: string; value: unknown }) => [s.key, s.value]));
    expect(byKey).toMatchObject({ "retention.tasks_days": 14, "retention.logs_days": 30, "retention.cron_runs_days": 7, "retention.http_responses_hours": 6, "retention.events_days": 30 });
    const bad = await send("PATCH", "/schedules/settings", { "retention.tasks_days": 0, "retention.bogus": 3 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.issues.map((i: { path: string }) => i.path).sort()).toEqual(["", "retention.tasks_days"]);
    const ok = await send("PATCH", "/schedules/settings", { "digest.top_n": 7 });
    expect(ok.status).toBe(200);
    expect(ok.body.settings.find((s: { key: string }) => s.key === "digest.top_n").value).toBe(7);
    await send("PATCH", "/schedules/settings", { "digest.top_n": 5 });
    expect((await call("/schedules/settings", { method: "DELETE" })).status).toBe(400);
  });
});
