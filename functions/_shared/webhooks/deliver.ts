// One delivery attempt of an outbound webhook: signed POST, outcome recorded on
// the delivery row. 2xx: delivered. 408/425/429/5xx/network errors/timeouts:
// retried through the queue with backoff, dead after the subscription's max
// attempts. Other 4xx: the receiver refuses it; dead at once.
import { db } from "../db.ts";
import { PermanentTaskError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { maskSecretUrls, maskUrl } from "../secret-url.ts";
import { outboundTraceparent } from "../trace.ts";
import { SIGNATURE_HEADER, signPayload, TIMESTAMP_HEADER } from "./signature.ts";

const TIMEOUT_MS = 10_000;
const KEEP_ATTEMPTS = 20;

interface DeliveryRow {
  id: number;
  event: string;
  payload: { event: string; occurred_at: string; data: Record<string, unknown> };
  status: string;
  url: string;
  secret: string;
  format: "json" | "slack";
}

/** A Slack-style message: {text} (Slack incoming webhooks, Discord's /slack endpoint, Mattermost…). */
export function slackMessage(payload: DeliveryRow["payload"]): { text: string } {
  const d = payload.data ?? {};
  const task = d.task as Record<string, unknown> | undefined;
  const ticket = d.ticket as Record<string, unknown> | undefined;
  const sop = d.sop as Record<string, unknown> | undefined;
  let line: string;
  if (task) {
    line = `Task #${task.id} \`${task.type}\` ${task.status}` + (task.status === "dead" && task.last_error ? `: ${String(task.last_error).slice(0, 300)}` : "");
  } else if (ticket) {
    line = `Ticket #${ticket.id} ${payload.event.split(".")[1] ?? ""}: ${String(ticket.title ?? "").slice(0, 300)}` + (ticket.status ? ` (${ticket.status})` : "");
  } else if (sop) {
    line = `SOP \`${sop.slug}\` v${sop.version}: ${String(sop.title ?? "").slice(0, 300)}`;
  } else {
    line = String((d as { message?: unknown }).message ?? JSON.stringify(d).slice(0, 300));
  }
  return { text: `*${payload.event}* · ${line}` };
}

export interface DeliveryAttempt {
  delivery_id: number;
  status: "delivered" | "retrying" | "dead" | "skipped";
  status_code?: number | null;
  ms?: number;
  reason?: string;
}

export async function deliverWebhook(
  deliveryId: number,
  task: { id: number; attempts: number; max_attempts: number },
  log: Logger,
  signal?: AbortSignal,
): Promise<DeliveryAttempt> {
  const sql = db();
  const [d] = await sql<DeliveryRow[]>`
    select d.id, d.event, d.payload, d.status, s.url, s.secret, s.format
    from orchestrator.webhook_deliveries d join orchestrator.webhook_subscriptions s on s.id = d.subscription_id
    where d.id = ${deliveryId}`;
  if (!d) return { delivery_id: deliveryId, status: "skipped", reason: "the delivery or its subscription was deleted" };
  if (d.status === "delivered") return { delivery_id: deliveryId, status: "skipped", reason: "already delivered" };

  const body = JSON.stringify(d.format === "slack" ? slackMessage(d.payload) : { id: d.id, ...d.payload });
  const timestamp = Math.floor(Date.now() / 1000);
  const traceparent = outboundTraceparent();
  const headers = {
    "content-type": "application/json",
    "user-agent": "SugarStudio-Orchestrator-Webhooks/1",
    "x-orchestrator-event": d.event,
    "x-orchestrator-delivery": String(d.id),
    [TIMESTAMP_HEADER]: String(timestamp),
    [SIGNATURE_HEADER]: await signPayload(d.secret, timestamp, body),
    // The delivery task's trace (the change that caused the event), a new parent id for this hop.
    ...(traceparent ? { traceparent } : {}),
  };
  const started = Date.now();
  let statusCode: number | null = null;
  let error: string | null = null;
  try {
    const timeout = AbortSignal.timeout(TIMEOUT_MS);
    const res = await fetch(d.url, { method: "POST", headers, body, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    statusCode = res.status;
    const text = await res.text().catch(() => "");
    if (!res.ok) error = `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ""}`;
  } catch (err) {
    const e = err as Error;
    error = e.name === "TimeoutError" ? `timed out after ${TIMEOUT_MS} ms` : `network error: ${e.message}`;
  }
  // fetch's errors name the URL, and the receiver may echo it: it is a credential, so it is masked
  // before it reaches the delivery row, the task's last_error and the logs.
  if (error) error = maskSecretUrls(error.split(d.url).join(maskUrl(d.url)));
  const ms = Date.now() - started;
  const retryable = statusCode === null || statusCode === 408 || statusCode === 425 || statusCode === 429 || statusCode >= 500;
  const last = task.attempts >= task.max_attempts;
  const status: DeliveryAttempt["status"] = !error ? "delivered" : retryable && !last ? "retrying" : "dead";
  const entry = { at: new Date().toISOString(), attempt: task.attempts, status_code: statusCode, error, ms };
  await sql`
    update orchestrator.webhook_deliveries
       set status = ${status}, attempts = attempts + 1, task_id = ${task.id}, last_status_code = ${statusCode},
           last_error = ${error}, last_attempt_at = now(), response_ms = ${ms},
           delivered_at = ${status === "delivered" ? sql`now()` : sql`delivered_at`},
           attempt_log = (select coalesce(jsonb_agg(e order by i), '[]'::jsonb) from (
             select e, i from jsonb_array_elements(attempt_log || ${sql.json([entry])}) with ordinality as x(e, i)
             order by i desc limit ${KEEP_ATTEMPTS}) y)
     where id = ${d.id}`;
  const ctx = { delivery_id: d.id, event: d.event, status_code: statusCode, attempt: task.attempts, max_attempts: task.max_attempts, ms };
  if (status === "delivered") {
    log.info(`webhook ${d.event} delivered`, ctx);
    return { delivery_id: d.id, status, status_code: statusCode, ms };
  }
  if (status === "retrying") {
    log.warn(`webhook ${d.event} failed (${error}); will retry`, ctx);
    throw new Error(`webhook delivery ${d.id} failed: ${error}`);
  }
  log.error(`webhook ${d.event} dead after ${task.attempts} attempt(s): ${error}`, ctx);
  throw new PermanentTaskError(`webhook delivery ${d.id} failed for good: ${error}${retryable ? " (attempts exhausted)" : " (the receiver refused it)"}`);
}
