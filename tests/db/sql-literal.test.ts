// The worker's SQL literals (functions/_shared/sql-literal.ts) against PostgreSQL itself: any string
// comes back as itself, whatever standard_conforming_strings says; any JSON value as itself.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  bigintArrayLiteral, boolLiteral, intLiteral, jsonbLiteral, numericLiteral, textArrayLiteral, textLiteral, uuidArrayLiteral,
} from "../../functions/_shared/sql-literal.ts";
import { sql } from "../helpers/stack.ts";

// Strings that stress the escaping: quotes, backslashes, escape-looking sequences, any Unicode but NUL.
const tricky = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.array(fc.constantFrom("'", "\\", "''", "\\'", "\\\\", "E'", "$$", ";", "--", "/*", "\\x41", "\\u0041", "\n", "é", "😀"), { maxLength: 12 }).map((a) => a.join("")),
  fc.string({ unit: "binary", maxLength: 40 }).map((s) => s.replaceAll("\0", "")),
);

describe("SQL literals", () => {
  for (const scs of ["on", "off"]) {
    it(`any text comes back unchanged (standard_conforming_strings ${scs})`, async () => {
      const conn = await sql().reserve();
      try {
        await conn.unsafe(`set standard_conforming_strings = ${scs}`);
        await fc.assert(fc.asyncProperty(fc.array(tricky, { maxLength: 4 }), async (values) => {
          const [row] = await conn.unsafe<{ one: string; many: string[] }[]>(
            `select ${textLiteral(values[0] ?? "")} as one, ${textArrayLiteral(values)} as many`);
          expect(row.one).toBe(values[0] ?? "");
          expect(row.many).toEqual(values);
        }), { numRuns: 150 });
      } finally {
        await conn.unsafe("reset standard_conforming_strings");
        conn.release();
      }
    });
  }

  it("any JSON value (without NUL) comes back as itself", async () => {
    await fc.assert(fc.asyncProperty(fc.jsonValue({ maxDepth: 3 }).filter((v) => !JSON.stringify(v).includes("\\u0000")), async (value) => {
      const [row] = await sql().unsafe<{ v: unknown }[]>(`select ${jsonbLiteral(JSON.stringify(value))} as v`);
      // -0 becomes 0 in JSON text already.
      expect(row.v).toEqual(JSON.parse(JSON.stringify(value)));
    }), { numRuns: 150 });
  });

  it("numbers, booleans, ids and tokens; what is not one is refused before it reaches SQL", async () => {
    const [row] = await sql().unsafe<{ i: number; n: string; b: boolean; ids: string[]; toks: string[] }[]>(
      `select ${intLiteral(-42)} as i, ${numericLiteral(2.5)}::text as n, ${boolLiteral(true)} as b,
              ${bigintArrayLiteral([1, 9007199254740991])}::text[] as ids,
              ${uuidArrayLiteral(["4bf92f35-77b3-4da6-a3ce-929d0e0e4736"])}::text[] as toks`);
    expect(row).toEqual({ i: -42, n: "2.5", b: true, ids: ["1", "9007199254740991"], toks: ["4bf92f35-77b3-4da6-a3ce-929d0e0e4736"] });
    expect(() => intLiteral(1.5)).toThrow(TypeError);
    expect(() => intLiteral(Number.NaN)).toThrow(TypeError);
    expect(() => numericLiteral(Infinity)).toThrow(TypeError);
    expect(() => bigintArrayLiteral([1, 2 ** 60])).toThrow(TypeError);
    expect(() => uuidArrayLiteral(["x'); drop table orchestrator.tasks; --"])).toThrow(/not a UUID/);
    expect(() => textLiteral("a\0b")).toThrow(/NUL/);
    expect(textArrayLiteral([])).toBe("'{}'::text[]");
  });
});
