// ticket.open: opens (or updates, or reopens) the ticket for an event's
// fingerprint. Enqueued by rules (the default rule: error and fatal events);
// the work is one call to orchestrator.open_ticket, which is idempotent, so a
// repeated delivery never counts an occurrence twice.
import { traced } from "../db.ts";
import { PermanentTaskError } from "../errors.ts";
import { catalogSpec } from "../task-catalog.ts";
import { defineTaskType } from "../task-types.ts";

export const ticketOpen = defineTaskType({
  ...catalogSpec("ticket.open"),
  async handle(payload, { task, log }) {
    let row: { ticket_id: number; created: boolean; reopened: boolean; attached: number; occurrences: number; status: string };
    try {
      // Under the task's trace: a new ticket, and the Notion push and webhook deliveries its triggers enqueue, take it.
      [row] = await traced((sql) => sql<(typeof row)[]>`
        select * from orchestrator.open_ticket(${payload.event_id}, ${payload.title ?? null}, ${payload.priority ?? null}, ${task.id})`);
    } catch (err) {
      // The event is gone (pruned): nothing to open, and retrying cannot help.
      if ((err as { code?: string }).code === "P0002") throw new PermanentTaskError((err as Error).message);
      throw err;
    }
    const what = row.created ? "opened" : row.reopened ? "reopened" : "updated";
    log.info(`ticket #${row.ticket_id} ${what} for event ${payload.event_id}`, {
      ticket_id: row.ticket_id, event_id: payload.event_id, attached: row.attached, occurrences: row.occurrences,
    });
    return row;
  },
});
