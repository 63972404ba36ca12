-- "When a ticket is resolved, write an SOP for it": a rule, shipped DISABLED.
--
-- Rules match events, so a resolved ticket becomes an event first:
--   tickets.status -> 'resolved'  ==>  event (source 'orchestrator', type 'ticket.resolved', level info,
--                                       payload {ticket_id, title, fingerprint, source, priority, occurrences})
--   rule 'sop-on-ticket-resolved' (disabled)  ==>  sop.generate {topic: title, ticket_id, slug: ticket-<id>}
-- The event is only written while some enabled rule would match it, so with the
-- rule off nothing is recorded and nothing runs. Turn it on with
--   update orchestrator.event_rules set enabled = true where name = 'sop-on-ticket-resolved';
-- (or PATCH /rules/:id {"enabled": true}). Each resolution of a ticket adds a
-- version of its SOP; the dedupe key keeps one generation in flight per ticket.
--
-- Installed only when the events migrations (tickets, events, event_rules) ran first.

do $migration$
begin
  if to_regclass('orchestrator.tickets') is null or to_regclass('orchestrator.events') is null
     or to_regclass('orchestrator.event_rules') is null then
    raise notice 'sop-on-ticket-resolved: no tickets/events/rules tables; rule not installed';
    return;
  end if;

  execute $fn$
    create function orchestrator.tickets_emit_resolved()
    returns trigger
    language plpgsql as $body$
    begin
      -- Nobody listens: write nothing (the common case, and the shipped default).
      if not exists (
        select 1 from orchestrator.event_rules r
        where r.enabled
          and (r.source_like is null or 'orchestrator' like r.source_like)
          and 'ticket.resolved' like r.type_like
          and (r.min_level is null or r.min_level <= 'info')) then
        return null;
      end if;
      begin
        insert into orchestrator.events (source, type, level, message, payload, via)
        select 'orchestrator', 'ticket.resolved', 'info',
               left(format('ticket #%s resolved: %s', n.id, n.title), 10000),
               jsonb_build_object('ticket_id', n.id, 'title', n.title, 'fingerprint', n.fingerprint,
                                  'source', n.source, 'priority', n.priority, 'occurrences', n.occurrences),
               'sql'
        from new_tickets n join old_tickets o on o.id = n.id
        where n.status = 'resolved' and o.status is distinct from 'resolved'
        order by n.id;
      exception when others then
        -- Resolving a ticket must never fail because its follow-up could not be recorded.
        insert into orchestrator.logs (level, component, message, context)
        values ('error', 'sops', 'could not record ticket.resolved events: ' || sqlerrm, jsonb_build_object('sqlstate', sqlstate));
      end;
      return null;
    end
    $body$
  $fn$;

  execute $t$
    create trigger tickets_emit_resolved
      after update on orchestrator.tickets
      referencing old table as old_tickets new table as new_tickets
      for each statement
      execute function orchestrator.tickets_emit_resolved()
  $t$;
  execute 'revoke all on function orchestrator.tickets_emit_resolved() from public';

  insert into orchestrator.event_rules (name, description, enabled, source, type, min_level, task_type,
                                        payload_template, priority, dedupe_key)
  values (
    'sop-on-ticket-resolved',
    'When a ticket is resolved, write (the next version of) its SOP from the ticket, its events and tasks. Disabled by default.',
    false, 'orchestrator', 'ticket.resolved', null, 'sop.generate',
    '{"topic": "{{payload.title}}", "ticket_id": "{{payload.ticket_id}}", "slug": "ticket-{{payload.ticket_id}}"}'::jsonb,
    -10,
    'sop:ticket:{{payload.ticket_id}}'
  )
  on conflict (name) do nothing;
end
$migration$;
