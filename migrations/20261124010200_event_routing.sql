-- Routing: events -> rules -> tasks, set-based, in the transaction that inserts
-- the events (a statement trigger on orchestrator.events with a transition table).
-- Tasks are made through the queue contract: enqueue_many for a rule's whole batch
-- (one INSERT, one wake-up), enqueue per task when the rule has a dedupe key.
-- Tickets: the ticket.open task type opens or updates the ticket of a fingerprint.

-- ---------------------------------------------------------------------------
-- Templates
-- ---------------------------------------------------------------------------

-- What placeholders see for one event:
--   event   the event row (id, source, type, level, message, payload, fingerprint, occurred_at, …)
--   record  payload.record when it is an object (table watchers, webhooks), else the payload
--   payload the payload
create function orchestrator.event_context(e orchestrator.events)
returns jsonb
language sql immutable parallel safe as $$
  select jsonb_build_object(
    'event', to_jsonb(e),
    'record', case when jsonb_typeof(e.payload -> 'record') = 'object' then e.payload -> 'record' else e.payload end,
    'payload', e.payload)
$$;

-- render_template(template, context) -> (value, missing)
-- Walks objects and arrays; in strings, {{path.to.field}} is looked up in the
-- context. A string that is exactly one placeholder takes the field's JSON value
-- (numbers stay numbers); elsewhere the field is interpolated as text (JSON null
-- as ""). `missing` lists the placeholders with no value: the caller decides
-- (routing turns them into a dead task with a clear error).
create function orchestrator.render_template(p_template jsonb, p_context jsonb, out value jsonb, out missing text[])
language plpgsql immutable parallel safe as $$
declare
  k text;
  v jsonb;
  sub record;
  s text;
  m text[];
  pieces text[];
  found jsonb;
  i integer;
begin
  missing := '{}';
  case jsonb_typeof(p_template)
    when 'object' then
      value := '{}'::jsonb;
      for k, v in select e.key, e.value from jsonb_each(p_template) e loop
        select * into sub from orchestrator.render_template(v, p_context);
        value := value || jsonb_build_object(k, sub.value);
        missing := missing || sub.missing;
      end loop;
    when 'array' then
      value := '[]'::jsonb;
      for v in select x from jsonb_array_elements(p_template) x loop
        select * into sub from orchestrator.render_template(v, p_context);
        value := value || jsonb_build_array(sub.value);
        missing := missing || sub.missing;
      end loop;
    when 'string' then
      s := p_template #>> '{}';
      if position('{{' in s) = 0 then
        value := p_template;
        return;
      end if;
      m := regexp_match(s, '^\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}$');
      if m is not null then
        found := p_context #> string_to_array(m[1], '.');
        if found is null then
          missing := array['{{' || m[1] || '}}'];
          value := 'null'::jsonb;
        else
          value := found;
        end if;
        return;
      end if;
      pieces := regexp_split_to_array(s, '\{\{\s*[A-Za-z0-9_.-]+\s*\}\}');
      s := pieces[1];
      i := 1;
      for m in select regexp_matches(p_template #>> '{}', '\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}', 'g') loop
        found := p_context #> string_to_array(m[1], '.');
        if found is null then
          missing := missing || ('{{' || m[1] || '}}');
        end if;
        i := i + 1;
        s := s || coalesce(case when jsonb_typeof(found) in ('object', 'array') then found::text else found #>> '{}' end, '') || pieces[i];
      end loop;
      value := to_jsonb(s);
    else
      value := p_template;
  end case;
end
$$;

-- ---------------------------------------------------------------------------
-- A queued task that can never run: dead at once, with the reason. (Part of the
-- queue contract: queued --dead_letter--> dead, no attempt made.)
-- ---------------------------------------------------------------------------
create function orchestrator.dead_letter(p_id bigint, p_error text)
returns boolean
language plpgsql as $$
begin
  update orchestrator.tasks
     set status = 'dead', last_error = left(coalesce(p_error, 'task cannot run'), 10000),
         finished_at = now(), updated_at = now()
   where id = p_id and status = 'queued';
  return found;
end
$$;

-- ---------------------------------------------------------------------------
-- Tickets
-- ---------------------------------------------------------------------------

-- Events that an open (or resolved, or in-progress) ticket already covers are
-- attached to it in one statement: occurrences and last_seen grow, a resolved
-- ticket reopens. Returns the ids left without a ticket (marked wants_ticket:
-- a ticket.open task will attach them).
create function orchestrator.attach_to_tickets(p_event_ids bigint[])
returns bigint[]
language plpgsql as $$
declare
  v_left bigint[];
  v_reopened record;
begin
  -- Lock the tickets first, in id order, so concurrent inserters queue up instead of deadlocking.
  perform 1 from orchestrator.tickets t
   where t.fingerprint in (select e.fingerprint from orchestrator.events e where e.id = any (p_event_ids))
     and t.fingerprint is not null and t.status <> 'closed'
   order by t.id
   for update;

  for v_reopened in
    with linked as (
      update orchestrator.events e
         set ticket_id = t.id, wants_ticket = false
        from orchestrator.tickets t
       where e.id = any (p_event_ids) and e.ticket_id is null
         and t.fingerprint = e.fingerprint and t.fingerprint is not null and t.status <> 'closed'
      returning e.id, t.id as ticket_id, e.occurred_at
    ), agg as (
      select l.ticket_id, count(*) as n, max(l.occurred_at) as last_seen, max(l.id) as last_id
      from linked l group by l.ticket_id
    )
    update orchestrator.tickets t
       set occurrences = t.occurrences + agg.n,
           last_seen = greatest(t.last_seen, agg.last_seen),
           last_event_id = greatest(t.last_event_id, agg.last_id),
           status = case when t.status = 'resolved' then 'open'::orchestrator.ticket_status else t.status end,
           reopened_count = t.reopened_count + (t.status = 'resolved')::integer,
           reopened_at = case when t.status = 'resolved' then now() else t.reopened_at end,
           resolved_at = case when t.status = 'resolved' then null else t.resolved_at end,
           updated_at = now()
      from agg, orchestrator.tickets old
     where t.id = agg.ticket_id and old.id = t.id
    returning t.id, t.title, old.status::text as old_status, t.occurrences
  loop
    if v_reopened.old_status = 'resolved' then
      insert into orchestrator.logs (level, component, message, context)
      values ('warn', 'tickets', format('ticket #%s reopened: its problem was seen again', v_reopened.id),
              jsonb_build_object('ticket_id', v_reopened.id, 'title', v_reopened.title, 'occurrences', v_reopened.occurrences));
    end if;
  end loop;

  with waiting as (
    update orchestrator.events e set wants_ticket = true
     where e.id = any (p_event_ids) and e.ticket_id is null
    returning e.id
  )
  select coalesce(array_agg(w.id order by w.id), '{}') into v_left from waiting w;
  return v_left;
end
$$;

-- open_ticket(event_id, title, priority, task_id): what a ticket.open task does.
-- Finds the ticket of the event's fingerprint that is not closed (creating it if
-- there is none), attaches this event and every event waiting for a ticket with
-- that fingerprint, and counts them. Idempotent: an event already attached is
-- counted once, however often the task runs; concurrent calls serialise on the
-- ticket row.
create function orchestrator.open_ticket(
  p_event_id bigint,
  p_title text default null,
  p_priority orchestrator.ticket_priority default null,
  p_task_id bigint default null
) returns table (ticket_id bigint, created boolean, reopened boolean, attached integer, occurrences bigint, status text)
language plpgsql as $$
#variable_conflict use_column
declare
  e orchestrator.events;
  t orchestrator.tickets;
  v_created boolean := false;
  v_reopened boolean := false;
  v_n integer;
  v_first timestamptz;
  v_last timestamptz;
  v_last_id bigint;
begin
  select * into e from orchestrator.events ev where ev.id = p_event_id;
  if not found then
    raise exception using errcode = 'P0002', message = format('event %s does not exist (it may have been pruned)', p_event_id);
  end if;

  loop
    select * into t from orchestrator.tickets tk
     where tk.fingerprint = e.fingerprint and tk.status <> 'closed'
     for update;
    exit when found;
    begin
      insert into orchestrator.tickets (title, description, priority, source, fingerprint, occurrences,
                                        first_seen, last_seen, first_event_id, last_event_id, task_id)
      values (
        left(coalesce(nullif(btrim(p_title), ''), format('[%s] %s', e.source, coalesce(nullif(btrim(e.message), ''), e.type))), 500),
        format('%s events from %s (%s) with the pattern: %s', e.level, e.source, e.type,
               left(coalesce(nullif(orchestrator.normalize_message(e.message), ''), '(no message)'), 2000)),
        coalesce(p_priority, case e.level when 'fatal' then 'urgent' when 'error' then 'high' else 'normal' end::orchestrator.ticket_priority),
        e.source, e.fingerprint, 0, e.occurred_at, e.occurred_at, e.id, e.id, p_task_id)
      returning * into t;
      v_created := true;
      exit;
    exception when unique_violation then
      -- Another transaction opened it first: loop, lock and use theirs.
    end;
  end loop;

  with linked as (
    update orchestrator.events ev set ticket_id = t.id, wants_ticket = false
     where ev.fingerprint = e.fingerprint and ev.ticket_id is null and (ev.wants_ticket or ev.id = e.id)
    returning ev.id, ev.occurred_at
  )
  select count(*), min(l.occurred_at), max(l.occurred_at), max(l.id) into v_n, v_first, v_last, v_last_id from linked l;

  v_reopened := t.status = 'resolved' and v_n > 0;
  update orchestrator.tickets tk
     set occurrences = tk.occurrences + v_n,
         first_seen = case when v_n > 0 then least(tk.first_seen, v_first) else tk.first_seen end,
         last_seen = case when v_n > 0 then greatest(tk.last_seen, v_last) else tk.last_seen end,
         last_event_id = greatest(tk.last_event_id, v_last_id),
         status = case when v_reopened then 'open'::orchestrator.ticket_status else tk.status end,
         reopened_count = tk.reopened_count + v_reopened::integer,
         reopened_at = case when v_reopened then now() else tk.reopened_at end,
         resolved_at = case when v_reopened then null else tk.resolved_at end,
         updated_at = case when v_n > 0 then now() else tk.updated_at end
   where tk.id = t.id
  returning * into t;

  return query select t.id, v_created, v_reopened, v_n, t.occurrences, t.status::text;
end
$$;

-- ---------------------------------------------------------------------------
-- Routing
-- ---------------------------------------------------------------------------

-- route_events(ids) -> tasks created. Runs every enabled rule over the events,
-- set-based per rule:
--   * ticket.open rules first attach events to the ticket their fingerprint
--     already has (no task needed), then enqueue ONE ticket.open task per
--     fingerprint for the rest (the task attaches every waiting event);
--   * other rules render their payload per event and enqueue the whole batch
--     with enqueue_many (or enqueue per task when the rule has a dedupe key);
--   * an event whose template has a missing field still gets its task, dead on
--     arrival, whose last_error names the rule, the event and the field.
-- Records on each event the rules it matched and the tasks it created.
create function orchestrator.route_events(p_event_ids bigint[])
returns integer
language plpgsql as $$
declare
  r orchestrator.event_rules;
  v_ids bigint[];
  v_payloads jsonb[];
  v_missing text[];
  v_keys text[];
  v_opts jsonb;
  v_task_id bigint;
  v_created boolean;
  v_n integer;
  v_total integer := 0;
  v_ok integer[];
  v_hit_events bigint[] := '{}';
  v_hit_rules text[] := '{}';
  v_hit_tasks integer[] := '{}';
  i integer;
begin
  if p_event_ids is null or cardinality(p_event_ids) = 0 then
    return 0;
  end if;
  for r in select * from orchestrator.event_rules where enabled order by priority desc, id loop
    select array_agg(e.id order by e.id) into v_ids
    from orchestrator.events e
    where e.id = any (p_event_ids)
      and (r.source_like is null or e.source like r.source_like)
      and e.type like r.type_like
      and (r.min_level is null or e.level >= r.min_level)
      and e.payload @> r.match;
    continue when v_ids is null;

    v_hit_events := v_hit_events || v_ids;
    v_hit_rules := v_hit_rules || array_fill(r.name, array[cardinality(v_ids)]);
    v_hit_tasks := v_hit_tasks || array_fill(0, array[cardinality(v_ids)]);

    if r.task_type = 'ticket.open' then
      v_ids := orchestrator.attach_to_tickets(v_ids);
      -- One task per fingerprint: the first waiting event of each stands for the group.
      select array_agg(s.id order by s.id) into v_ids
      from (select distinct on (e.fingerprint) e.id from orchestrator.events e
            where e.id = any (v_ids) order by e.fingerprint, e.id) s;
      continue when v_ids is null;
    end if;

    select array_agg(e.id order by e.id),
           array_agg(p.value order by e.id),
           array_agg(array_to_string(p.missing || coalesce(d.missing, '{}'), ', ') order by e.id),
           array_agg(d.value #>> '{}' order by e.id)
      into v_ids, v_payloads, v_missing, v_keys
    from orchestrator.events e
    cross join lateral orchestrator.event_context(e) ctx
    cross join lateral orchestrator.render_template(r.payload_template, ctx) p
    left join lateral orchestrator.render_template(to_jsonb(r.dedupe_key), ctx) d on r.dedupe_key is not null
    where e.id = any (v_ids);

    v_opts := jsonb_strip_nulls(jsonb_build_object('priority', r.priority, 'max_attempts', r.max_attempts, 'source', 'rule:' || r.name));
    v_ok := array(select g from generate_subscripts(v_ids, 1) g
                  where v_missing[g] = '' and (r.dedupe_key is null or coalesce(v_keys[g], '') <> ''));

    if r.dedupe_key is null then
      if cardinality(v_ok) > 0 then
        select count(*) into v_n
        from orchestrator.enqueue_many(r.task_type, array(select v_payloads[g] from unnest(v_ok) g), v_opts);
        v_total := v_total + v_n;
        v_hit_events := v_hit_events || array(select v_ids[g] from unnest(v_ok) g);
        v_hit_rules := v_hit_rules || array_fill(r.name, array[cardinality(v_ok)]);
        v_hit_tasks := v_hit_tasks || array_fill(1, array[cardinality(v_ok)]);
      end if;
    else
      foreach i in array v_ok loop
        select (x.task).id, x.created into v_task_id, v_created
        from orchestrator.enqueue(r.task_type, v_payloads[i], v_opts || jsonb_build_object('dedupe_key', left(v_keys[i], 200))) x;
        if v_created then
          v_total := v_total + 1;
          v_hit_events := v_hit_events || v_ids[i];
          v_hit_rules := v_hit_rules || r.name;
          v_hit_tasks := v_hit_tasks || 1;
        end if;
      end loop;
    end if;

    -- Template failures: the task exists, dead, and says what was missing.
    for i in select g from generate_subscripts(v_ids, 1) g where g <> all (v_ok) loop
      select (x.task).id into v_task_id from orchestrator.enqueue(r.task_type, v_payloads[i], v_opts) x;
      perform orchestrator.dead_letter(v_task_id, format(
        'rule %L (id %s) could not build the task for event %s: %s. Fix the rule''s templates or the event, then retry this task.',
        r.name, r.id, v_ids[i],
        case when v_missing[i] <> '' then 'no value for ' || v_missing[i] else 'the dedupe_key rendered empty' end));
      v_total := v_total + 1;
      v_hit_events := v_hit_events || v_ids[i];
      v_hit_rules := v_hit_rules || r.name;
      v_hit_tasks := v_hit_tasks || 1;
    end loop;
  end loop;

  if cardinality(v_hit_events) > 0 then
    update orchestrator.events e
       set matched_rules = x.rules, tasks_created = e.tasks_created + x.n
      from (select h.id, array_agg(distinct h.rule) as rules, sum(h.n)::integer as n
            from unnest(v_hit_events, v_hit_rules, v_hit_tasks) as h(id, rule, n) group by h.id) x
     where e.id = x.id;
  end if;
  return v_total;
end
$$;

-- The statement trigger: only events some enabled rule matches go to route_events.
-- Never fails the insert: on error the events stay, unprocessed, with the reason,
-- the failure is logged, and orchestrator.events_housekeeping() retries them.
create function orchestrator.events_route_on_insert()
returns trigger
language plpgsql as $$
declare
  v_rules bigint[];
  v_ids bigint[];
  v_state text;
  v_error text;
begin
  -- First the rules that can match at all, judged on the statement's distinct
  -- (source, type, level): a bulk insert of 10,000 rows is usually one key, and
  -- most statements match no rule, so most end here without a per-row check.
  select array_agg(r.id) into v_rules
  from orchestrator.event_rules r
  where r.enabled
    and exists (
      select 1 from (select distinct e.source, e.type, e.level from orchestrator_new_events e) k
      where (r.source_like is null or k.source like r.source_like)
        and k.type like r.type_like
        and (r.min_level is null or k.level >= r.min_level));
  if v_rules is null then
    return null;
  end if;
  select array_agg(e.id order by e.id) into v_ids
  from orchestrator_new_events e
  where exists (
    select 1 from orchestrator.event_rules r
    where r.id = any (v_rules)
      and (r.source_like is null or e.source like r.source_like)
      and e.type like r.type_like
      and (r.min_level is null or e.level >= r.min_level)
      and e.payload @> r.match);
  if v_ids is null then
    return null;
  end if;
  begin
    perform orchestrator.route_events(v_ids);
  exception when others then
    get stacked diagnostics v_state = returned_sqlstate, v_error = message_text;
    begin
      update orchestrator.events set processed_at = null, route_error = left(v_error, 2000) where id = any (v_ids);
      insert into orchestrator.logs (level, component, message, context)
      values ('error', 'events', format('could not route %s events; they are kept and will be retried: %s', cardinality(v_ids), v_error),
              jsonb_build_object('sqlstate', v_state, 'first_event_id', v_ids[1], 'events', cardinality(v_ids)));
    exception when others then
      raise warning 'orchestrator: routing % events failed (%) and could not be recorded', cardinality(v_ids), v_error;
    end;
  end;
  return null;
end
$$;

create trigger events_route
  after insert on orchestrator.events
  referencing new table as orchestrator_new_events
  for each statement
  execute function orchestrator.events_route_on_insert();

-- record_events(events, via): the insert behind POST /events and the webhook.
-- events: a JSON array of {source, type, level, message, payload, occurred_at, id}.
-- Unknown level words become info; secret-named keys are dropped from payloads; an
-- event whose (source, id) was recorded before is skipped. Returns the new rows.
create function orchestrator.record_events(p_events jsonb, p_via text default 'sql')
returns setof orchestrator.events
language sql as $$
  insert into orchestrator.events (source, type, level, message, payload, occurred_at, external_id, via)
  select x.source, x.type, coalesce(orchestrator.to_level(x.level), 'info'), left(x.message, 10000),
         orchestrator.strip_secrets(coalesce(x.payload, '{}'::jsonb)), coalesce(x.occurred_at, now()), x.id, p_via
  from rows from (jsonb_to_recordset(p_events) as (source text, type text, level text, message text,
                                                   payload jsonb, occurred_at timestamptz, id text))
       with ordinality as x(source, type, level, message, payload, occurred_at, id, n)
  order by x.n
  on conflict (source, external_id) where external_id is not null do nothing
  returning *
$$;

-- The events job: retries routing for events whose routing failed, and forgets
-- replay-guard signatures older than the signature tolerance.
create function orchestrator.events_housekeeping()
returns jsonb
language plpgsql as $$
declare
  v_ids bigint[];
  v_tasks integer := 0;
  v_pruned integer;
  v_error text;
begin
  delete from orchestrator.event_replay_guard where received_at < now() - interval '15 minutes';
  get diagnostics v_pruned = row_count;
  select array_agg(s.id order by s.id) into v_ids
  from (select id from orchestrator.events where processed_at is null order by id limit 5000) s;
  if v_ids is not null then
    begin
      v_tasks := orchestrator.route_events(v_ids);
      update orchestrator.events set processed_at = now(), route_error = null where id = any (v_ids);
    exception when others then
      get stacked diagnostics v_error = message_text;
      update orchestrator.events set route_error = left(v_error, 2000) where id = any (v_ids);
      insert into orchestrator.logs (level, component, message, context)
      values ('error', 'events', format('retrying %s unrouted events failed again: %s', cardinality(v_ids), v_error),
              jsonb_build_object('first_event_id', v_ids[1], 'events', cardinality(v_ids)));
      v_ids := null;
    end;
  end if;
  return jsonb_build_object('rerouted', coalesce(cardinality(v_ids), 0), 'tasks_created', v_tasks, 'signatures_pruned', v_pruned);
end
$$;

select cron.schedule('orchestrator-events', '* * * * *', 'select orchestrator.events_housekeeping()');

-- The default rule: error and fatal events, from any source, open a ticket.
insert into orchestrator.event_rules (name, description, source, type, min_level, task_type, payload_template, priority)
values ('errors-open-tickets',
        'Error and fatal events open a ticket (one per fingerprint; repeats count as occurrences).',
        null, '*', 'error', 'ticket.open', '{"event_id": "{{event.id}}"}', 10)
on conflict (name) do nothing;

revoke all on function orchestrator.event_context(orchestrator.events), orchestrator.render_template(jsonb, jsonb),
  orchestrator.dead_letter(bigint, text), orchestrator.attach_to_tickets(bigint[]),
  orchestrator.open_ticket(bigint, text, orchestrator.ticket_priority, bigint), orchestrator.route_events(bigint[]),
  orchestrator.events_route_on_insert(), orchestrator.record_events(jsonb, text), orchestrator.events_housekeeping() from public;
grant execute on function orchestrator.event_context(orchestrator.events), orchestrator.render_template(jsonb, jsonb),
  orchestrator.dead_letter(bigint, text), orchestrator.attach_to_tickets(bigint[]),
  orchestrator.open_ticket(bigint, text, orchestrator.ticket_priority, bigint), orchestrator.route_events(bigint[]),
  orchestrator.record_events(jsonb, text), orchestrator.events_housekeeping() to service_role;
