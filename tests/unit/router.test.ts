import { describe, expect, it } from "vitest";
import { subPath } from "../../functions/_shared/router.ts";
import { decodeCursor, encodeCursor } from "../../functions/_shared/cursor.ts";
import { VERSION } from "../../functions/_shared/version.ts";
import pkg from "../../package.json" with { type: "json" };

describe("subPath", () => {
  it("finds the path after the function name, hosted or local", () => {
    expect(subPath("/functions/v1/tasks/7/cancel", "tasks")).toBe("/7/cancel");
    expect(subPath("/tasks/7/cancel", "tasks")).toBe("/7/cancel");
    expect(subPath("/tasks", "tasks")).toBe("/");
    expect(subPath("/task-worker/", "task-worker")).toBe("/");
  });
});

describe("cursor", () => {
  it("round-trips an id and rejects anything else with a 400", () => {
    expect(decodeCursor(encodeCursor(12345))).toBe(12345);
    expect(decodeCursor(undefined)).toBeUndefined();
    expect(() => decodeCursor("bm9wZQ")).toThrow(/cursor/);
  });
});

it("VERSION matches package.json", () => {
  expect(VERSION).toBe(pkg.version);
});
