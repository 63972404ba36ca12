// /events: events from senders outside the database, and reading events.
//   POST /events          one event, an array, or {"events": [...]} (at most 500);
//                         secret key, or an HMAC-SHA256 signed request (see _shared/events/signature.ts)
//   POST /events/webhook  a Supabase database-webhook payload ({type, table, schema, record, old_record})
//   GET  /events          filters: source, type (glob), level (and above), since, until, fingerprint, ticket_id; cursor
//   GET  /events/watchers the table watchers and whether their trigger is in place
//   GET  /events/:id
// verify_jwt is off for this function (signed senders have no JWT); the POST
// routes authenticate themselves, the GET routes need the secret key. Signed bodies are
// parsed by the same parser as every other body (UTF-8, depth and string checks).
import { json, parseJsonBytes, parseQuery, parseWith } from "../_shared/http.ts";
import { defineFunction } from "../_shared/router.ts";
import { eventsFromBody, getEvent, ingestEvents, listEvents, listWatchers, parseWebhook } from "../_shared/events/events.ts";
import { eventsBodySchema, idParam, listEventsQuery, webhookBodySchema, webhookQuery } from "../_shared/events/schemas.ts";
import { errorShape } from "../_shared/error-shape.ts";
import { authenticateSender } from "../_shared/events/signature.ts";

export default defineFunction("events", [
  {
    method: "POST",
    path: "/",
    summary: "Ingest events: one, an array, or {events: [...]} (secret key or HMAC signature)",
    body: eventsBodySchema,
    public: true,
    handler: async ({ req, log }) => {
      const { auth, body } = await authenticateSender(req);
      const events = eventsFromBody(parseJsonBytes(body));
      const result = await ingestEvents(events, "api", auth);
      log.info(`received ${result.received} events, stored ${result.stored}`, { auth: auth.kind, duplicates: result.duplicates });
      return json(result.stored > 0 ? 201 : 200, result);
    },
  },
  {
    method: "POST",
    path: "/webhook",
    summary: "A Supabase database-webhook payload as an event (secret key or HMAC signature)",
    body: webhookBodySchema,
    query: webhookQuery,
    public: true,
    handler: async ({ req, url, log }) => {
      const { auth, body } = await authenticateSender(req);
      const event = parseWebhook(parseJsonBytes(body), Object.fromEntries(url.searchParams));
      const result = await ingestEvents([event], "webhook", auth);
      log.info(`webhook ${event.source}/${event.type} stored as event ${result.events[0]?.id ?? "(duplicate)"}`, { auth: auth.kind });
      return json(201, result.events[0]);
    },
  },
  { method: "GET", path: "/", summary: "List events", query: listEventsQuery, handler: ({ url }) => listEvents(parseQuery(url, listEventsQuery)) },
  { method: "GET", path: "/watchers", summary: "Table watchers and whether their trigger is in place", handler: () => listWatchers() },
  { method: "GET", path: "/:id", summary: "One event", params: { id: idParam }, responses: { 404: errorShape }, handler: ({ params }) => getEvent(parseWith(idParam, params.id, "event id")) },
]);
