// traceparent parsing and formatting against the examples and rules of W3C Trace Context
// (https://www.w3.org/TR/trace-context/#traceparent-header), and the current trace's outbound header.
import { describe, expect, it } from "vitest";
import {
  currentTrace, formatTraceparent, isTraceId, newSpanId, newTraceId, outboundTraceparent, parseTraceparent, runInTrace, traceFromHeader,
  traceOf,
} from "../../functions/_shared/trace.ts";

const SPEC = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

describe("traceparent", () => {
  it("parses the spec's examples", () => {
    expect(parseTraceparent(SPEC)).toEqual({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", parentId: "00f067aa0ba902b7", flags: "01" });
    expect(parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")?.flags).toBe("00");
    expect(parseTraceparent(" 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 ")?.traceId).toBe("0af7651916cd43dd8448eb211c80319c");
  });

  it("refuses what the spec calls invalid", () => {
    const bad = [
      "", "garbage", SPEC.slice(0, 54), SPEC + "-", SPEC + "x",
      SPEC.toUpperCase(), // hex must be lowercase
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // version ff
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01", // all-zero trace id
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // all-zero parent id
      "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
      "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z",
      SPEC + ", " + SPEC, // two headers joined
    ];
    for (const h of bad) expect(parseTraceparent(h), h).toBeUndefined();
    expect(parseTraceparent(null)).toBeUndefined();
  });

  it("takes a later version's first four fields and ignores what follows a dash", () => {
    expect(parseTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds")?.traceId)
      .toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(parseTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")?.flags).toBe("01");
    expect(parseTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.x")).toBeUndefined();
  });

  it("formats version 00, and round-trips", () => {
    expect(formatTraceparent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "01")).toBe(SPEC);
    const id = newTraceId();
    const span = newSpanId();
    expect(parseTraceparent(formatTraceparent(id, span))).toEqual({ traceId: id, parentId: span, flags: "01" });
  });

  it("makes ids of the right shape, and different each time", () => {
    const ids = new Set(Array.from({ length: 200 }, newTraceId));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(isTraceId(id)).toBe(true);
    expect(newSpanId()).toMatch(/^[0-9a-f]{16}$/);
    expect(isTraceId("0".repeat(32))).toBe(false);
    expect(isTraceId("4BF92F3577B34DA6A3CE929D0E0E4736")).toBe(false);
  });

  it("a request keeps the caller's trace id with a span of its own; a malformed header starts a new trace", () => {
    const kept = traceFromHeader(SPEC);
    expect(kept.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(kept.spanId).not.toBe("00f067aa0ba902b7");
    const fresh = traceFromHeader("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"); // no flags
    expect(isTraceId(fresh.traceId)).toBe(true);
    expect(fresh.traceId).not.toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(traceOf(null).traceId).not.toBe(traceOf(null).traceId);
    expect(traceOf("4bf92f3577b34da6a3ce929d0e0e4736").traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
  });

  it("outbound calls carry the current trace id with a new parent id per call; none outside a trace", async () => {
    expect(outboundTraceparent()).toBeUndefined();
    const trace = traceFromHeader(SPEC);
    const [a, b] = await runInTrace(trace, async () => {
      await new Promise((r) => setTimeout(r, 1)); // survives an await
      expect(currentTrace()).toBe(trace);
      return [outboundTraceparent()!, outboundTraceparent()!];
    });
    const pa = parseTraceparent(a)!;
    const pb = parseTraceparent(b)!;
    expect(pa.traceId).toBe(trace.traceId);
    expect(pb.traceId).toBe(trace.traceId);
    expect(new Set([pa.parentId, pb.parentId, "00f067aa0ba902b7"]).size).toBe(3);
    expect(currentTrace()).toBeUndefined();
  });
});
