// Sub-minute sweeps where pg_cron cannot schedule them. pg_cron 1.4 (Debian)
// runs the orchestrator-sweep job once a minute, so a lease that expired at :30
// would wait for :00; hosted Supabase (pg_cron >= 1.5) sweeps every 10 s. Where
// the installed pg_cron is older than 1.5, the supervisor sweeps every 10 s
// itself, and also at the moment the earliest lease expires
// (orchestrator.next_sweep_in), so a dead worker's tasks run again right after
// their lease. The queue's rules stay in SQL: this only calls
// orchestrator.sweep() and orchestrator.reap(). It follows the orchestrator-sweep
// job's `active` flag, so pausing that job (latency runs, tests) pauses this too.
import type postgres from "postgres";

export const SWEEP_EVERY_MS = 10_000;
/** Never tick more often than this, whatever the leases say. */
const MIN_GAP_MS = 1_000;
/** A lease is known expired only once now() > locked_until: aim a little past it. */
const PAST_EXPIRY_MS = 50;

export interface SweepTickerStats {
  mode: "pg_cron" | "supervisor";
  sweeps: number;
  /** Early ticks at a lease's expiry, and the tasks they reaped. */
  lease_ticks: number;
  reaped: number;
  errors: number;
}

export class SweepTicker {
  private readonly sql: postgres.Sql;
  private readonly onLine: (source: string, line: string) => void;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private nextSweepAt = 0;
  private lastError = "";
  readonly stats: SweepTickerStats = { mode: "pg_cron", sweeps: 0, lease_ticks: 0, reaped: 0, errors: 0 };

  constructor(sql: postgres.Sql, onLine: (source: string, line: string) => void) {
    this.sql = sql;
    this.onLine = onLine;
  }

  /** Starts ticking when pg_cron cannot run second schedules; says which of the two sweeps. */
  async start(): Promise<SweepTickerStats["mode"]> {
    const [{ seconds }] = await this.sql<{ seconds: boolean }[]>`select orchestrator.cron_supports_seconds() as seconds`;
    if (seconds) return (this.stats.mode = "pg_cron");
    this.stats.mode = "supervisor";
    this.nextSweepAt = Date.now() + SWEEP_EVERY_MS;
    this.schedule(MIN_GAP_MS);
    return this.stats.mode;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), Math.max(MIN_GAP_MS, ms));
  }

  private async tick(): Promise<void> {
    let nextIn = SWEEP_EVERY_MS;
    try {
      const [job] = await this.sql<{ active: boolean }[]>`select active from cron.job where jobname = 'orchestrator-sweep'`;
      if (job?.active) {
        if (Date.now() >= this.nextSweepAt) {
          this.nextSweepAt = Date.now() + SWEEP_EVERY_MS;
          await this.sql`select orchestrator.sweep()`;
          this.stats.sweeps++;
        } else {
          // Woken for a lease: reap it now; sweep (which wakes the worker) only when that freed something.
          this.stats.lease_ticks++;
          const [{ reaped }] = await this.sql<{ reaped: number }[]>`select orchestrator.reap() as reaped`;
          if (reaped > 0) {
            this.stats.reaped += reaped;
            this.onLine("supervisor", `reaped ${reaped} task(s) whose lease expired; waking the worker`);
            await this.sql`select orchestrator.sweep()`;
          }
        }
        const [{ seconds }] = await this.sql<{ seconds: number }[]>`select orchestrator.next_sweep_in(${SWEEP_EVERY_MS / 1000}) as seconds`;
        nextIn = Math.min(this.nextSweepAt - Date.now(), seconds * 1000 + PAST_EXPIRY_MS);
      }
      this.lastError = "";
    } catch (err) {
      // PostgreSQL restarting, or migrations not there yet: try again on the next tick, say so once.
      this.stats.errors++;
      const message = (err as Error).message;
      if (message !== this.lastError) this.onLine("supervisor", `the sweep tick failed: ${message} (retrying every ${SWEEP_EVERY_MS / 1000} s)`);
      this.lastError = message;
    }
    this.schedule(nextIn);
  }
}
