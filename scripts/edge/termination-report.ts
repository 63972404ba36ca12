// Tells the queue that a user worker was terminated, the moment the gateway kills it, so the tasks
// its task-worker runs held are back at once and judged (orchestrator.isolate_terminated): the one
// suspect there (or the only task) caused the kill and fails its attempt with the reason; the others
// are queued again, their attempt not counted, as suspects. It also ends the isolate's presence as
// a listening worker (inserts send wake-ups again). Hosted Supabase sends no such
// report; there the leases expire and reap() does the same, later and with less to go on.
import type { ShutdownLog, ShutdownReason } from "./shutdown-log.ts";

interface HeldTask {
  id: number;
  status: string;
  attempt_counted: boolean;
}

export class TerminationReport {
  constructor(private readonly log: ShutdownLog) {}

  report(w: { id: string; functionName: string; executionId: string }, reason: ShutdownReason, detail: string): void {
    const sql = this.log.sql;
    if (!sql) return;
    this.log.track(
      sql<HeldTask[]>`select * from orchestrator.isolate_terminated(${w.executionId}, ${reason}, ${detail})`
        // A listening worker died with it: inserts must wake again, and what they skipped needs a worker.
        .then(async (rows) => (await sql`select orchestrator.presence_end(${w.executionId}, 'isolate_terminated')`, rows))
        .then((rows) => {
          if (rows.length === 0) return;
          const failed = rows.filter((r) => r.attempt_counted);
          const dead = failed.filter((r) => r.status === "dead");
          this.log.write({
            event: "tasks", reason, function: w.functionName, worker: w.id, level: failed.length ? "error" : "warn",
            message: `worker ${w.id} was terminated (${reason}) holding ${rows.length} task(s): ` +
              (failed.length
                ? `task ${failed.map((r) => r.id).join(", ")} was the suspect or the only task there, and caused it (attempt failed${dead.length ? `, ${dead.length} now dead` : ""})`
                : `none was a suspect, so all go back to the queue at once, attempt not counted, as suspects`) +
              (failed.length && rows.length > failed.length ? `; ${rows.length - failed.length} other(s) back to the queue` : ""),
            tasks: rows.map((r) => r.id), failed: failed.map((r) => r.id), dead: dead.map((r) => r.id),
          });
        })
        .catch((err) => {
          console.error(JSON.stringify({
            level: "error", component: "edge-runtime",
            message: `could not report the termination of ${w.id} to the queue (its tasks come back when their leases expire): ${err.message}`,
          }));
        }),
    );
  }
}
