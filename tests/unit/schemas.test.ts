import { describe, expect, it } from "vitest";
import { createTaskSchema, listLogsQuery, listTasksQuery } from "../../functions/_shared/schemas.ts";
import { validateTaskPayload } from "../../functions/_shared/queue.ts";

describe("createTaskSchema", () => {
  it("accepts a minimal task and fills an empty payload", () => {
    expect(createTaskSchema.parse({ type: "noop" })).toEqual({ type: "noop", payload: {} });
  });
  it("rejects wrong types, unknown keys and bad dates", () => {
    expect(createTaskSchema.safeParse({ type: 5 }).success).toBe(false);
    expect(createTaskSchema.safeParse({ type: "noop", priority: "high" }).success).toBe(false);
    expect(createTaskSchema.safeParse({ type: "noop", extra: 1 }).success).toBe(false);
    expect(createTaskSchema.safeParse({ type: "noop", run_at: "tomorrow" }).success).toBe(false);
    expect(createTaskSchema.safeParse({ type: "noop", payload: [1] }).success).toBe(false);
    expect(createTaskSchema.safeParse({ type: "Bad Type" }).success).toBe(false);
  });
});

describe("validateTaskPayload", () => {
  it("rejects unknown types, naming the known ones", () => {
    expect(() => validateTaskPayload("nope", {})).toThrow(/Unknown task type "nope".*noop/);
  });
  it("applies the type's own payload schema", () => {
    expect(() => validateTaskPayload("noop", { delay_ms: "soon" })).toThrow(/payload for task type "noop"/);
    expect(validateTaskPayload("noop", { delay_ms: 5 })).toEqual({ delay_ms: 5 });
  });
});

describe("list queries", () => {
  it("parses status lists and caps limit at 100", () => {
    expect(listTasksQuery.parse({ status: "queued,dead" }).status).toEqual(["queued", "dead"]);
    expect(listTasksQuery.safeParse({ status: "sleeping" }).success).toBe(false);
    expect(listTasksQuery.safeParse({ limit: "101" }).success).toBe(false);
    expect(listTasksQuery.parse({}).limit).toBe(50);
  });
  it("checks log levels and formats", () => {
    expect(listLogsQuery.parse({ level: "warn", format: "md" })).toMatchObject({ level: "warn", format: "md" });
    expect(listLogsQuery.safeParse({ level: "loud" }).success).toBe(false);
    expect(listLogsQuery.safeParse({ format: "xml" }).success).toBe(false);
  });
});
