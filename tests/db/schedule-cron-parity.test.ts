// Three judges of a cron expression must agree: the API's parser (TypeScript),
// the SQL parser (orchestrator.cron_parse) and pg_cron itself. Whatever we
// accept, pg_cron accepts; TS and SQL agree on every verdict and every minute.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { cronMatches, parseCron } from "../../functions/_shared/schedules/cron.ts";
import { sql } from "../helpers/stack.ts";

const ROLLBACK = new Error("rollback");

async function pgCronAccepts(expr: string): Promise<boolean> {
  try {
    await sql().begin(async (tx) => {
      await tx`select cron.schedule(${`parity-probe-${Math.random().toString(36).slice(2)}`}, ${expr}, 'select 1')`;
      throw ROLLBACK;
    });
  } catch (err) {
    if (err === ROLLBACK) return true;
    if (/invalid schedule/.test((err as Error).message)) return false;
    throw err;
  }
  return true;
}

async function sqlParse(expr: string): Promise<Record<string, unknown> | string> {
  try {
    const [{ p }] = await sql()<{ p: Record<string, unknown> }[]>`select orchestrator.cron_parse(${expr}) as p`;
    return p;
  } catch (err) {
    if ((err as { code?: string }).code === "22023") return (err as Error).message;
    throw err;
  }
}

const item = fc.oneof(
  fc.constant("*"),
  fc.integer({ min: 0, max: 70 }).map(String),
  fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 40 })).map(([a, b]) => `${a}-${b}`),
  fc.tuple(fc.constantFrom("*", "1-30", "0-59", "5", "3-2"), fc.integer({ min: 0, max: 70 })).map(([b, s]) => `${b}/${s}`),
  fc.constantFrom("jan", "DEC", "mon", "fri-sun", "mon-fri", "sat", "7", "L", "$", "?", "", "-", "1-", "01"),
);
const field = fc.array(item, { minLength: 1, maxLength: 3 }).map((xs) => xs.join(","));
// Mostly valid fields, each within (or just outside) its own range.
const plausible = (lo: number, hi: number, names: string[] = []) => {
  const n = fc.integer({ min: lo, max: hi + 1 });
  const one = fc.oneof(
    { weight: 3, arbitrary: fc.constant("*") },
    { weight: 3, arbitrary: n.map(String) },
    { weight: 2, arbitrary: fc.tuple(n, n).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom("*", `${lo}-${hi}`), fc.integer({ min: 1, max: hi + 2 })).map(([x, st]) => `${x}/${st}`) },
    { weight: names.length ? 1 : 0, arbitrary: fc.constantFrom(...(names.length ? names : ["x"])) },
  );
  return fc.array(one, { minLength: 1, maxLength: 3 }).map((xs) => xs.join(","));
};
const plausibleExpression = fc.tuple(
  plausible(0, 59), plausible(0, 23), plausible(1, 31), plausible(1, 12, ["jan", "Feb", "dec"]), plausible(0, 7, ["mon", "SAT", "sun"]),
).map((f) => f.join(" "));
const expression = fc.oneof(
  { weight: 5, arbitrary: plausibleExpression },
  { weight: 3, arbitrary: fc.array(field, { minLength: 5, maxLength: 5 }).map((f) => f.join(" ")) },
  { weight: 1, arbitrary: fc.array(field, { minLength: 3, maxLength: 7 }).map((f) => f.join(" ")) },
  { weight: 1, arbitrary: fc.constantFrom("@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@reboot", "10 seconds", "0 0 31 2 *", "0 0 30 2 *", "* * 31 4,6 *") },
);

describe("cron parity: TypeScript parser, SQL parser, pg_cron", () => {
  it("agree on 400 generated expressions; nothing we accept is refused by pg_cron", async () => {
    const samples = fc.sample(expression, { numRuns: 400, seed: 20261124 });
    let accepted = 0;
    let stricterThanPgCron = 0;
    for (const expr of samples) {
      const ts = parseCron(expr);
      const [pgCron, parsed] = await Promise.all([pgCronAccepts(expr), sqlParse(expr)]);
      expect({ expr, sqlAccepts: typeof parsed !== "string" }).toEqual({ expr, sqlAccepts: ts.ok });
      if (ts.ok) {
        accepted++;
        expect({ expr, pgCron }).toEqual({ expr, pgCron: true });
        const p = parsed as Record<string, unknown>;
        expect(p.expression).toBe(ts.cron.expression);
        expect(p.minute).toEqual([...ts.cron.minute].sort((a, b) => a - b));
        expect(p.hour).toEqual([...ts.cron.hour].sort((a, b) => a - b));
        expect(p.dom).toEqual([...ts.cron.dayOfMonth].sort((a, b) => a - b));
        expect(p.month).toEqual([...ts.cron.month].sort((a, b) => a - b));
        expect(p.dow).toEqual([...ts.cron.dayOfWeek].sort((a, b) => a - b));
        expect([p.dom_star, p.dow_star]).toEqual([ts.cron.domStar, ts.cron.dowStar]);
      } else if (pgCron) {
        stricterThanPgCron++;
      }
    }
    // The generator must exercise both sides.
    expect(accepted).toBeGreaterThan(40);
    expect(samples.length - accepted).toBeGreaterThan(40);
    console.log(`[cron parity] ${samples.length} expressions: ${accepted} accepted by all three; ` +
      `${samples.length - accepted} refused by us, of which ${stricterThanPgCron} pg_cron would have taken (backwards ranges, macros pg_cron keeps, 6 fields, never-running dates)`);
  });

  it("SQL cron_matches agrees with the TypeScript matcher minute by minute", async () => {
    const cases = ["*/7 3-5 * * *", "0 12 1 * mon", "30 */2 */3 * *", "15 8 * jan,jul sat,sun", "0 0 29 2 *", "5 0 * * *"];
    const instants = fc.sample(fc.date({ min: new Date("2024-01-01T00:00:00Z"), max: new Date("2030-01-01T00:00:00Z"), noInvalidDate: true }), { numRuns: 150, seed: 7 });
    for (const expr of cases) {
      const c = parseCron(expr);
      if (!c.ok) throw new Error(expr);
      // Near-matches too: each run minute of the expression around the sampled instant.
      const rows = await sql()<{ at: Date; m: boolean }[]>`
        select at, orchestrator.cron_matches(orchestrator.cron_parse(${expr}), at) as m
        from unnest(${instants.map((d) => d.toISOString())}::timestamptz[]) at`;
      for (const r of rows) expect({ expr, at: r.at.toISOString(), m: r.m }).toEqual({ expr, at: r.at.toISOString(), m: cronMatches(c.cron, r.at) });
      const hits = await sql()<{ n: number }[]>`
        select count(*)::int as n from generate_series('2026-02-01'::timestamptz, '2026-03-01'::timestamptz - interval '1 minute', interval '1 minute') at
        where orchestrator.cron_matches(orchestrator.cron_parse(${expr}), at)`;
      let expected = 0;
      for (let t = Date.parse("2026-02-01T00:00:00Z"); t < Date.parse("2026-03-01T00:00:00Z"); t += 60_000) if (cronMatches(c.cron, new Date(t))) expected++;
      expect({ expr, n: hits[0].n }).toEqual({ expr, n: expected });
    }
  });
});
