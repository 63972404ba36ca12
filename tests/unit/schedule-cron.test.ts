// The cron parser the API validates schedules with: what pg_cron 1.4 accepts,
// minus what never runs; matching and next-run computation in UTC.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { cronMatches, nextRuns, parseCron, type ParsedCron } from "../../functions/_shared/schedules/cron.ts";
import { createScheduleSchema, updateScheduleSchema } from "../../functions/_shared/schedules/schemas.ts";

const ok = (expr: string): ParsedCron => {
  const r = parseCron(expr);
  if (!r.ok) throw new Error(`${expr}: ${JSON.stringify(r.issues)}`);
  return r.cron;
};
const issues = (expr: string) => {
  const r = parseCron(expr);
  return r.ok ? [] : r.issues;
};

describe("parseCron", () => {
  it("expands lists, ranges, steps and names", () => {
    const c = ok("*/15 9-17 1,15 jan-mar MON-FRI");
    expect([...c.minute]).toEqual([0, 15, 30, 45]);
    expect([...c.hour]).toEqual([9, 10, 11, 12, 13, 14, 15, 16, 17]);
    expect([...c.dayOfMonth]).toEqual([1, 15]);
    expect([...c.month]).toEqual([1, 2, 3]);
    expect([...c.dayOfWeek].sort()).toEqual([1, 2, 3, 4, 5]);
    expect(c.expression).toBe("*/15 9-17 1,15 jan-mar mon-fri");
    expect(c.domStar).toBe(false);
  });

  it("normalises whitespace and expands macros", () => {
    expect(ok("  5   *  * * *  ").expression).toBe("5 * * * *");
    expect(ok("@hourly").expression).toBe("0 * * * *");
    expect(ok("@daily").expression).toBe("0 0 * * *");
    expect([...ok("0 0 * * 7").dayOfWeek]).toEqual([0]);
  });

  it.each([
    ["* * * *", /exactly five/],
    ["* * * * * *", /exactly five/],
    ["60 * * * *", /minute.*out of range 0-59/],
    ["0 24 * * *", /hour.*out of range/],
    ["0 0 0 * *", /day_of_month.*out of range 1-31/],
    ["0 0 1 13 *", /month.*out of range/],
    ["0 0 * * 8", /day_of_week.*out of range 0-7/],
    ["*/0 * * * *", /step 0/],
    ["5/10 * * * *", /step needs a range/],
    ["5-1 * * * *", /backwards/],
    ["1,,2 * * * *", /empty list item/],
    ["- * * * *", /not a number/],
    ["* * * foo *", /not a month name/],
    ["0 0 31 2 *", /never run/],
    ["0 0 30,31 2 *", /never run/],
    ["@reboot", /not supported/],
    ["30 seconds", /pg_cron 1.5/],
    ["", /empty/],
  ])("rejects %j", (expr, message) => {
    const found = issues(expr);
    expect(found.length).toBeGreaterThan(0);
    expect(found.map((i) => `${i.field}: ${i.message}`).join("; ")).toMatch(message);
  });

  it("reports every bad field at once", () => {
    expect(issues("61 25 * * *").map((i) => i.field)).toEqual(["minute", "hour"]);
  });

  it("accepts day 31 in Feb when the weekday field also restricts (either may match)", () => {
    expect(parseCron("0 0 31 2 1").ok).toBe(true);
  });
});

describe("cronMatches and nextRuns (UTC)", () => {
  it("follows Vixie cron's day rule: both day fields restricted -> either matches", () => {
    const c = ok("0 12 1 * mon");
    expect(cronMatches(c, new Date("2026-12-01T12:00:30Z"))).toBe(true); // the 1st (a Tuesday)
    expect(cronMatches(c, new Date("2026-11-30T12:00:00Z"))).toBe(true); // a Monday
    expect(cronMatches(c, new Date("2026-12-02T12:00:00Z"))).toBe(false);
    const star = ok("0 12 */2 * mon"); // day-of-month starts with * -> both must match
    expect(cronMatches(star, new Date("2026-11-30T12:00:00Z"))).toBe(false); // Monday the 30th: even
    expect(cronMatches(star, new Date("2026-11-23T12:00:00Z"))).toBe(true); // Monday the 23rd: odd
  });

  it("lists the next minutes a schedule runs", () => {
    const from = new Date("2026-11-24T10:07:31Z");
    expect(nextRuns(ok("*/5 * * * *"), from, 3).map((d) => d.toISOString())).toEqual([
      "2026-11-24T10:10:00.000Z", "2026-11-24T10:15:00.000Z", "2026-11-24T10:20:00.000Z",
    ]);
    expect(nextRuns(ok("5 0 * * *"), from, 2).map((d) => d.toISOString())).toEqual([
      "2026-11-25T00:05:00.000Z", "2026-11-26T00:05:00.000Z",
    ]);
    expect(nextRuns(ok("0 0 29 2 *"), from, 1).map((d) => d.toISOString())).toEqual(["2028-02-29T00:00:00.000Z"]);
  });

  it("nextRuns only returns matching minutes, in order, after `from` (property)", () => {
    const field = (lo: number, hi: number) =>
      fc.oneof(
        fc.constant("*"),
        fc.integer({ min: lo, max: hi }).map(String),
        fc.tuple(fc.integer({ min: lo, max: hi }), fc.integer({ min: lo, max: hi })).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
        fc.integer({ min: 1, max: 20 }).map((s) => `*/${s}`),
      );
    fc.assert(
      fc.property(
        fc.tuple(field(0, 59), field(0, 23), field(1, 28), field(1, 12), field(0, 6)),
        fc.date({ min: new Date("2020-01-01T00:00:00Z"), max: new Date("2030-01-01T00:00:00Z"), noInvalidDate: true }),
        (fields, from) => {
          const c = ok(fields.join(" "));
          const runs = nextRuns(c, from, 3);
          let prev = from.getTime();
          for (const r of runs) {
            expect(r.getTime()).toBeGreaterThan(prev);
            expect(r.getUTCSeconds()).toBe(0);
            expect(cronMatches(c, r)).toBe(true);
            prev = r.getTime();
          }
          // Nothing skipped between `from` and the first run (checked minute by minute over a short span).
          if (runs[0] && runs[0].getTime() - from.getTime() < 3 * 3600_000) {
            for (let t = Math.floor(from.getTime() / 60_000 + 1) * 60_000; t < runs[0].getTime(); t += 60_000) {
              expect(cronMatches(c, new Date(t))).toBe(false);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("schedule request schemas", () => {
  it("normalises the cron expression and lists each problem as a zod issue", () => {
    const good = createScheduleSchema.parse({ name: "nightly", cron: "@daily", task_type: "noop" });
    expect(good.cron).toBe("0 0 * * *");
    const bad = createScheduleSchema.safeParse({ name: "nightly", cron: "61 25 * * *", task_type: "noop" });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => i.message)).toEqual([
      expect.stringMatching(/^minute: 61 is out of range 0-59/),
      expect.stringMatching(/^hour: 25 is out of range 0-23/),
    ]);
  });

  it("rejects reserved and malformed names, unknown time zones, unknown keys and empty patches", () => {
    expect(createScheduleSchema.safeParse({ name: "settings", cron: "* * * * *", task_type: "noop" }).success).toBe(false);
    expect(createScheduleSchema.safeParse({ name: "Bad Name", cron: "* * * * *", task_type: "noop" }).success).toBe(false);
    expect(createScheduleSchema.parse({ name: "x", cron: "* * * * *", task_type: "noop", timezone: "Europe/Paris" }).timezone).toBe("Europe/Paris");
    for (const timezone of ["Mars/Olympus_Mons", "+02:00", "UTC+3", "", "Europe/Berlin "]) {
      const bad = createScheduleSchema.safeParse({ name: "x", cron: "* * * * *", task_type: "noop", timezone });
      expect({ timezone, issues: bad.error?.issues.map((i) => [i.path.join("."), i.message]) }).toEqual({
        timezone, issues: [["timezone", expect.stringMatching(/^unknown time zone .*: use an IANA name such as Europe\/Berlin/)]],
      });
    }
    expect(updateScheduleSchema.safeParse({ timezone: "Nowhere/Land" }).success).toBe(false);
    expect(createScheduleSchema.safeParse({ name: "x", cron: "* * * * *", task_type: "noop", extra: 1 }).success).toBe(false);
    expect(updateScheduleSchema.safeParse({}).success).toBe(false);
    expect(updateScheduleSchema.parse({ cron: "@hourly" })).toEqual({ cron: "0 * * * *" });
  });
});
