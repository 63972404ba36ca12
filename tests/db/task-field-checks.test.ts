// The rules on a task's fields (20261204000200_task_field_checks.sql): checked once per INSERT statement
// and before an UPDATE that sets a checked column, with the former CHECK constraints' names and code.
// Each case runs in a transaction that is rolled back, under a type the worker never claims.
import { describe, expect, it } from "vitest";
import type postgres from "postgres";
import { inRolledBackTx, sql, uniqueType } from "../helpers/stack.ts";

type Fields = Record<string, unknown>;

/** Inserts a task with these fields over valid defaults; returns the error's code and constraint, or "ok". */
async function insertWith(tx: postgres.TransactionSql, fields: Fields): Promise<string> {
  const row: Fields = { type: uniqueType("fields"), payload: {}, source: "test", ...fields };
  const cols = Object.keys(row);
  try {
    await tx.savepoint(async (sp) => {
      await sp.unsafe(
        `insert into orchestrator.tasks (${cols.join(", ")}) values (${cols.map((_, i) => `$${i + 1}`).join(", ")})`,
        cols.map((c) => (["payload", "cancel_on"].includes(c) && row[c] !== null ? sp.json(row[c] as never) : row[c])) as never[],
      );
    });
    return "ok";
  } catch (err) {
    const e = err as { code?: string; constraint_name?: string };
    return `${e.code}:${e.constraint_name}`;
  }
}

// One case per rule: a value that breaks it, and the constraint it names.
const BREAKS: [string, Fields][] = [
  ["tasks_type_check", { type: "Not A Type" }],
  // The type rule's edges (20261206000100_enqueue_path.sql rewrote its regex): 65 characters, a first
  // character that is not a letter, a character outside the set, and a multibyte letter.
  ["tasks_type_check", { type: "t" + "x".repeat(64) }],
  ["tasks_type_check", { type: "1type" }],
  ["tasks_type_check", { type: "a/b" }],
  ["tasks_type_check", { type: "tâche" }],
  ["tasks_payload_check", { payload: [1, 2] }],
  ["tasks_source_check", { source: "" }],
  ["tasks_priority_check", { priority: 1001 }],
  ["tasks_max_attempts_check", { max_attempts: 0 }],
  ["tasks_backoff_base_seconds_check", { backoff_base_seconds: 3601 }],
  ["tasks_dedupe_key_check", { dedupe_key: "d".repeat(201) }],
  ["tasks_concurrency_check", { concurrency_key: "k" }],
  ["tasks_concurrency_check", { concurrency_key: "k", concurrency_limit: 10_001 }],
  ["tasks_type_concurrency_limit_check", { type_concurrency_limit: 0 }],
  ["tasks_rate_key_check", { rate_key: "" }],
  ["tasks_group_key_check", { group_key: "g".repeat(101) }],
  ["tasks_debounce_key_check", { debounce_key: "x".repeat(221) }],
  ["tasks_cancel_on_check", { cancel_on: "knisoci" }],
];

describe("task field rules", () => {
  it("an insert that breaks a rule is refused with 23514 and the rule's name; the same row within the rule is stored", async () => {
    await inRolledBackTx(async (tx) => {
      for (const [rule, fields] of BREAKS) expect(`${JSON.stringify(fields).slice(0, 40)} → ${await insertWith(tx, fields)}`).toBe(`${JSON.stringify(fields).slice(0, 40)} → 23514:${rule}`);
      // At the edges of each rule, and with the nullable fields null: stored.
      for (const fields of [
        { type: "t" + "x".repeat(63) }, // 64 characters
        { type: "a0_.:-z" },
        { priority: -1000, max_attempts: 100, backoff_base_seconds: 0, dedupe_key: "d".repeat(200), group_key: "", cancel_on: { source: "knisoci" } },
        { concurrency_key: "k".repeat(200), concurrency_limit: 10_000, type_concurrency_limit: 10_000, rate_key: "r", debounce_key: "x".repeat(220) },
        { dedupe_key: null, concurrency_key: null, concurrency_limit: null, rate_key: null, debounce_key: null, cancel_on: null },
      ]) expect(await insertWith(tx, fields)).toBe("ok");
    });
  });

  it("a multi-row insert with one bad row stores none of them", async () => {
    const type = uniqueType("fieldsbatch");
    await expect(sql()`
      insert into orchestrator.tasks (type, payload, source, priority)
      select ${type}, '{}'::jsonb, 'test', case when g = 500 then 5000 else 0 end from generate_series(1, 1000) g`).rejects.toMatchObject({
      code: "23514", constraint_name: "tasks_priority_check",
    });
    const [{ n }] = await sql()<{ n: number }[]>`select count(*)::int as n from orchestrator.tasks where type = ${type}`;
    expect(n).toBe(0);
  });

  it("an update that sets a checked field is checked; a claim and a completion (which set none) still work", async () => {
    await inRolledBackTx(async (tx) => {
      const type = uniqueType("fieldsupd");
      const [t] = await tx<{ id: number }[]>`insert into orchestrator.tasks (type, payload, source) values (${type}, '{}', 'test') returning id`;
      for (const [set, rule] of [
        [`payload = '"text"'::jsonb`, "tasks_payload_check"],
        [`priority = -1001`, "tasks_priority_check"],
        [`type = 'UPPER'`, "tasks_type_check"],
        [`concurrency_limit = 3`, "tasks_concurrency_check"],
      ]) {
        const got = await tx.savepoint((sp) => sp.unsafe(`update orchestrator.tasks set ${set} where id = $1`, [t.id])).then(
          () => "ok",
          (e: { code?: string; constraint_name?: string }) => `${e.code}:${e.constraint_name}`,
        );
        expect(`${set} → ${got}`).toBe(`${set} → 23514:${rule}`);
      }
      await tx`update orchestrator.tasks set priority = 7, payload = '{"ok": true}' where id = ${t.id}`;
      const [claimed] = await tx<{ id: number; lease_token: string; priority: number }[]>`
        select id, lease_token, priority from orchestrator.claim('fields-test', 1, 60, ${[type]}::text[])`;
      expect(claimed).toMatchObject({ id: t.id, priority: 7 });
      const done = await tx`select * from orchestrator.complete_many(${[t.id]}::bigint[], ${[claimed.lease_token]}::uuid[], array['null'::jsonb])`;
      expect(done).toHaveLength(1);
    });
  });

  it("the rules a claim or a completion changes stay CHECK constraints, and the moved ones are gone from tasks", async () => {
    const rows = await sql()<{ conname: string }[]>`
      select conname from pg_constraint where conrelid = 'orchestrator.tasks'::regclass and contype = 'c' order by 1`;
    expect(rows.map((r) => r.conname)).toEqual(["tasks_attempts_check", "tasks_check", "tasks_check1"]);
  });
});
