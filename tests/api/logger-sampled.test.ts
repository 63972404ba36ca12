// Logger.sampled: what unauthenticated callers can trigger at will is written at most once per key
// a minute, with the count of what was held back, so requests cannot be turned into stored rows.
import { afterEach, describe, expect, it, vi } from "vitest";
import { createLogger, flushLogs, resetLogSampling } from "../../functions/_shared/logger.ts";
import { sql } from "../helpers/stack.ts";

afterEach(() => {
  vi.useRealTimers();
  resetLogSampling();
});

async function rowsFor(component: string) {
  return await sql()<{ message: string; context: Record<string, unknown> }[]>`
    select message, context from orchestrator.logs where component = ${component} order by id`;
}

describe("Logger.sampled", () => {
  it("stores one row for 500 occurrences of a key, then one more a minute later carrying the 499 held back", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const component = `sampled-${Math.random().toString(36).slice(2)}`;
    const log = createLogger({ component });
    for (let i = 0; i < 500; i++) log.sampled("warn", "unconfigured", `request ${i} refused`, { i });
    log.sampled("warn", "other-key", "a different problem");
    await flushLogs();
    const first = await rowsFor(component);
    expect(first.map((r) => r.message)).toEqual(["request 0 refused", "a different problem"]);
    expect(first[0].context).toMatchObject({ sample_key: "unconfigured", suppressed_since_last: 0, i: 0 });

    vi.setSystemTime(Date.now() + 61_000);
    log.sampled("warn", "unconfigured", "request 500 refused");
    await flushLogs();
    const later = await rowsFor(component);
    expect(later).toHaveLength(3);
    expect(later[2].context).toMatchObject({ sample_key: "unconfigured", suppressed_since_last: 499 });
  });
});
