import { describe, expect, it } from "vitest";
import { pathSegments, subPath } from "../../functions/_shared/router.ts";
import { AppError } from "../../functions/_shared/errors.ts";
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

  it("malformed percent-encoding is a 400 naming the segment, not a URIError (a 500)", () => {
    for (const [path, segment] of [["/health/%E0", "%E0"], ["/tasks/%ZZ", "%ZZ"], ["/events/%C0", "%C0"], ["/notion/%FF/webhook", "%FF"], ["/rules/%", "%"]]) {
      const fn = path.split("/")[1];
      let caught: unknown;
      try {
        subPath(path, fn);
      } catch (err) {
        caught = err;
      }
      expect(caught, path).toBeInstanceOf(AppError);
      expect((caught as AppError).status).toBe(400);
      expect((caught as AppError).message).toContain(`"${segment}" is not valid percent-encoding`);
      // pathSegments never throws: the router checks the key first, then answers 400.
      expect(pathSegments(path, fn).malformed).toBe(segment);
    }
  });

  it("decodes each segment on its own: %2F stays inside its segment", () => {
    expect(pathSegments("/tasks/a%2Fb/cancel", "tasks")).toEqual({ segments: ["a/b", "cancel"], malformed: undefined });
    expect(pathSegments("/sops/caf%C3%A9", "sops").segments).toEqual(["café"]);
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
