// Hands the supervisor's process snapshots to the functions, which run in their
// own Deno process: one row per process in local_stack.processes, a table that
// only the local stack's compat layer creates (so /health shows a local_stack
// section locally, and nothing on hosted Supabase). Writes are coalesced and
// retried: while PostgreSQL itself is down they wait for it to come back.
import type postgres from "postgres";
import type { ProcessSnapshot } from "./process-snapshot.ts";

const RETRY_MS = 1_000;

export class ProcessReport {
  private readonly sql: postgres.Sql;
  private readonly pending = new Map<string, ProcessSnapshot>();
  private writing: Promise<void> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(sql: postgres.Sql) {
    this.sql = sql;
  }

  /** Forgets the rows of an earlier run of the stack on this cluster. */
  async reset(): Promise<void> {
    await this.sql`delete from local_stack.processes`;
  }

  update(snapshot: ProcessSnapshot): void {
    if (this.closed) return;
    this.pending.set(snapshot.name, snapshot);
    void this.flush();
  }

  /** Writes what is pending; resolves when it is stored (or will be retried). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.pending.size === 0 || this.closed) return;
    const rows = [...this.pending.values()];
    this.pending.clear();
    this.writing = this.write(rows).catch(() => {
      // PostgreSQL is down or restarting: keep the newest snapshot of each and try again shortly.
      for (const r of rows) if (!this.pending.has(r.name)) this.pending.set(r.name, r);
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => void this.flush(), RETRY_MS);
    }).finally(() => {
      this.writing = undefined;
    });
    await this.writing;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
  }

  private async write(rows: ProcessSnapshot[]): Promise<void> {
    const values = rows.map((r) => ({
      name: r.name, pid: r.pid, state: r.state, restarts: r.restarts, last_exit: r.last_exit,
      last_exit_at: r.last_exit_at, since: r.since, gave_up: r.gave_up, supervisor_pid: process.pid,
    }));
    await this.sql`
      insert into local_stack.processes ${this.sql(values)}
      on conflict (name) do update set
        pid = excluded.pid, state = excluded.state, restarts = excluded.restarts, last_exit = excluded.last_exit,
        last_exit_at = excluded.last_exit_at, since = excluded.since, gave_up = excluded.gave_up,
        supervisor_pid = excluded.supervisor_pid, updated_at = now()`;
  }
}
