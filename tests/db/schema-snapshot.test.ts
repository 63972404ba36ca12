// schema/orchestrator.sql is the orchestrator schema as the migrations leave it (npm run schema writes it).
// This fails when the migrated test database and the committed snapshot differ: a migration changed
// without the snapshot, or the snapshot was edited by hand.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/stack/stack.ts";
import { dumpSchema, normalizeSchema, SCHEMA_FILE } from "../../scripts/stack/schema-dump.ts";
import { stack } from "../helpers/stack.ts";

/** The first line where two texts differ, with a little context, for the failure message. */
function firstDifference(expected: string, actual: string): string {
  const a = expected.split("\n"), b = actual.split("\n");
  const i = a.findIndex((line, k) => line !== b[k]);
  const at = i < 0 ? Math.min(a.length, b.length) : i;
  const show = (lines: string[]) => lines.slice(Math.max(0, at - 2), at + 3).map((l, k) => `  ${Math.max(0, at - 2) + k + 1}: ${l}`).join("\n");
  return `first difference at line ${at + 1}\n committed ${SCHEMA_FILE}:\n${show(a)}\n migrated database:\n${show(b)}`;
}

describe("schema snapshot", () => {
  it(`${SCHEMA_FILE} is the schema the migrations build`, () => {
    const committed = readFileSync(join(ROOT, SCHEMA_FILE), "utf8");
    const migrated = dumpSchema(stack().DB_URL);
    if (migrated !== committed) {
      throw new Error(`${SCHEMA_FILE} does not match the migrations: run \`npm run schema\`, review \`git diff ${SCHEMA_FILE}\` ` +
        `and commit it with the migration.\n${firstDifference(committed, migrated)}`);
    }
    expect(migrated).toBe(committed);
  });

  it("normalizing drops what is not schema: the dump header, owners, and which triggers are enabled now", () => {
    const raw = [
      "--", "-- PostgreSQL database dump", "--", "", "-- Dumped from database version 15.20", "SET statement_timeout = 0;",
      "SELECT pg_catalog.set_config('search_path', '', false);", "", "--", "-- Name: t; Type: TABLE; Schema: orchestrator; Owner: -", "--", "",
      "CREATE TABLE orchestrator.t (id bigint);", "", "", "", "ALTER TABLE orchestrator.t DISABLE TRIGGER t_hook;",
      "ALTER TABLE orchestrator.t ENABLE ROW LEVEL SECURITY;",
    ].join("\n");
    const text = normalizeSchema(raw);
    expect(text).toContain("CREATE TABLE orchestrator.t (id bigint);\n\nALTER TABLE orchestrator.t ENABLE ROW LEVEL SECURITY;\n");
    expect(text).not.toMatch(/Dumped from|SET statement_timeout|set_config|DISABLE TRIGGER/);
  });
});
