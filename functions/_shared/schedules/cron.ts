// Cron expressions as pg_cron takes them: five fields (minute hour day-of-month
// month day-of-week), each a comma list of `*`, `n`, `a-b`, `*/s` or `a-b/s`;
// month and weekday names (jan-dec, sun-sat); 0 or 7 is Sunday. The fields are
// read in the schedule's time zone; when that makes a fire (DST) is SQL's to say
// (orchestrator.cron_fires), and the matchers below are UTC.
// pg_cron 1.4 has no second schedules and no `$` (last day), so neither is
// accepted: a schedule must run the same on 1.4 (local) and 1.6+ (hosted).
// The same rules live in SQL (orchestrator.cron_parse) for callers that skip the API.

export interface CronField {
  name: string;
  min: number;
  max: number;
  names?: string[];
}

export const CRON_FIELDS: CronField[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day_of_month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"] },
  { name: "day_of_week", min: 0, max: 7, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

/** Shorthands that Vixie cron and pg_cron accept, written out as five fields. `@reboot` is not a schedule. */
export const CRON_MACROS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

export interface ParsedCron {
  /** The expression as stored: macros expanded, single spaces, lowercase names. */
  expression: string;
  minute: Set<number>;
  hour: Set<number>;
  dayOfMonth: Set<number>;
  month: Set<number>;
  /** 0-6, Sunday = 0 (7 folded into 0). */
  dayOfWeek: Set<number>;
  /** Vixie cron: a field starting with `*` is "unrestricted" for the day-of-month/day-of-week rule. */
  domStar: boolean;
  dowStar: boolean;
}

export interface CronIssue {
  field: string;
  message: string;
}

export type CronParseResult = { ok: true; cron: ParsedCron } | { ok: false; issues: CronIssue[] };

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function parseValue(raw: string, f: CronField): number | string {
  if (/^\d{1,3}$/.test(raw)) {
    const n = Number(raw);
    if (n < f.min || n > f.max) return `${n} is out of range ${f.min}-${f.max}`;
    return n;
  }
  const idx = f.names?.indexOf(raw.toLowerCase()) ?? -1;
  if (idx >= 0) return f.min + idx;
  if (f.names && /^[a-z]+$/i.test(raw)) return `"${raw}" is not a ${f.name.replace(/_/g, " ")} name (${f.names.join(", ")})`;
  return `"${raw}" is not a number`;
}

function parseField(text: string, f: CronField): { values: Set<number> } | { error: string } {
  const values = new Set<number>();
  for (const item of text.split(",")) {
    if (item === "") return { error: "empty list item (two commas, or a comma at an end)" };
    const m = /^([^/]+)(?:\/(.*))?$/.exec(item);
    if (!m) return { error: `"${item}" is not a value, range or step` };
    const [, base, stepText] = m;
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d{1,3}$/.test(stepText)) return { error: `step "${stepText}" in "${item}" is not a number` };
      step = Number(stepText);
      if (step < 1) return { error: `step 0 in "${item}" never advances; use 1 or more` };
    }
    let lo: number;
    let hi: number;
    if (base === "*") {
      lo = f.min;
      hi = f.max;
    } else {
      const parts = base.split("-");
      if (parts.length > 2) return { error: `"${base}" is not a range (a-b)` };
      const a = parseValue(parts[0], f);
      if (typeof a === "string") return { error: a };
      if (parts.length === 2) {
        const b = parseValue(parts[1], f);
        if (typeof b === "string") return { error: b };
        if (b < a) return { error: `range "${base}" runs backwards; write the smaller value first` };
        lo = a;
        hi = b;
      } else {
        // pg_cron (like Vixie cron) refuses "5/10": a step needs a range or `*`.
        if (stepText !== undefined) return { error: `"${item}": a step needs a range or * before it (e.g. */${step} or ${base}-${f.max}/${step})` };
        lo = hi = a;
      }
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return { values };
}

/** Parses and validates a cron expression; every problem is reported with its field. */
export function parseCron(input: string): CronParseResult {
  const trimmed = input.trim().replace(/\s+/g, " ");
  if (trimmed === "") return { ok: false, issues: [{ field: "cron", message: "empty; write five fields, e.g. \"*/5 * * * *\"" }] };
  if (trimmed.startsWith("@")) {
    const expanded = CRON_MACROS[trimmed.toLowerCase()];
    if (!expanded) {
      return { ok: false, issues: [{ field: "cron", message: `"${trimmed}" is not supported; use five fields or one of ${Object.keys(CRON_MACROS).join(", ")}` }] };
    }
    return parseCron(expanded);
  }
  if (/^\d+\s*seconds?$/i.test(trimmed)) {
    return { ok: false, issues: [{ field: "cron", message: "second schedules need pg_cron 1.5+ (the local stack has 1.4); use a minute schedule" }] };
  }
  const parts = trimmed.split(" ");
  if (parts.length !== 5) {
    return {
      ok: false,
      issues: [{ field: "cron", message: `has ${parts.length} field${parts.length === 1 ? "" : "s"}; write exactly five: minute hour day-of-month month day-of-week` }],
    };
  }
  const issues: CronIssue[] = [];
  const sets: Set<number>[] = [];
  parts.forEach((p, i) => {
    const r = parseField(p, CRON_FIELDS[i]);
    if ("error" in r) issues.push({ field: CRON_FIELDS[i].name, message: r.error });
    else sets.push(r.values);
  });
  if (issues.length) return { ok: false, issues };
  const dow = new Set([...sets[4]].map((d) => d % 7));
  const cron: ParsedCron = {
    expression: parts.map((p) => p.toLowerCase()).join(" "),
    minute: sets[0],
    hour: sets[1],
    dayOfMonth: sets[2],
    month: sets[3],
    dayOfWeek: dow,
    domStar: parts[2].startsWith("*"),
    dowStar: parts[4].startsWith("*"),
  };
  // "0 0 31 2 *" is accepted by pg_cron and never runs: refuse it here.
  if (!cron.domStar && cron.dowStar) {
    const possible = [...cron.month].some((m) => [...cron.dayOfMonth].some((d) => d <= DAYS_IN_MONTH[m - 1]));
    if (!possible) {
      return { ok: false, issues: [{ field: "day_of_month", message: "no chosen month has any of the chosen days, so the schedule would never run" }] };
    }
  }
  return { ok: true, cron };
}

/** Whether the schedule runs in the UTC minute that contains `at`. */
export function cronMatches(cron: ParsedCron, at: Date): boolean {
  if (!cron.minute.has(at.getUTCMinutes()) || !cron.hour.has(at.getUTCHours()) || !cron.month.has(at.getUTCMonth() + 1)) {
    return false;
  }
  const dom = cron.dayOfMonth.has(at.getUTCDate());
  const dow = cron.dayOfWeek.has(at.getUTCDay());
  // Vixie cron: when either day field is `*`-based both must match, otherwise either may.
  return cron.domStar || cron.dowStar ? dom && dow : dom || dow;
}

/**
 * The next `count` run minutes strictly after `from` (UTC), searching at most ~5 years ahead. The API lists fires
 * from SQL (orchestrator.schedule_next_fires); this is the independent reference SQL's UTC fires are tested against.
 */
export function nextRuns(cron: ParsedCron, from: Date, count = 5): Date[] {
  const out: Date[] = [];
  const t = new Date(from.getTime());
  t.setUTCSeconds(0, 0);
  t.setUTCMinutes(t.getUTCMinutes() + 1);
  const limit = from.getTime() + 5 * 366 * 24 * 3600 * 1000;
  while (out.length < count && t.getTime() < limit) {
    if (!cron.month.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0);
      continue;
    }
    const dom = cron.dayOfMonth.has(t.getUTCDate());
    const dow = cron.dayOfWeek.has(t.getUTCDay());
    if (!(cron.domStar || cron.dowStar ? dom && dow : dom || dow)) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0);
      continue;
    }
    if (!cron.hour.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0);
      continue;
    }
    if (cron.minute.has(t.getUTCMinutes())) out.push(new Date(t.getTime()));
    t.setUTCMinutes(t.getUTCMinutes() + 1);
  }
  return out;
}
