// /tickets: human work items (opened from error events by ticket.open, or by hand).
import { json, parseBody, parseQuery, parseWith } from "../_shared/http.ts";
import { defineFunction } from "../_shared/router.ts";
import { ticketDetailSchema, ticketPageSchema, ticketSchema } from "../_shared/events/responses.ts";
import { errorShape } from "../_shared/error-shape.ts";
import { createTicket, getTicket, listTickets, patchTicket } from "../_shared/events/tickets.ts";
import { createTicketSchema, idParam, listTicketsQuery, patchTicketSchema } from "../_shared/events/schemas.ts";

const id = (params: Record<string, string>) => parseWith(idParam, params.id, "ticket id");

export default defineFunction("tickets", [
  { method: "GET", path: "/", summary: "List tickets", query: listTicketsQuery, responses: { 200: ticketPageSchema }, handler: ({ url }) => listTickets(parseQuery(url, listTicketsQuery)) },
  {
    method: "POST",
    path: "/",
    summary: "Open a ticket",
    body: createTicketSchema,
    responses: { 201: ticketSchema },
    handler: async ({ req, log }) => {
      const ticket = await createTicket(await parseBody(req, createTicketSchema));
      log.info(`ticket #${ticket.id} created by hand`, { ticket_id: ticket.id });
      return json(201, ticket);
    },
  },
  { method: "GET", path: "/:id", summary: "One ticket, with its events", params: { id: idParam }, responses: { 200: ticketDetailSchema, 404: errorShape }, handler: ({ params }) => getTicket(id(params)) },
  {
    method: "PATCH",
    path: "/:id",
    summary: "Change a ticket",
    params: { id: idParam },
    body: patchTicketSchema,
    responses: { 200: ticketSchema, 404: errorShape },
    handler: async ({ req, params, log }) => {
      const ticketId = id(params);
      const ticket = await patchTicket(ticketId, await parseBody(req, patchTicketSchema));
      log.info(`ticket #${ticket.id} changed`, { ticket_id: ticket.id, status: ticket.status, priority: ticket.priority });
      return ticket;
    },
  },
]);
