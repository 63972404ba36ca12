// Every retirement and termination of a user worker, as a row in orchestrator.logs (component
// edge-runtime) and a JSON line on the console. The message names the shutdown reason as
// Supabase's logs do; /health and the dashboard count the rows by context.reason.
import postgres from "postgres";

export const SHUTDOWN_REASONS = ["EventLoopCompleted", "EarlyDrop", "WallClockTime", "CPUTime", "Memory", "TerminationRequested"] as const;
export type ShutdownReason = (typeof SHUTDOWN_REASONS)[number];

export interface WorkerEvent {
  /** retire: takes no new requests; shutdown: the worker is gone; tasks: what became of the tasks it held. */
  event: "retire" | "shutdown" | "tasks";
  reason: ShutdownReason;
  function: string;
  worker: string;
  message: string;
  level: "info" | "warn" | "error";
  [key: string]: unknown;
}

export class ShutdownLog {
  /** The gateway's one database connection (termination-report.ts uses it too); unset without a database. */
  readonly sql: postgres.Sql | undefined;
  private writes = new Set<Promise<unknown>>();

  constructor(dbUrl: string | undefined) {
    // One connection, no prepared statements: the gateway may sit behind a transaction pooler too.
    this.sql = dbUrl
      ? postgres(dbUrl, { max: 1, prepare: false, idle_timeout: 30, onnotice: () => {}, connection: { application_name: "edge_runtime_gateway" } })
      : undefined;
  }

  write({ message, level, ...context }: WorkerEvent): void {
    console.log(JSON.stringify({ level, component: "edge-runtime", message, ...context }));
    if (!this.sql) return;
    this.track(this.sql`
      insert into orchestrator.logs (level, component, message, context)
      values (${level}::orchestrator.log_level, 'edge-runtime', ${message}, ${this.sql.json(context as postgres.JSONValue)})`
      .catch((err) => console.error(JSON.stringify({ level: "error", component: "edge-runtime", message: `could not record "${message}" in orchestrator.logs: ${err.message}` }))));
  }

  /** Keeps a write in the set close() waits for. */
  track(write: Promise<unknown>): void {
    const tracked = write.finally(() => this.writes.delete(tracked));
    this.writes.add(tracked);
  }

  /** Waits (at most timeoutMs) for the rows still being written, then closes the connection. */
  async close(timeoutMs = 2_000): Promise<void> {
    await Promise.race([Promise.allSettled([...this.writes]), new Promise((r) => setTimeout(r, timeoutMs))]);
    await this.sql?.end({ timeout: 1 });
  }
}
