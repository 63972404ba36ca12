// Outbound webhook subscriptions (REST) and their deliveries.
import { z } from "zod";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { db } from "../db.ts";
import { notFound } from "../errors.ts";
import { maskUrl } from "../secret-url.ts";
import { newSecret } from "./signature.ts";

const EVENT_GLOB = /^[a-z0-9_.*-]{1,100}$/;

export const createSubscriptionSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: "url must be an http(s) URL" }).max(2000),
  /** Globs over event names: "*", "task.*", "ticket.opened", "sop.created". */
  events: z.array(z.string().regex(EVENT_GLOB, "an event glob is a-z 0-9 _ . - and *, e.g. task.* or ticket.opened")).min(1).max(50).default(["*"]),
  /** HMAC key for the signature header; generated when omitted. Returned once. */
  secret: z.string().min(16, "a secret needs at least 16 characters").max(200).optional(),
  format: z.enum(["json", "slack"]).default("json"),
  description: z.string().max(500).optional(),
  active: z.boolean().default(true),
  max_attempts: z.number().int().min(1).max(20).default(6),
  backoff_base_seconds: z.number().min(0).max(3600).default(10),
});
export type CreateSubscriptionInput = z.infer<typeof createSubscriptionSchema>;

export const subscriptionIdParam = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const listDeliveriesQuery = z.strictObject({
  status: z.enum(["pending", "retrying", "delivered", "dead"]).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, "not a cursor returned by this API").optional(),
});
export type ListDeliveriesQuery = z.infer<typeof listDeliveriesQuery>;

interface SubscriptionRow {
  id: number;
  url: string;
  events: string[];
  secret: string;
  format: "json" | "slack";
  description: string | null;
  active: boolean;
  max_attempts: number;
  backoff_base_seconds: string;
  created_at: Date;
  updated_at: Date;
}

/**
 * The secret and the URL never leave after creation, only hints of them: an incoming-webhook URL
 * (Slack, Discord…) is itself a credential, so it is shown masked (see secret-url.ts for the form).
 */
function publicSubscription(row: SubscriptionRow) {
  const { secret, backoff_base_seconds, url, ...rest } = row;
  return { ...rest, url: maskUrl(url), backoff_base_seconds: Number(backoff_base_seconds), secret_hint: `${secret.slice(0, 6)}…${secret.slice(-2)}` };
}

export async function createSubscription(input: CreateSubscriptionInput) {
  const sql = db();
  const secret = input.secret ?? newSecret();
  const [row] = await sql<SubscriptionRow[]>`
    insert into orchestrator.webhook_subscriptions (url, events, secret, format, description, active, max_attempts, backoff_base_seconds)
    values (${input.url}, ${input.events}::text[], ${secret}, ${input.format}, ${input.description ?? null}, ${input.active},
            ${input.max_attempts}, ${input.backoff_base_seconds})
    returning *`;
  // Shown once, to the caller who just sent them.
  return { ...publicSubscription(row), url: row.url, secret };
}

export async function listSubscriptions() {
  const rows = await db()<(SubscriptionRow & { delivered: number; dead: number; pending: number })[]>`
    select s.*,
           (select count(*)::int from orchestrator.webhook_deliveries d where d.subscription_id = s.id and d.status = 'delivered') as delivered,
           (select count(*)::int from orchestrator.webhook_deliveries d where d.subscription_id = s.id and d.status = 'dead') as dead,
           (select count(*)::int from orchestrator.webhook_deliveries d where d.subscription_id = s.id and d.status in ('pending', 'retrying')) as pending
    from orchestrator.webhook_subscriptions s order by s.id`;
  return {
    webhooks: rows.map(({ delivered, dead, pending, ...s }) => ({ ...publicSubscription(s), deliveries: { delivered, dead, pending } })),
  };
}

export async function getSubscription(id: number) {
  const [row] = await db()<SubscriptionRow[]>`select * from orchestrator.webhook_subscriptions where id = ${id}`;
  if (!row) throw notFound(`Webhook subscription ${id} does not exist.`);
  return publicSubscription(row);
}

export async function deleteSubscription(id: number) {
  const [row] = await db()<SubscriptionRow[]>`delete from orchestrator.webhook_subscriptions where id = ${id} returning *`;
  if (!row) throw notFound(`Webhook subscription ${id} does not exist.`);
  return { deleted: true, id };
}

export async function listDeliveries(subscriptionId: number, q: ListDeliveriesQuery) {
  await getSubscription(subscriptionId);
  const sql = db();
  const after = decodeCursor(q.cursor);
  const rows = await sql<{ id: number }[]>`
    select id, subscription_id, event, status, attempts, task_id, last_status_code, last_error, last_attempt_at,
           delivered_at, response_ms, attempt_log, payload, created_at
    from orchestrator.webhook_deliveries
    where subscription_id = ${subscriptionId}
      ${q.status ? sql`and status = ${q.status}` : sql``}
      ${after ? sql`and id < ${after}` : sql``}
    order by id desc limit ${q.limit + 1}`;
  const page = rows.slice(0, q.limit);
  return { deliveries: page, next_cursor: rows.length > q.limit ? encodeCursor(page[page.length - 1].id) : null };
}

/** POST /webhooks/:id/test: one `webhook.test` event to this subscription only. */
export async function sendTestEvent(id: number) {
  const sub = await getSubscription(id);
  const sql = db();
  const [d] = await sql<{ id: number }[]>`
    insert into orchestrator.webhook_deliveries (subscription_id, event, payload)
    values (${id}, 'webhook.test', ${sql.json({ event: "webhook.test", occurred_at: new Date().toISOString(), data: { message: "Test delivery from the Orchestrator" } })})
    returning id`;
  const [t] = await sql<{ id: number }[]>`
    insert into orchestrator.tasks (type, payload, max_attempts, backoff_base_seconds, source)
    values ('webhook.deliver', ${sql.json({ delivery_id: d.id })}, ${sub.max_attempts}, ${sub.backoff_base_seconds}, 'webhook')
    returning id`;
  await sql`update orchestrator.webhook_deliveries set task_id = ${t.id} where id = ${d.id}`;
  return { delivery_id: d.id, task_id: t.id };
}
