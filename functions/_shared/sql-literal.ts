// SQL literals for the worker's two statements per task (claim, complete_many), so that each is one
// round trip through a transaction pooler.
//
// Why: behind a transaction pooler (Supavisor's port 6543 hosted, pgbouncer locally) postgres.js runs
// with `prepare: false`, and then every query that has parameters is two round trips: Parse + Describe
// first (to learn the parameter types it serializes with), Bind + Execute after (postgres.js
// connection.js: describeFirst = parameters.length && !prepared). A query without parameters is one
// (Parse, Bind, Execute and Sync in one write). Measured in a Deno user worker through pgbouncer, one
// query every 10 ms (as at 100 tasks/s): 766-770 µs of CPU with parameters, 515-583 µs without; the
// worker spent ~1.4 ms of CPU per task at 100/s, so its isolate retired every ~700 tasks, and each
// retirement's hand-off is where the latency run's slowest 1 % were (bench rows against the
// gateway's retire events).
//
// Only values the worker makes itself go this way (ids and lease tokens it was given by a claim, its
// own worker id, task type names, numbers, and the JSON text of handler results); the escaping is
// PostgreSQL's own rule for an escape-string constant (E'…': a backslash and a quote doubled), which
// holds whatever standard_conforming_strings says, and is checked against PostgreSQL in
// tests/db/sql-literal.test.ts with arbitrary strings. No library offers this alone: postgres.js has no
// literal function, and node-postgres's escapeLiteral comes with the whole driver.

/** A text value as an escape-string constant: E'…' with backslashes and quotes doubled. */
export function textLiteral(value: string): string {
  if (value.includes("\0")) throw new TypeError("a SQL text value cannot contain a NUL character");
  return `E'${value.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/** An integer, checked to be one (no exponent, no NaN). */
export function intLiteral(value: number): string {
  if (!Number.isSafeInteger(value)) throw new TypeError(`not an integer: ${value}`);
  return String(value);
}

/** A finite number, as numeric. */
export function numericLiteral(value: number): string {
  if (!Number.isFinite(value)) throw new TypeError(`not a finite number: ${value}`);
  return `${String(value)}::numeric`;
}

export const boolLiteral = (value: boolean): string => (value ? "true" : "false");

/** bigint[] of integers. */
export const bigintArrayLiteral = (values: number[]): string => `'{${values.map(intLiteral).join(",")}}'::bigint[]`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** uuid[] of UUIDs, each checked to be one. */
export function uuidArrayLiteral(values: string[]): string {
  for (const v of values) if (!UUID.test(v)) throw new TypeError("not a UUID");
  return `'{${values.join(",")}}'::uuid[]`;
}

/** text[] of any strings: array[E'…', …]. */
export const textArrayLiteral = (values: string[]): string =>
  values.length === 0 ? "'{}'::text[]" : `array[${values.map(textLiteral).join(",")}]::text[]`;

/** jsonb from JSON text (already made, e.g. by JSON.stringify). */
export const jsonbLiteral = (jsonText: string): string => `${textLiteral(jsonText)}::jsonb`;
