// Table watchers on a real PostgreSQL: orchestrator.watch_table / unwatch_table.
// Each test watches its own table in its own schema and uses a source no rule
// matches, so no task is made and no other test sees its events.
import { afterAll, describe, expect, it } from "vitest";
import { sql } from "../helpers/stack.ts";

const rand = () => Math.random().toString(36).slice(2, 10).replace(/[0-9]/g, "x");
const schema = `evw_${rand()}`;
let tables = 0;

async function table(columns = "level text, message text, user_id int, meta jsonb default '{}'"): Promise<string> {
  await sql().unsafe(`create schema if not exists ${schema}`);
  const name = `${schema}.t${++tables}`;
  await sql().unsafe(`create table ${name} (id bigint generated always as identity primary key, created_at timestamptz not null default now(), ${columns})`);
  return name;
}

async function watch(name: string, source: string, options: object = {}, type = "log") {
  const [{ w }] = await sql()`select orchestrator.watch_table(${name}::regclass, ${source}, ${type}, ${sql().json(options as never)}) as w`;
  return w as Record<string, unknown>;
}

const events = (source: string) => sql()<{ id: number; type: string; level: string; message: string | null; payload: any; occurred_at: Date }[]>`
  select id, type, level::text as level, message, payload, occurred_at from orchestrator.events where source = ${source} order by id`;

afterAll(async () => {
  await sql().unsafe(`drop schema if exists ${schema} cascade`);
});

describe("watch_table", () => {
  it("installs one statement-level AFTER INSERT trigger with a transition table", async () => {
    const t = await table();
    const source = `w-${rand()}`;
    const w = await watch(t, source, { level_column: "level", message_column: "message", occurred_at_column: "created_at" });
    expect(w).toMatchObject({ table: t, source, trigger: "orchestrator_watch", level_column: "level" });
    const [trg] = await sql()<{ row_level: boolean; after: boolean; insert: boolean; newtable: string | null }[]>`
      select (tgtype & 1) = 1 as row_level, (tgtype & 2) = 0 as after, (tgtype & 4) = 4 as insert, tgnewtable as newtable
      from pg_trigger where tgrelid = ${t}::regclass and tgname = 'orchestrator_watch'`;
    expect(trg).toEqual({ row_level: false, after: true, insert: true, newtable: "orchestrator_new_rows" });
  });

  it("turns rows into events: level, message, timestamp and the row as payload.record; a bulk insert is one trigger call", async () => {
    const t = await table();
    const source = `w-${rand()}`;
    await watch(t, source, { level_column: "level", message_column: "message", occurred_at_column: "created_at", level: "warn" });
    const [{ fn }] = await sql()`select function_name as fn from orchestrator.watchers where relid = ${t}::regclass`;
    const calls = await sql().begin(async (tx) => {
      await tx`set local track_functions = 'pl'`;
      await tx.unsafe(`insert into ${t} (level, message, user_id, created_at)
        select case g % 3 when 0 then 'ERROR' when 1 then 'info' else 'shouting' end, 'row ' || g, g, '2026-01-02T03:04:05Z'
        from generate_series(1, 300) g`);
      const [row] = await tx`select calls::int from pg_stat_xact_user_functions where schemaname = 'orchestrator' and funcname = ${fn}`;
      return row?.calls;
    });
    expect(calls).toBe(1);
    const evs = await events(source);
    expect(evs).toHaveLength(300);
    expect(evs[0]).toMatchObject({ type: "log", message: "row 1", level: "info" });
    expect(evs[0].occurred_at.toISOString()).toBe("2026-01-02T03:04:05.000Z");
    expect(evs[0].payload).toMatchObject({ schema, table: t.split(".")[1], op: "INSERT", record: { id: expect.any(Number), user_id: 1, level: "info" } });
    // 'ERROR' maps to error; an unknown word falls back to the configured level (warn).
    expect(evs[2].level).toBe("error");
    expect(evs[1].level).toBe("warn");
  });

  it("never copies secret-named columns, honours keep and drop, and refuses secrets in keep", async () => {
    const t = await table("message text, password_hash text, api_key text, session_token text, stripe_secret text, plan text, email text");
    const source = `w-${rand()}`;
    const w = await watch(t, source, { message_column: "message", drop: ["email"] });
    expect((w.secret_columns_skipped as string[]).sort()).toEqual(["api_key", "password_hash", "session_token", "stripe_secret"]);
    await sql().unsafe(`insert into ${t} (message, password_hash, api_key, session_token, stripe_secret, plan, email)
      values ('signed up', 'h', 'k', 's', 'x', 'pro', 'a@b.c')`);
    const [e] = await events(source);
    expect(Object.keys(e.payload.record).sort()).toEqual(["created_at", "id", "message", "plan"]);
    expect(JSON.stringify(e.payload)).not.toMatch(/"(h|k|s|x|a@b\.c)"/);

    await watch(t, source, { keep: ["id", "plan"] });
    await sql().unsafe(`insert into ${t} (message, plan) values ('again', 'free')`);
    const evs = await events(source);
    expect(evs[1].payload.record).toEqual({ id: expect.any(Number), plan: "free" });

    await expect(watch(t, source, { keep: ["id", "api_key"] })).rejects.toThrow(/api_key look like secrets/);
    await expect(watch(t, source, { message_column: "session_token" })).rejects.toThrow(/session_token look like secrets/);
  });

  it("says what is wrong with bad options, tables and names", async () => {
    const t = await table();
    await expect(watch(t, "ok", { level_colum: "level" })).rejects.toThrow(/unknown watch_table option\(s\): level_colum/);
    await expect(watch(t, "ok", { message_column: "msg" })).rejects.toThrow(/has no column\(s\) msg/);
    await expect(watch(t, "ok", { occurred_at_column: "message" })).rejects.toThrow(/must be a timestamp/);
    await expect(watch(t, "ok", { level: "loud" })).rejects.toThrow(/unknown level/);
    await expect(watch(t, "ok", { keep: "id" })).rejects.toThrow(/array of column names/);
    await expect(watch(t, "Not Valid", {})).rejects.toThrow(/invalid event source/);
    await expect(watch(t, "ok", {}, "bad type!")).rejects.toThrow(/invalid event type/);
    await expect(watch("orchestrator.tasks", "ok", {})).rejects.toThrow(/cannot be watched/);
    await sql().unsafe(`create view ${schema}.v as select 1 as x`);
    await expect(watch(`${schema}.v`, "ok", {})).rejects.toThrow(/not a table/);
    // Nothing half-installed.
    const [{ n }] = await sql()`select count(*)::int as n from pg_trigger where tgrelid = ${t}::regclass and tgname = 'orchestrator_watch'`;
    expect(n).toBe(0);
  });

  it("re-running replaces the watcher; unwatch_table removes it", async () => {
    const t = await table();
    const a = `w-${rand()}`;
    const b = `w-${rand()}`;
    await watch(t, a, { message_column: "message" });
    await watch(t, b, { message_column: "message" }, "other");
    await sql().unsafe(`insert into ${t} (message) values ('one')`);
    expect(await events(a)).toHaveLength(0);
    expect((await events(b)).map((e) => e.type)).toEqual(["other"]);
    const [{ n }] = await sql()`select count(*)::int as n from orchestrator.watchers where relid = ${t}::regclass`;
    expect(n).toBe(1);

    const [{ removed }] = await sql()`select orchestrator.unwatch_table(${t}::regclass) as removed`;
    expect(removed).toBe(true);
    await sql().unsafe(`insert into ${t} (message) values ('two')`);
    expect(await events(b)).toHaveLength(1);
    const [{ again }] = await sql()`select orchestrator.unwatch_table(${t}::regclass) as again`;
    expect(again).toBe(false);
    const fns = await sql()`select 1 from pg_proc where proname = ${"capture_" + (await sql()`select ${t}::regclass::oid as o`)[0].o}`;
    expect(fns).toHaveLength(0);
  });

  it("an app role with no rights on the orchestrator schema still gets its rows watched", async () => {
    const t = await table();
    const source = `w-${rand()}`;
    await watch(t, source, { message_column: "message" });
    await sql().unsafe(`grant usage on schema ${schema} to authenticated; grant insert on ${t} to authenticated`);
    await sql().begin(async (tx) => {
      await tx`set local role authenticated`;
      await tx.unsafe(`insert into ${t} (message) values ('from the app')`);
    });
    expect((await events(source)).map((e) => e.message)).toEqual(["from the app"]);
  });
});

describe("a watcher whose capture fails", () => {
  it("does not block the app's insert: the row lands, no event, the failure is logged; watch_table again fixes it", async () => {
    const t = await table("message text, extra text");
    const source = `w-${rand()}`;
    await watch(t, source, { message_column: "message" });
    await sql().unsafe(`alter table ${t} drop column extra`);
    const before = new Date();
    const inserted = await sql().unsafe(`insert into ${t} (message) values ('still lands'), ('me too') returning id`);
    expect(inserted).toHaveLength(2);
    const [{ n }] = await sql().unsafe(`select count(*)::int as n from ${t}`);
    expect(n).toBe(2);
    expect(await events(source)).toHaveLength(0);
    const logs = await sql()<{ level: string; message: string; context: any }[]>`
      select level::text as level, message, context from orchestrator.logs
      where component = 'watcher' and at >= ${before} and context ->> 'table' = ${t}`;
    expect(logs).toHaveLength(1);
    expect(logs[0].level).toBe("error");
    expect(logs[0].message).toMatch(new RegExp(`watcher on ${t.replace(".", "\\.")} could not record events.*extra`));
    expect(logs[0].context).toMatchObject({ source, sqlstate: "42703" });

    await watch(t, source, { message_column: "message" });
    await sql().unsafe(`insert into ${t} (message) values ('captured again')`);
    expect((await events(source)).map((e) => e.message)).toEqual(["captured again"]);
  });
});

describe("bulk insert of 10,000 rows", () => {
  it("records every row as an event, and costs a measured ratio over the same insert unwatched", async () => {
    const cols = "level text, message text, user_id uuid, meta jsonb default '{}'";
    const plain = await table(cols);
    const watched = await table(cols);
    const source = `bulk-${rand()}`;
    await watch(watched, source, { level_column: "level", message_column: "message", occurred_at_column: "created_at" });
    const insert = (t: string) => `insert into ${t} (level, message, user_id, meta)
      select 'info', 'user ' || g || ' viewed item ' || (g * 7) || ' at ' || clock_timestamp(), gen_random_uuid(), jsonb_build_object('n', g, 'tags', jsonb_build_array('a', 'b'))
      from generate_series(1, 10000) g`;
    const time = async (t: string) => {
      const started = performance.now();
      await sql().unsafe(insert(t));
      return performance.now() - started;
    };
    // Alternate, three rounds each, so a noisy neighbour hurts both sides alike; compare medians.
    await time(plain); // warm-up (plans, caches)
    const plainMs: number[] = [];
    const watchedMs: number[] = [];
    for (let round = 0; round < 3; round++) {
      plainMs.push(await time(plain));
      watchedMs.push(await time(watched));
      const [{ n }] = await sql()`select count(*)::int as n from orchestrator.events where source = ${source}`;
      expect(n).toBe(10_000 * (round + 1));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1];
    const ratio = median(watchedMs) / median(plainMs);
    console.log(`[bulk 10k] unwatched ${plainMs.map((x) => x.toFixed(0)).join("/")} ms, watched ${watchedMs.map((x) => x.toFixed(0)).join("/")} ms; median ratio ${ratio.toFixed(2)}x`);

    // None lost, none doubled: every row of the watched table is exactly one event.
    const [check] = await sql().unsafe(`
      select (select count(*) from ${watched})::int as rows,
             (select count(*) from orchestrator.events where source = '${source}')::int as events,
             (select count(distinct (payload -> 'record' ->> 'id')) from orchestrator.events where source = '${source}')::int as distinct_ids,
             (select count(*) from ${watched} w where not exists (
                select 1 from orchestrator.events e where e.source = '${source}' and (e.payload -> 'record' ->> 'id')::bigint = w.id))::int as missing`);
    expect(check).toEqual({ rows: 30_000, events: 30_000, distinct_ids: 30_000, missing: 0 });
    // A generous bound: the watcher writes a second row per row (plus its fingerprint); it must not be pathological.
    expect(ratio).toBeLessThan(15);
  });
});
