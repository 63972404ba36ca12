// Rule matching in the database (orchestrator.route_events via the statement
// trigger on orchestrator.events): globs, levels, containment, disabled rules,
// templates. Every test uses its own source and its own task types, so its rules
// touch only its events and the stack's worker never runs its tasks.
import { afterAll, describe, expect, it } from "vitest";
import { sql, uniqueType } from "../helpers/stack.ts";

const rand = () => Math.random().toString(36).slice(2, 10).replace(/[0-9]/g, "q");
const ruleIds: number[] = [];

afterAll(async () => {
  if (ruleIds.length) await sql()`delete from orchestrator.event_rules where id = any(${ruleIds}::bigint[])`;
});

interface Rule {
  name?: string;
  enabled?: boolean;
  source?: string | null;
  type?: string;
  min_level?: string | null;
  match?: object;
  task_type: string;
  payload_template?: object;
  priority?: number;
  dedupe_key?: string | null;
  max_attempts?: number | null;
}

async function rule(r: Rule): Promise<number> {
  const [{ id }] = await sql()`
    insert into orchestrator.event_rules (name, enabled, source, type, min_level, match, task_type, payload_template, priority, dedupe_key, max_attempts)
    values (${r.name ?? `r-${rand()}`}, ${r.enabled ?? true}, ${r.source ?? null}, ${r.type ?? "*"}, ${r.min_level ?? null}::orchestrator.log_level,
            ${sql().json((r.match ?? {}) as never)}, ${r.task_type}, ${sql().json((r.payload_template ?? {}) as never)},
            ${r.priority ?? 0}, ${r.dedupe_key ?? null}, ${r.max_attempts ?? null})
    returning id`;
  ruleIds.push(id);
  return id;
}

interface Ev {
  type?: string;
  level?: string;
  message?: string | null;
  payload?: object;
}

/** Inserts events in ONE statement (as a watcher does); returns their ids in order. */
async function emit(source: string, evs: Ev[]): Promise<number[]> {
  const rows = await sql()<{ id: number }[]>`
    insert into orchestrator.events (source, type, level, message, payload)
    select ${source}, e ->> 'type', (e ->> 'level')::orchestrator.log_level, e ->> 'message', e -> 'payload'
    from jsonb_array_elements(${sql().json(evs.map((e) => ({ type: "thing", level: "info", message: null, payload: {}, ...e })) as never)}) with ordinality as x(e, i)
    order by i
    returning id`;
  return rows.map((r) => r.id);
}

const tasksOf = (type: string) => sql()<{ id: number; payload: any; status: string; last_error: string | null; priority: number; source: string; dedupe_key: string | null; max_attempts: number }[]>`
  select id, payload, status::text as status, last_error, priority, source, dedupe_key, max_attempts from orchestrator.tasks where type = ${type} order by id`;

describe("matching", () => {
  it("type globs: * and ? match, and nothing else does", async () => {
    const source = `r-${rand()}`;
    const task = uniqueType("glob");
    await rule({ source, type: "order.*", task_type: task, payload_template: { t: "{{event.type}}" } });
    const q = uniqueType("q");
    await rule({ source, type: "user.sign?p", task_type: q, payload_template: { t: "{{event.type}}" } });
    await emit(source, [
      { type: "order.created" }, { type: "order.paid" }, { type: "orders.created" }, { type: "order" },
      { type: "user.signup" }, { type: "user.sign-up" }, { type: "user.signuup" },
    ]);
    expect((await tasksOf(task)).map((t) => t.payload.t)).toEqual(["order.created", "order.paid"]);
    expect((await tasksOf(q)).map((t) => t.payload.t)).toEqual(["user.signup"]);
  });

  it("source globs, and a rule without a source matches every source", async () => {
    const stem = rand();
    const task = uniqueType("src");
    await rule({ source: `${stem}-shop-*`, type: "sale", task_type: task, payload_template: { s: "{{event.source}}" } });
    await emit(`${stem}-shop-eu`, [{ type: "sale" }]);
    await emit(`${stem}-shop-us`, [{ type: "sale" }]);
    await emit(`${stem}-blog`, [{ type: "sale" }]);
    expect((await tasksOf(task)).map((t) => t.payload.s)).toEqual([`${stem}-shop-eu`, `${stem}-shop-us`]);
    // source null: any source (scoped here by a type no other test uses).
    const anyTask = uniqueType("any");
    const onlyType = `only-${rand()}`;
    await rule({ source: null, type: onlyType, task_type: anyTask });
    await emit(`${stem}-a`, [{ type: onlyType }]);
    await emit(`${stem}-b`, [{ type: onlyType }]);
    expect(await tasksOf(anyTask)).toHaveLength(2);
  });

  it("minimum level: that level and above", async () => {
    const source = `r-${rand()}`;
    const task = uniqueType("lvl");
    await rule({ source, min_level: "warn", task_type: task, payload_template: { l: "{{event.level}}" } });
    await emit(source, ["debug", "info", "warn", "error", "fatal"].map((level) => ({ level })));
    expect((await tasksOf(task)).map((t) => t.payload.l)).toEqual(["warn", "error", "fatal"]);
  });

  it("containment: the payload must contain the rule's match", async () => {
    const source = `r-${rand()}`;
    const task = uniqueType("match");
    await rule({ source, match: { record: { status: "paid", currency: "EUR" } }, task_type: task, payload_template: { id: "{{record.id}}" } });
    await emit(source, [
      { payload: { record: { id: 1, status: "paid", currency: "EUR", total: 5 } } },
      { payload: { record: { id: 2, status: "pending", currency: "EUR" } } },
      { payload: { record: { id: 3, status: "paid", currency: "USD" } } },
      { payload: { record: { id: 4, status: "paid" } } },
      { payload: { status: "paid", currency: "EUR" } },
    ]);
    expect((await tasksOf(task)).map((t) => t.payload.id)).toEqual([1]);
  });

  it("disabled rules match nothing; enabling one applies it to the next events (not to old ones)", async () => {
    const source = `r-${rand()}`;
    const task = uniqueType("dis");
    const id = await rule({ source, enabled: false, task_type: task, payload_template: { m: "{{event.message}}" } });
    const [first] = await emit(source, [{ message: "before" }]);
    expect(await tasksOf(task)).toHaveLength(0);
    const [ev] = await sql()`select processed_at is not null as processed, matched_rules from orchestrator.events where id = ${first}`;
    expect(ev).toEqual({ processed: true, matched_rules: [] });
    await sql()`update orchestrator.event_rules set enabled = true where id = ${id}`;
    await emit(source, [{ message: "after" }]);
    expect((await tasksOf(task)).map((t) => t.payload.m)).toEqual(["after"]);
  });

  it("several rules on one event: each makes its task; the event records the rules and the task count", async () => {
    const source = `r-${rand()}`;
    const a = uniqueType("a");
    const b = uniqueType("b");
    const nameA = `ra-${rand()}`;
    const nameB = `rb-${rand()}`;
    await rule({ name: nameA, source, task_type: a, priority: 7, max_attempts: 2 });
    await rule({ name: nameB, source, type: "special", task_type: b });
    const [plainId, specialId] = await emit(source, [{ type: "plain" }, { type: "special" }]);
    const [ta] = await tasksOf(a);
    expect(ta).toMatchObject({ priority: 7, max_attempts: 2, source: `rule:${nameA}`, status: "queued" });
    expect(await tasksOf(a)).toHaveLength(2);
    expect(await tasksOf(b)).toHaveLength(1);
    const evs = await sql()`select id, matched_rules, tasks_created from orchestrator.events where id in (${plainId}, ${specialId}) order by id`;
    expect(evs[0]).toMatchObject({ matched_rules: [nameA], tasks_created: 1 });
    expect(evs[1].matched_rules.sort()).toEqual([nameA, nameB].sort());
    expect(evs[1].tasks_created).toBe(2);
  });

  it("set-based: 2,000 matching events in one statement become 2,000 tasks in one INSERT (one wake-up)", async () => {
    const source = `r-${rand()}`;
    const task = uniqueType("bulk");
    await rule({ source, task_type: task, payload_template: { n: "{{record.n}}" } });
    const started = performance.now();
    await sql()`
      insert into orchestrator.events (source, type, payload)
      select ${source}, 'tick', jsonb_build_object('record', jsonb_build_object('n', g)) from generate_series(1, 2000) g`;
    const ms = performance.now() - started;
    const tasks = await tasksOf(task);
    expect(tasks).toHaveLength(2000);
    expect(new Set(tasks.map((t) => t.payload.n)).size).toBe(2000);
    // One statement inserted them all: they share one created_at (the transaction's now()).
    const [{ stamps }] = await sql()`select count(distinct created_at)::int as stamps from orchestrator.tasks where type = ${task}`;
    expect(stamps).toBe(1);
    console.log(`[rules] 2,000 events -> 2,000 tasks in one statement: ${ms.toFixed(0)} ms`);
  });
});

describe("templates", () => {
  it("a whole-string placeholder keeps the JSON type; others interpolate; paths reach into objects and arrays", async () => {
    const source = `r-${rand()}`;
    const task = uniqueType("tpl");
    await rule({
      source, task_type: task,
      payload_template: {
        event_id: "{{event.id}}", total: "{{record.total}}", meta: "{{record.meta}}", first_sku: "{{record.items.0.sku}}",
        line: "Order {{record.id}} from {{event.source}}: {{record.total}} EUR, paid={{record.paid}}, note={{record.note}}",
        fixed: ["x", 1, { deep: "{{payload.kind}}" }],
      },
    });
    const [id] = await emit(source, [{
      payload: { kind: "order", record: { id: 42, total: 12.5, paid: true, note: null, meta: { a: 1 }, items: [{ sku: "CANDY-1" }] } },
    }]);
    const [t] = await tasksOf(task);
    expect(t.payload).toEqual({
      event_id: id, total: 12.5, meta: { a: 1 }, first_sku: "CANDY-1",
      line: `Order 42 from ${source}: 12.5 EUR, paid=true, note=`,
      fixed: ["x", 1, { deep: "order" }],
    });
  });

  it("a missing field makes a dead task with a clear error, never a crash; the other events of the batch go on", async () => {
    const source = `r-${rand()}`;
    const task = uniqueType("miss");
    const name = `miss-${rand()}`;
    const id = await rule({ name, source, task_type: task, payload_template: { user: "{{record.user_id}}", note: "for {{record.email}}" } });
    const [good, bad] = await emit(source, [
      { payload: { record: { user_id: 7, email: "a@b.c" } } },
      { payload: { record: { user_id: 8 } } },
    ]);
    const tasks = await tasksOf(task);
    expect(tasks).toHaveLength(2);
    expect(tasks[0]).toMatchObject({ status: "queued", payload: { user: 7, note: "for a@b.c" } });
    expect(tasks[1].status).toBe("dead");
    expect(tasks[1].last_error).toBe(
      `rule '${name}' (id ${id}) could not build the task for event ${bad}: no value for {{record.email}}. Fix the rule's templates or the event, then retry this task.`,
    );
    const evs = await sql()`select id, processed_at is not null as processed, route_error from orchestrator.events where id in (${good}, ${bad}) order by id`;
    expect(evs.map((e) => [e.processed, e.route_error])).toEqual([[true, null], [true, null]]);
  });

  it("dedupe_key templates: one live task per rendered key", async () => {
    const source = `r-${rand()}`;
    const task = uniqueType("dd");
    await rule({ source, task_type: task, dedupe_key: `order:{{record.id}}`, payload_template: { id: "{{record.id}}" } });
    await emit(source, [1, 2, 1, 1, 3].map((id) => ({ payload: { record: { id } } })));
    await emit(source, [{ payload: { record: { id: 2 } } }]);
    const tasks = await tasksOf(task);
    expect(tasks.map((t) => t.dedupe_key)).toEqual(["order:1", "order:2", "order:3"]);
    // A dedupe key that renders empty is a template failure too.
    const t2 = uniqueType("dd2");
    await rule({ source: `${source}-e`, task_type: t2, dedupe_key: "{{record.key}}" });
    await emit(`${source}-e`, [{ payload: { record: { key: "" } } }]);
    const [dead] = await tasksOf(t2);
    expect(dead.status).toBe("dead");
    expect(dead.last_error).toMatch(/the dedupe_key rendered empty/);
  });
});

describe("routing failures", () => {
  it("keep the events (unprocessed, with the reason, logged); the events job routes them once the fault is gone", async () => {
    const source = `r-${rand()}`;
    const task = uniqueType("boom");
    const name = `boom-${rand()}`;
    await rule({ name, source, task_type: task });
    // A fault in task creation, for this task type only, inside a short transaction (rolled back at the end).
    const out = await sql().begin(async (tx) => {
      await tx.unsafe(`create function pg_temp.refuse() returns trigger language plpgsql as $$
        begin raise exception 'injected fault for %', new.type; end $$`);
      // Switched off by a setting, not by DROP TRIGGER: upgrading the lock on tasks mid-transaction could deadlock with a worker.
      await tx`select set_config('test.refuse', 'on', true)`;
      await tx.unsafe(`create trigger refuse_test before insert on orchestrator.tasks for each row
        when (new.type = '${task}' and current_setting('test.refuse', true) = 'on') execute function pg_temp.refuse()`);
      const [ev] = await tx`
        insert into orchestrator.events (source, type, message) values (${source}, 'thing', 'kept') returning id`;
      const [after] = await tx`select processed_at, route_error from orchestrator.events where id = ${ev.id}`;
      const [log] = await tx`select level::text as level, message from orchestrator.logs where component = 'events' and context ->> 'first_event_id' = ${String(ev.id)}`;
      await tx`select set_config('test.refuse', 'off', true)`;
      const [{ h }] = await tx`select orchestrator.events_housekeeping() as h`;
      const [healed] = await tx`select processed_at is not null as processed, route_error, ${name} = any(matched_rules) as matched from orchestrator.events where id = ${ev.id}`;
      const tasks = await tx`select count(*)::int as n from orchestrator.tasks where type = ${task}`;
      throw Object.assign(new Error("rollback"), { out: { after, log, h, healed, tasks: tasks[0].n } });
    }).catch((e) => { if (!e.out) throw e; return e.out; });
    expect(out.after.processed_at).toBeNull();
    expect(out.after.route_error).toMatch(/injected fault for test\.boom/);
    expect(out.log).toMatchObject({ level: "error" });
    expect(out.log.message).toMatch(/could not route 1 events; they are kept and will be retried/);
    expect(out.h.rerouted).toBeGreaterThanOrEqual(1);
    // (Only this rule's task is counted: a broad rule another test file commits meanwhile may match too.)
    expect(out.healed).toEqual({ processed: true, route_error: null, matched: true });
    expect(out.tasks).toBe(1);
  });
});
