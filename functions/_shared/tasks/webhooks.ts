// webhook.deliver: one signed POST of one delivery; the queue does the retries.
import { catalogSpec } from "../task-catalog.ts";
import { defineTaskType } from "../task-types.ts";
import { deliverWebhook } from "../webhooks/deliver.ts";

export const webhookDeliver = defineTaskType({
  ...catalogSpec("webhook.deliver"),
  async handle(payload, { task, log, signal }) {
    return await deliverWebhook(payload.delivery_id, task, log.child({ component: "webhooks" }), signal);
  },
});
