// The one logger: a JSON line on the console and a row in orchestrator.logs for
// every entry. Rows are buffered and written in one INSERT per flush; callers
// flush before responding (or hand the flush to EdgeRuntime.waitUntil).
import { db } from "./db.ts";
import { settings } from "./env.ts";
import { redact, redactString } from "./redact.ts";
import { currentTrace } from "./trace.ts";

export const LEVELS = ["debug", "info", "warn", "error", "fatal"] as const;
export type Level = (typeof LEVELS)[number];

interface LogRow {
  at: Date;
  level: Level;
  component: string;
  message: string;
  context: Record<string, unknown>;
  task_id: number | null;
  request_id: string | null;
  trace_id: string | null;
}

export interface LogFields {
  component: string;
  requestId?: string;
  taskId?: number;
  /** The W3C trace this work is part of (trace.ts); default: the trace the caller runs under. */
  traceId?: string;
}

const buffer: LogRow[] = [];
/** Sampled keys: at most one row per key per window (see Logger.sampled). */
const SAMPLE_WINDOW_MS = 60_000;
const SAMPLE_KEYS_MAX = 1_000;
const samples = new Map<string, { windowStart: number; suppressed: number }>();

/** Forget the sampling windows (tests). */
export function resetLogSampling(): void {
  samples.clear();
}
const FLUSH_AT = 200;
let flushing: Promise<void> = Promise.resolve();

/** Whether a row of this level would be written (LOG_LEVEL): for callers that would build many rows for nothing. */
export function logEnabled(level: Level): boolean {
  const min = LEVELS.indexOf(settings.logLevel as Level);
  return LEVELS.indexOf(level) >= (min < 0 ? 1 : min);
}

export class Logger {
  readonly fields: LogFields;
  constructor(fields: LogFields) {
    this.fields = fields;
  }

  child(fields: Partial<LogFields>): Logger {
    return new Logger({ ...this.fields, ...fields });
  }

  debug(message: string, context?: Record<string, unknown>) {
    this.write("debug", message, context);
  }
  info(message: string, context?: Record<string, unknown>) {
    this.write("info", message, context);
  }
  warn(message: string, context?: Record<string, unknown>) {
    this.write("warn", message, context);
  }
  error(message: string, context?: Record<string, unknown>) {
    this.write("error", message, context);
  }
  fatal(message: string, context?: Record<string, unknown>) {
    this.write("fatal", message, context);
  }

  /**
   * For what unauthenticated callers can trigger at will: the first occurrence of `key` in a window
   * is written (with how many were held back since the last one written); the rest are only counted.
   * An attacker then cannot turn requests into stored rows, and the operator still sees the problem.
   */
  sampled(level: Level, key: string, message: string, context: Record<string, unknown> = {}) {
    const now = Date.now();
    const seen = samples.get(key);
    if (seen && now - seen.windowStart < SAMPLE_WINDOW_MS) {
      seen.suppressed++;
      return;
    }
    if (!seen && samples.size >= SAMPLE_KEYS_MAX) samples.delete(samples.keys().next().value!);
    samples.set(key, { windowStart: now, suppressed: 0 });
    this.write(level, message, { ...context, sample_key: key, suppressed_since_last: seen?.suppressed ?? 0 });
  }

  private write(level: Level, message: string, context: Record<string, unknown> = {}) {
    if (!logEnabled(level)) return;
    const row: LogRow = {
      at: new Date(),
      level,
      component: this.fields.component,
      message: redactString(message).slice(0, 10_000),
      context: redact(context) as Record<string, unknown>,
      task_id: this.fields.taskId ?? null,
      request_id: this.fields.requestId ?? null,
      trace_id: this.fields.traceId ?? currentTrace()?.traceId ?? null,
    };
    console.log(JSON.stringify({ ...row, at: row.at.toISOString() }));
    buffer.push(row);
    if (buffer.length >= FLUSH_AT) void flushLogs();
  }
}

export function createLogger(fields: LogFields): Logger {
  return new Logger(fields);
}

/** Writes every buffered row in one INSERT. Never throws: a log write must not fail the work it describes. */
export function flushLogs(): Promise<void> {
  flushing = flushing.then(async () => {
    if (buffer.length === 0) return;
    const rows = buffer.splice(0, buffer.length);
    try {
      const sql = db();
      const values = rows.map((r) => ({ ...r, context: sql.json(r.context as never) }));
      await sql`insert into orchestrator.logs ${sql(values, "at", "level", "component", "message", "context", "task_id", "request_id", "trace_id")}`;
    } catch (err) {
      console.error(JSON.stringify({ level: "error", component: "logger", message: `could not write ${rows.length} log rows: ${redactString((err as Error).message)}` }));
    }
  });
  return flushing;
}

/** Flush after the response where the runtime allows it (Supabase EdgeRuntime.waitUntil), else now. */
export async function flushLogsSoon(): Promise<void> {
  const edge = (globalThis as { EdgeRuntime?: { waitUntil(p: Promise<unknown>): void } }).EdgeRuntime;
  if (edge) edge.waitUntil(flushLogs());
  else await flushLogs();
}
