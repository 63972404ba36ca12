// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header, and the trace the
// current work runs under. A leaf: db.ts, logger.ts and the outbound clients read the current trace
// from here; nothing here imports the rest of the code.
//
//   traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
//                version-trace_id (32 hex)-parent_id (16 hex)-flags
//
// The trace id is what the Orchestrator keeps (tasks, events, tickets, workflow runs and logs have a
// trace_id column); span ids are made per hop: one for the request or task run, a new one for each
// outbound call, so a receiver's parent id is never the caller's.
// Hand-written: the npm packages for this are either whole tracing SDKs or unmaintained.
import { AsyncLocalStorage } from "node:async_hooks";

export interface TraceContext {
  /** 32 lowercase hex digits, not all zeros. */
  traceId: string;
  /** This hop's own span: 16 lowercase hex digits, not all zeros. */
  spanId: string;
  /** Trace flags as received (2 hex digits; bit 0 is "sampled"); "01" for a trace started here. */
  flags: string;
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const HEX = /^[0-9a-f]+$/;

/** A trace id as the spec allows it: 32 lowercase hex digits, not all zeros. */
export function isTraceId(value: string): boolean {
  return TRACE_ID.test(value) && !/^0+$/.test(value);
}

/**
 * The parts of a `traceparent` header, or undefined when it is not valid (the spec: a receiver that
 * cannot parse it ignores it and starts a new trace). Version 00 is exactly 55 characters; a later
 * version may append fields after a dash, which are ignored; version ff is invalid.
 */
export function parseTraceparent(header: string | null | undefined): { traceId: string; parentId: string; flags: string } | undefined {
  if (!header) return undefined;
  const value = header.trim();
  if (value.length < 55) return undefined;
  const version = value.slice(0, 2);
  if (!HEX.test(version) || version === "ff") return undefined;
  if (version === "00" && value.length !== 55) return undefined;
  if (value.length > 55 && value[55] !== "-") return undefined;
  if (value[2] !== "-" || value[35] !== "-" || value[52] !== "-") return undefined;
  const traceId = value.slice(3, 35);
  const parentId = value.slice(36, 52);
  const flags = value.slice(53, 55);
  if (!isTraceId(traceId) || !HEX.test(parentId) || /^0+$/.test(parentId) || !HEX.test(flags)) return undefined;
  return { traceId, parentId, flags };
}

/** The header value for a hop: version 00. */
export function formatTraceparent(traceId: string, parentId: string, flags = "01"): string {
  return `00-${traceId}-${parentId}-${flags}`;
}

const BYTE_HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));
// Random bytes drawn 4 KB at a time: a span id per task run made getRandomValues (a call into the
// runtime), Array.from and a regex per task a visible share of a noop task's CPU.
const pool = new Uint8Array(4096);
let poolAt = pool.length;

function randomHex(bytes: number): string {
  for (;;) {
    if (poolAt + bytes > pool.length) {
      crypto.getRandomValues(pool);
      poolAt = 0;
    }
    let hex = "";
    let any = 0;
    for (let i = poolAt; i < poolAt + bytes; i++) {
      hex += BYTE_HEX[pool[i]];
      any |= pool[i];
    }
    poolAt += bytes;
    // All zeros is invalid; 2^-64 at worst, but never send one.
    if (any !== 0) return hex;
  }
}

export const newTraceId = (): string => randomHex(16);
export const newSpanId = (): string => randomHex(8);

/** The trace of an incoming request: the caller's, when its traceparent is valid, else a new one. */
export function traceFromHeader(header: string | null | undefined): TraceContext {
  const parsed = parseTraceparent(header);
  return { traceId: parsed?.traceId ?? newTraceId(), spanId: newSpanId(), flags: parsed?.flags ?? "01" };
}

/** A new hop (a task run) of a kept trace id; a new trace when there is none (a row made before traces were kept). */
export function traceOf(traceId: string | null | undefined): TraceContext {
  return { traceId: traceId && isTraceId(traceId) ? traceId : newTraceId(), spanId: newSpanId(), flags: "01" };
}

const current = new AsyncLocalStorage<TraceContext>();

/** Runs fn under a trace: logs, transactions (db.ts) and outbound calls made inside it carry it. */
export function runInTrace<T>(trace: TraceContext, fn: () => T): T {
  return current.run(trace, fn);
}

/** The trace the current work runs under, if any. */
export function currentTrace(): TraceContext | undefined {
  return current.getStore();
}

/** The `traceparent` for an outbound call made now: the current trace id with a new parent id; undefined outside a trace. */
export function outboundTraceparent(): string | undefined {
  const trace = current.getStore();
  return trace ? formatTraceparent(trace.traceId, newSpanId(), trace.flags) : undefined;
}
