// webhook.deliver: one signed POST of one delivery; the queue does the retries.
import { z } from "zod";
import { defineTaskType } from "../task-types.ts";
import { deliverWebhook } from "../webhooks/deliver.ts";

export const webhookDeliver = defineTaskType({
  description: "POSTs one outbound webhook delivery, signed (HMAC-SHA256 over timestamp.body); retried with backoff.",
  payload: z.strictObject({ delivery_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER) }),
  timeoutMs: 20_000,
  async handle(payload, { task, log, signal }) {
    return await deliverWebhook(payload.delivery_id, task, log.child({ component: "webhooks" }), signal);
  },
});
