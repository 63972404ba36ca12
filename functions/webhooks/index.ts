// /webhooks: outbound webhook subscriptions and their deliveries.
//   GET    /webhooks                  list (secrets never shown again; URLs masked: they are credentials too)
//   POST   /webhooks                  {url, events?, secret?, format?: json|slack, ...} -> 201 with the secret and URL, once
//   GET    /webhooks/:id              one subscription
//   DELETE /webhooks/:id              remove it (and its delivery history)
//   GET    /webhooks/:id/deliveries   each delivery: status, attempts, last status code/error, attempt log
//   POST   /webhooks/:id/test         send a webhook.test event
import { json, parseBody, parseQuery, parseWith } from "../_shared/http.ts";
import { defineFunction } from "../_shared/router.ts";
import { errorShape } from "../_shared/error-shape.ts";
import { maskUrl } from "../_shared/secret-url.ts";
import {
  createSubscription,
  createSubscriptionSchema,
  deleteSubscription,
  getSubscription,
  listDeliveries,
  listDeliveriesQuery,
  listSubscriptions,
  sendTestEvent,
  subscriptionIdParam,
} from "../_shared/webhooks/service.ts";

const id = (params: Record<string, string>) => parseWith(subscriptionIdParam, params.id, "webhook id");

export default defineFunction("webhooks", [
  { method: "GET", path: "/", summary: "List outbound webhook subscriptions (URLs masked)", handler: () => listSubscriptions() },
  {
    method: "POST",
    path: "/",
    summary: "Subscribe a URL (the secret is shown once)",
    body: createSubscriptionSchema,
    handler: async ({ req, log }) => {
      const sub = await createSubscription(await parseBody(req, createSubscriptionSchema));
      log.info(`webhook subscription ${sub.id} created`, { url: maskUrl(sub.url), events: sub.events, format: sub.format });
      return json(201, sub);
    },
  },
  { method: "GET", path: "/:id", summary: "One subscription", params: { id: subscriptionIdParam }, responses: { 404: errorShape }, handler: ({ params }) => getSubscription(id(params)) },
  { method: "DELETE", path: "/:id", summary: "Remove a subscription", params: { id: subscriptionIdParam }, handler: ({ params }) => deleteSubscription(id(params)) },
  { method: "GET", path: "/:id/deliveries", summary: "A subscription's deliveries", params: { id: subscriptionIdParam }, query: listDeliveriesQuery, handler: ({ params, url }) => listDeliveries(id(params), parseQuery(url, listDeliveriesQuery)) },
  { method: "POST", path: "/:id/test", summary: "Send a webhook.test event", params: { id: subscriptionIdParam }, handler: async ({ params }) => json(202, await sendTestEvent(id(params))) },
]);
