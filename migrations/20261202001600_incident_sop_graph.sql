-- The shipped incident-sop workflow rebuilt on graphs (issue 16), a new version of its steps (runs in
-- flight keep theirs):
--
--   gather (the ticket) ─┐
--   knisoci evidence  ───┼─▶ sop (sop.generate) ─▶ approve ─┬─▶ notion (notion.push)
--   candyland evidence ──┘                                   └─▶ notify
--
-- The ticket and each app's warnings and errors around it are gathered at once; the SOP is written
-- from the ticket's events with both apps' evidence as its context; a person approves it (a ticket,
-- a Notion page where Notion is configured; 3 days, then the run fails); then it is pushed to Notion
-- and subscribers are told, at once. sop and notion stay optional as before (skipped where their
-- types are not registered; notion also where Notion is not configured, as gather leaves its input null).
update orchestrator.workflows
   set description = 'Incident -> SOP: gather the resolved ticket and the KniSoci and Candyland evidence around it (in parallel), write an SOP (sop.generate), ask a person to approve it (3 days), then push it to Notion (notion.push) and notify subscribers (in parallel). Input: {"ticket_id": <id>, "topic"?: text, "audience"?: text}.',
       steps = $json$[
    {"name": "gather", "type": "incident.gather", "max_attempts": 3, "after": [],
     "input": {"ticket_id": "{{input.ticket_id}}", "topic": "{{input.topic}}", "audience": "{{input.audience}}"}},
    {"name": "knisoci", "type": "incident.evidence", "max_attempts": 3, "after": [],
     "input": {"ticket_id": "{{input.ticket_id}}", "app": "knisoci"}},
    {"name": "candyland", "type": "incident.evidence", "max_attempts": 3, "after": [],
     "input": {"ticket_id": "{{input.ticket_id}}", "app": "candyland"}},
    {"name": "sop", "type": "sop.generate", "optional": true, "max_attempts": 3, "after": ["gather", "knisoci", "candyland"],
     "input": {"topic": "{{steps.gather.result.sop_request.topic}}", "audience": "{{steps.gather.result.sop_request.audience}}",
               "ticket_id": "{{steps.gather.result.sop_request.ticket_id}}", "event_ids": "{{steps.gather.result.sop_request.event_ids}}",
               "slug": "{{steps.gather.result.sop_request.slug}}", "notion": false,
               "context": "Evidence from KniSoci ({{steps.knisoci.result.count}} events):\n{{steps.knisoci.result.text}}\n\nEvidence from Candyland ({{steps.candyland.result.count}} events):\n{{steps.candyland.result.text}}"}},
    {"name": "approve", "kind": "approval", "after": ["sop"], "timeout_seconds": 259200, "on_timeout": "fail",
     "title": "Publish the SOP for ticket #{{input.ticket_id}}: {{steps.gather.result.ticket.title}}",
     "body": "The SOP {{steps.sop.result.sop.slug}} (version {{steps.sop.result.sop.version}}) was written from the ticket and the KniSoci and Candyland evidence. Approve to push it to Notion and notify subscribers."},
    {"name": "notion", "type": "notion.push", "optional": true, "max_attempts": 5, "after": ["approve"],
     "input": "{{steps.gather.result.notion_request}}"},
    {"name": "notify", "type": "notify", "max_attempts": 3, "after": ["approve"],
     "input": {"event": "workflow.incident-sop.completed",
               "subject": "SOP ready for ticket #{{input.ticket_id}}: {{steps.gather.result.ticket.title}}",
               "data": {"run_id": "{{run.id}}", "ticket": "{{steps.gather.result.ticket}}",
                        "sop": "{{steps.sop.result.sop}}", "approved_by": "{{steps.approve.result.by}}"}}}
  ]$json$::jsonb,
       version = version + 1,
       updated_at = now()
 where name = 'incident-sop' and builtin;

update orchestrator.event_rules
   set description = 'When a ticket is resolved, run the incident-sop workflow for it (gather the ticket and both apps'' evidence -> sop.generate -> approval -> notion.push and notify). Disabled by default.'
 where name = 'incident-sop-on-ticket-resolved';
