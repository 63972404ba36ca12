// Task types that workflows use: workflow.start (start a run from a task, e.g.
// an event rule or the ticket-resolved trigger), workflow.wake (a waiting step's
// wake-up), incident.gather and incident.evidence (incident-sop's first steps)
// and notify (log + webhook subscribers).
import { db } from "../db.ts";
import { env } from "../env.ts";
import { AppError, PermanentTaskError } from "../errors.ts";
import { catalogSpec, taskSpec } from "../task-catalog.ts";
import { defineTaskType } from "../task-types.ts";
import { emitWebhookEvent } from "./publish.ts";
import { startRun } from "./service.ts";

export const workflowStart = defineTaskType({
  ...catalogSpec("workflow.start"),
  async handle(payload, { task, log }) {
    try {
      // Delivered twice (at-least-once), the task finds the run its first delivery started.
      const { run, created } = await startRun(payload.workflow, { input: payload.input, dedupe_key: payload.dedupe_key ?? `task:${task.id}` }, `task:${task.id}`);
      log.info(`workflow ${payload.workflow} run ${run.id} ${created ? "started" : "was already running"}`, { run_id: run.id, status: run.status });
      return { run_id: run.id, status: run.status, created };
    } catch (err) {
      if (err instanceof AppError && err.status < 500) throw new PermanentTaskError(err.message);
      throw err;
    }
  },
});

/** A waiting step's wake-up (a sleep's end, a timeout, an event): the engine does the work under the run's lock. */
export const workflowWake = defineTaskType({
  ...catalogSpec("workflow.wake"),
  async handle(payload, { log }) {
    const [{ outcome }] = await db()<{ outcome: string }[]>`
      select orchestrator.workflow_wake(${payload.run_id}, ${payload.step_index}, ${payload.reason}) as outcome`;
    log.info(`workflow run ${payload.run_id} step ${payload.step_index} woken (${payload.reason}): ${outcome}`, { run_id: payload.run_id });
    return { outcome };
  },
});

/**
 * One app's side of an incident (incident-sop runs one per app, in parallel): its warnings and errors
 * from an hour before the ticket was first seen until it was resolved, newest 20, as event ids and as
 * text for sop.generate's context (untrusted there, as all app data in prompts).
 */
export const incidentEvidence = defineTaskType({
  ...catalogSpec("incident.evidence"),
  async handle(payload, { log }) {
    const sql = db();
    const [t] = await sql<{ since: Date; until: Date }[]>`
      select first_seen - interval '1 hour' as since, coalesce(resolved_at, last_seen, now()) + interval '10 minutes' as until
      from orchestrator.tickets where id = ${payload.ticket_id}`;
    // No ticket, no window to look in: the gather step beside it owns that check (and fails the run).
    if (!t) return { app: payload.app, event_ids: [], count: 0, text: `ticket ${payload.ticket_id} does not exist` };
    const rows = await sql<{ id: number; level: string; type: string; message: string | null; received_at: Date }[]>`
      select id, level::text, type, left(message, 300) as message, received_at from orchestrator.events
      where source = ${payload.app} and level in ('warn', 'error', 'fatal') and received_at between ${t.since} and ${t.until}
      order by received_at desc, id desc limit 20`;
    const events = rows.reverse();
    const text = events.length
      ? events.map((e) => `${e.received_at.toISOString()} [${e.level}] ${e.type}: ${e.message ?? ""}`).join("\n")
      : `no warnings or errors from ${payload.app} around the incident`;
    log.info(`incident ${payload.ticket_id}: ${events.length} ${payload.app} events`, { app: payload.app, events: events.length });
    return { app: payload.app, event_ids: events.map((e) => e.id), count: events.length, text };
  },
});

/** Keys of a zod object schema, when the registered type exposes them (to fit a candidate payload to it). */
function schemaKeys(schema: unknown): Set<string> | undefined {
  const shape = (schema as { shape?: Record<string, unknown> })?.shape;
  return shape && typeof shape === "object" ? new Set(Object.keys(shape)) : undefined;
}

/** A payload for a registered task type, or why there is none. */
function payloadFor(type: string, candidate: Record<string, unknown>): { payload: Record<string, unknown> | null; reason?: string } {
  const def = taskSpec(type);
  if (!def) return { payload: null, reason: `${type} is not registered in this deployment` };
  const keys = schemaKeys(def.payload);
  const fitted = keys ? Object.fromEntries(Object.entries(candidate).filter(([k, v]) => keys.has(k) && v !== undefined)) : candidate;
  const parsed = def.payload.safeParse(fitted);
  if (!parsed.success) {
    // The registered type changed shape: say so loudly rather than skip the step.
    throw new PermanentTaskError(`cannot build a ${type} payload: ${parsed.error.issues.map((i) => `${i.path.join(".") || "payload"}: ${i.message}`).join("; ")}`);
  }
  return { payload: fitted };
}

export const incidentGather = defineTaskType({
  ...catalogSpec("incident.gather"),
  async handle(payload, { log }) {
    const sql = db();
    const [row] = await sql<{ t: Record<string, unknown> }[]>`select to_jsonb(t) as t from orchestrator.tickets t where id = ${payload.ticket_id}`;
    if (!row) throw new PermanentTaskError(`ticket ${payload.ticket_id} does not exist`);
    const t = row.t;
    const ticket = {
      id: payload.ticket_id,
      title: String(t.title ?? `ticket ${payload.ticket_id}`),
      status: t.status ?? null,
      priority: t.priority ?? null,
      source: t.source ?? null,
      occurrences: t.occurrences ?? null,
      first_seen: t.first_seen ?? null,
      last_seen: t.last_seen ?? null,
      resolved_at: t.resolved_at ?? null,
    };
    const rows = await sql<{ id: number }[]>`
      select id from orchestrator.events where ticket_id = ${payload.ticket_id} order by id desc limit 20`;
    const eventIds = rows.map((r) => r.id).reverse();
    const slug = `incident-${payload.ticket_id}`;
    const sop = payloadFor("sop.generate", {
      topic: payload.topic ?? `Handling: ${ticket.title}`.slice(0, 500),
      audience: payload.audience,
      ticket_id: payload.ticket_id,
      event_ids: eventIds.length ? eventIds : undefined,
      slug,
      // The workflow's own notion step pushes it, visibly, as part of the run.
      notion: false,
    });
    let notion: { payload: Record<string, unknown> | null; reason?: string } = { payload: null, reason: "no SOP step" };
    if (sop.payload) {
      notion = env("NOTION_API_KEY") && env("NOTION_DATABASE_ID")
        ? payloadFor("notion.push", { entity: "sop", key: slug })
        : { payload: null, reason: "Notion is not configured (NOTION_API_KEY, NOTION_DATABASE_ID)" };
    }
    log.info(`incident ${payload.ticket_id} gathered`, { events: eventIds.length, sop: !!sop.payload, notion: !!notion.payload });
    return {
      ticket,
      event_ids: eventIds,
      sop_request: sop.payload,
      notion_request: notion.payload,
      skipped: {
        ...(sop.reason ? { sop: sop.reason } : {}),
        ...(notion.reason && sop.payload ? { notion: notion.reason } : {}),
      },
    };
  },
});

export const notify = defineTaskType({
  ...catalogSpec("notify"),
  async handle(payload, { log }) {
    log.info(`notify: ${payload.subject}`, { event: payload.event, data: payload.data });
    const webhooks = await emitWebhookEvent(db(), payload.event, {
      subject: payload.subject,
      ...(payload.message ? { message: payload.message } : {}),
      ...payload.data,
    });
    return { event: payload.event, subject: payload.subject, logged: true, webhook_deliveries: webhooks };
  },
});
