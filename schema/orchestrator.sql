-- The orchestrator schema as the migrations leave it (npm run schema writes it; tests/db/schema-snapshot.test.ts
-- fails when it drifts from the migrations). Read it to see what is live; change it only through a migration.

--
-- Name: orchestrator; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA orchestrator;

--
-- Name: log_level; Type: TYPE; Schema: orchestrator; Owner: -
--

CREATE TYPE orchestrator.log_level AS ENUM (
    'debug',
    'info',
    'warn',
    'error',
    'fatal'
);

--
-- Name: task_status; Type: TYPE; Schema: orchestrator; Owner: -
--

CREATE TYPE orchestrator.task_status AS ENUM (
    'queued',
    'running',
    'succeeded',
    'dead',
    'cancelled'
);

--
-- Name: ticket_priority; Type: TYPE; Schema: orchestrator; Owner: -
--

CREATE TYPE orchestrator.ticket_priority AS ENUM (
    'low',
    'normal',
    'high',
    'urgent'
);

--
-- Name: ticket_status; Type: TYPE; Schema: orchestrator; Owner: -
--

CREATE TYPE orchestrator.ticket_status AS ENUM (
    'open',
    'in_progress',
    'resolved',
    'closed'
);

--
-- Name: workflow_run_status; Type: TYPE; Schema: orchestrator; Owner: -
--

CREATE TYPE orchestrator.workflow_run_status AS ENUM (
    'running',
    'succeeded',
    'failed',
    'cancelled'
);

--
-- Name: workflow_step_status; Type: TYPE; Schema: orchestrator; Owner: -
--

CREATE TYPE orchestrator.workflow_step_status AS ENUM (
    'pending',
    'skipped',
    'running',
    'waiting',
    'succeeded',
    'failed',
    'cancelled'
);

--
-- Name: attach_to_tickets(bigint[]); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.attach_to_tickets(p_event_ids bigint[]) RETURNS bigint[]
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: trace_id_or_new(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.trace_id_or_new() RETURNS text
    LANGUAGE sql PARALLEL SAFE
    AS $$
  select coalesce(orchestrator.current_trace_id(), orchestrator.new_trace_id())
$$;

--
-- Name: tasks; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.tasks (
    id bigint NOT NULL,
    type text NOT NULL,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    status orchestrator.task_status DEFAULT 'queued'::orchestrator.task_status NOT NULL,
    priority integer DEFAULT 0 NOT NULL,
    run_at timestamp with time zone DEFAULT now() NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    max_attempts integer DEFAULT 5 NOT NULL,
    backoff_base_seconds numeric DEFAULT 2 NOT NULL,
    dedupe_key text,
    locked_by text,
    locked_until timestamp with time zone,
    lease_token uuid,
    last_error text,
    result jsonb,
    source text DEFAULT 'api'::text NOT NULL,
    parent_id bigint,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    suspect boolean DEFAULT false NOT NULL,
    concurrency_key text,
    concurrency_limit integer,
    type_concurrency_limit integer,
    rate_key text,
    group_key text DEFAULT ''::text NOT NULL,
    debounce_key text,
    cancel_on jsonb,
    parked_on text,
    trace_id text DEFAULT orchestrator.trace_id_or_new(),
    CONSTRAINT tasks_attempts_check CHECK ((attempts >= 0)),
    CONSTRAINT tasks_check CHECK ((attempts <= max_attempts)),
    CONSTRAINT tasks_check1 CHECK (((status = 'running'::orchestrator.task_status) = (lease_token IS NOT NULL)))
);

--
-- Name: COLUMN tasks.suspect; Type: COMMENT; Schema: orchestrator; Owner: -
--

COMMENT ON COLUMN orchestrator.tasks.suspect IS 'Set when the task was running in an isolate that was terminated or whose lease expired: an isolate runs at most one suspect at a time, so the next termination names its cause.';

--
-- Name: COLUMN tasks.parked_on; Type: COMMENT; Schema: orchestrator; Owner: -
--

COMMENT ON COLUMN orchestrator.tasks.parked_on IS 'Set while a queued task waits for room under a concurrency limit: "key:<concurrency_key>" or "type:<type>". Parked tasks are outside the claim index; the end of a run of that key unparks the next.';

--
-- Name: COLUMN tasks.trace_id; Type: COMMENT; Schema: orchestrator; Owner: -
--

COMMENT ON COLUMN orchestrator.tasks.trace_id IS 'W3C trace id (32 hex): the request, event or schedule the task comes from; its handler''s logs, writes and outbound calls carry it.';

--
-- Name: cancel(bigint); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.cancel(p_id bigint) RETURNS SETOF orchestrator.tasks
    LANGUAGE sql
    AS $$
  update orchestrator.tasks
     set status = 'cancelled', finished_at = now(), updated_at = now(),
         locked_by = null, locked_until = null, lease_token = null
   where id = p_id and status in ('queued', 'running')
  returning *
$$;

--
-- Name: trace_id_or_start(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.trace_id_or_start() RETURNS text
    LANGUAGE plpgsql
    AS $$
declare
  v text := orchestrator.current_trace_id();
begin
  if v is null then
    v := orchestrator.new_trace_id();
    perform set_config('orchestrator.trace_id', v, true);
  end if;
  return v;
end
$$;

--
-- Name: workflow_runs; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.workflow_runs (
    id bigint NOT NULL,
    workflow_id bigint,
    workflow_name text NOT NULL,
    workflow_version integer NOT NULL,
    status orchestrator.workflow_run_status DEFAULT 'running'::orchestrator.workflow_run_status NOT NULL,
    input jsonb DEFAULT '{}'::jsonb NOT NULL,
    output jsonb,
    error text,
    failed_step text,
    source text DEFAULT 'api'::text NOT NULL,
    dedupe_key text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    finished_at timestamp with time zone,
    parent_run_id bigint,
    parent_step_index integer,
    depth integer DEFAULT 0 NOT NULL,
    available_types text[],
    rerun_of bigint,
    rerun_from text,
    trace_id text DEFAULT orchestrator.trace_id_or_start(),
    CONSTRAINT workflow_runs_dedupe_key_check CHECK (((length(dedupe_key) >= 1) AND (length(dedupe_key) <= 200))),
    CONSTRAINT workflow_runs_depth_check CHECK (((depth >= 0) AND (depth <= 4))),
    CONSTRAINT workflow_runs_input_check CHECK ((jsonb_typeof(input) = 'object'::text)),
    CONSTRAINT workflow_runs_source_check CHECK (((length(source) >= 1) AND (length(source) <= 100)))
);

--
-- Name: cancel_workflow_run(bigint); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.cancel_workflow_run(p_run_id bigint) RETURNS SETOF orchestrator.workflow_runs
    LANGUAGE plpgsql
    AS $$
declare
  v_run orchestrator.workflow_runs;
begin
  select * into v_run from orchestrator.workflow_runs where id = p_run_id for update;
  if not found then
    return;
  end if;
  if v_run.status = 'running' then
    perform orchestrator.workflow_finish_run(p_run_id, 'cancelled', 'cancelled on request', null);
  end if;
  return query select * from orchestrator.workflow_runs where id = p_run_id;
end
$$;

--
-- Name: check_wakeups(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.check_wakeups() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_refused integer := 0;
  r record;
begin
  for r in
    with answered as (
      delete from orchestrator.wakeup_requests w
      using net._http_response h
      where h.id = w.request_id
        -- pg_net indexes its responses by time only: read just the window since the oldest wake-up still open.
        and h.created >= (select min(sent_at) from orchestrator.wakeup_requests)
      returning w.request_id, w.reason, w.sent_at, h.status_code, h.timed_out, h.error_msg, left(h.content, 500) as content, h.created
    )
    select * from answered
    where status_code is null or status_code >= 400 or timed_out or error_msg is not null
  loop
    insert into orchestrator.wakeup_failures (request_id, reason, sent_at, answered_at, status_code, error)
    values (r.request_id, r.reason, r.sent_at, r.created, r.status_code, coalesce(r.error_msg, r.content))
    on conflict (request_id) do nothing;
    if r.status_code in (401, 403) then
      v_refused := v_refused + 1;
      insert into orchestrator.logs (level, component, message, context)
      values ('error', 'wakeup',
        format('wake-up refused with %s by task-worker: no task runs from wake-ups until this is fixed. '
          || 'Store a key the function accepts with orchestrator.set_worker_endpoint(<project url>, <key>): '
          || 'the secret key (sb_secret_…) or the legacy service_role key; with the new keys task-worker '
          || 'needs verify_jwt = false (supabase/config.toml).', r.status_code),
        jsonb_build_object('request_id', r.request_id, 'reason', r.reason, 'status', r.status_code,
          'sent_at', r.sent_at, 'response', left(r.content, 300)));
    else
      insert into orchestrator.logs (level, component, message, context)
      values ('warn', 'wakeup',
        format('wake-up failed (%s): the sweep retries it', coalesce(r.status_code::text, case when r.timed_out then 'timed out' else 'no answer' end)),
        jsonb_build_object('request_id', r.request_id, 'reason', r.reason, 'status', r.status_code,
          'error', coalesce(r.error_msg, left(r.content, 300))));
    end if;
  end loop;
  delete from orchestrator.wakeup_requests where sent_at < now() - interval '10 minutes';
  delete from orchestrator.wakeup_failures where answered_at < now() - interval '7 days';
  return v_refused;
end
$$;

--
-- Name: claim(text, integer, numeric, text[], jsonb, boolean, boolean); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.claim(p_worker text, p_max_count integer DEFAULT 1, p_lease_seconds numeric DEFAULT 60, p_types text[] DEFAULT NULL::text[], p_type_leases jsonb DEFAULT NULL::jsonb, p_take_suspect boolean DEFAULT false, p_commit_async boolean DEFAULT false) RETURNS SETOF orchestrator.tasks
    LANGUAGE plpgsql
    SET enable_seqscan TO 'off'
    SET enable_bitmapscan TO 'off'
    SET enable_sort TO 'off'
    SET jit TO 'off'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
declare
  v_ids bigint[];
  v_max integer := greatest(least(coalesce(p_max_count, 1), 1000), 0);
  v_n bigint;
begin
  if p_commit_async then
    -- Transaction-local, so it outlasts this function's own SET clauses (they cover only the
    -- settings they name) and ends with the caller's transaction.
    perform set_config('synchronous_commit', 'off', true);
  end if;
  if v_max = 0 then
    return;
  end if;
  -- The common case in one statement: one group (''), no suspect to take, and no flow-controlled
  -- task among the rows at the head. Otherwise, or when it finds nothing, the general path below
  -- (the rows this statement locked stay locked by this transaction and are picked again there).
  return query
  with picked as (
    select t.id, (t.concurrency_key is not null or t.type_concurrency_limit is not null or t.rate_key is not null) as flow
    from orchestrator.tasks t
    where t.status = 'queued' and t.parked_on is null and t.group_key = '' and t.run_at <= now() and not t.suspect
      and (p_types is null or t.type = any (p_types))
      and not exists (select 1 from orchestrator.tasks g where g.status = 'queued' and g.parked_on is null and g.group_key > '')
      and not (coalesce(p_take_suspect, false) and exists (
        select 1 from orchestrator.tasks s
         where s.status = 'queued' and s.suspect and s.parked_on is null and s.run_at <= now()
           and (p_types is null or s.type = any (p_types))))
    order by t.priority desc, t.run_at, t.id
    limit v_max
    for update skip locked
  ), claimed as (
    update orchestrator.tasks t
       set status = 'running',
           attempts = t.attempts + 1,
           locked_by = p_worker,
           locked_until = now() + make_interval(secs => greatest(
             coalesce((p_type_leases ->> t.type)::numeric, p_lease_seconds, 60), 1)),
           lease_token = gen_random_uuid(),
           started_at = now(),
           updated_at = now()
     where t.id = any (array(select p.id from picked p)) and not exists (select 1 from picked f where f.flow)
    returning t.*
  )
  select * from claimed c order by c.priority desc, c.run_at, c.id;
  get diagnostics v_n = row_count;
  if v_n > 0 then
    return;
  end if;
  -- The general path: groups in turn, suspects, flow limits (claim_pick_ids).
  v_ids := orchestrator.claim_pick_ids(v_max, p_types, coalesce(p_take_suspect, false));
  if cardinality(v_ids) = 0 then
    return;
  end if;
  return query
  update orchestrator.tasks t
     set status = 'running',
         attempts = t.attempts + 1,
         locked_by = p_worker,
         locked_until = now() + make_interval(secs => greatest(
           coalesce((p_type_leases ->> t.type)::numeric, p_lease_seconds, 60), 1)),
         lease_token = gen_random_uuid(),
         started_at = now(),
         updated_at = now()
   where t.id = any (v_ids)
  returning t.*;
end
$$;

--
-- Name: claim_flow_filter(bigint[], text[], integer[], text[], integer[], text[]); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.claim_flow_filter(p_ids bigint[], p_ckeys text[], p_climits integer[], p_types text[], p_tlimits integer[], p_rkeys text[]) RETURNS bigint[]
    LANGUAGE plpgsql
    AS $$
declare
  i integer;
  r_id bigint;
  r_type text;
  r_concurrency_key text;
  r_concurrency_limit integer;
  r_type_concurrency_limit integer;
  r_rate_key text;
  v_out bigint[] := '{}';
  v_locked text[] := '{}';
  v_busy text[] := '{}';
  v_taken text[] := '{}';
  v_park_ids bigint[] := '{}';
  v_park_on text[] := '{}';
  v_defer_ids bigint[] := '{}';
  v_defer_at timestamptz[] := '{}';
  v_key text;
  v_limit integer;
  v_running integer;
  v_ok boolean;
  v_due timestamptz;
  v_bucket orchestrator.rate_limits;
  v_at timestamptz;
  v_slot integer;
begin
  for i in 1..cardinality(p_ids) loop
    -- The picked rows' flow columns, as the pick read them (the rows are locked: they cannot change).
    r_id := p_ids[i];
    r_type := p_types[i];
    r_concurrency_key := p_ckeys[i];
    r_concurrency_limit := p_climits[i];
    r_type_concurrency_limit := p_tlimits[i];
    r_rate_key := p_rkeys[i];
    v_ok := true;
    -- Concurrency: the task's own key, then its type's limit.
    for v_slot in 1..2 loop
      exit when not v_ok;
      if v_slot = 1 then
        continue when r_concurrency_key is null;
        v_key := 'key:' || r_concurrency_key;
        v_limit := r_concurrency_limit;
      else
        continue when r_type_concurrency_limit is null;
        v_key := 'type:' || r_type;
        v_limit := r_type_concurrency_limit;
      end if;
      if v_key = any (v_busy) then
        v_ok := false;
        continue;
      end if;
      if not v_key = any (v_locked) then
        if not pg_try_advisory_xact_lock(1718382881, hashtext(v_key)) then
          v_busy := v_busy || v_key;
          v_ok := false;
          continue;
        end if;
        v_locked := v_locked || v_key;
      end if;
      if v_slot = 1 then
        select count(*) into v_running from orchestrator.tasks
         where status = 'running' and concurrency_key = r_concurrency_key;
      else
        select count(*) into v_running from orchestrator.tasks
         where status = 'running' and type = r_type and type_concurrency_limit is not null;
      end if;
      if v_key = any (v_taken) then
        v_running := v_running + (select count(*) from unnest(v_taken) k where k = v_key);
      end if;
      if v_running >= v_limit then
        v_park_ids := v_park_ids || r_id;
        v_park_on := v_park_on || v_key;
        v_ok := false;
      end if;
    end loop;
    -- Rate: decided last, so a token is spent only on a task that starts.
    if v_ok and r_rate_key is not null then
      select * into v_bucket from orchestrator.rate_limits where bucket = r_rate_key for update skip locked;
      if not found then
        -- Another claimer holds the bucket (next time), or there is none (a row inserted without
        -- enqueue(): no bucket, no limit).
        v_ok := not exists (select 1 from orchestrator.rate_limits where bucket = r_rate_key);
      else
        v_due := orchestrator.rate_take(r_rate_key, v_bucket.tat, coalesce(v_bucket.interval_seconds, 1), coalesce(v_bucket.tolerance_seconds, 0), now());
        if v_due is not null then
          v_at := greatest(v_due, coalesce(v_bucket.deferred_until, v_due));
          update orchestrator.rate_limits
             set deferred_until = v_at + make_interval(secs => coalesce(v_bucket.interval_seconds, 1))
           where bucket = r_rate_key;
          v_defer_ids := v_defer_ids || r_id;
          v_defer_at := v_defer_at || v_at;
          v_ok := false;
        end if;
      end if;
    end if;
    if v_ok then
      v_out := v_out || r_id;
      if r_concurrency_key is not null then v_taken := v_taken || ('key:' || r_concurrency_key); end if;
      if r_type_concurrency_limit is not null then v_taken := v_taken || ('type:' || r_type); end if;
    end if;
  end loop;
  if cardinality(v_park_ids) > 0 then
    update orchestrator.tasks t set parked_on = p.on_key, updated_at = now()
      from unnest(v_park_ids, v_park_on) as p(id, on_key) where t.id = p.id;
  end if;
  if cardinality(v_defer_ids) > 0 then
    update orchestrator.tasks t set run_at = d.at, updated_at = now()
      from unnest(v_defer_ids, v_defer_at) as d(id, at) where t.id = d.id;
  end if;
  return v_out;
end
$$;

--
-- Name: claim_pick_ids(integer, text[], boolean); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.claim_pick_ids(p_max_count integer, p_types text[], p_take_suspect boolean) RETURNS bigint[]
    LANGUAGE plpgsql
    SET enable_seqscan TO 'off'
    SET enable_bitmapscan TO 'off'
    SET enable_sort TO 'off'
    SET jit TO 'off'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
declare
  v_max integer := greatest(least(coalesce(p_max_count, 1), 1000), 0);
  v_lo text;
  v_hi text;
  v_ids bigint[];
  v_flow boolean;
  v_rot bigint;
  v_ckeys text[];
  v_climits integer[];
  v_typenames text[];
  v_tlimits integer[];
  v_rkeys text[];
  v_s record;
  v_n integer;
begin
  if v_max = 0 then
    return '{}';
  end if;
  -- The groups' range. The highest first, from the claim index's right end: claims take rows from
  -- its left, which holds the entries of claimed rows until VACUUM, so a scan from there steps over
  -- them. '' sorts before any other text: a highest group of '' is the only one. Otherwise the next
  -- group down, read just below the highest's first entry, says whether there is more than one; only
  -- then is the least read from the left end, for the round robin.
  select group_key into v_hi
    from orchestrator.tasks where status = 'queued' and parked_on is null
   order by group_key desc limit 1;
  if v_hi is null then
    return '{}';
  end if;
  v_lo := v_hi;
  if v_hi <> '' then
    select group_key into v_lo
      from orchestrator.tasks where status = 'queued' and parked_on is null and group_key < v_hi
     order by group_key desc limit 1;
    if v_lo is null then
      v_lo := v_hi;
    else
      select group_key into v_lo
        from orchestrator.tasks where status = 'queued' and parked_on is null
       order by group_key limit 1;
    end if;
  end if;
  if v_lo = v_hi then
    select array_agg(s.id), bool_or(s.flow), array_agg(s.concurrency_key), array_agg(s.concurrency_limit), array_agg(s.type),
           array_agg(s.type_concurrency_limit), array_agg(s.rate_key)
      into v_ids, v_flow, v_ckeys, v_climits, v_typenames, v_tlimits, v_rkeys from (
      select id, (concurrency_key is not null or type_concurrency_limit is not null or rate_key is not null) as flow,
             concurrency_key, concurrency_limit, type, type_concurrency_limit, rate_key
      from orchestrator.tasks
      where status = 'queued' and parked_on is null and group_key = v_lo and run_at <= now() and not suspect
        and (p_types is null or type = any (p_types))
      order by priority desc, run_at, id
      limit v_max
      for update skip locked) s;
  else
    -- Round-robin across the groups: each group's head, then each group's second, …, starting at a
    -- rotating group. Rows locked here and not taken are unlocked at commit.
    v_rot := nextval('orchestrator.claim_rotation');
    with recursive groups(g) as (
      select v_lo
      union all
      select (select t.group_key from orchestrator.tasks t
               where t.status = 'queued' and t.parked_on is null and t.group_key > groups.g
               order by t.group_key limit 1)
      from groups where groups.g < v_hi
    ), numbered as (
      select g, row_number() over (order by g) - 1 as gi from groups where g is not null
    ), heads as (
      select n.gi, c.* from numbered n cross join lateral (
        select t.id, t.priority, t.run_at,
               (t.concurrency_key is not null or t.type_concurrency_limit is not null or t.rate_key is not null) as flow,
               t.concurrency_key, t.concurrency_limit, t.type, t.type_concurrency_limit, t.rate_key
        from orchestrator.tasks t
        where t.status = 'queued' and t.parked_on is null and t.group_key = n.g and t.run_at <= now() and not t.suspect
          and (p_types is null or t.type = any (p_types))
        order by t.priority desc, t.run_at, t.id
        limit v_max
        for update skip locked) c
    ), ranked as (
      -- hgi: the group's place among the groups that have a candidate now (not among all groups).
      select *, row_number() over (partition by gi order by priority desc, run_at, id) as rn,
             dense_rank() over (order by gi) - 1 as hgi
      from heads
    ), turned as (
      select *, (hgi + v_rot) % (max(hgi) over () + 1) as turn from ranked
    )
    select array_agg(x.id), bool_or(x.flow), array_agg(x.concurrency_key), array_agg(x.concurrency_limit), array_agg(x.type),
           array_agg(x.type_concurrency_limit), array_agg(x.rate_key)
      into v_ids, v_flow, v_ckeys, v_climits, v_typenames, v_tlimits, v_rkeys
      from (select * from turned order by rn, turn limit v_max) x;
  end if;
  if p_take_suspect then
    select t.id, t.type, t.concurrency_key, t.concurrency_limit, t.type_concurrency_limit, t.rate_key into v_s
      from orchestrator.tasks t
     where t.status = 'queued' and t.suspect and t.parked_on is null and t.run_at <= now()
       and (p_types is null or t.type = any (p_types))
     order by t.priority desc, t.run_at, t.id
     limit 1
     for update skip locked;
    if v_s.id is not null then
      -- Its slot is the batch's last: the ordinary row it displaces stays queued (unlocked at commit).
      v_n := least(coalesce(cardinality(v_ids), 0), v_max - 1);
      v_ids := coalesce(v_ids[1:v_n], '{}') || v_s.id;
      v_ckeys := coalesce(v_ckeys[1:v_n], '{}') || v_s.concurrency_key;
      v_climits := coalesce(v_climits[1:v_n], '{}') || v_s.concurrency_limit;
      v_typenames := coalesce(v_typenames[1:v_n], '{}') || v_s.type;
      v_tlimits := coalesce(v_tlimits[1:v_n], '{}') || v_s.type_concurrency_limit;
      v_rkeys := coalesce(v_rkeys[1:v_n], '{}') || v_s.rate_key;
      v_flow := coalesce(v_flow, false) or v_s.concurrency_key is not null or v_s.type_concurrency_limit is not null or v_s.rate_key is not null;
    end if;
  end if;
  if v_ids is null then
    return '{}';
  end if;
  if not v_flow then
    return v_ids;
  end if;
  return orchestrator.claim_flow_filter(v_ids, v_ckeys, v_climits, v_typenames, v_tlimits, v_rkeys);
end
$$;

--
-- Name: complete(bigint, uuid, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.complete(p_id bigint, p_lease_token uuid, p_result jsonb DEFAULT NULL::jsonb) RETURNS boolean
    LANGUAGE plpgsql
    AS $$
begin
  update orchestrator.tasks
     set status = 'succeeded', result = p_result, finished_at = now(), updated_at = now(),
         locked_by = null, locked_until = null, lease_token = null
   where id = p_id and status = 'running' and lease_token = p_lease_token;
  if found then
    return true;
  end if;
  raise notice 'orchestrator.complete(%): stale lease token, nothing changed (lease expired, task cancelled, or already finished)', p_id;
  return false;
end
$$;

--
-- Name: complete_many(bigint[], uuid[], jsonb[]); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.complete_many(p_ids bigint[], p_lease_tokens uuid[], p_results jsonb[]) RETURNS SETOF bigint
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
begin
  return query
  update orchestrator.tasks t
     set status = 'succeeded', result = d.result, finished_at = now(), updated_at = now(),
         locked_by = null, locked_until = null, lease_token = null
    from unnest(p_ids, p_lease_tokens, p_results) as d(id, token, result)
   where t.id = d.id and t.status::text = 'running' and t.lease_token = d.token
  returning t.id;
end
$$;

--
-- Name: cron_field(text, text, integer, integer, text[]); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.cron_field(p_text text, p_field text, p_min integer, p_max integer, p_names text[] DEFAULT NULL::text[]) RETURNS integer[]
    LANGUAGE plpgsql IMMUTABLE
    AS $_$
declare
  v_item text;
  v_base text;
  v_step_text text;
  v_step integer;
  v_parts text[];
  v_lo integer;
  v_hi integer;
  v_out integer[] := '{}';
begin
  foreach v_item in array string_to_array(p_text, ',') loop
    if v_item = '' then
      raise exception using errcode = '22023', message = format('invalid cron expression: %s has an empty list item', p_field);
    end if;
    v_base := split_part(v_item, '/', 1);
    v_step_text := case when position('/' in v_item) > 0 then substr(v_item, position('/' in v_item) + 1) end;
    v_step := 1;
    if v_step_text is not null then
      if v_step_text !~ '^\d{1,3}$' or v_step_text::integer < 1 then
        raise exception using errcode = '22023',
          message = format('invalid cron expression: %s step in %L must be a whole number of 1 or more', p_field, v_item);
      end if;
      v_step := v_step_text::integer;
    end if;
    if v_base = '*' then
      v_lo := p_min;
      v_hi := p_max;
    else
      v_parts := string_to_array(v_base, '-');
      if cardinality(v_parts) > 2 then
        raise exception using errcode = '22023', message = format('invalid cron expression: %s %L is not a range', p_field, v_base);
      end if;
      v_lo := orchestrator.cron_value(v_parts[1], p_field, p_min, p_max, p_names);
      if cardinality(v_parts) = 2 then
        v_hi := orchestrator.cron_value(v_parts[2], p_field, p_min, p_max, p_names);
        if v_hi < v_lo then
          raise exception using errcode = '22023', message = format('invalid cron expression: %s range %L runs backwards', p_field, v_base);
        end if;
      elsif v_step_text is not null then
        raise exception using errcode = '22023',
          message = format('invalid cron expression: %s %L: a step needs a range or * before it', p_field, v_item);
      else
        v_hi := v_lo;
      end if;
    end if;
    v_out := v_out || array(select generate_series(v_lo, v_hi, v_step));
  end loop;
  return array(select distinct x from unnest(v_out) x order by x);
end
$_$;

--
-- Name: cron_fires(text, text, timestamp with time zone, integer, timestamp with time zone); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.cron_fires(p_cron text, p_timezone text, p_after timestamp with time zone, p_count integer DEFAULT 5, p_until timestamp with time zone DEFAULT 'infinity'::timestamp with time zone) RETURNS TABLE(fire_at timestamp with time zone, local_time text)
    LANGUAGE plpgsql STABLE
    AS $$
declare
  v_cron jsonb := orchestrator.cron_parse(p_cron);
  v_minutes integer[] := array(
    select h::int * 60 + m::int
      from jsonb_array_elements_text(v_cron -> 'hour') h, jsonb_array_elements_text(v_cron -> 'minute') m
     order by 1);
  -- Wall-clock bounds outside which no minute can fire inside (p_after, p_until]: the instants read with the
  -- smallest / largest offset nearby (see zoned_instant).
  v_wall_from timestamp := (p_after at time zone 'UTC') + least(
    ((p_after - interval '1 day') at time zone p_timezone) - ((p_after - interval '1 day') at time zone 'UTC'),
    ((p_after + interval '1 day') at time zone p_timezone) - ((p_after + interval '1 day') at time zone 'UTC'));
  v_wall_until timestamp;
  v_day date;
  v_last_day date;
  v_local timestamp;
  v_fire timestamptz;
  v_previous timestamptz;
  v_found integer := 0;
begin
  if p_count < 1 then
    return;
  end if;
  v_day := v_wall_from::date;
  v_last_day := v_day + 5 * 366;
  if p_until < 'infinity' then
    v_wall_until := (p_until at time zone 'UTC') + greatest(
      ((p_until - interval '1 day') at time zone p_timezone) - ((p_until - interval '1 day') at time zone 'UTC'),
      ((p_until + interval '1 day') at time zone p_timezone) - ((p_until + interval '1 day') at time zone 'UTC'));
    v_last_day := least(v_last_day, v_wall_until::date);
  end if;
  while v_day <= v_last_day loop
    -- The day fields (Vixie rule) through cron_matches, at the day's first matching hour and minute.
    if orchestrator.cron_matches(v_cron, (v_day + v_minutes[1] * interval '1 minute') at time zone 'UTC') then
      for v_local in
        select v_day + m * interval '1 minute' from unnest(v_minutes) m
         where v_day + m * interval '1 minute' >= v_wall_from
           and (v_wall_until is null or v_day + m * interval '1 minute' <= v_wall_until)
         order by m
      loop
        v_fire := case when p_timezone = 'UTC' then v_local at time zone 'UTC' else orchestrator.zoned_instant(v_local, p_timezone) end;
        -- Wall minutes map to instants in order; equal instants (a gap's minutes) fire once.
        continue when v_fire <= p_after or v_fire > p_until or v_fire = v_previous;
        v_previous := v_fire;
        fire_at := v_fire;
        local_time := orchestrator.zoned_iso(v_fire, p_timezone);
        return next;
        v_found := v_found + 1;
        if v_found >= p_count then
          return;
        end if;
      end loop;
    end if;
    v_day := v_day + 1;
  end loop;
end
$$;

--
-- Name: cron_is_valid(text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.cron_is_valid(p_expr text) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE
    AS $$
begin
  perform orchestrator.cron_parse(p_expr);
  return true;
exception when invalid_parameter_value then
  return false;
end
$$;

--
-- Name: cron_matches(jsonb, timestamp with time zone); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.cron_matches(p_cron jsonb, p_at timestamp with time zone) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $$
  with t as (select p_at at time zone 'UTC' as ts)
  select (p_cron -> 'minute') @> to_jsonb(extract(minute from ts)::int)
     and (p_cron -> 'hour') @> to_jsonb(extract(hour from ts)::int)
     and (p_cron -> 'month') @> to_jsonb(extract(month from ts)::int)
     and case when (p_cron ->> 'dom_star')::boolean or (p_cron ->> 'dow_star')::boolean
              then (p_cron -> 'dom') @> to_jsonb(extract(day from ts)::int) and (p_cron -> 'dow') @> to_jsonb(extract(dow from ts)::int)
              else (p_cron -> 'dom') @> to_jsonb(extract(day from ts)::int) or (p_cron -> 'dow') @> to_jsonb(extract(dow from ts)::int)
         end
  from t
$$;

--
-- Name: cron_parse(text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.cron_parse(p_expr text) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE
    AS $$
declare
  v_expr text := regexp_replace(btrim(coalesce(p_expr, '')), '\s+', ' ', 'g');
  v_parts text[];
  v_dom integer[];
  v_month integer[];
  v_dow integer[];
  v_dom_star boolean;
  v_dow_star boolean;
begin
  v_expr := case lower(v_expr)
    when '@yearly' then '0 0 1 1 *' when '@annually' then '0 0 1 1 *' when '@monthly' then '0 0 1 * *'
    when '@weekly' then '0 0 * * 0' when '@daily' then '0 0 * * *' when '@midnight' then '0 0 * * *'
    when '@hourly' then '0 * * * *' else v_expr end;
  v_parts := string_to_array(v_expr, ' ');
  if v_expr = '' or cardinality(v_parts) <> 5 then
    raise exception using errcode = '22023',
      message = format('invalid cron expression %L: write five fields (minute hour day-of-month month day-of-week), times in UTC', p_expr);
  end if;
  v_dom := orchestrator.cron_field(v_parts[3], 'day_of_month', 1, 31);
  v_month := orchestrator.cron_field(v_parts[4], 'month', 1, 12,
    array['jan','feb','mar','apr','may','jun','jul','aug','sep','oct','nov','dec']);
  v_dow := array(select distinct d % 7 from unnest(orchestrator.cron_field(v_parts[5], 'day_of_week', 0, 7,
    array['sun','mon','tue','wed','thu','fri','sat'])) d order by 1);
  v_dom_star := v_parts[3] like '*%';
  v_dow_star := v_parts[5] like '*%';
  if not v_dom_star and v_dow_star and not exists (
    select 1 from unnest(v_month) m, unnest(v_dom) d
    where d <= (array[31,29,31,30,31,30,31,31,30,31,30,31])[m]
  ) then
    raise exception using errcode = '22023',
      message = format('invalid cron expression %L: no chosen month has any of the chosen days, so it would never run', p_expr);
  end if;
  return jsonb_build_object(
    'expression', lower(v_expr),
    'minute', to_jsonb(orchestrator.cron_field(v_parts[1], 'minute', 0, 59)),
    'hour', to_jsonb(orchestrator.cron_field(v_parts[2], 'hour', 0, 23)),
    'dom', to_jsonb(v_dom), 'month', to_jsonb(v_month), 'dow', to_jsonb(v_dow),
    'dom_star', v_dom_star, 'dow_star', v_dow_star);
end
$$;

--
-- Name: cron_supports_seconds(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.cron_supports_seconds() RETURNS boolean
    LANGUAGE sql STABLE
    AS $$
  select coalesce(
    (select string_to_array(split_part(extversion, '-', 1), '.')::int[] >= array[1, 5]
       from pg_extension where extname = 'pg_cron'),
    false)
$$;

--
-- Name: cron_value(text, text, integer, integer, text[]); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.cron_value(p_raw text, p_field text, p_min integer, p_max integer, p_names text[]) RETURNS integer
    LANGUAGE plpgsql IMMUTABLE
    AS $_$
declare
  v integer;
begin
  if p_raw ~ '^\d{1,3}$' then
    v := p_raw::integer;
    if v < p_min or v > p_max then
      raise exception using errcode = '22023',
        message = format('invalid cron expression: %s value %s is out of range %s-%s', p_field, v, p_min, p_max);
    end if;
    return v;
  end if;
  v := array_position(p_names, lower(p_raw));
  if v is not null then
    return p_min + v - 1;
  end if;
  raise exception using errcode = '22023',
    message = format('invalid cron expression: %s value %L is not a number%s', p_field, p_raw,
                     case when p_names is null then '' else ' or a name (' || array_to_string(p_names, ', ') || ')' end);
end
$_$;

--
-- Name: current_trace_id(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.current_trace_id() RETURNS text
    LANGUAGE sql PARALLEL SAFE
    AS $_$
  select case when current_setting('orchestrator.trace_id', true) ~ '^[0-9a-f]{32}$'
               and current_setting('orchestrator.trace_id', true) <> '00000000000000000000000000000000'
              then current_setting('orchestrator.trace_id', true) end
$_$;

--
-- Name: FUNCTION current_trace_id(); Type: COMMENT; Schema: orchestrator; Owner: -
--

COMMENT ON FUNCTION orchestrator.current_trace_id() IS 'The W3C trace id this transaction works under (set_config(''orchestrator.trace_id'', …, true)), or null.';

--
-- Name: dead_letter(bigint, text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.dead_letter(p_id bigint, p_error text) RETURNS boolean
    LANGUAGE plpgsql
    AS $$
begin
  update orchestrator.tasks
     set status = 'dead', last_error = left(coalesce(p_error, 'task cannot run'), 10000),
         finished_at = now(), updated_at = now()
   where id = p_id and status = 'queued';
  return found;
end
$$;

--
-- Name: enqueue(text, jsonb, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.enqueue(p_type text, p_payload jsonb DEFAULT '{}'::jsonb, p_opts jsonb DEFAULT '{}'::jsonb, OUT task orchestrator.tasks, OUT created boolean) RETURNS record
    LANGUAGE plpgsql
    AS $_$
declare
  v_opts jsonb := coalesce(p_opts, '{}'::jsonb);
  v_key text;
  f jsonb;
  v_run_at timestamptz;
  v_id bigint;
  w orchestrator.throttle_windows;
begin
  if p_type is null or p_type !~ '^[a-z][a-z0-9_.:-]{0,63}$' then
    raise exception using errcode = '22023',
      message = format('invalid task type %L', p_type),
      hint = 'A task type is 1-64 characters: a lowercase letter, then lowercase letters, digits, "_", ".", ":" or "-".';
  end if;
  if jsonb_typeof(v_opts) <> 'object' then
    raise exception using errcode = '22023', message = 'enqueue options must be a JSON object';
  end if;
  if p_payload is not null and jsonb_typeof(p_payload) <> 'object' then
    raise exception using errcode = '22023', message = 'task payload must be a JSON object';
  end if;
  v_key := v_opts ->> 'dedupe_key';
  f := orchestrator.flow_resolve(p_type, p_payload, v_opts);
  v_run_at := coalesce((v_opts ->> 'run_at')::timestamptz, now());

  if f ? 'rate_key' then
    insert into orchestrator.rate_limits (bucket, tat, interval_seconds, tolerance_seconds)
    values (f ->> 'rate_key', now(), (f ->> 'rate_interval')::float8, (f ->> 'rate_tolerance')::float8)
    on conflict (bucket) do update
      set interval_seconds = excluded.interval_seconds, tolerance_seconds = excluded.tolerance_seconds
      where orchestrator.rate_limits.interval_seconds is distinct from excluded.interval_seconds
         or orchestrator.rate_limits.tolerance_seconds is distinct from excluded.tolerance_seconds;
  end if;

  if f ? 'debounce_key' then
    -- The last enqueue within the window wins: one queued task per key, its payload the latest, its
    -- run_at the end of a quiet window.
    v_run_at := greatest(v_run_at, now() + make_interval(secs => (f ->> 'debounce_seconds')::float8));
    f := f || jsonb_build_object('debounce_key', 'debounce:' || (f ->> 'debounce_key'));
  elsif f ? 'throttle_key' then
    insert into orchestrator.throttle_windows (key, window_ends_at) values (f ->> 'throttle_key', '-infinity')
    on conflict (key) do nothing;
    select * into w from orchestrator.throttle_windows where key = f ->> 'throttle_key' for update;
    if now() >= w.window_ends_at or (w.task_id is not null and not exists (select 1 from orchestrator.tasks where id = w.task_id)) then
      -- The window is open: this one runs, and a new window begins.
      f := f - 'throttle_key';
    elsif f ->> 'throttle_mode' = 'drop' then
      select * into task from orchestrator.tasks where id = w.task_id;
      created := false;
      return;
    else
      -- Coalesce: one queued task at the window's end, with the latest payload.
      update orchestrator.tasks set payload = coalesce(p_payload, '{}'::jsonb), updated_at = now()
       where debounce_key = 'throttle:' || w.key and status = 'queued'
      returning * into task;
      if found then
        created := false;
        return;
      end if;
      v_run_at := w.window_ends_at;
      f := f || jsonb_build_object('debounce_key', 'throttle:' || w.key);
    end if;
  end if;

  loop
    insert into orchestrator.tasks as t (type, payload, priority, run_at, max_attempts, backoff_base_seconds, dedupe_key, source, parent_id,
                                         concurrency_key, concurrency_limit, type_concurrency_limit, rate_key, group_key, debounce_key, cancel_on)
    values (
      p_type,
      coalesce(p_payload, '{}'::jsonb),
      coalesce((v_opts ->> 'priority')::integer, 0),
      v_run_at,
      coalesce((v_opts ->> 'max_attempts')::integer, 5),
      coalesce((v_opts ->> 'backoff_base_seconds')::numeric, 2),
      v_key,
      coalesce(v_opts ->> 'source', 'sql'),
      (v_opts ->> 'parent_id')::bigint,
      f ->> 'concurrency_key',
      (f ->> 'concurrency_limit')::integer,
      (f ->> 'type_concurrency_limit')::integer,
      f ->> 'rate_key',
      coalesce(f ->> 'group_key', ''),
      f ->> 'debounce_key',
      f -> 'cancel_on'
    )
    on conflict do nothing
    returning t.id into v_id;
    if v_id is not null then
      select * into task from orchestrator.tasks where id = v_id;
      created := true;
      if w.key is not null then
        update orchestrator.throttle_windows
           set window_ends_at = greatest(now(), w.window_ends_at) + make_interval(secs => (f ->> 'throttle_seconds')::float8),
               task_id = v_id
         where key = w.key;
      end if;
      return;
    end if;

    if f ? 'debounce_key' then
      update orchestrator.tasks
         set payload = coalesce(p_payload, '{}'::jsonb),
             run_at = case when (f ->> 'debounce_key') like 'debounce:%' then v_run_at else run_at end,
             updated_at = now()
       where debounce_key = f ->> 'debounce_key' and status = 'queued'
      returning * into task;
      if found then
        created := false;
        return;
      end if;
    elsif v_key is not null then
      select * into task from orchestrator.tasks
      where dedupe_key = v_key and status in ('queued', 'running');
      if found then
        created := false;
        return;
      end if;
    end if;
    -- The holder of the key started or finished between our insert and our look: insert again.
  end loop;
end
$_$;

--
-- Name: enqueue_batch(jsonb, text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.enqueue_batch(p_items jsonb, p_source text DEFAULT 'api'::text) RETURNS TABLE(item integer, created boolean, task orchestrator.tasks)
    LANGUAGE plpgsql
    AS $_$
declare
  v_bad record;
  v_left record;
  v_one record;
  v_row record;
  v_done integer[] := '{}';
begin
  if p_items is null or jsonb_typeof(p_items) <> 'array' then
    raise exception using errcode = '22023', message = 'enqueue_batch takes a JSON array of tasks';
  end if;
  if jsonb_array_length(p_items) > 1000 then
    raise exception using errcode = '22023',
      message = format('enqueue_batch takes at most 1000 tasks at once; this batch has %s', jsonb_array_length(p_items));
  end if;
  -- The checks enqueue() makes, per item, before anything is stored (the API checked them already;
  -- a SQL caller gets the same refusals, naming the item).
  select x.i - 1 as idx, x.e into v_bad
  from jsonb_array_elements(p_items) with ordinality as x(e, i)
  where jsonb_typeof(x.e) <> 'object'
     or coalesce(x.e ->> 'type', '') !~ '^[a-z][a-z0-9_.:-]{0,63}$'
     or jsonb_typeof(coalesce(x.e -> 'payload', '{}'::jsonb)) not in ('object', 'null')
  order by x.i limit 1;
  if found then
    raise exception using errcode = '22023',
      message = format('item %s: a task is an object with a type (a lowercase letter then up to 63 of a-z 0-9 _ . : -) and an object payload', v_bad.idx);
  end if;

  for v_row in
    -- materialized: nextval() runs once per item, and every branch below sees the same ids.
    -- Flow control (20261203001000_flow_control.sql): each item's resolved in the same INSERT; an item
    -- that debounces, throttles or takes a rate token decides against the one before it, so it goes
    -- through enqueue() below, one by one.
    with items as materialized (
      select (x.i - 1)::integer as item, nextval('orchestrator.tasks_id_seq') as id, x.e,
             -- Only an item that asks for flow control, or whose type has defaults, pays for resolving it.
             case when x.e ?| array['concurrency', 'rate', 'debounce', 'throttle', 'group', 'cancel_on']
                    or exists (select 1 from orchestrator.task_type_flow d where d.type = x.e ->> 'type')
                  then orchestrator.flow_resolve(x.e ->> 'type', coalesce(nullif(x.e -> 'payload', 'null'::jsonb), '{}'::jsonb), x.e)
                  else '{}'::jsonb end as f,
             (x.e ?| array['debounce', 'throttle', 'rate']
              or exists (select 1 from orchestrator.task_type_flow d
                          where d.type = x.e ->> 'type' and d.defaults ?| array['debounce', 'throttle', 'rate'])) as one_by_one
      from jsonb_array_elements(p_items) with ordinality as x(e, i)
    ), inserted as (
      insert into orchestrator.tasks (id, type, payload, priority, run_at, max_attempts, backoff_base_seconds, dedupe_key, source, parent_id,
                                      concurrency_key, concurrency_limit, type_concurrency_limit, group_key, cancel_on)
      overriding system value
      select b.id, b.e ->> 'type',
             coalesce(nullif(b.e -> 'payload', 'null'::jsonb), '{}'::jsonb),
             coalesce((b.e ->> 'priority')::integer, 0),
             coalesce((b.e ->> 'run_at')::timestamptz, now()),
             coalesce((b.e ->> 'max_attempts')::integer, 5),
             coalesce((b.e ->> 'backoff_base_seconds')::numeric, 2),
             b.e ->> 'dedupe_key',
             coalesce(b.e ->> 'source', p_source, 'sql'),
             (b.e ->> 'parent_id')::bigint,
             b.f ->> 'concurrency_key', (b.f ->> 'concurrency_limit')::integer, (b.f ->> 'type_concurrency_limit')::integer,
             coalesce(b.f ->> 'group_key', ''), b.f -> 'cancel_on'
      from items b
      where not b.one_by_one
      order by b.item
      on conflict (dedupe_key) where dedupe_key is not null and status in ('queued', 'running') do nothing
      returning *
    )
    select b.item, true as created, row(t.*)::orchestrator.tasks as task
    from items b join inserted t on t.id = b.id
    union all
    -- Not inserted: its dedupe_key is held by a task inserted just now (an earlier item of this batch)…
    select b.item, false, row(t.*)::orchestrator.tasks
    from items b
    join lateral (select i.* from inserted i where i.dedupe_key = b.e ->> 'dedupe_key' order by i.id limit 1) t on true
    where not b.one_by_one and not exists (select 1 from inserted i where i.id = b.id)
    union all
    -- …or by a live task from before this statement.
    select b.item, false, t
    from items b
    join orchestrator.tasks t on t.dedupe_key = b.e ->> 'dedupe_key' and t.status in ('queued', 'running')
    where not b.one_by_one and not exists (select 1 from inserted i where i.id = b.id or i.dedupe_key = b.e ->> 'dedupe_key')
  loop
    item := v_row.item;
    created := v_row.created;
    task := v_row.task;
    v_done := v_done || v_row.item;
    return next;
  end loop;

  -- An item that debounces, throttles or takes a rate token (above), or, rarely, one neither inserted
  -- nor answered because the live holder of its key committed or finished while the insert ran
  -- (outside this statement's snapshot): enqueue() takes each such item, in order; in the common case
  -- there is none and the batch stays one INSERT.
  for v_left in
    select (x.i - 1)::integer as item, x.e from jsonb_array_elements(p_items) with ordinality as x(e, i)
    where (x.i - 1)::integer <> all (v_done)
    order by x.i
  loop
    select * into v_one from orchestrator.enqueue(v_left.e ->> 'type', coalesce(nullif(v_left.e -> 'payload', 'null'::jsonb), '{}'::jsonb),
      (v_left.e - 'type' - 'payload') || jsonb_build_object('source', coalesce(v_left.e ->> 'source', p_source, 'sql')));
    item := v_left.item;
    created := v_one.created;
    task := v_one.task;
    return next;
  end loop;
end
$_$;

--
-- Name: FUNCTION enqueue_batch(p_items jsonb, p_source text); Type: COMMENT; Schema: orchestrator; Owner: -
--

COMMENT ON FUNCTION orchestrator.enqueue_batch(p_items jsonb, p_source text) IS 'Bulk enqueue (POST /tasks with an array): one INSERT for up to 1000 tasks, enqueue()''s defaults and dedupe semantics; one row per item (item index, created, task).';

--
-- Name: enqueue_many(text, jsonb[], jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.enqueue_many(p_type text, p_payloads jsonb[], p_opts jsonb DEFAULT '{}'::jsonb) RETURNS SETOF orchestrator.tasks
    LANGUAGE plpgsql
    AS $$
declare
  p jsonb;
  v orchestrator.tasks;
  v_priority integer;
  v_run_at timestamptz;
  v_max_attempts integer;
  v_backoff numeric;
  v_source text;
  v_trace text;
begin
  if coalesce(cardinality(p_payloads), 0) = 0 then
    return; -- nothing to insert (and no option to read)
  end if;
  if exists (select 1 from orchestrator.task_type_flow where type = p_type and defaults ?| array['debounce', 'throttle', 'rate'])
     or coalesce(p_opts, '{}'::jsonb) ?| array['debounce', 'throttle', 'rate'] then
    -- Each of these decides against the one before (a window, a bucket row): one by one.
    foreach p in array p_payloads loop
      select (e.task).* into v from orchestrator.enqueue(p_type, p, p_opts) e;
      return next v;
    end loop;
    return;
  end if;
  -- The call's options and trace, once (see the header).
  v_priority := coalesce((p_opts ->> 'priority')::integer, 0);
  v_run_at := coalesce((p_opts ->> 'run_at')::timestamptz, now());
  v_max_attempts := coalesce((p_opts ->> 'max_attempts')::integer, 5);
  v_backoff := coalesce((p_opts ->> 'backoff_base_seconds')::numeric, 2);
  v_source := coalesce(p_opts ->> 'source', 'sql');
  v_trace := orchestrator.trace_id_or_start();
  if not exists (select 1 from orchestrator.task_type_flow where type = p_type)
     and not (coalesce(p_opts, '{}'::jsonb) ?| array['concurrency', 'group', 'cancel_on']) then
    return query
    insert into orchestrator.tasks (type, payload, priority, run_at, max_attempts, backoff_base_seconds, source, trace_id)
    select p_type, coalesce(x, '{}'::jsonb), v_priority, v_run_at, v_max_attempts, v_backoff, v_source, v_trace
    from unnest(p_payloads) as x
    returning *;
    return;
  end if;
  -- Concurrency, type limits, groups and cancel_on: each row's options resolved, still one INSERT.
  return query
  insert into orchestrator.tasks (type, payload, priority, run_at, max_attempts, backoff_base_seconds, source, trace_id,
                                  concurrency_key, concurrency_limit, type_concurrency_limit, rate_key, group_key, cancel_on)
  select p_type, coalesce(x, '{}'::jsonb), v_priority, v_run_at, v_max_attempts, v_backoff, v_source, v_trace,
         f ->> 'concurrency_key', (f ->> 'concurrency_limit')::integer, (f ->> 'type_concurrency_limit')::integer,
         f ->> 'rate_key', coalesce(f ->> 'group_key', ''), f -> 'cancel_on'
  from unnest(p_payloads) as x, orchestrator.flow_resolve(p_type, x, p_opts) as f
  returning *;
end
$$;

--
-- Name: event_fingerprint(text, text, text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.event_fingerprint(p_source text, p_type text, p_message text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
  select md5(coalesce(p_source, '') || E'\x1f' || coalesce(p_type, '') || E'\x1f' || orchestrator.normalize_message(p_message))
$$;

--
-- Name: events; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.events (
    id bigint NOT NULL,
    source text NOT NULL,
    type text NOT NULL,
    level orchestrator.log_level DEFAULT 'info'::orchestrator.log_level NOT NULL,
    message text,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    fingerprint text GENERATED ALWAYS AS (orchestrator.event_fingerprint(source, type, message)) STORED NOT NULL,
    occurred_at timestamp with time zone DEFAULT now() NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    via text DEFAULT 'sql'::text NOT NULL,
    external_id text,
    processed_at timestamp with time zone DEFAULT now(),
    route_error text,
    matched_rules text[] DEFAULT '{}'::text[] NOT NULL,
    tasks_created integer DEFAULT 0 NOT NULL,
    wants_ticket boolean DEFAULT false NOT NULL,
    ticket_id bigint,
    trace_id text DEFAULT orchestrator.trace_id_or_start(),
    CONSTRAINT events_external_id_check CHECK (((length(external_id) >= 1) AND (length(external_id) <= 200))),
    CONSTRAINT events_message_check CHECK ((length(message) <= 10000)),
    CONSTRAINT events_payload_check CHECK ((jsonb_typeof(payload) = 'object'::text)),
    CONSTRAINT events_source_check CHECK (((source ~ '^[a-z0-9][a-z0-9_.-]*$'::text) AND (length(source) <= 64))),
    CONSTRAINT events_type_check CHECK (((type ~ '^[A-Za-z0-9][A-Za-z0-9_.:/-]*$'::text) AND (length(type) <= 100))),
    CONSTRAINT events_via_check CHECK ((via = ANY (ARRAY['watcher'::text, 'api'::text, 'webhook'::text, 'sql'::text])))
);

--
-- Name: event_context(orchestrator.events); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.event_context(e orchestrator.events) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
  select jsonb_build_object(
    'event', to_jsonb(e),
    'record', case when jsonb_typeof(e.payload -> 'record') = 'object' then e.payload -> 'record' else e.payload end,
    'payload', e.payload)
$$;

--
-- Name: events_housekeeping(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.events_housekeeping() RETURNS jsonb
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: events_on_changes(text, text, anyarray, anyarray); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.events_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray) RETURNS void
    LANGUAGE plpgsql
    AS $$
begin
  if p_entity <> 'ticket' or p_op <> 'UPDATE' then
    return;
  end if;
  -- Nobody listens: write nothing (the common case, and the shipped default).
  if not exists (
    select 1 from orchestrator.event_rules r
    where r.enabled
      and (r.source_like is null or 'orchestrator' like r.source_like)
      and 'ticket.resolved' like r.type_like
      and (r.min_level is null or r.min_level <= 'info')) then
    return;
  end if;
  begin
    insert into orchestrator.events (source, type, level, message, payload, via)
    select 'orchestrator', 'ticket.resolved', 'info',
           left(format('ticket #%s resolved: %s', n.id, n.title), 10000),
           jsonb_build_object('ticket_id', n.id, 'title', n.title, 'fingerprint', n.fingerprint,
                              'source', n.source, 'priority', n.priority, 'occurrences', n.occurrences),
           'sql'
      from unnest(p_new) n join unnest(p_old) o on o.id = n.id
     where n.status = 'resolved' and o.status is distinct from 'resolved'
     order by n.id;
  exception when others then
    -- Resolving a ticket must never fail because its follow-up could not be recorded.
    insert into orchestrator.logs (level, component, message, context)
    values ('error', 'sops', 'could not record ticket.resolved events: ' || sqlerrm, jsonb_build_object('sqlstate', sqlstate));
  end;
end
$$;

--
-- Name: events_route_on_insert(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.events_route_on_insert() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: extend_leases(bigint[], uuid[], jsonb, numeric); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.extend_leases(p_ids bigint[], p_lease_tokens uuid[], p_type_leases jsonb DEFAULT NULL::jsonb, p_lease_seconds numeric DEFAULT 60) RETURNS TABLE(id bigint, locked_until timestamp with time zone)
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
#variable_conflict use_column
begin
  return query
  update orchestrator.tasks t
     set locked_until = now() + make_interval(secs => greatest(
           coalesce((p_type_leases ->> t.type)::numeric, p_lease_seconds, 60), 1)),
         updated_at = now()
    from unnest(p_ids, p_lease_tokens) as d(id, token)
   where t.id = d.id and t.status::text = 'running' and t.lease_token = d.token
  returning t.id, t.locked_until;
end
$$;

--
-- Name: fail(bigint, uuid, text, boolean); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.fail(p_id bigint, p_lease_token uuid, p_error text, p_retryable boolean DEFAULT true) RETURNS text
    LANGUAGE plpgsql
    AS $$
declare
  v_status orchestrator.task_status;
begin
  update orchestrator.tasks t
     set status = case when coalesce(p_retryable, true) and t.attempts < t.max_attempts
                       then 'queued'::orchestrator.task_status else 'dead'::orchestrator.task_status end,
         run_at = case when coalesce(p_retryable, true) and t.attempts < t.max_attempts
                       then now() + orchestrator.retry_delay(t.attempts, t.backoff_base_seconds) else t.run_at end,
         finished_at = case when coalesce(p_retryable, true) and t.attempts < t.max_attempts then null else now() end,
         last_error = left(coalesce(p_error, 'unknown error'), 10000),
         locked_by = null, locked_until = null, lease_token = null, updated_at = now()
   where t.id = p_id and t.status = 'running' and t.lease_token = p_lease_token
  returning t.status into v_status;
  if found then
    return v_status::text;
  end if;
  raise notice 'orchestrator.fail(%): stale lease token, nothing changed (lease expired, task cancelled, or already finished)', p_id;
  return 'stale';
end
$$;

--
-- Name: fail_many(bigint[], uuid[], text[], boolean[]); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.fail_many(p_ids bigint[], p_lease_tokens uuid[], p_errors text[], p_retryables boolean[]) RETURNS TABLE(id bigint, status text)
    LANGUAGE sql
    AS $$
  select d.id, orchestrator.fail(d.id, d.token, d.error, d.retryable)
  from unnest(p_ids, p_lease_tokens, p_errors, p_retryables) with ordinality as d(id, token, error, retryable, n)
  order by d.n
$$;

--
-- Name: flow_key(text, jsonb, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.flow_key(p_path text, p_template jsonb, p_payload jsonb) RETURNS text
    LANGUAGE plpgsql STABLE
    AS $$
declare
  r record;
  v text;
begin
  if p_template is null or jsonb_typeof(p_template) <> 'string' then
    raise exception using errcode = '22023', message = format('%s: a key must be a string (text, or {{payload.path}} placeholders)', p_path);
  end if;
  select * into r from orchestrator.render_template(p_template, jsonb_build_object('payload', coalesce(p_payload, '{}'::jsonb)));
  if cardinality(r.missing) > 0 then
    raise exception using errcode = '22023',
      message = format('%s: %s has no value in this task''s payload', p_path, array_to_string(r.missing, ', ')),
      hint = 'A key placeholder reads the payload: {{payload.ticket_id}}.';
  end if;
  v := case when jsonb_typeof(r.value) = 'string' then r.value #>> '{}' else r.value::text end;
  if length(v) not between 1 and 200 then
    raise exception using errcode = '22023', message = format('%s: the key must be 1-200 characters, got %s', p_path, length(v));
  end if;
  return v;
end
$$;

--
-- Name: flow_number(text, jsonb, numeric, numeric, boolean); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.flow_number(p_path text, p_value jsonb, p_min numeric, p_max numeric, p_whole boolean DEFAULT true) RETURNS numeric
    LANGUAGE plpgsql IMMUTABLE
    AS $$
declare
  v numeric;
begin
  if p_value is null or jsonb_typeof(p_value) <> 'number' then
    raise exception using errcode = '22023', message = format('%s must be a number from %s to %s', p_path, p_min, p_max);
  end if;
  v := (p_value #>> '{}')::numeric;
  if v < p_min or v > p_max or (p_whole and v <> trunc(v)) then
    raise exception using errcode = '22023',
      message = format('%s must be a %s from %s to %s, got %s', p_path, case when p_whole then 'whole number' else 'number' end, p_min, p_max, v);
  end if;
  return v;
end
$$;

--
-- Name: flow_object(text, jsonb, text[], text[]); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.flow_object(p_path text, p_value jsonb, p_allowed text[], p_required text[]) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE
    AS $$
declare
  k text;
begin
  if p_value is null or jsonb_typeof(p_value) = 'null' then
    return null;
  end if;
  if jsonb_typeof(p_value) <> 'object' then
    raise exception using errcode = '22023', message = format('%s must be an object with %s', p_path, array_to_string(p_allowed, ', '));
  end if;
  for k in select jsonb_object_keys(p_value) loop
    if not k = any (p_allowed) then
      raise exception using errcode = '22023', message = format('%s.%s is not a field; use %s', p_path, k, array_to_string(p_allowed, ', '));
    end if;
  end loop;
  foreach k in array p_required loop
    if not p_value ? k then
      raise exception using errcode = '22023', message = format('%s.%s is required', p_path, k);
    end if;
  end loop;
  return p_value;
end
$$;

--
-- Name: flow_on_changes(text, text, anyarray, anyarray); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.flow_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  o orchestrator.tasks;
begin
  if p_entity <> 'task' or p_op <> 'UPDATE' then
    return;
  end if;
  foreach o in array p_old::orchestrator.tasks[] loop
    if o.concurrency_key is not null then
      perform orchestrator.flow_unpark('key:' || o.concurrency_key);
    end if;
    if o.type_concurrency_limit is not null then
      perform orchestrator.flow_unpark('type:' || o.type);
    end if;
  end loop;
end
$$;

--
-- Name: flow_resolve(text, jsonb, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.flow_resolve(p_type text, p_payload jsonb, p_opts jsonb) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    AS $$
declare
  d jsonb := coalesce((select defaults from orchestrator.task_type_flow where type = p_type), '{}'::jsonb);
  o jsonb;
  c jsonb;
  r jsonb;
  out jsonb := '{}'::jsonb;
  v_limit numeric;
  v_period numeric;
  v_burst numeric;
  v_mode text;
begin
  o := d || (coalesce(p_opts, '{}'::jsonb) - 'type_concurrency_limit');
  c := orchestrator.flow_object('concurrency', o -> 'concurrency', array['key', 'limit'], array['key', 'limit']);
  if c is not null then
    out := out || jsonb_build_object(
      'concurrency_key', orchestrator.flow_key('concurrency.key', c -> 'key', p_payload),
      'concurrency_limit', orchestrator.flow_number('concurrency.limit', c -> 'limit', 1, 10000));
  end if;
  if d ? 'type_concurrency_limit' then
    out := out || jsonb_build_object('type_concurrency_limit', orchestrator.flow_number('type_concurrency_limit', d -> 'type_concurrency_limit', 1, 10000));
  end if;
  r := orchestrator.flow_object('rate', o -> 'rate', array['key', 'limit', 'period_seconds', 'burst'], array['key', 'limit', 'period_seconds']);
  if r is not null then
    v_limit := orchestrator.flow_number('rate.limit', r -> 'limit', 1, 100000);
    v_period := orchestrator.flow_number('rate.period_seconds', r -> 'period_seconds', 0.001, 86400, false);
    v_burst := case when r ? 'burst' then orchestrator.flow_number('rate.burst', r -> 'burst', 1, 100000) else 1 end;
    out := out || jsonb_build_object(
      'rate_key', orchestrator.flow_key('rate.key', r -> 'key', p_payload),
      'rate_interval', v_period / v_limit,
      'rate_tolerance', (v_period / v_limit) * (v_burst - 1));
  end if;
  r := orchestrator.flow_object('debounce', o -> 'debounce', array['key', 'seconds'], array['key', 'seconds']);
  if r is not null then
    out := out || jsonb_build_object(
      'debounce_key', orchestrator.flow_key('debounce.key', r -> 'key', p_payload),
      'debounce_seconds', orchestrator.flow_number('debounce.seconds', r -> 'seconds', 0.001, 86400, false));
  end if;
  r := orchestrator.flow_object('throttle', o -> 'throttle', array['key', 'seconds', 'mode'], array['key', 'seconds']);
  if r is not null then
    v_mode := coalesce(r ->> 'mode', 'drop');
    if v_mode not in ('drop', 'coalesce') then
      raise exception using errcode = '22023', message = format('throttle.mode must be "drop" or "coalesce", got %s', r -> 'mode');
    end if;
    out := out || jsonb_build_object(
      'throttle_key', orchestrator.flow_key('throttle.key', r -> 'key', p_payload),
      'throttle_seconds', orchestrator.flow_number('throttle.seconds', r -> 'seconds', 0.001, 86400, false),
      'throttle_mode', v_mode);
  end if;
  if out ? 'debounce_key' and out ? 'throttle_key' then
    raise exception using errcode = '22023', message = 'debounce and throttle: choose one (debounce runs the last enqueue after a quiet window, throttle the first of each window)';
  end if;
  if (out ? 'debounce_key' or out ? 'throttle_key') and coalesce(p_opts ->> 'dedupe_key', '') <> '' then
    raise exception using errcode = '22023', message = 'dedupe_key cannot be combined with debounce or throttle (each already keeps one task per key)';
  end if;
  if o ? 'group' and jsonb_typeof(o -> 'group') <> 'null' then
    out := out || jsonb_build_object('group_key', orchestrator.flow_key('group', o -> 'group', p_payload));
  end if;
  r := orchestrator.flow_object('cancel_on', o -> 'cancel_on', array['source', 'type', 'match'], array['source', 'type']);
  if r is not null then
    if jsonb_typeof(r -> 'source') <> 'string' or jsonb_typeof(r -> 'type') <> 'string' then
      raise exception using errcode = '22023', message = 'cancel_on.source and cancel_on.type must be strings (an event''s source and type)';
    end if;
    if r ? 'match' and jsonb_typeof(r -> 'match') <> 'object' then
      raise exception using errcode = '22023', message = 'cancel_on.match must be an object the event''s payload contains';
    end if;
    declare
      m record;
    begin
      select * into m from orchestrator.render_template(coalesce(r -> 'match', '{}'::jsonb), jsonb_build_object('payload', coalesce(p_payload, '{}'::jsonb)));
      if cardinality(m.missing) > 0 then
        raise exception using errcode = '22023', message = format('cancel_on.match: %s has no value in this task''s payload', array_to_string(m.missing, ', '));
      end if;
      out := out || jsonb_build_object('cancel_on', jsonb_build_object('source', r ->> 'source', 'type', r ->> 'type', 'match', m.value));
    end;
  end if;
  return out;
end
$$;

--
-- Name: flow_unpark(text, integer); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.flow_unpark(p_key text, p_count integer DEFAULT 1) RETURNS integer
    LANGUAGE plpgsql
    AS $$
declare
  n integer;
begin
  -- Shared: ends never wait for each other; a claimer deciding this key (exclusive) is waited for, so
  -- a task it parks is seen here.
  perform pg_advisory_xact_lock_shared(1718382881, hashtext(p_key));
  update orchestrator.tasks t set parked_on = null, updated_at = now()
   where t.id in (select id from orchestrator.tasks
                   where status = 'queued' and parked_on = p_key
                   order by priority desc, run_at, id
                   limit p_count
                   for update skip locked);
  get diagnostics n = row_count;
  if n > 0 then
    perform pg_notify('orchestrator_task_ready', '');
  end if;
  return n;
end
$$;

--
-- Name: flow_unpark_all(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.flow_unpark_all() RETURNS integer
    LANGUAGE plpgsql
    AS $$
declare
  r record;
  n integer := 0;
  v_running integer;
  v_limit integer;
begin
  for r in select distinct parked_on from orchestrator.tasks where status = 'queued' and parked_on is not null loop
    if r.parked_on like 'key:%' then
      select count(*) into v_running from orchestrator.tasks
       where status = 'running' and concurrency_key = substr(r.parked_on, 5);
      select max(concurrency_limit) into v_limit from orchestrator.tasks
       where status = 'queued' and parked_on = r.parked_on;
    else
      select count(*) into v_running from orchestrator.tasks
       where status = 'running' and type = substr(r.parked_on, 6) and type_concurrency_limit is not null;
      select max(type_concurrency_limit) into v_limit from orchestrator.tasks
       where status = 'queued' and parked_on = r.parked_on;
    end if;
    if v_running < coalesce(v_limit, 1) then
      n := n + orchestrator.flow_unpark(r.parked_on, v_limit - v_running);
    end if;
  end loop;
  return n;
end
$$;

--
-- Name: glob_to_like(text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.glob_to_like(p_glob text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
  select replace(replace(replace(replace(replace(p_glob, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%'), '?', '_')
$$;

--
-- Name: hand_off(text, text[], text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.hand_off(p_isolate text, p_types text[] DEFAULT NULL::text[], p_reason text DEFAULT 'handoff'::text) RETURNS text
    LANGUAGE plpgsql
    AS $$
begin
  if not exists (select 1 from orchestrator.tasks
                 where status = 'queued' and run_at <= now() and (p_types is null or type = any(p_types))) then
    return 'none';
  end if;
  if orchestrator.other_worker_listening(p_isolate) then
    perform pg_notify('orchestrator_task_ready', '');
    return 'notified';
  end if;
  return case when orchestrator.wake_worker(p_reason) is null then 'none' else 'woken' end;
end
$$;

--
-- Name: is_jwt(text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.is_jwt(p_key text) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $_$
  select p_key ~ '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$'
$_$;

--
-- Name: is_secret_name(text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.is_secret_name(p_name text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $_$
  select coalesce(p_name, '') ~* '(pass(word|wd|phrase)|secret|token|api[_-]?key|apikey|private[_-]?key|access[_-]?key|credential|authorization|cookie|session[_-]?id|(^|[_-])(salt|otp|pin|ssn|cvv|jwt)([_-]|$))'
$_$;

--
-- Name: isolate_terminated(text, text, text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.isolate_terminated(p_execution_id text, p_reason text, p_detail text DEFAULT NULL::text) RETURNS TABLE(id bigint, status orchestrator.task_status, attempt_counted boolean)
    LANGUAGE plpgsql
    AS $$
#variable_conflict use_column
declare
  v_wake boolean := false;
  v_why text := p_reason || coalesce(' (' || p_detail || ')', '');
begin
  if p_execution_id is null or p_execution_id = '' or p_reason is null or p_reason = '' then
    raise exception using errcode = '22023',
      message = 'isolate_terminated needs the execution id of the terminated isolate and the shutdown reason';
  end if;
  for id, status, attempt_counted in
    with held as (
      select t.id, t.suspect from orchestrator.tasks t
       where t.status = 'running' and orchestrator.lease_isolate(t.locked_by) = p_execution_id
       for update
    ), held_count as (
      select count(*)::integer as n from held
    ), judged as (
      select h.id, (c.n = 1 or h.suspect) as counted, h.suspect, c.n from held h, held_count c
    )
    update orchestrator.tasks t
       set status = case when j.counted and t.attempts >= t.max_attempts
                         then 'dead'::orchestrator.task_status else 'queued'::orchestrator.task_status end,
           attempts = case when j.counted then t.attempts else t.attempts - 1 end,
           run_at = case when not j.counted then now()
                         when t.attempts < t.max_attempts then now() + orchestrator.retry_delay(t.attempts, t.backoff_base_seconds)
                         else t.run_at end,
           finished_at = case when j.counted and t.attempts >= t.max_attempts then now() end,
           last_error = case when j.counted
             then format('isolate terminated: %s, during attempt %s of %s, as the only %s there: this task caused it',
                         v_why, t.attempts, t.max_attempts, case when j.suspect then 'suspect' else 'task' end)
             else format('isolate terminated: %s, while this task ran beside %s other task(s); attempt %s not counted, it runs as a suspect next',
                         v_why, j.n - 1, t.attempts) end,
           suspect = true,
           locked_by = null, locked_until = null, lease_token = null, updated_at = now()
      from judged j
     where t.id = j.id
    returning t.id, t.status, j.counted
  loop
    v_wake := v_wake or (status = 'queued' and not attempt_counted);
    return next;
  end loop;
  if v_wake then
    perform orchestrator.wake_worker('isolate_terminated');
  end if;
end
$$;

--
-- Name: lease_isolate(text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.lease_isolate(p_locked_by text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
  select case when p_locked_by like 'edge:%/%' then split_part(substr(p_locked_by, 6), '/', 1) end
$$;

--
-- Name: lower_collapsed(text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.lower_collapsed(p_text text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
  select case when strpos(p_text, '  ') > 0 or strpos(p_text, E'\t') > 0 or strpos(p_text, E'\n') > 0 or strpos(p_text, E'\r') > 0
              then regexp_replace(lower(p_text), '[[:space:]]+', ' ', 'g') else lower(p_text) end
$$;

--
-- Name: metrics_flow_control(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.metrics_flow_control() RETURNS TABLE(metric text, labels jsonb, value double precision)
    LANGUAGE sql STABLE
    AS $$
  -- How far ahead of now a bucket's theoretical arrival time is: the wait a new request has (0 = free).
  select 'orchestrator_rate_limit_backlog_seconds', jsonb_build_object('bucket', r.bucket),
         greatest(extract(epoch from r.tat - now()), 0)::float8
  from orchestrator.rate_limits r
  union all
  select 'orchestrator_rate_limit_granted_total', jsonb_build_object('bucket', r.bucket), r.granted::float8
  from orchestrator.rate_limits r
  union all
  -- Flow control's concurrency keys (20261203001000_flow_control.sql; the AI cap is the key "ai"):
  -- running and parked tasks, and the limit, per key with either. A type's limit is the key "type:<type>".
  select m.metric, jsonb_build_object('key', k.key), m.value
  from (
    select coalesce(r.key, p.key) as key, coalesce(r.running, 0) as running, coalesce(p.parked, 0) as parked,
           coalesce(r.lim, p.lim) as lim
    from (select 'key:' || concurrency_key as key, count(*) as running, max(concurrency_limit) as lim
            from orchestrator.tasks where status = 'running' and concurrency_key is not null group by 1
          union all
          select 'type:' || type, count(*), max(type_concurrency_limit)
            from orchestrator.tasks where status = 'running' and type_concurrency_limit is not null group by 1) r
    full join (select parked_on as key, count(*) as parked,
                      max(case when parked_on like 'key:%' then concurrency_limit else type_concurrency_limit end) as lim
                 from orchestrator.tasks where status = 'queued' and parked_on is not null group by 1) p on p.key = r.key
  ) k
  cross join lateral (values ('orchestrator_concurrency_running', k.running::float8),
                             ('orchestrator_concurrency_parked', k.parked::float8),
                             ('orchestrator_concurrency_limit', k.lim::float8)) as m(metric, value)
$$;

--
-- Name: metrics_snapshot(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.metrics_snapshot() RETURNS TABLE(metric text, labels jsonb, value double precision)
    LANGUAGE sql STABLE
    AS $$
  with by_type_status as (
    select t.type, t.status::text as status, count(*) as n,
           sum(case when t.status = 'queued' then t.attempts else greatest(t.attempts - 1, 0) end) as retries,
           min(t.run_at) filter (where t.status = 'queued' and t.run_at <= now()) as oldest_runnable
    from orchestrator.tasks t
    group by t.type, t.status
  ), durations as (
    select t.type, t.status::text as outcome, extract(epoch from t.finished_at - t.started_at)::float8 as s
    from orchestrator.tasks t
    where t.status in ('succeeded', 'dead', 'cancelled') and t.started_at is not null and t.finished_at >= t.started_at
  ), bounds as (
    select le::text as le, le::float8 as bound
    from unnest(array['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '30', '60', '300']) as le
  ), edge as (
    select l.context ->> 'event' as event, l.context ->> 'reason' as reason, count(*) as n
    from orchestrator.logs l
    where l.component = 'edge-runtime' and l.context ? 'reason' and l.context ->> 'event' in ('shutdown', 'retire')
    group by 1, 2
  )
  select 'orchestrator_tasks', jsonb_build_object('type', b.type, 'status', b.status), b.n::float8 from by_type_status b
  union all
  select 'orchestrator_queue_oldest_age_seconds', jsonb_build_object('type', b.type),
         greatest(extract(epoch from now() - b.oldest_runnable), 0)::float8
  from by_type_status b where b.oldest_runnable is not null
  union all
  select 'orchestrator_task_retries_total', jsonb_build_object('type', b.type), sum(b.retries)::float8
  from by_type_status b group by b.type
  union all
  select 'orchestrator_tasks_dead_total', jsonb_build_object('type', b.type), b.n::float8
  from by_type_status b where b.status = 'dead'
  union all
  select 'orchestrator_task_duration_seconds_bucket', jsonb_build_object('type', d.type, 'outcome', d.outcome, 'le', k.le),
         count(*) filter (where d.s <= k.bound)::float8
  from durations d cross join bounds k group by d.type, d.outcome, k.le
  union all
  select 'orchestrator_task_duration_seconds_bucket', jsonb_build_object('type', d.type, 'outcome', d.outcome, 'le', '+Inf'), count(*)::float8
  from durations d group by d.type, d.outcome
  union all
  select 'orchestrator_task_duration_seconds_sum', jsonb_build_object('type', d.type, 'outcome', d.outcome), sum(d.s)
  from durations d group by d.type, d.outcome
  union all
  select 'orchestrator_task_duration_seconds_count', jsonb_build_object('type', d.type, 'outcome', d.outcome), count(*)::float8
  from durations d group by d.type, d.outcome
  union all
  -- task-worker invocations through pg_net (wake-ups on insert, hand-offs, sweeps), by reason, over
  -- the 10 minutes orchestrator.wakeup_requests keeps them.
  select 'orchestrator_worker_invocations_recent', jsonb_build_object('reason', w.reason), count(*)::float8
  from orchestrator.wakeup_requests w group by w.reason
  union all
  -- User workers the runtime stopped, by reason (CPUTime, WallClockTime, Memory: limit terminations;
  -- others are ordinary ends), and isolates retired at their soft limit, over the rows logs retention keeps.
  select 'orchestrator_worker_terminations_total', jsonb_build_object('reason', e.reason), e.n::float8
  from edge e where e.event = 'shutdown'
  union all
  select 'orchestrator_worker_retirements_total', jsonb_build_object('reason', e.reason), e.n::float8
  from edge e where e.event = 'retire'
  union all
  select 'orchestrator_workers_listening', '{}'::jsonb,
         (select count(*) from orchestrator.worker_presence p where p.until > now())::float8
  union all
  select 'orchestrator_pg_net_queue_depth', '{}'::jsonb, (select count(*) from net.http_request_queue)::float8
  union all
  select 'orchestrator_schedule_enabled', jsonb_build_object('schedule', s.name), (case when s.enabled then 1 else 0 end)::float8
  from orchestrator.schedules s
  union all
  select 'orchestrator_schedule_last_tick_timestamp_seconds', jsonb_build_object('schedule', s.name), extract(epoch from max(r.tick))::float8
  from orchestrator.schedules s join orchestrator.schedule_runs r on r.schedule_id = s.id group by s.name
  union all
  select f.metric, f.labels, f.value from orchestrator.metrics_flow_control() f
$$;

--
-- Name: FUNCTION metrics_snapshot(); Type: COMMENT; Schema: orchestrator; Owner: -
--

COMMENT ON FUNCTION orchestrator.metrics_snapshot() IS 'GET /metrics: every metric as (metric, labels, value) rows, from one statement (one snapshot).';

--
-- Name: new_trace_id(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.new_trace_id() RETURNS text
    LANGUAGE sql PARALLEL SAFE
    AS $$
  select replace(gen_random_uuid()::text, '-', '')
$$;

--
-- Name: next_sweep_in(double precision); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.next_sweep_in(p_max_seconds double precision DEFAULT 10) RETURNS double precision
    LANGUAGE sql STABLE
    AS $$
  select greatest(0, least(p_max_seconds,
    extract(epoch from (select min(locked_until) from orchestrator.tasks where status = 'running') - now())::float8))
$$;

--
-- Name: normalize_message(text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.normalize_message(p_message text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
  select btrim(case
    when p_message is null then ''
    when p_message !~ '[0-9]' then orchestrator.lower_collapsed(p_message)
    else regexp_replace(
      regexp_replace(
        case when strpos(p_message, '-') = 0 and strpos(p_message, ':') = 0 then orchestrator.lower_collapsed(p_message)
             else regexp_replace(
                    regexp_replace(orchestrator.lower_collapsed(p_message),
                      -- 2026-11-24, 2026-11-24T01:02:03.456Z, 2026-11-24 01:02:03+00, 01:02:03(.456)
                      '\d{4}-\d\d-\d\d([t ]\d[0-9:.]*(z|[+-][0-9:]+)?)?|\d?\d:\d\d:\d\d[0-9.]*', '<ts>', 'g'),
                    '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g')
        end,
        '0x[0-9a-f]+|(^|[^0-9a-z])[0-9a-f]*([0-9][a-f]|[a-f][0-9])[0-9a-f]*(?![0-9a-z])', '\1<hex>', 'g'),
      '[0-9]+', '<n>', 'g')
  end)
$$;

--
-- Name: notion_cron_tick(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.notion_cron_tick() RETURNS bigint
    LANGUAGE plpgsql
    AS $$
declare
  v_id bigint;
begin
  if not orchestrator.notion_sync_enabled() then
    return null;
  end if;
  select (r.task).id into v_id
  from orchestrator.enqueue('notion.pull', '{}'::jsonb, jsonb_build_object(
    'dedupe_key', 'notion.pull:' || to_char(date_trunc('minute', now() at time zone 'UTC'), 'YYYY-MM-DD"T"HH24:MI'),
    'source', 'cron', 'max_attempts', 3, 'priority', -5)) r;
  return v_id;
end
$$;

--
-- Name: notion_enqueue_pushes(text, text[]); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.notion_enqueue_pushes(p_entity text, p_keys text[]) RETURNS integer
    LANGUAGE plpgsql
    AS $_$
declare
  v_count integer;
begin
  insert into orchestrator.tasks (type, payload, priority, max_attempts, backoff_base_seconds, dedupe_key, source, trace_id)
  select 'notion.push', jsonb_build_object('entity', p_entity, 'key', k), -10, 8, 5,
         case when exists (select 1 from orchestrator.tasks t
                           where t.dedupe_key = format('notion.push:%s:%s', p_entity, k) and t.status = 'running')
              then format('notion.push:%s:%s:next', p_entity, k)
              else format('notion.push:%s:%s', p_entity, k) end,
         'notion-sync',
         coalesce(orchestrator.current_trace_id(),
                  case p_entity
                    when 'ticket' then (select tk.trace_id from orchestrator.tickets tk where tk.id = case when k ~ '^[0-9]{1,18}$' then k::bigint end)
                    when 'task' then (select t.trace_id from orchestrator.tasks t where t.id = case when k ~ '^[0-9]{1,18}$' then k::bigint end)
                  end,
                  orchestrator.new_trace_id())
  from (select distinct k from unnest(p_keys) k where k is not null) x
  on conflict (dedupe_key) where dedupe_key is not null and status in ('queued', 'running') do nothing;
  get diagnostics v_count = row_count;
  return v_count;
end
$_$;

--
-- Name: notion_note_field_changes(text, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.notion_note_field_changes(p_entity text, p_changes jsonb) RETURNS void
    LANGUAGE sql
    AS $$
  -- p_changes: [{key, fields: [...]}]
  update orchestrator.notion_pages p
     set field_times = p.field_times || (select jsonb_object_agg(f, to_jsonb(clock_timestamp()))
                                           from jsonb_array_elements_text(c.value -> 'fields') f),
         updated_at = now()
    from jsonb_array_elements(p_changes) c
   where p.entity = p_entity and p.row_key = c.value ->> 'key'
     and jsonb_array_length(c.value -> 'fields') > 0
$$;

--
-- Name: notion_on_changes(text, text, anyarray, anyarray); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.notion_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  v_changes jsonb; -- [{key, fields: [the fields that changed]}]
begin
  if current_setting('orchestrator.sync_origin', true) = 'notion' or not orchestrator.notion_sync_enabled()
     or (p_entity = 'task' and not exists (select 1 from orchestrator.notion_tracked_task_types)) then
    return;
  end if;
  -- One statement per entity: PL/pgSQL plans a statement when it first runs it, for the row type at
  -- hand, so a statement may name only columns its entity has.
  if p_op = 'INSERT' and p_entity = 'task' then
    perform orchestrator.notion_enqueue_pushes(p_entity, array(select n.id::text from unnest(p_new) n
                                                               where n.type in (select type from orchestrator.notion_tracked_task_types)));
    return;
  elsif p_op = 'INSERT' and p_entity = 'ticket' then
    perform orchestrator.notion_enqueue_pushes(p_entity, array(select n.id::text from unnest(p_new) n));
    return;
  elsif p_op = 'INSERT' and p_entity = 'sop' then
    perform orchestrator.notion_enqueue_pushes(p_entity, array(select n.slug from unnest(p_new) n));
    return;
  end if;
  -- The fields each entity's page shows: a ticket's title, status and priority; a task's status and priority.
  if p_entity = 'ticket' then
    select jsonb_agg(jsonb_build_object('key', n.id::text, 'fields', to_jsonb(array_remove(array[
             case when n.title is distinct from o.title then 'title' end,
             case when n.status is distinct from o.status then 'status' end,
             case when n.priority is distinct from o.priority then 'priority' end], null))))
      into v_changes
      from unnest(p_new) n join unnest(p_old) o on o.id = n.id
     where n.title is distinct from o.title or n.status is distinct from o.status or n.priority is distinct from o.priority;
  elsif p_entity = 'task' then
    select jsonb_agg(jsonb_build_object('key', n.id::text, 'fields', to_jsonb(array_remove(array[
             case when n.status is distinct from o.status then 'status' end,
             case when n.priority is distinct from o.priority then 'priority' end], null))))
      into v_changes
      from unnest(p_new) n join unnest(p_old) o on o.id = n.id
     where n.type in (select type from orchestrator.notion_tracked_task_types)
       and (n.status is distinct from o.status or n.priority is distinct from o.priority);
  end if;
  if v_changes is null then
    return;
  end if;
  perform orchestrator.notion_note_field_changes(p_entity, v_changes);
  perform orchestrator.notion_enqueue_pushes(p_entity, array(select c ->> 'key' from jsonb_array_elements(v_changes) c));
end
$$;

--
-- Name: notion_push_target(text, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.notion_push_target(p_dedupe_key text, p_payload jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $_$
  select coalesce(regexp_replace(p_dedupe_key, ':next$', ''),
                  'notion.push:' || coalesce(p_payload ->> 'entity', p_payload ->> 'kind') || ':' || coalesce(p_payload ->> 'key', p_payload ->> 'id'))
$_$;

--
-- Name: notion_repush_dead(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.notion_repush_dead() RETURNS TABLE(requeued integer, coalesced integer, task_ids bigint[])
    LANGUAGE plpgsql
    AS $$
declare
  v_requeued bigint[];
  v_coalesced integer;
begin
  -- One statement: every part sees the same dead and live pushes.
  with dead as (
    select t.id, orchestrator.notion_push_target(t.dedupe_key, t.payload) as target,
           row_number() over (partition by orchestrator.notion_push_target(t.dedupe_key, t.payload) order by t.id desc) as rn
    from orchestrator.tasks t where t.type = 'notion.push' and t.status = 'dead'
  ), plan as (
    select d.*, (select l.id from orchestrator.tasks l
                  where l.type = 'notion.push' and l.status in ('queued', 'running')
                    and l.dedupe_key in (d.target, d.target || ':next')
                  order by l.id limit 1) as live_id
    from dead d
  ), bring_forward as (
    -- Covered rows: their queued push runs now.
    update orchestrator.tasks t set run_at = now(), updated_at = now()
     where t.id in (select live_id from plan where live_id is not null) and t.status = 'queued' and t.run_at > now()
    returning t.id
  ), requeue as (
    update orchestrator.tasks t
       set status = 'queued', attempts = 0, run_at = now(), finished_at = null, result = null,
           dedupe_key = case when t.dedupe_key is null then null else p.target end, updated_at = now()
      from plan p
     where t.id = p.id and p.rn = 1 and p.live_id is null
    returning t.id
  ), cancel as (
    update orchestrator.tasks t
       set status = 'cancelled', updated_at = now(),
           result = jsonb_build_object('coalesced_into',
             coalesce(p.live_id, (select w.id from plan w where w.target = p.target and w.rn = 1)))
      from plan p
     where t.id = p.id and (p.rn > 1 or p.live_id is not null)
    returning t.id
  )
  select (select coalesce(array_agg(id order by id), '{}') from requeue), (select count(*)::int from cancel)
    into v_requeued, v_coalesced;
  if cardinality(v_requeued) > 0 then
    perform orchestrator.wake_worker('notion.repush');
  end if;
  return query select cardinality(v_requeued), v_coalesced, v_requeued;
end
$$;

--
-- Name: notion_sync_enabled(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.notion_sync_enabled() RETURNS boolean
    LANGUAGE sql STABLE
    AS $$
  select exists (select 1 from orchestrator.sync_state where enabled)
$$;

--
-- Name: notion_verification_clear(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.notion_verification_clear() RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_n integer;
begin
  update orchestrator.notion_webhook_verification
     set open_until = null, replace_allowed = false, token_received_at = null, updated_at = now()
   where singleton;
  delete from vault.secrets where name = 'notion_webhook_verification_token';
  get diagnostics v_n = row_count;
  update orchestrator.sync_state set webhook_token_received_at = null, updated_at = now() where webhook_token_received_at is not null;
  return v_n > 0;
end
$$;

--
-- Name: notion_verification_offer(text, text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.notion_verification_offer(p_token text, p_database_id text DEFAULT NULL::text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_row orchestrator.notion_webhook_verification;
  v_id uuid;
begin
  if p_token is null or length(p_token) not between 8 and 500 then
    raise exception using errcode = '22023', message = 'verification token has an unexpected length';
  end if;
  -- Cheap refusal first, without a lock: the usual case for an attacker.
  if not exists (select 1 from orchestrator.notion_webhook_verification where singleton and open_until > now()) then
    return 'closed';
  end if;
  select * into v_row from orchestrator.notion_webhook_verification where singleton for update;
  if v_row.open_until is null or v_row.open_until <= now() then
    return 'closed'; -- another offer took the window meanwhile
  end if;
  select id into v_id from vault.secrets where name = 'notion_webhook_verification_token';
  if v_id is not null and not v_row.replace_allowed then
    return 'token_stored';
  end if;
  if v_id is null then
    perform vault.create_secret(p_token, 'notion_webhook_verification_token',
      'Notion webhook verification token: paste it into Notion''s Verify dialog and set NOTION_WEBHOOK_SECRET to it');
  else
    perform vault.update_secret(v_id, p_token);
  end if;
  -- One token per window: the first closes it.
  update orchestrator.notion_webhook_verification
     set open_until = null, replace_allowed = false, token_received_at = now(), updated_at = now()
   where singleton;
  if p_database_id is not null then
    insert into orchestrator.sync_state (database_id, webhook_token_received_at) values (p_database_id, now())
    on conflict (database_id) do update set webhook_token_received_at = now(), updated_at = now();
  end if;
  return 'stored';
end
$$;

--
-- Name: notion_verification_open(integer, boolean); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.notion_verification_open(p_seconds integer, p_replace boolean DEFAULT false) RETURNS TABLE(outcome text, open_until timestamp with time zone, token_received_at timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_stored boolean;
  v_row orchestrator.notion_webhook_verification;
begin
  if p_seconds is null or p_seconds not between 10 and 3600 then
    raise exception using errcode = '22023', message = format('open_for_seconds must be 10..3600, got %s', p_seconds);
  end if;
  select * into v_row from orchestrator.notion_webhook_verification where singleton for update;
  v_stored := exists (select 1 from vault.secrets where name = 'notion_webhook_verification_token');
  if v_stored and not coalesce(p_replace, false) then
    return query select 'token_stored'::text, v_row.open_until, v_row.token_received_at;
    return;
  end if;
  update orchestrator.notion_webhook_verification v
     set open_until = now() + make_interval(secs => p_seconds), opened_at = now(),
         replace_allowed = coalesce(p_replace, false), updated_at = now()
   where v.singleton
  returning * into v_row;
  return query select 'opened'::text, v_row.open_until, v_row.token_received_at;
end
$$;

--
-- Name: notion_verification_state(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.notion_verification_state() RETURNS TABLE(window_open_until timestamp with time zone, replace_allowed boolean, token_stored boolean, token_received_at timestamp with time zone)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select case when v.open_until > now() then v.open_until end, v.replace_allowed,
         exists (select 1 from vault.secrets where name = 'notion_webhook_verification_token'), v.token_received_at
  from orchestrator.notion_webhook_verification v where v.singleton
$$;

--
-- Name: open_ticket(bigint, text, orchestrator.ticket_priority, bigint); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.open_ticket(p_event_id bigint, p_title text DEFAULT NULL::text, p_priority orchestrator.ticket_priority DEFAULT NULL::orchestrator.ticket_priority, p_task_id bigint DEFAULT NULL::bigint) RETURNS TABLE(ticket_id bigint, created boolean, reopened boolean, attached integer, occurrences bigint, status text)
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: other_worker_listening(text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.other_worker_listening(p_isolate text) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$
  select exists (select 1 from orchestrator.worker_presence where isolate <> p_isolate and until > now())
$$;

--
-- Name: presence_end(text, text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.presence_end(p_isolate text, p_reason text DEFAULT 'presence_end'::text) RETURNS boolean
    LANGUAGE plpgsql
    AS $$
begin
  delete from orchestrator.worker_presence where isolate = p_isolate;
  -- A new statement, a new snapshot: it sees every insert that held the row.
  return orchestrator.hand_off(p_isolate, null, p_reason) <> 'none';
end
$$;

--
-- Name: presence_renew(text, numeric); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.presence_renew(p_isolate text, p_seconds numeric DEFAULT 3) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  v_new boolean;
begin
  insert into orchestrator.worker_presence (isolate, until)
  values (p_isolate, now() + make_interval(secs => least(greatest(p_seconds, 0.5), 30)))
  on conflict (isolate) do update set until = excluded.until
  returning xmax = 0 into v_new;
  if v_new then
    perform pg_notify('orchestrator_worker_present', p_isolate);
  end if;
end
$$;

--
-- Name: propagate_changes(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.propagate_changes() RETURNS trigger
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'auto'
    SET enable_seqscan TO 'on'
    SET enable_bitmapscan TO 'on'
    SET enable_sort TO 'on'
    AS $_$
begin
  if tg_level = 'ROW' then
    perform orchestrator.propagate_to(tg_argv[0], tg_argv[1:], tg_op, array[new], case when tg_op = 'UPDATE' then array[old] end);
  elsif tg_op in ('INSERT', 'UPDATE') then
    -- A transition table's rows have no named type: ROW(n.*)::<the table> gives them the table's,
    -- which the polymorphic consumers need. The table is the trigger's, so the statement is dynamic
    -- (planned once per statement that changed rows, not per row).
    execute format('select orchestrator.propagate_to($1, $2, $3, array(select row(n.*)::%1$s from new_rows n), %2$s)',
                   tg_relid::regclass,
                   case when tg_op = 'UPDATE' then format('array(select row(o.*)::%s from old_rows o)', tg_relid::regclass)
                        else format('null::%s[]', tg_relid::regclass) end)
      using tg_argv[0], tg_argv[1:], tg_op;
  else
    raise exception 'propagate_changes(): % triggers are not supported (trigger % on %)', tg_op, tg_name, tg_table_name;
  end if;
  return null;
end
$_$;

--
-- Name: FUNCTION propagate_changes(); Type: COMMENT; Schema: orchestrator; Owner: -
--

COMMENT ON FUNCTION orchestrator.propagate_changes() IS 'The one trigger function for changes other parts hear about: hands the changed rows (new, old) to the consumers its trigger names: propagate_changes(entity, consumer, …). See 20261202001100_one_change_path.sql.';

--
-- Name: propagate_to(text, text[], text, anyarray, anyarray); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.propagate_to(p_entity text, p_consumers text[], p_op text, p_new anyarray, p_old anyarray) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  v_consumer text;
begin
  if coalesce(cardinality(p_new), 0) = 0 then
    return;
  end if;
  foreach v_consumer in array p_consumers loop
    case v_consumer
      when 'notion' then perform orchestrator.notion_on_changes(p_entity, p_op, p_new, p_old);
      when 'webhooks' then perform orchestrator.webhook_on_changes(p_entity, p_op, p_new, p_old);
      when 'events' then perform orchestrator.events_on_changes(p_entity, p_op, p_new, p_old);
      when 'workflows' then perform orchestrator.workflow_on_changes(p_entity, p_op, p_new, p_old);
      when 'cancel_on' then perform orchestrator.tasks_cancel_on_events(p_entity, p_op, p_new, p_old);
      when 'flow' then perform orchestrator.flow_on_changes(p_entity, p_op, p_new, p_old);
      else raise exception 'propagate_changes(): unknown consumer "%" (entity %)', v_consumer, p_entity;
    end case;
  end loop;
end
$$;

--
-- Name: prune_events(jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.prune_events(p_opts jsonb DEFAULT '{}'::jsonb) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_days integer := greatest(1, coalesce((coalesce(p_opts, '{}'::jsonb) ->> 'events_days')::integer,
                                         (orchestrator.setting('retention.events_days') #>> '{}')::integer, 30));
  v_n bigint;
  v_fn text;
  v_dropped integer := 0;
begin
  delete from orchestrator.events where processed_at is not null and received_at < now() - make_interval(days => v_days);
  get diagnostics v_n = row_count;
  -- A dropped watched table takes its trigger with it but leaves its watcher row
  -- and capture function behind: forget both.
  for v_fn in
    delete from orchestrator.watchers w where not exists (select 1 from pg_class c where c.oid = w.relid)
    returning w.function_name
  loop
    execute format('drop function if exists orchestrator.%I()', v_fn);
    v_dropped := v_dropped + 1;
  end loop;
  return jsonb_build_object('events', jsonb_build_object('deleted', v_n, 'days', v_days),
                            'watchers_of_dropped_tables', jsonb_build_object('deleted', v_dropped));
end
$$;

--
-- Name: prune_history(jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.prune_history(p_opts jsonb DEFAULT '{}'::jsonb) RETURNS jsonb
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select orchestrator.prune_run_history(p_opts) || orchestrator.prune_events(p_opts)
$$;

--
-- Name: prune_run_history(jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.prune_run_history(p_opts jsonb DEFAULT '{}'::jsonb) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_opts jsonb := coalesce(p_opts, '{}'::jsonb);
  v_out jsonb := '{}'::jsonb;
  v_n bigint;
  v_days integer;
  function_start timestamptz := now();
begin
  v_days := greatest(1, coalesce((v_opts ->> 'tasks_days')::integer, (orchestrator.setting('retention.tasks_days') #>> '{}')::integer, 14));
  delete from orchestrator.tasks
   where status in ('succeeded', 'dead', 'cancelled') and finished_at < function_start - make_interval(days => v_days);
  get diagnostics v_n = row_count;
  v_out := v_out || jsonb_build_object('tasks', jsonb_build_object('deleted', v_n, 'days', v_days));

  v_days := greatest(1, coalesce((v_opts ->> 'logs_days')::integer, (orchestrator.setting('retention.logs_days') #>> '{}')::integer, 30));
  delete from orchestrator.logs where at < function_start - make_interval(days => v_days);
  get diagnostics v_n = row_count;
  v_out := v_out || jsonb_build_object('logs', jsonb_build_object('deleted', v_n, 'days', v_days));

  v_days := greatest(1, coalesce((v_opts ->> 'schedule_runs_days')::integer, (orchestrator.setting('retention.schedule_runs_days') #>> '{}')::integer, 30));
  delete from orchestrator.schedule_runs where created_at < function_start - make_interval(days => v_days);
  get diagnostics v_n = row_count;
  v_out := v_out || jsonb_build_object('schedule_runs', jsonb_build_object('deleted', v_n, 'days', v_days));

  v_days := greatest(1, coalesce((v_opts ->> 'workflow_runs_days')::integer, (orchestrator.setting('retention.workflow_runs_days') #>> '{}')::integer, 30));
  delete from orchestrator.workflow_runs
   where status <> 'running' and finished_at < function_start - make_interval(days => v_days);
  get diagnostics v_n = row_count;
  v_out := v_out || jsonb_build_object('workflow_runs', jsonb_build_object('deleted', v_n, 'days', v_days));

  v_days := greatest(1, coalesce((v_opts ->> 'cron_runs_days')::integer, (orchestrator.setting('retention.cron_runs_days') #>> '{}')::integer, 7));
  begin
    -- pg_cron keeps every run forever; Supabase recommends pruning it on a schedule.
    delete from cron.job_run_details where coalesce(end_time, start_time) < function_start - make_interval(days => v_days);
    get diagnostics v_n = row_count;
    v_out := v_out || jsonb_build_object('cron_runs', jsonb_build_object('deleted', v_n, 'days', v_days));
  exception when others then
    v_out := v_out || jsonb_build_object('cron_runs', jsonb_build_object('deleted', 0, 'days', v_days, 'error', sqlerrm));
  end;

  v_days := greatest(1, coalesce((v_opts ->> 'http_responses_hours')::integer, (orchestrator.setting('retention.http_responses_hours') #>> '{}')::integer, 6));
  begin
    if to_regclass('net._http_response') is not null then
      delete from net._http_response where created < function_start - make_interval(hours => v_days);
      get diagnostics v_n = row_count;
    else
      v_n := 0;
    end if;
    v_out := v_out || jsonb_build_object('http_responses', jsonb_build_object('deleted', v_n, 'hours', v_days));
  exception when others then
    v_out := v_out || jsonb_build_object('http_responses', jsonb_build_object('deleted', 0, 'hours', v_days, 'error', sqlerrm));
  end;
  return v_out;
end
$$;

--
-- Name: rate_limit_defer(text, double precision); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.rate_limit_defer(p_bucket text, p_seconds double precision) RETURNS void
    LANGUAGE sql
    AS $$
  insert into orchestrator.rate_limits (bucket, tat)
  values (p_bucket, clock_timestamp() + make_interval(secs => greatest(p_seconds, 0)))
  on conflict (bucket) do update
    set tat = greatest(orchestrator.rate_limits.tat, excluded.tat), updated_at = clock_timestamp()
$$;

--
-- Name: rate_limit_take(text, double precision, integer, double precision); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.rate_limit_take(p_bucket text, p_rate double precision, p_burst integer DEFAULT 1, p_max_wait_seconds double precision DEFAULT 60) RETURNS double precision
    LANGUAGE plpgsql
    AS $$
declare
  v_interval double precision;
  v_tolerance double precision;
  v_now timestamptz;
  v_tat timestamptz;
  v_due timestamptz;
  v_wait double precision;
begin
  if p_rate is null or p_rate <= 0 then
    raise exception using errcode = '22023', message = format('rate must be > 0, got %s', p_rate);
  end if;
  v_interval := 1.0 / p_rate;
  v_tolerance := v_interval * (greatest(coalesce(p_burst, 1), 1) - 1);
  insert into orchestrator.rate_limits (bucket, tat) values (p_bucket, clock_timestamp())
  on conflict (bucket) do nothing;
  select tat into v_tat from orchestrator.rate_limits where bucket = p_bucket for update;
  v_now := clock_timestamp();
  v_due := orchestrator.rate_take(p_bucket, v_tat, v_interval, v_tolerance, v_now);
  if v_due is null then
    return 0;
  end if;
  v_wait := extract(epoch from v_due - v_now);
  if v_wait > coalesce(p_max_wait_seconds, 60) then
    return -v_wait;
  end if;
  -- A caller that waits holds the slot it waits for.
  perform orchestrator.rate_take(p_bucket, v_tat, v_interval, v_tolerance, v_due);
  return v_wait;
end
$$;

--
-- Name: rate_take(text, timestamp with time zone, double precision, double precision, timestamp with time zone); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.rate_take(p_bucket text, p_tat timestamp with time zone, p_interval double precision, p_tolerance double precision, p_at timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE plpgsql
    AS $$
declare
  v_tat timestamptz := p_tat;
  v_due timestamptz;
begin
  v_due := v_tat - make_interval(secs => p_tolerance);
  if v_due <= p_at then
    update orchestrator.rate_limits
       set tat = greatest(v_tat, p_at) + make_interval(secs => p_interval), granted = granted + 1, updated_at = p_at
     where bucket = p_bucket;
    return null;
  end if;
  return v_due;
end
$$;

--
-- Name: reap(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.reap() RETURNS integer
    LANGUAGE sql
    AS $$
  with expired as (
    select id from orchestrator.tasks
    where status = 'running' and locked_until < now()
    for update skip locked
  ), moved as (
    update orchestrator.tasks t
       set status = case when t.attempts >= t.max_attempts
                         then 'dead'::orchestrator.task_status else 'queued'::orchestrator.task_status end,
           finished_at = case when t.attempts >= t.max_attempts then now() else null end,
           last_error = format('lease expired: worker %s did not finish attempt %s before %s. Its isolate was likely '
                               'terminated (CPUTime, WallClockTime or Memory in the function''s logs) or it lost the '
                               'database',
                               coalesce(t.locked_by, '?'), t.attempts, t.locked_until),
           run_at = now(),
           locked_by = null, locked_until = null, lease_token = null, updated_at = now()
      from expired
     where t.id = expired.id
    returning 1
  )
  select count(*)::integer from moved
$$;

--
-- Name: record_events(jsonb, text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.record_events(p_events jsonb, p_via text DEFAULT 'sql'::text) RETURNS SETOF orchestrator.events
    LANGUAGE sql
    AS $$
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

--
-- Name: release_tasks(bigint[], uuid[]); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.release_tasks(p_ids bigint[], p_lease_tokens uuid[]) RETURNS SETOF bigint
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
begin
  return query
  update orchestrator.tasks t
     set status = 'queued', attempts = greatest(t.attempts - 1, 0), started_at = null,
         locked_by = null, locked_until = null, lease_token = null, updated_at = now()
    from unnest(p_ids, p_lease_tokens) as d(id, token)
   where t.id = d.id and t.status::text = 'running' and t.lease_token = d.token
  returning t.id;
end
$$;

--
-- Name: render_template(jsonb, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.render_template(p_template jsonb, p_context jsonb, OUT value jsonb, OUT missing text[]) RETURNS record
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    AS $_$
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
        missing := missing || sub.missing;
        -- A whole-value placeholder with no value leaves its key out.
        continue when cardinality(sub.missing) > 0 and jsonb_typeof(v) = 'string'
          and (v #>> '{}') ~ '^\{\{\s*[A-Za-z0-9_.-]+\s*\}\}$';
        value := value || jsonb_build_object(k, sub.value);
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
$_$;

--
-- Name: retry(bigint); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.retry(p_id bigint) RETURNS SETOF orchestrator.tasks
    LANGUAGE plpgsql
    AS $$
begin
  return query
  update orchestrator.tasks
     set status = 'queued', attempts = 0, run_at = now(), finished_at = null, result = null,
         updated_at = now()
   where id = p_id and status in ('dead', 'cancelled')
  returning *;
  if found then
    perform orchestrator.wake_worker('retry');
  end if;
end
$$;

--
-- Name: retry_delay(integer, numeric); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.retry_delay(p_attempts integer, p_base_seconds numeric) RETURNS interval
    LANGUAGE sql
    AS $$
  select make_interval(secs => least(3600, p_base_seconds * power(2, greatest(p_attempts, 1) - 1))
                                * (0.5 + random() / 2))
$$;

--
-- Name: route_events(bigint[]); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.route_events(p_event_ids bigint[]) RETURNS integer
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: schedule_job_cron(text, text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.schedule_job_cron(p_cron text, p_timezone text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ select case when p_timezone = 'UTC' then p_cron else '* * * * *' end $$;

--
-- Name: schedule_job_name(text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.schedule_job_name(p_name text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ select 'orchestrator.schedule:' || p_name $$;

--
-- Name: schedule_next_fires(bigint, timestamp with time zone, integer); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.schedule_next_fires(p_schedule_id bigint, p_from timestamp with time zone DEFAULT now(), p_count integer DEFAULT 5) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
  select coalesce(jsonb_agg(jsonb_build_object(
           'utc', to_char(f.fire_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           'local', f.local_time) order by f.fire_at), '[]'::jsonb)
    from orchestrator.schedules s
    cross join lateral orchestrator.cron_fires(s.cron, s.timezone, p_from, p_count) f
   where s.id = p_schedule_id and s.enabled
$$;

--
-- Name: schedule_tick(bigint, timestamp with time zone, text, timestamp with time zone); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.schedule_tick(p_schedule_id bigint, p_tick timestamp with time zone DEFAULT NULL::timestamp with time zone, p_trigger text DEFAULT 'cron'::text, p_now timestamp with time zone DEFAULT now()) RETURNS bigint
    LANGUAGE plpgsql
    AS $$
declare
  v_s orchestrator.schedules;
  v_tick timestamptz;
  v_now timestamptz := date_trunc('minute', p_now);
  v_run_id bigint;
  v_task orchestrator.tasks;
  v_cron jsonb;
begin
  select * into v_s from orchestrator.schedules where id = p_schedule_id;
  if not found or (not v_s.enabled and p_trigger = 'cron') then
    return null;
  end if;
  if p_tick is not null then
    v_tick := case when p_trigger = 'manual' then p_tick else date_trunc('minute', p_tick) end;
  elsif v_s.timezone <> 'UTC' then
    select max(f.fire_at) into v_tick
      from orchestrator.cron_fires(v_s.cron, v_s.timezone,
             greatest(v_now - interval '10 minutes', date_trunc('minute', v_s.updated_at) - interval '1 minute'),
             100, v_now) f;
    if v_tick is null then
      return null;
    end if;
  else
    v_cron := orchestrator.cron_parse(v_s.cron);
    select m into v_tick
      from generate_series(v_now, v_now - interval '59 minutes', interval '-1 minute') m
     where orchestrator.cron_matches(v_cron, m)
     order by m desc limit 1;
    v_tick := coalesce(v_tick, v_now);
  end if;

  insert into orchestrator.schedule_runs (schedule_id, tick, trigger)
  values (v_s.id, v_tick, p_trigger)
  on conflict (schedule_id, tick) do nothing
  returning id into v_run_id;
  if v_run_id is null then
    -- A zoned schedule's later minutes find the fire they already made: not a second delivery of it.
    if p_tick is not null or v_s.timezone = 'UTC' or v_tick = v_now then
      update orchestrator.schedule_runs
         set duplicates = duplicates + 1, last_duplicate_at = clock_timestamp()
       where schedule_id = v_s.id and tick = v_tick;
    end if;
    return null;
  end if;

  select (e.task).* into v_task
  from orchestrator.enqueue(v_s.task_type, v_s.payload, jsonb_build_object(
    'dedupe_key', format('schedule:%s:%s%s', v_s.name, case when p_trigger = 'manual' then 'manual:' else '' end,
                         to_char(v_tick at time zone 'UTC', case when p_trigger = 'manual'
                                 then 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' else 'YYYY-MM-DD"T"HH24:MI"Z"' end)),
    'source', 'schedule:' || v_s.name,
    'priority', v_s.priority,
    'max_attempts', v_s.max_attempts)) e;
  update orchestrator.schedule_runs set task_id = v_task.id where id = v_run_id;
  return v_task.id;
end
$$;

--
-- Name: schedules_normalize(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.schedules_normalize() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
begin
  new.cron := orchestrator.cron_parse(new.cron) ->> 'expression';
  if tg_op = 'INSERT' or new.timezone is distinct from old.timezone then
    new.timezone := orchestrator.timezone_canonical(new.timezone);
  end if;
  if tg_op = 'UPDATE' then
    new.updated_at := now();
    new.created_at := old.created_at;
  end if;
  return new;
end
$$;

--
-- Name: schedules_sync_cron(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.schedules_sync_cron() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if tg_op in ('UPDATE', 'DELETE') and (tg_op = 'DELETE' or old.name <> new.name or not new.enabled) then
    perform cron.unschedule(j.jobid) from cron.job j
     where j.jobname = orchestrator.schedule_job_name(old.name) and j.username = current_user;
  end if;
  if tg_op in ('INSERT', 'UPDATE') and new.enabled
     and (tg_op = 'INSERT' or old.name <> new.name or old.cron <> new.cron or old.timezone <> new.timezone or not old.enabled) then
    perform cron.schedule(orchestrator.schedule_job_name(new.name), orchestrator.schedule_job_cron(new.cron, new.timezone),
                          format('select orchestrator.schedule_tick(%s)', new.id));
  end if;
  return null;
end
$$;

--
-- Name: set_task_type_flow(text, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.set_task_type_flow(p_type text, p_defaults jsonb) RETURNS jsonb
    LANGUAGE plpgsql
    AS $$
declare
  k text;
begin
  if p_defaults is null or p_defaults = '{}'::jsonb then
    delete from orchestrator.task_type_flow where type = p_type;
    update orchestrator.tasks set type_concurrency_limit = null where type = p_type and status = 'queued' and type_concurrency_limit is not null;
    return null;
  end if;
  if jsonb_typeof(p_defaults) <> 'object' then
    raise exception using errcode = '22023', message = 'a task type''s flow defaults must be a JSON object';
  end if;
  for k in select jsonb_object_keys(p_defaults) loop
    if k not in ('concurrency', 'type_concurrency_limit', 'rate', 'debounce', 'throttle', 'group', 'cancel_on') then
      raise exception using errcode = '22023', message = format('%s is not a flow-control field; use concurrency, type_concurrency_limit, rate, debounce, throttle, group, cancel_on', k);
    end if;
  end loop;
  insert into orchestrator.task_type_flow (type, defaults) values (p_type, p_defaults)
  on conflict (type) do update set defaults = excluded.defaults, updated_at = now();
  -- Validate now (keys with placeholders are checked against each task's payload at its enqueue).
  if p_defaults ? 'type_concurrency_limit' then
    perform orchestrator.flow_number('type_concurrency_limit', p_defaults -> 'type_concurrency_limit', 1, 10000);
  end if;
  -- The rest of the defaults, as an enqueue of a task with an empty payload would read them.
  perform orchestrator.flow_resolve(p_type, '{}'::jsonb, '{}'::jsonb)
   where not (p_defaults::text like '%{{%');
  update orchestrator.tasks set type_concurrency_limit = (p_defaults ->> 'type_concurrency_limit')::integer
   where type = p_type and status = 'queued'
     and type_concurrency_limit is distinct from (p_defaults ->> 'type_concurrency_limit')::integer;
  perform orchestrator.flow_unpark_all();
  return p_defaults;
end
$$;

--
-- Name: set_worker_endpoint(text, text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.set_worker_endpoint(p_project_url text, p_service_role_key text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_id uuid;
begin
  select id into v_id from vault.secrets where name = 'project_url';
  if v_id is null then
    perform vault.create_secret(p_project_url, 'project_url', 'Orchestrator: base URL for wake-ups');
  else
    perform vault.update_secret(v_id, p_project_url);
  end if;
  select id into v_id from vault.secrets where name = 'service_role_key';
  if v_id is null then
    perform vault.create_secret(p_service_role_key, 'service_role_key', 'Orchestrator: key for wake-ups');
  else
    perform vault.update_secret(v_id, p_service_role_key);
  end if;
end
$$;

--
-- Name: setting(text, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.setting(p_key text, p_default jsonb DEFAULT NULL::jsonb) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
  select coalesce((select value from orchestrator.settings where key = p_key), p_default)
$$;

--
-- Name: sops; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.sops (
    id bigint NOT NULL,
    slug text NOT NULL,
    version integer NOT NULL,
    title text NOT NULL,
    topic text NOT NULL,
    audience text,
    content jsonb NOT NULL,
    body_md text NOT NULL,
    generator text NOT NULL,
    source_task_id bigint,
    ticket_ids bigint[] DEFAULT '{}'::bigint[] NOT NULL,
    event_ids bigint[] DEFAULT '{}'::bigint[] NOT NULL,
    task_ids bigint[] DEFAULT '{}'::bigint[] NOT NULL,
    usage jsonb,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT sops_audience_check CHECK ((length(audience) <= 200)),
    CONSTRAINT sops_content_check CHECK ((jsonb_typeof(content) = 'object'::text)),
    CONSTRAINT sops_generator_check CHECK (((generator = 'template'::text) OR (generator ~ '^ai:.{1,200}$'::text))),
    CONSTRAINT sops_slug_check CHECK ((slug ~ '^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$'::text)),
    CONSTRAINT sops_title_check CHECK (((length(title) >= 1) AND (length(title) <= 300))),
    CONSTRAINT sops_topic_check CHECK (((length(topic) >= 1) AND (length(topic) <= 500))),
    CONSTRAINT sops_version_check CHECK ((version >= 1))
);

--
-- Name: sop_insert(text, text, jsonb, text, text, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.sop_insert(p_slug text, p_title text, p_content jsonb, p_body_md text, p_generator text, p_meta jsonb DEFAULT '{}'::jsonb, OUT sop orchestrator.sops, OUT created boolean) RETURNS record
    LANGUAGE plpgsql
    AS $$
declare
  v_meta jsonb := coalesce(p_meta, '{}'::jsonb);
  v_task bigint := (v_meta ->> 'source_task_id')::bigint;
begin
  if v_task is not null then
    select * into sop from orchestrator.sops where source_task_id = v_task;
    if found then
      created := false;
      return;
    end if;
  end if;
  perform pg_advisory_xact_lock(hashtextextended('orchestrator.sops:' || p_slug, 0));
  insert into orchestrator.sops (slug, version, title, topic, audience, content, body_md, generator,
                                 source_task_id, ticket_ids, event_ids, task_ids, usage)
  values (
    p_slug,
    coalesce((select max(version) from orchestrator.sops where slug = p_slug), 0) + 1,
    p_title,
    coalesce(v_meta ->> 'topic', p_title),
    v_meta ->> 'audience',
    p_content,
    p_body_md,
    p_generator,
    v_task,
    coalesce((select array_agg(x::bigint) from jsonb_array_elements_text(v_meta -> 'ticket_ids') x), '{}'),
    coalesce((select array_agg(x::bigint) from jsonb_array_elements_text(v_meta -> 'event_ids') x), '{}'),
    coalesce((select array_agg(x::bigint) from jsonb_array_elements_text(v_meta -> 'task_ids') x), '{}'),
    v_meta -> 'usage'
  )
  on conflict (source_task_id) where source_task_id is not null do nothing
  returning * into sop;
  if found then
    created := true;
    return;
  end if;
  -- Another delivery of the same task inserted first.
  select * into sop from orchestrator.sops where source_task_id = v_task;
  created := false;
end
$$;

--
-- Name: start_workflow_run(text, jsonb, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.start_workflow_run(p_name text, p_input jsonb DEFAULT '{}'::jsonb, p_opts jsonb DEFAULT '{}'::jsonb, OUT run orchestrator.workflow_runs, OUT created boolean) RETURNS record
    LANGUAGE plpgsql
    AS $$
declare
  v_wf orchestrator.workflows;
  v_opts jsonb := coalesce(p_opts, '{}'::jsonb);
  v_available text[];
  v_key text := v_opts ->> 'dedupe_key';
  v_missing text;
  v_unknown text;
  v_parent orchestrator.workflow_runs;
begin
  select * into v_wf from orchestrator.workflows where name = p_name;
  if not found then
    raise exception using errcode = 'P0002', message = format('workflow %L does not exist', p_name);
  end if;
  if not v_wf.enabled then
    raise exception using errcode = '55000', message = format('workflow %L is disabled', p_name);
  end if;
  if p_input is not null and jsonb_typeof(p_input) <> 'object' then
    raise exception using errcode = '22023', message = 'workflow input must be a JSON object';
  end if;
  if v_opts ? 'parent_run_id' then
    select * into v_parent from orchestrator.workflow_runs where id = (v_opts ->> 'parent_run_id')::bigint;
    if v_parent.depth >= 4 then
      raise exception using errcode = '22023', message = format('workflow %L would be nested more than 5 runs deep (run %s is at depth %s)', p_name, v_parent.id, v_parent.depth + 1);
    end if;
    v_available := v_parent.available_types;
  end if;
  if jsonb_typeof(v_opts -> 'available_types') = 'array' then
    v_available := array(select jsonb_array_elements_text(v_opts -> 'available_types'));
  end if;
  if v_available is not null then
    select string_agg(format('%s (%s)', s ->> 'name', s ->> 'type'), ', ') into v_missing
      from jsonb_array_elements(v_wf.steps) s
     where coalesce(s ->> 'kind', 'task') = 'task'
       and not coalesce((s ->> 'optional')::boolean, false) and not (s ->> 'type' = any (v_available));
    if v_missing is not null then
      raise exception using errcode = '22023',
        message = format('workflow %L cannot run here: required steps use task types this deployment does not register: %s', p_name, v_missing);
    end if;
  end if;
  select string_agg(format('%s -> %s', s ->> 'name', d), ', ') into v_unknown
    from jsonb_array_elements(v_wf.steps) s, jsonb_array_elements_text(coalesce(s -> 'after', '[]'::jsonb)) d
   where not exists (select 1 from jsonb_array_elements(v_wf.steps) x where x ->> 'name' = d);
  if v_unknown is not null then
    raise exception using errcode = '22023', message = format('workflow %L: unknown steps in after: %s', p_name, v_unknown);
  end if;

  loop
    insert into orchestrator.workflow_runs (workflow_id, workflow_name, workflow_version, input, source, dedupe_key,
                                            parent_run_id, parent_step_index, depth, available_types)
    values (v_wf.id, v_wf.name, v_wf.version, coalesce(p_input, '{}'::jsonb), coalesce(v_opts ->> 'source', 'sql'), v_key,
            v_parent.id, (v_opts ->> 'parent_step_index')::integer, coalesce(v_parent.depth + 1, 0), v_available)
    on conflict (workflow_name, dedupe_key) where dedupe_key is not null and status = 'running' do nothing
    returning * into run;
    if found then
      created := true;
      exit;
    end if;
    select * into run from orchestrator.workflow_runs
     where workflow_name = v_wf.name and dedupe_key = v_key and status = 'running';
    if found then
      created := false;
      return;
    end if;
  end loop;

  insert into orchestrator.workflow_steps (run_id, step_index, name, type, kind, optional, status, input_template, options, error, finished_at,
                                           after_steps, condition, map_over, map_parallelism, continue_on_error, wait)
  select run.id, (n - 1)::integer, s ->> 'name', coalesce(s ->> 'type', s ->> 'kind'), coalesce(s ->> 'kind', 'task'),
         coalesce((s ->> 'optional')::boolean, false),
         case when v_available is not null and coalesce(s ->> 'kind', 'task') = 'task' and not (s ->> 'type' = any (v_available))
              then 'skipped'::orchestrator.workflow_step_status else 'pending'::orchestrator.workflow_step_status end,
         coalesce(s -> 'input', '{}'::jsonb),
         jsonb_strip_nulls(jsonb_build_object('max_attempts', s -> 'max_attempts', 'priority', s -> 'priority',
                                              'backoff_base_seconds', s -> 'backoff_base_seconds')),
         case when v_available is not null and coalesce(s ->> 'kind', 'task') = 'task' and not (s ->> 'type' = any (v_available))
              then format('task type %s is not registered in this deployment', s ->> 'type') end,
         case when v_available is not null and coalesce(s ->> 'kind', 'task') = 'task' and not (s ->> 'type' = any (v_available)) then now() end,
         case when s ? 'after' then array(select (x.n - 1)::integer
                                            from jsonb_array_elements_text(s -> 'after') with ordinality a(dep, k)
                                            join jsonb_array_elements(v_wf.steps) with ordinality x(d, n) on x.d ->> 'name' = a.dep
                                           order by a.k)
              when n = 1 then '{}'::integer[] else array[(n - 2)::integer] end,
         s -> 'when',
         s #> '{map,over}',
         (s #>> '{map,parallelism}')::integer,
         coalesce((s ->> 'continue_on_error')::boolean, false),
         nullif(jsonb_strip_nulls(jsonb_build_object('seconds', s -> 'seconds', 'until', s -> 'until', 'event', s -> 'event',
                                                     'timeout_seconds', s -> 'timeout_seconds', 'on_timeout', s -> 'on_timeout',
                                                     'workflow', s -> 'workflow', 'title', s -> 'title', 'body', s -> 'body',
                                                     'on_reject', s -> 'on_reject')), '{}'::jsonb)
  from jsonb_array_elements(v_wf.steps) with ordinality a(s, n);

  perform orchestrator.workflow_advance(run.id);
  select * into run from orchestrator.workflow_runs where id = run.id;
end
$$;

--
-- Name: strip_secrets(jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.strip_secrets(p_value jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    AS $$
begin
  case jsonb_typeof(p_value)
    when 'object' then
      return coalesce((
        select jsonb_object_agg(k, orchestrator.strip_secrets(v))
        from jsonb_each(p_value) as e(k, v)
        where not orchestrator.is_secret_name(k)), '{}'::jsonb);
    when 'array' then
      return coalesce((
        select jsonb_agg(orchestrator.strip_secrets(v) order by i)
        from jsonb_array_elements(p_value) with ordinality as a(v, i)), '[]'::jsonb);
    else
      return p_value;
  end case;
end
$$;

--
-- Name: sweep(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.sweep() RETURNS bigint
    LANGUAGE plpgsql
    AS $$
begin
  perform orchestrator.check_wakeups();
  perform orchestrator.reap();
  perform orchestrator.flow_unpark_all();
  if exists (select 1 from orchestrator.tasks where status = 'queued' and parked_on is null and run_at <= now()) then
    return orchestrator.wake_worker('cron');
  end if;
  return null;
end
$$;

--
-- Name: task_field_violation(orchestrator.tasks); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.task_field_violation(t orchestrator.tasks) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $_$
  -- The first rule the row breaks, by its former constraint's name; null when it breaks none. As for
  -- a CHECK constraint, a rule whose value is null (a null column) holds.
  select case
    when not (t.type ~ '^[a-z][a-z0-9_.:-]*$' and length(t.type) <= 64) then 'tasks_type_check'
    when not (jsonb_typeof(t.payload) = 'object') then 'tasks_payload_check'
    when not (length(t.source) between 1 and 100) then 'tasks_source_check'
    when not (t.priority between -1000 and 1000) then 'tasks_priority_check'
    when not (t.max_attempts between 1 and 100) then 'tasks_max_attempts_check'
    when not (t.backoff_base_seconds between 0 and 3600) then 'tasks_backoff_base_seconds_check'
    when not (length(t.dedupe_key) between 1 and 200) then 'tasks_dedupe_key_check'
    when not ((t.concurrency_key is null) = (t.concurrency_limit is null)
              and t.concurrency_limit between 1 and 10000
              and length(t.concurrency_key) between 1 and 200) then 'tasks_concurrency_check'
    when not (t.type_concurrency_limit between 1 and 10000) then 'tasks_type_concurrency_limit_check'
    when not (length(t.rate_key) between 1 and 200) then 'tasks_rate_key_check'
    when not (length(t.group_key) <= 100) then 'tasks_group_key_check'
    when not (length(t.debounce_key) between 1 and 220) then 'tasks_debounce_key_check'
    when not (jsonb_typeof(t.cancel_on) = 'object') then 'tasks_cancel_on_check'
  end
$_$;

--
-- Name: FUNCTION task_field_violation(t orchestrator.tasks); Type: COMMENT; Schema: orchestrator; Owner: -
--

COMMENT ON FUNCTION orchestrator.task_field_violation(t orchestrator.tasks) IS 'The rules on a task''s fields (type, payload, source, priority, attempts limit, backoff, keys, group, cancel_on): the name of the first one the row breaks, or null. Checked by the tasks_check_fields triggers; see 20261204000200_task_field_checks.sql.';

--
-- Name: task_wait_reason(orchestrator.tasks); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.task_wait_reason(t orchestrator.tasks) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    AS $$
declare
  v_running integer;
begin
  if t.status <> 'queued' then
    return null;
  end if;
  if t.parked_on like 'key:%' then
    select count(*) into v_running from orchestrator.tasks where status = 'running' and concurrency_key = t.concurrency_key;
    return jsonb_build_object('kind', 'concurrency', 'key', t.concurrency_key, 'limit', t.concurrency_limit, 'running', v_running,
      'message', format('concurrency key %s is at its limit (%s running of %s)', t.concurrency_key, v_running, t.concurrency_limit));
  elsif t.parked_on like 'type:%' then
    select count(*) into v_running from orchestrator.tasks where status = 'running' and type = t.type and type_concurrency_limit is not null;
    return jsonb_build_object('kind', 'type_concurrency', 'type', t.type, 'limit', t.type_concurrency_limit, 'running', v_running,
      'message', format('task type %s is at its limit (%s running of %s)', t.type, v_running, t.type_concurrency_limit));
  end if;
  if t.run_at > now() then
    if t.debounce_key like 'debounce:%' then
      return jsonb_build_object('kind', 'debounce', 'key', substr(t.debounce_key, 10), 'until', t.run_at,
        'message', format('debounce window for %s ends at %s', substr(t.debounce_key, 10), t.run_at));
    elsif t.debounce_key like 'throttle:%' then
      return jsonb_build_object('kind', 'throttle', 'key', substr(t.debounce_key, 10), 'until', t.run_at,
        'message', format('throttle window for %s ends at %s', substr(t.debounce_key, 10), t.run_at));
    elsif t.rate_key is not null and exists (select 1 from orchestrator.rate_limits b where b.bucket = t.rate_key and b.deferred_until >= t.run_at) then
      return jsonb_build_object('kind', 'rate', 'key', t.rate_key, 'until', t.run_at,
        'message', format('rate token for %s is due at %s', t.rate_key, t.run_at));
    end if;
    return jsonb_build_object('kind', 'run_at', 'until', t.run_at, 'message', format('run_at is %s', t.run_at));
  end if;
  return null;
end
$$;

--
-- Name: tasks_cancel_on_events(text, text, anyarray, anyarray); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.tasks_cancel_on_events(p_entity text, p_op text, p_new anyarray, p_old anyarray) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  v_running bigint[];
begin
  if p_entity <> 'event' or p_op <> 'INSERT' then
    return;
  end if;
  with hit as (
    select distinct on (t.id) t.id, e.id as event_id, e.source, e.type, t.status as was
    from unnest(p_new::orchestrator.events[]) e
    join orchestrator.tasks t
      on t.cancel_on is not null and t.status in ('queued', 'running')
     and (t.cancel_on ->> 'source') = e.source and (t.cancel_on ->> 'type') = e.type
     and e.payload @> coalesce(t.cancel_on -> 'match', '{}'::jsonb)
    order by t.id, e.id
  ), cancelled as (
    update orchestrator.tasks t
       set status = 'cancelled', finished_at = now(), updated_at = now(),
           locked_by = null, locked_until = null, lease_token = null,
           last_error = format('cancelled by event %s (%s %s), as its cancel_on asked', hit.event_id, hit.source, hit.type)
      from hit
     where t.id = hit.id and t.status in ('queued', 'running')
    returning t.id, hit.was
  )
  select array_agg(id) filter (where was = 'running') into v_running from cancelled;
  if v_running is not null then
    perform pg_notify('orchestrator_task_cancelled', array_to_string(v_running, ','));
  end if;
end
$$;

--
-- Name: tasks_change_triggers_follow(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.tasks_change_triggers_follow() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
begin
  perform orchestrator.tasks_change_triggers_sync();
  return null;
end
$$;

--
-- Name: tasks_change_triggers_sync(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.tasks_change_triggers_sync() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_notion boolean := exists (select 1 from orchestrator.notion_tracked_task_types);
  v_webhooks boolean := exists (select 1 from orchestrator.webhook_subscriptions where active);
begin
  perform orchestrator.tasks_trigger_set('tasks_changes_ins', v_notion);
  perform orchestrator.tasks_trigger_set('tasks_changes_upd', v_notion or v_webhooks);
end
$$;

--
-- Name: tasks_check_fields(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.tasks_check_fields() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
declare
  v_violation text;
  v_id bigint;
begin
  if tg_level = 'ROW' then
    v_violation := orchestrator.task_field_violation(new);
    v_id := new.id;
  else
    select x.violation, x.id into v_violation, v_id
      from (select orchestrator.task_field_violation(row(n.*)::orchestrator.tasks) as violation, n.id from new_rows n) x
     where x.violation is not null
     limit 1;
  end if;
  if v_violation is not null then
    -- PostgreSQL's own wording for a CHECK constraint, without its detail (the whole row: a payload
    -- may hold what logs must not).
    raise exception using errcode = 'check_violation', schema = 'orchestrator', table = 'tasks', constraint = v_violation,
      message = format('new row for relation "tasks" violates check constraint "%s"', v_violation),
      detail = format('The task with id %s breaks it.', v_id);
  end if;
  return case when tg_level = 'ROW' then new end;
end
$$;

--
-- Name: tasks_trigger_set(name, boolean); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.tasks_trigger_set(p_trigger name, p_enabled boolean) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_lock_timeout text := current_setting('lock_timeout');
begin
  if (select tgenabled <> 'D' from pg_trigger
       where tgrelid = 'orchestrator.tasks'::regclass and tgname = p_trigger) is not distinct from p_enabled then
    return;
  end if;
  if p_enabled then
    execute format('alter table orchestrator.tasks enable trigger %I', p_trigger);
    return;
  end if;
  perform set_config('lock_timeout', '200ms', true);
  begin
    execute format('alter table orchestrator.tasks disable trigger %I', p_trigger);
  exception when lock_not_available then
    raise notice 'orchestrator: % stays enabled (tasks was busy); the next tracking change disables it', p_trigger;
  end;
  perform set_config('lock_timeout', v_lock_timeout, true);
end
$$;

--
-- Name: tasks_wake_on_insert(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.tasks_wake_on_insert() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
begin
  if exists (select 1 from new_tasks where status = 'queued' and run_at <= now()) then
    if not orchestrator.worker_listening() then
      perform orchestrator.wake_worker('insert');
    end if;
    perform pg_notify('orchestrator_task_ready', '');
  end if;
  return null;
end
$$;

--
-- Name: timezone_canonical(text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.timezone_canonical(p_timezone text) RETURNS text
    LANGUAGE plpgsql STABLE
    AS $$
declare
  v_name text;
begin
  -- The default, without reading pg_timezone_names (which stats every zone file: ~40 ms).
  if p_timezone = 'UTC' then
    return 'UTC';
  end if;
  select z.name into v_name
    from pg_timezone_names z
   where lower(z.name) = lower(btrim(coalesce(p_timezone, '')))
     and z.name not like 'posix/%' and z.name not like 'right/%'
     and z.name not in ('localtime', 'posixrules', 'Factory')
   order by z.name = p_timezone desc
   limit 1;
  if v_name is null then
    raise exception using errcode = '22023',
      message = format('unknown time zone %s: use an IANA name such as Europe/Berlin, America/New_York or UTC (the list: select name from pg_timezone_names)',
                       coalesce(quote_literal(p_timezone), 'null'));
  end if;
  return v_name;
end
$$;

--
-- Name: to_level(text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.to_level(p_level text) RETURNS orchestrator.log_level
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
  select case lower(btrim(p_level))
    when 'info' then 'info'::orchestrator.log_level
    when 'error' then 'error'::orchestrator.log_level
    when 'warn' then 'warn'::orchestrator.log_level
    when 'warning' then 'warn'::orchestrator.log_level
    when 'debug' then 'debug'::orchestrator.log_level
    when 'fatal' then 'fatal'::orchestrator.log_level
    when 'err' then 'error'::orchestrator.log_level
    when 'critical' then 'fatal'::orchestrator.log_level
    when 'notice' then 'info'::orchestrator.log_level
    when 'information' then 'info'::orchestrator.log_level
    when 'log' then 'info'::orchestrator.log_level
    when 'trace' then 'debug'::orchestrator.log_level
    when 'verbose' then 'debug'::orchestrator.log_level
    when 'crit' then 'fatal'::orchestrator.log_level
    when 'alert' then 'fatal'::orchestrator.log_level
    when 'emerg' then 'fatal'::orchestrator.log_level
    when 'emergency' then 'fatal'::orchestrator.log_level
    when 'panic' then 'fatal'::orchestrator.log_level
  end
$$;

--
-- Name: unwatch_table(regclass); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.unwatch_table(p_table regclass) RETURNS boolean
    LANGUAGE plpgsql
    AS $$
declare
  v_fn text;
  v_trigger boolean;
begin
  select exists (select 1 from pg_trigger where tgrelid = p_table and tgname = 'orchestrator_watch') into v_trigger;
  execute format('drop trigger if exists orchestrator_watch on %s', p_table);
  delete from orchestrator.watchers where relid = p_table::oid returning function_name into v_fn;
  execute format('drop function if exists orchestrator.%I()', coalesce(v_fn, format('capture_%s', p_table::oid)));
  return v_trigger or v_fn is not null;
end
$$;

--
-- Name: wake_successor(text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.wake_successor(p_isolate text) RETURNS boolean
    LANGUAGE sql
    AS $$
  select case when orchestrator.other_worker_listening(p_isolate) then false
              else orchestrator.wake_worker('successor') is not null end
$$;

--
-- Name: wake_worker(text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.wake_worker(p_reason text DEFAULT 'manual'::text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  v_url text;
  v_key text;
  v_headers jsonb;
  v_id bigint;
begin
  select decrypted_secret into v_url from vault.decrypted_secrets where name = 'project_url';
  select decrypted_secret into v_key from vault.decrypted_secrets where name = 'service_role_key';
  if v_url is null or v_key is null then
    return null;
  end if;
  v_headers := jsonb_build_object('Content-Type', 'application/json', 'apikey', v_key);
  if orchestrator.is_jwt(v_key) then
    v_headers := v_headers || jsonb_build_object('Authorization', 'Bearer ' || v_key);
  end if;
  v_id := net.http_post(
    url := rtrim(v_url, '/') || '/functions/v1/task-worker',
    body := jsonb_build_object('reason', p_reason, 'background', true),
    headers := v_headers,
    timeout_milliseconds := 5000
  );
  insert into orchestrator.wakeup_requests (request_id, reason) values (v_id, p_reason)
  on conflict (request_id) do nothing;
  return v_id;
exception when others then
  raise warning 'orchestrator.wake_worker(%): could not send the wake-up: %', p_reason, sqlerrm;
  return null;
end
$$;

--
-- Name: wakeup_status(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.wakeup_status() RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select jsonb_build_object(
    'refused_last_hour', count(*) filter (where status_code in (401, 403) and answered_at > now() - interval '1 hour'),
    'failed_last_hour', count(*) filter (where answered_at > now() - interval '1 hour'),
    'last_refused_at', max(answered_at) filter (where status_code in (401, 403)),
    'last_refused_status', (array_agg(status_code order by answered_at desc) filter (where status_code in (401, 403)))[1]
  )
  from orchestrator.wakeup_failures
$$;

--
-- Name: watch_table(regclass, text, text, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.watch_table(p_table regclass, p_source text, p_event_type text, p_options jsonb DEFAULT '{}'::jsonb) RETURNS jsonb
    LANGUAGE plpgsql
    AS $_$
declare
  v_opts jsonb := coalesce(p_options, '{}'::jsonb);
  v_known constant text[] := array['level_column', 'level', 'message_column', 'occurred_at_column', 'keep', 'drop'];
  v_unknown text[];
  v_schema text;
  v_table text;
  v_kind "char";
  v_qualified text;
  v_columns text[];
  v_keep text[];
  v_drop text[];
  v_secret text[];
  v_payload text[];
  v_missing text[];
  v_level_col text := v_opts ->> 'level_column';
  v_msg_col text := v_opts ->> 'message_column';
  v_ts_col text := v_opts ->> 'occurred_at_column';
  v_ts_type text;
  v_default_level orchestrator.log_level;
  v_fn text;
  v_record text;
  v_chunks text[] := '{}';
  v_pairs text[];
  i integer;
begin
  if jsonb_typeof(v_opts) <> 'object' then
    raise exception using errcode = '22023', message = 'watch_table options must be a JSON object';
  end if;
  select array_agg(k order by k) into v_unknown from jsonb_object_keys(v_opts) k where k <> all (v_known);
  if v_unknown is not null then
    raise exception using errcode = '22023',
      message = format('unknown watch_table option(s): %s', array_to_string(v_unknown, ', ')),
      hint = format('Known options: %s.', array_to_string(v_known, ', '));
  end if;
  if p_source is null or p_source !~ '^[a-z0-9][a-z0-9_.-]{0,63}$' then
    raise exception using errcode = '22023', message = format('invalid event source %L', p_source),
      hint = 'A source is 1-64 characters: lowercase letters, digits, "_", "." or "-", starting with a letter or digit.';
  end if;
  if p_event_type is null or p_event_type !~ '^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$' then
    raise exception using errcode = '22023', message = format('invalid event type %L', p_event_type),
      hint = 'An event type is 1-100 characters: letters, digits, "_", ".", ":", "/" or "-".';
  end if;
  if v_opts ? 'level' then
    v_default_level := orchestrator.to_level(v_opts ->> 'level');
    if v_default_level is null then
      raise exception using errcode = '22023', message = format('unknown level %L', v_opts ->> 'level'),
        hint = 'Use debug, info, warn, error or fatal.';
    end if;
  else
    v_default_level := 'info';
  end if;
  foreach v_fn in array array['keep', 'drop'] loop
    if v_opts ? v_fn and (jsonb_typeof(v_opts -> v_fn) <> 'array'
        or exists (select 1 from jsonb_array_elements(v_opts -> v_fn) x where jsonb_typeof(x) <> 'string')) then
      raise exception using errcode = '22023', message = format('watch_table option %s must be an array of column names', v_fn);
    end if;
  end loop;

  select n.nspname, c.relname, c.relkind into v_schema, v_table, v_kind
  from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = p_table;
  if v_kind not in ('r', 'p') then
    raise exception using errcode = '42809', message = format('%s is not a table; only tables can be watched', p_table);
  end if;
  if v_schema = 'orchestrator' then
    raise exception using errcode = '42809', message = format('%s belongs to the orchestrator itself and cannot be watched', p_table);
  end if;
  v_qualified := format('%I.%I', v_schema, v_table);

  select array_agg(attname::text order by attnum) into v_columns
  from pg_attribute where attrelid = p_table and attnum > 0 and not attisdropped;
  v_keep := case when v_opts ? 'keep' then array(select jsonb_array_elements_text(v_opts -> 'keep')) end;
  v_drop := coalesce(array(select jsonb_array_elements_text(v_opts -> 'drop')), '{}');

  select array_agg(c) into v_missing
  from unnest(coalesce(v_keep, '{}') || v_drop || array_remove(array[v_level_col, v_msg_col, v_ts_col], null)) c
  where c <> all (v_columns);
  if v_missing is not null then
    raise exception using errcode = '42703',
      message = format('%s has no column(s) %s', v_qualified, array_to_string(v_missing, ', ')),
      hint = format('Its columns: %s.', array_to_string(v_columns, ', '));
  end if;
  select array_agg(c) into v_missing from unnest(coalesce(v_keep, '{}') || array_remove(array[v_msg_col], null)) c
  where orchestrator.is_secret_name(c);
  if v_missing is not null then
    raise exception using errcode = '22023',
      message = format('column(s) %s look like secrets and are never copied into events', array_to_string(v_missing, ', ')),
      hint = 'Remove them from keep / message_column.';
  end if;
  if v_ts_col is not null then
    select format_type(atttypid, null) into v_ts_type from pg_attribute where attrelid = p_table and attname = v_ts_col;
    if v_ts_type not in ('timestamp with time zone', 'timestamp without time zone', 'date') then
      raise exception using errcode = '42804',
        message = format('occurred_at_column %s is %s; it must be a timestamp, timestamptz or date column', v_ts_col, v_ts_type);
    end if;
  end if;

  v_secret := array(select c from unnest(v_columns) c where orchestrator.is_secret_name(c));
  v_payload := array(select c from unnest(coalesce(v_keep, v_columns)) c
                     where c <> all (v_drop) and not orchestrator.is_secret_name(c));

  -- payload.record as jsonb_build_object over the kept columns, 50 per call
  -- (a function takes at most 100 arguments).
  i := 1;
  while i <= coalesce(array_length(v_payload, 1), 0) loop
    select array_agg(format('%L, r.%I', c, c) order by n) into v_pairs
    from unnest(v_payload[i:i + 49]) with ordinality as u(c, n);
    v_chunks := v_chunks || format('jsonb_build_object(%s)', array_to_string(v_pairs, ', '));
    i := i + 50;
  end loop;
  v_record := coalesce(nullif(array_to_string(v_chunks, ' || '), ''), '''{}''::jsonb');

  v_fn := format('capture_%s', p_table::oid);
  execute format($fn$
    create or replace function orchestrator.%1$I() returns trigger
    language plpgsql security definer set search_path = pg_catalog, pg_temp as $body$
    -- Generated by orchestrator.watch_table for %2$s: re-run watch_table to change it.
    declare
      v_state text;
      v_error text;
    begin
      insert into orchestrator.events (source, type, level, message, payload, occurred_at, via)
      select %3$L, %4$L, %5$s, %6$s,
             jsonb_build_object('schema', %7$L, 'table', %8$L, 'op', 'INSERT', 'record', %9$s),
             %10$s, 'watcher'
      from orchestrator_new_rows r;
      return null;
    exception when others then
      get stacked diagnostics v_state = returned_sqlstate, v_error = message_text;
      begin
        insert into orchestrator.logs (level, component, message, context)
        values ('error', 'watcher',
                format('watcher on %%s could not record events (the app''s rows were inserted, no events were made): %%s', %2$L, v_error),
                jsonb_build_object('table', %2$L, 'source', %3$L, 'event_type', %4$L, 'sqlstate', v_state,
                                   'hint', 'if the table changed, run orchestrator.watch_table again'));
      exception when others then
        raise warning 'orchestrator watcher on %%: capture failed (%%) and could not be logged', %2$L, v_error;
      end;
      return null;
    end
    $body$
  $fn$,
    v_fn, v_qualified, p_source, p_event_type,
    case when v_level_col is null then format('%L::orchestrator.log_level', v_default_level)
         else format('coalesce(orchestrator.to_level(r.%I::text), %L::orchestrator.log_level)', v_level_col, v_default_level) end,
    case when v_msg_col is null then 'null::text' else format('left(r.%I::text, 10000)', v_msg_col) end,
    v_schema, v_table, v_record,
    case when v_ts_col is null then 'now()' else format('coalesce(r.%I::timestamptz, now())', v_ts_col) end);
  execute format('revoke all on function orchestrator.%I() from public', v_fn);

  execute format('drop trigger if exists orchestrator_watch on %s', v_qualified);
  execute format('create trigger orchestrator_watch after insert on %s referencing new table as orchestrator_new_rows '
                 'for each statement execute function orchestrator.%I()', v_qualified, v_fn);

  insert into orchestrator.watchers (relid, table_name, source, event_type, options, columns, secret_columns, function_name)
  values (p_table::oid, v_qualified, p_source, p_event_type, v_opts, v_payload, v_secret, v_fn)
  on conflict (relid) do update
    set table_name = excluded.table_name, source = excluded.source, event_type = excluded.event_type,
        options = excluded.options, columns = excluded.columns, secret_columns = excluded.secret_columns,
        function_name = excluded.function_name, updated_at = now();

  return jsonb_build_object(
    'table', v_qualified, 'source', p_source, 'event_type', p_event_type, 'trigger', 'orchestrator_watch',
    'function', 'orchestrator.' || v_fn, 'columns', to_jsonb(v_payload), 'secret_columns_skipped', to_jsonb(v_secret),
    'level_column', v_level_col, 'message_column', v_msg_col, 'occurred_at_column', v_ts_col, 'default_level', v_default_level);
end
$_$;

--
-- Name: webhook_compact(jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.webhook_compact(p_row jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    AS $$
  select coalesce(jsonb_object_agg(key, case
           when jsonb_typeof(value) = 'string' and length(value #>> '{}') > 2000
             then to_jsonb(left(value #>> '{}', 2000) || format('… [%s characters]', length(value #>> '{}')))
           when jsonb_typeof(value) in ('object', 'array') and length(value::text) > 8000
             then to_jsonb(format('[omitted: %s bytes]', length(value::text)))
           else value end), '{}'::jsonb)
  from jsonb_each(p_row)
  where key not in ('lease_token')
$$;

--
-- Name: webhook_emit(jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.webhook_emit(p_events jsonb) RETURNS integer
    LANGUAGE plpgsql
    AS $_$
declare
  v_ids bigint[];
begin
  if p_events is null or jsonb_typeof(p_events) <> 'array' or jsonb_array_length(p_events) = 0
     or not exists (select 1 from orchestrator.webhook_subscriptions where active) then
    return 0;
  end if;
  with ev as (
    select e ->> 'event' as event, coalesce(e -> 'data', '{}'::jsonb) as data, ord
    from jsonb_array_elements(p_events) with ordinality as x(e, ord)
    where e ->> 'event' is not null
  ), ins as (
    insert into orchestrator.webhook_deliveries (subscription_id, event, payload)
    select s.id, ev.event, jsonb_build_object('event', ev.event, 'occurred_at', now(), 'data', ev.data)
    from ev join orchestrator.webhook_subscriptions s
      on s.active and orchestrator.webhook_event_matches(s.events, ev.event)
    order by ev.ord, s.id
    returning id
  )
  select array_agg(id) into v_ids from ins;
  if v_ids is null then
    return 0;
  end if;
  with t as (
    insert into orchestrator.tasks (type, payload, max_attempts, backoff_base_seconds, source, trace_id)
    select 'webhook.deliver', jsonb_build_object('delivery_id', d.id), s.max_attempts, s.backoff_base_seconds, 'webhook',
           coalesce(orchestrator.current_trace_id(),
                    (select tk.trace_id from orchestrator.tasks tk
                      where tk.id = case when d.payload #>> '{data,task,id}' ~ '^[0-9]{1,18}$' then (d.payload #>> '{data,task,id}')::bigint end),
                    (select ti.trace_id from orchestrator.tickets ti
                      where ti.id = case when d.payload #>> '{data,ticket,id}' ~ '^[0-9]{1,18}$' then (d.payload #>> '{data,ticket,id}')::bigint end),
                    orchestrator.new_trace_id())
    from orchestrator.webhook_deliveries d join orchestrator.webhook_subscriptions s on s.id = d.subscription_id
    where d.id = any (v_ids)
    returning id, (payload ->> 'delivery_id')::bigint as delivery_id
  )
  update orchestrator.webhook_deliveries d set task_id = t.id from t where d.id = t.delivery_id;
  return cardinality(v_ids);
end
$_$;

--
-- Name: webhook_event_matches(text[], text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.webhook_event_matches(p_patterns text[], p_event text) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $$
  select exists (
    select 1 from unnest(p_patterns) p
    where p_event like replace(replace(replace(p, '\', '\\'), '_', '\_'), '*', '%')
  )
$$;

--
-- Name: webhook_on_changes(text, text, anyarray, anyarray); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.webhook_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  v_events jsonb;
begin
  if not exists (select 1 from orchestrator.webhook_subscriptions where active) then
    return;
  end if;
  if p_op = 'INSERT' and p_entity in ('ticket', 'sop') then
    select jsonb_agg(jsonb_build_object(
             'event', p_entity || '.' || case p_entity when 'ticket' then 'opened' else 'created' end,
             'data', jsonb_build_object(p_entity, orchestrator.webhook_compact(to_jsonb(n)))))
      into v_events
      from unnest(p_new) n;
  elsif p_op = 'UPDATE' and p_entity = 'ticket' then
    select jsonb_agg(jsonb_build_object(
             'event', 'ticket.' || case when n.status = 'open' and o.status in ('resolved', 'closed') then 'reopened' else n.status::text end,
             'data', jsonb_build_object('ticket', orchestrator.webhook_compact(to_jsonb(n)), 'previous_status', o.status)) order by n.id)
      into v_events
      from unnest(p_new) n join unnest(p_old) o on o.id = n.id
     where n.status is distinct from o.status and n.status is not null;
  elsif p_op = 'UPDATE' and p_entity = 'task' then
    select jsonb_agg(jsonb_build_object('event', 'task.' || n.status, 'data', jsonb_build_object('task',
             orchestrator.webhook_compact(jsonb_build_object(
               'id', n.id, 'type', n.type, 'status', n.status, 'attempts', n.attempts, 'max_attempts', n.max_attempts,
               'last_error', n.last_error, 'result', n.result, 'source', n.source, 'priority', n.priority,
               'created_at', n.created_at, 'finished_at', n.finished_at)))) order by n.id)
      into v_events
      from unnest(p_new) n join unnest(p_old) o on o.id = n.id
     where n.status is distinct from o.status
       and n.status in ('succeeded', 'dead', 'cancelled')
       and n.type <> 'webhook.deliver';
  end if;
  perform orchestrator.webhook_emit(v_events);
end
$$;

--
-- Name: worker_listening(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.worker_listening() RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  perform 1 from orchestrator.worker_presence where until > now() limit 1 for key share skip locked;
  return found;
end
$$;

--
-- Name: workflow_advance(bigint); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_advance(p_run_id bigint) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  v_run orchestrator.workflow_runs;
  v_step orchestrator.workflow_steps;
  v_ctx jsonb;
  v_progress boolean;
begin
  select * into v_run from orchestrator.workflow_runs where id = p_run_id for update;
  if not found or v_run.status <> 'running' then
    return;
  end if;
  if v_run.parent_run_id is not null
     and (select status from orchestrator.workflow_runs where id = v_run.parent_run_id) is distinct from 'running' then
    perform orchestrator.workflow_finish_run(p_run_id, 'cancelled', 'its parent run ended', null);
    return;
  end if;
  loop
    v_progress := false;
    v_ctx := orchestrator.workflow_context(p_run_id);
    for v_step in
      select s.* from orchestrator.workflow_steps s
       where s.run_id = p_run_id and s.status = 'pending' and orchestrator.workflow_deps_done(p_run_id, s.after_steps)
       order by s.step_index
    loop
      -- A step that ended as it started advanced the run itself (workflow_step_succeeded), and may have
      -- started some of these meanwhile.
      if (select status from orchestrator.workflow_steps where run_id = p_run_id and step_index = v_step.step_index) <> 'pending' then
        continue;
      end if;
      v_progress := true;
      if cardinality(v_step.after_steps) > 0 and not exists (
           select 1 from orchestrator.workflow_steps d
            where d.run_id = p_run_id and d.step_index = any (v_step.after_steps) and not d.skipped_by_condition) then
        update orchestrator.workflow_steps
           set status = 'skipped', skipped_by_condition = true, error = 'every step it depends on was skipped by its condition', finished_at = now()
         where run_id = p_run_id and step_index = v_step.step_index;
        continue;
      end if;
      begin
        if v_step.condition is not null and not orchestrator.workflow_condition(v_step.condition, v_ctx) then
          update orchestrator.workflow_steps
             set status = 'skipped', skipped_by_condition = true, error = 'its condition (when) is false', finished_at = now()
           where run_id = p_run_id and step_index = v_step.step_index;
          continue;
        end if;
        perform orchestrator.workflow_start_step(p_run_id, v_step, v_ctx);
      exception when others then
        perform orchestrator.workflow_step_failed(p_run_id, v_step.step_index, format('could not start: %s', sqlerrm));
        return;
      end;
      select * into v_run from orchestrator.workflow_runs where id = p_run_id;
      if v_run.status <> 'running' then
        return;
      end if;
    end loop;
    exit when not v_progress;
  end loop;
  if not exists (select 1 from orchestrator.workflow_steps where run_id = p_run_id and status in ('pending', 'running', 'waiting')) then
    update orchestrator.workflow_runs
       set status = 'succeeded', finished_at = now(), updated_at = now(),
           output = coalesce((select jsonb_object_agg(name, result) from orchestrator.workflow_steps
                               where run_id = p_run_id and status = 'succeeded'), '{}'::jsonb)
     where id = p_run_id and status = 'running';
    perform orchestrator.workflow_child_finished(p_run_id);
  else
    update orchestrator.workflow_runs set updated_at = now() where id = p_run_id;
  end if;
end
$$;

--
-- Name: workflow_child_finished(bigint); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_child_finished(p_child bigint) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  v_child orchestrator.workflow_runs;
  v_parent orchestrator.workflow_runs;
  v_step orchestrator.workflow_steps;
begin
  select * into v_child from orchestrator.workflow_runs where id = p_child;
  if v_child.parent_run_id is null or v_child.status = 'running' then
    return;
  end if;
  select * into v_parent from orchestrator.workflow_runs where id = v_child.parent_run_id for update;
  if not found or v_parent.status <> 'running' then
    return;
  end if;
  select * into v_step from orchestrator.workflow_steps where run_id = v_parent.id and step_index = v_child.parent_step_index;
  if v_step.status <> 'waiting' or v_step.child_run_id is distinct from v_child.id then
    return;
  end if;
  if v_child.status = 'succeeded' then
    perform orchestrator.workflow_step_succeeded(v_parent.id, v_step.step_index, v_child.output);
  else
    perform orchestrator.workflow_step_failed(v_parent.id, v_step.step_index,
      format('failed: its child run %s (%s) %s: %s', v_child.id, v_child.workflow_name, v_child.status, coalesce(v_child.error, 'no error recorded')));
  end if;
end
$$;

--
-- Name: workflow_condition(jsonb, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_condition(p_cond jsonb, p_ctx jsonb) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE
    AS $$
declare
  v_op text;
  v_arg jsonb;
  v_a jsonb;
  v_c jsonb;
begin
  if jsonb_typeof(p_cond) <> 'object' or (select count(*) from jsonb_object_keys(p_cond)) <> 1 then
    raise exception using errcode = '22023', message = format('a condition is an object with one operator, got %s', p_cond);
  end if;
  select key, value into v_op, v_arg from jsonb_each(p_cond);
  case v_op
    when 'equals' then
      if jsonb_typeof(v_arg) <> 'array' or jsonb_array_length(v_arg) <> 2 then
        raise exception using errcode = '22023', message = 'equals takes [a, b]';
      end if;
      return coalesce(orchestrator.workflow_render(v_arg -> 0, p_ctx), 'null') = coalesce(orchestrator.workflow_render(v_arg -> 1, p_ctx), 'null');
    when 'in' then
      if jsonb_typeof(v_arg) <> 'array' or jsonb_array_length(v_arg) <> 2 then
        raise exception using errcode = '22023', message = 'in takes [a, [b, c, …]]';
      end if;
      v_a := coalesce(orchestrator.workflow_render(v_arg -> 0, p_ctx), 'null');
      v_c := orchestrator.workflow_render(v_arg -> 1, p_ctx);
      if jsonb_typeof(v_c) <> 'array' then
        return false;
      end if;
      return exists (select 1 from jsonb_array_elements(v_c) e where e = v_a);
    when 'exists' then
      v_a := orchestrator.workflow_render(v_arg, p_ctx);
      return v_a is not null and jsonb_typeof(v_a) <> 'null';
    when 'not' then
      return not orchestrator.workflow_condition(v_arg, p_ctx);
    when 'all' then
      if jsonb_typeof(v_arg) <> 'array' then
        raise exception using errcode = '22023', message = 'all takes a list of conditions';
      end if;
      for v_c in select e from jsonb_array_elements(v_arg) e loop
        if not orchestrator.workflow_condition(v_c, p_ctx) then
          return false;
        end if;
      end loop;
      return true;
    when 'any' then
      if jsonb_typeof(v_arg) <> 'array' then
        raise exception using errcode = '22023', message = 'any takes a list of conditions';
      end if;
      for v_c in select e from jsonb_array_elements(v_arg) e loop
        if orchestrator.workflow_condition(v_c, p_ctx) then
          return true;
        end if;
      end loop;
      return false;
    else
      raise exception using errcode = '22023', message = format('unknown condition operator %s (equals, in, exists, not, all, any)', v_op);
  end case;
end
$$;

--
-- Name: workflow_context(bigint); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_context(p_run_id bigint) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
  select jsonb_build_object(
    'input', r.input,
    'run', jsonb_build_object('id', r.id, 'created_at', r.created_at, 'source', r.source),
    'workflow', jsonb_build_object('name', r.workflow_name, 'version', r.workflow_version),
    'steps', coalesce((
      select jsonb_object_agg(s.name, jsonb_build_object('result', s.result, 'status', s.status, 'task_id', s.task_id))
      from orchestrator.workflow_steps s where s.run_id = r.id), '{}'::jsonb))
  from orchestrator.workflow_runs r where r.id = p_run_id
$$;

--
-- Name: workflow_decide(bigint, text, text, text, text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_decide(p_run_id bigint, p_step_name text, p_decision text, p_by text, p_comment text DEFAULT NULL::text) RETURNS text
    LANGUAGE plpgsql
    AS $$
declare
  v_run orchestrator.workflow_runs;
  v_step orchestrator.workflow_steps;
  v_result jsonb;
begin
  if p_decision not in ('approved', 'rejected') then
    raise exception using errcode = '22023', message = format('a decision is approved or rejected, not %s', p_decision);
  end if;
  select * into v_run from orchestrator.workflow_runs where id = p_run_id for update;
  if not found then
    raise exception using errcode = 'P0002', message = format('run %s does not exist', p_run_id);
  end if;
  select * into v_step from orchestrator.workflow_steps where run_id = p_run_id and name = p_step_name;
  if not found then
    raise exception using errcode = 'P0002', message = format('run %s has no step %L', p_run_id, p_step_name);
  end if;
  if v_step.kind <> 'approval' or v_step.status <> 'waiting' or v_run.status <> 'running' then
    raise exception using errcode = '55000',
      message = format('step %s of run %s is not waiting for a decision (%s %s, run %s)', p_step_name, p_run_id, v_step.kind, v_step.status, v_run.status);
  end if;
  v_result := jsonb_strip_nulls(jsonb_build_object('decision', p_decision, 'by', left(coalesce(p_by, 'unknown'), 200), 'at', now(),
                                                   'comment', left(p_comment, 2000), 'ticket_id', v_step.approval_ticket_id));
  -- The step first: the ticket's change below reaches the workflows consumer, which must find it decided.
  if p_decision = 'approved' or v_step.wait ->> 'on_reject' = 'continue' then
    perform orchestrator.workflow_step_succeeded(p_run_id, v_step.step_index, v_result);
  else
    update orchestrator.workflow_steps set result = v_result where run_id = p_run_id and step_index = v_step.step_index;
    perform orchestrator.workflow_step_failed(p_run_id, v_step.step_index, format('was rejected by %s', v_result ->> 'by'));
  end if;
  update orchestrator.tickets set status = case when p_decision = 'approved' then 'resolved'::orchestrator.ticket_status else 'closed'::orchestrator.ticket_status end,
         updated_at = now()
   where id = (select id from orchestrator.tickets where id = v_step.approval_ticket_id and status in ('open', 'in_progress') for update skip locked);
  return p_decision;
end
$$;

--
-- Name: workflow_deps_done(bigint, integer[]); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_deps_done(p_run_id bigint, p_after integer[]) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$
  with recursive needed(idx) as (
    select unnest(p_after)
    union
    select unnest(d.after_steps) from needed n
      join orchestrator.workflow_steps d on d.run_id = p_run_id and d.step_index = n.idx and d.status = 'skipped'
  )
  select not exists (
    select 1 from needed n join orchestrator.workflow_steps d on d.run_id = p_run_id and d.step_index = n.idx
     where d.status not in ('succeeded', 'skipped'))
$$;

--
-- Name: workflow_event_lock_key(text, text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_event_lock_key(p_source text, p_type text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
  select hashtext(p_source || E'\x1f' || p_type)
$$;

--
-- Name: workflow_finish_run(bigint, orchestrator.workflow_run_status, text, text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_finish_run(p_run_id bigint, p_status orchestrator.workflow_run_status, p_error text, p_failed_step text DEFAULT NULL::text) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  v_task bigint;
  v_child bigint;
begin
  update orchestrator.workflow_runs
     set status = p_status, error = left(p_error, 10000), failed_step = p_failed_step,
         finished_at = now(), updated_at = now()
   where id = p_run_id and status = 'running';
  update orchestrator.workflow_steps
     set status = case when p_status = 'cancelled' then 'cancelled'::orchestrator.workflow_step_status
                       else 'skipped'::orchestrator.workflow_step_status end,
         error = case when p_status = 'cancelled' then 'run cancelled'
                      else format('not run: the run failed at step %s', coalesce(p_failed_step, '?')) end,
         finished_at = now()
   where run_id = p_run_id and status = 'pending';
  update orchestrator.workflow_steps
     set status = 'cancelled',
         error = case when p_status = 'cancelled' then 'run cancelled'
                      else format('stopped: the run failed at step %s', coalesce(p_failed_step, '?')) end,
         finished_at = now()
   where run_id = p_run_id and status in ('running', 'waiting') and name is distinct from p_failed_step;
  update orchestrator.workflow_map_elements set status = 'cancelled'
   where run_id = p_run_id and status in ('pending', 'running');
  for v_task in
    select t.id from orchestrator.tasks t
     where t.status in ('queued', 'running')
       and t.id in (select s.task_id from orchestrator.workflow_steps s where s.run_id = p_run_id and s.task_id is not null
                    union all
                    select e.task_id from orchestrator.workflow_map_elements e where e.run_id = p_run_id and e.task_id is not null)
     for update of t skip locked
  loop
    perform orchestrator.cancel(v_task);
  end loop;
  update orchestrator.tasks set status = 'cancelled', finished_at = now(), updated_at = now()
   where type = 'workflow.wake' and status = 'queued' and payload @> jsonb_build_object('run_id', p_run_id);
  -- Children no other transaction holds stop now; one that is busy stops the next time it moves.
  for v_child in
    select c.id from orchestrator.workflow_runs c where c.parent_run_id = p_run_id and c.status = 'running' for update skip locked
  loop
    perform orchestrator.workflow_finish_run(v_child, 'cancelled', 'its parent run ended', null);
  end loop;
  perform orchestrator.workflow_child_finished(p_run_id);
end
$$;

--
-- Name: workflow_keep_version(); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_keep_version() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
begin
  insert into orchestrator.workflow_versions (workflow_id, version, steps)
  values (new.id, new.version, new.steps)
  on conflict (workflow_id, version) do update set steps = excluded.steps;
  return null;
end
$$;

--
-- Name: workflow_matching_event(bigint, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_matching_event(p_run_id bigint, p_spec jsonb) RETURNS orchestrator.events
    LANGUAGE sql STABLE
    AS $$
  select e.* from orchestrator.events e, orchestrator.workflow_runs r
   where r.id = p_run_id
     and e.source = p_spec ->> 'source' and e.type = p_spec ->> 'type'
     and e.received_at >= r.created_at
     and e.payload @> coalesce(p_spec -> 'match', '{}'::jsonb)
   order by e.received_at, e.id
   limit 1
$$;

--
-- Name: workflow_on_changes(text, text, anyarray, anyarray); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  v_task record;
  v_event record;
  v_step orchestrator.workflow_steps;
  v_elem orchestrator.workflow_map_elements;
  v_run orchestrator.workflow_runs;
  v_key record;
begin
  if p_entity = 'event' and p_op = 'INSERT' then
    -- Shared locks on each (source, type) inserted, then the waiting steps they may match: each gets a wake-up.
    for v_key in select distinct n.source, n.type from unnest(p_new) n loop
      perform pg_advisory_xact_lock_shared(hashtext('orchestrator.workflow_events'), orchestrator.workflow_event_lock_key(v_key.source, v_key.type));
    end loop;
    for v_event in
      select distinct s.run_id, s.step_index
        from orchestrator.workflow_steps s
        join unnest(p_new) n on n.source = s.waiting_for #>> '{event,source}' and n.type = s.waiting_for #>> '{event,type}'
                            and n.payload @> coalesce(s.waiting_for #> '{event,match}', '{}'::jsonb)
       where s.status = 'waiting' and s.kind = 'wait_for_event'
    loop
      perform orchestrator.workflow_schedule_wake(v_event.run_id, v_event.step_index, 'event', now());
    end loop;
    return;
  end if;
  if p_entity = 'ticket' and p_op = 'UPDATE' then
    -- An approval's ticket resolved (approved) or closed (rejected): in Notion, by hand, or by the API.
    for v_key in
      select s.run_id, s.name, n.status::text as status
        from unnest(p_new) n join unnest(p_old) o on o.id = n.id
        join orchestrator.workflow_steps s on s.approval_ticket_id = n.id and s.status = 'waiting'
       where n.status is distinct from o.status and n.status in ('resolved', 'closed')
    loop
      begin
        perform orchestrator.workflow_decide(v_key.run_id, v_key.name, case when v_key.status = 'resolved' then 'approved' else 'rejected' end,
          case when current_setting('orchestrator.sync_origin', true) = 'notion' then 'notion' else 'ticket' end);
      exception when sqlstate '55000' then
        null; -- decided or ended meanwhile
      end;
    end loop;
    return;
  end if;
  if p_entity <> 'task' or p_op <> 'UPDATE' then
    return;
  end if;
  for v_task in
    select n.* from unnest(p_new) n join unnest(p_old) o on o.id = n.id
     where n.source like 'workflow:%' and n.status in ('succeeded', 'dead', 'cancelled')
       and o.status is distinct from n.status
     order by n.id
  loop
    select * into v_elem from orchestrator.workflow_map_elements where task_id = v_task.id;
    if found then
      select * into v_run from orchestrator.workflow_runs where id = v_elem.run_id for update;
      update orchestrator.workflow_map_elements
         set status = case v_task.status when 'succeeded' then 'succeeded'::orchestrator.workflow_step_status
                                         when 'dead' then 'failed'::orchestrator.workflow_step_status
                                         else 'cancelled'::orchestrator.workflow_step_status end,
             result = case when v_task.status = 'succeeded' then v_task.result end,
             error = case when v_task.status = 'dead' then v_task.last_error when v_task.status = 'cancelled' then 'task cancelled' end
       where run_id = v_elem.run_id and step_index = v_elem.step_index and idx = v_elem.idx;
      if v_run.status <> 'running' or v_elem.status <> 'running' then
        continue;
      end if;
      update orchestrator.workflow_steps
         set map_finished = map_finished + 1, map_failed = map_failed + (v_task.status <> 'succeeded')::integer
       where run_id = v_elem.run_id and step_index = v_elem.step_index
      returning * into v_step;
      if v_task.status <> 'succeeded' and not v_step.continue_on_error then
        perform orchestrator.workflow_step_failed(v_elem.run_id, v_elem.step_index,
          format('failed: element %s %s after %s attempt%s: %s', v_elem.idx,
                 case when v_task.status = 'dead' then 'failed' else 'was cancelled' end, v_task.attempts,
                 case when v_task.attempts = 1 then '' else 's' end, coalesce(v_task.last_error, 'no error recorded')));
        continue;
      end if;
      if v_step.map_started < v_step.map_total then
        begin
          perform orchestrator.workflow_start_element(v_elem.run_id, v_step, v_step.map_started, orchestrator.workflow_context(v_elem.run_id));
        exception when others then
          perform orchestrator.workflow_step_failed(v_elem.run_id, v_elem.step_index, format('could not start: %s', sqlerrm));
        end;
        continue;
      end if;
      if v_step.map_finished = v_step.map_total then
        perform orchestrator.workflow_step_succeeded(v_elem.run_id, v_elem.step_index,
          (select jsonb_agg(e.result order by e.idx) from orchestrator.workflow_map_elements e
            where e.run_id = v_elem.run_id and e.step_index = v_elem.step_index));
      end if;
      continue;
    end if;
    select * into v_step from orchestrator.workflow_steps where task_id = v_task.id;
    if not found then
      continue;
    end if;
    select * into v_run from orchestrator.workflow_runs where id = v_step.run_id for update;
    update orchestrator.workflow_steps
       set status = case v_task.status when 'succeeded' then 'succeeded'::orchestrator.workflow_step_status
                                       when 'dead' then 'failed'::orchestrator.workflow_step_status
                                       else 'cancelled'::orchestrator.workflow_step_status end,
           result = case when v_task.status = 'succeeded' then v_task.result else result end,
           error = case when v_task.status = 'dead' then v_task.last_error
                        when v_task.status = 'cancelled' then 'task cancelled' else null end,
           finished_at = now()
     where run_id = v_step.run_id and step_index = v_step.step_index;
    -- A late outcome (the run already ended) is recorded on its step and moves nothing.
    if v_run.status <> 'running' or v_step.status <> 'running' then
      continue;
    end if;
    if v_task.status = 'succeeded' then
      perform orchestrator.workflow_advance(v_run.id);
    elsif v_task.status = 'dead' then
      perform orchestrator.workflow_finish_run(v_run.id, 'failed',
        format('step %s (%s) failed after %s attempt%s: %s', v_step.name, v_step.type, v_task.attempts,
               case when v_task.attempts = 1 then '' else 's' end, coalesce(v_task.last_error, 'no error recorded')),
        v_step.name);
    else
      perform orchestrator.workflow_finish_run(v_run.id, 'cancelled',
        format('step %s (%s): its task %s was cancelled', v_step.name, v_step.type, v_task.id), v_step.name);
    end if;
  end loop;
end
$$;

--
-- Name: workflow_render(jsonb, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_render(p_template jsonb, p_ctx jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    AS $$
  select (orchestrator.render_template(p_template, p_ctx)).value
$$;

--
-- Name: workflow_rerun(bigint, text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_rerun(p_run_id bigint, p_from text) RETURNS orchestrator.workflow_runs
    LANGUAGE plpgsql
    AS $$
declare
  v_old orchestrator.workflow_runs;
  v_from integer;
  v_new orchestrator.workflow_runs;
begin
  select * into v_old from orchestrator.workflow_runs where id = p_run_id for update;
  if not found then
    raise exception using errcode = 'P0002', message = format('run %s does not exist', p_run_id);
  end if;
  if v_old.status = 'running' then
    raise exception using errcode = '55000', message = format('run %s is still running; cancel it first, or wait for it to end', p_run_id);
  end if;
  select step_index into v_from from orchestrator.workflow_steps where run_id = p_run_id and name = p_from;
  if not found then
    raise exception using errcode = 'P0002', message = format('run %s has no step %L', p_run_id, p_from);
  end if;
  insert into orchestrator.workflow_runs (workflow_id, workflow_name, workflow_version, input, source, depth, available_types, rerun_of, rerun_from)
  values (v_old.workflow_id, v_old.workflow_name, v_old.workflow_version, v_old.input, 'rerun', 0, v_old.available_types, v_old.id, p_from)
  returning * into v_new;
  with recursive downstream(idx) as (
    select v_from
    union
    select s.step_index from orchestrator.workflow_steps s join downstream d on d.idx = any (s.after_steps)
     where s.run_id = p_run_id
  )
  insert into orchestrator.workflow_steps (run_id, step_index, name, type, kind, optional, status, input_template, options, after_steps,
                                           condition, map_over, map_parallelism, continue_on_error, wait,
                                           input, result, error, skipped_by_condition, started_at, finished_at, reused)
  select v_new.id, s.step_index, s.name, s.type, s.kind, s.optional,
         case when keep then s.status else 'pending'::orchestrator.workflow_step_status end,
         s.input_template, s.options, s.after_steps, s.condition, s.map_over, s.map_parallelism, s.continue_on_error, s.wait,
         case when keep then s.input end, case when keep then s.result end, case when keep then s.error end,
         keep and s.skipped_by_condition, case when keep then s.started_at end, case when keep then s.finished_at end, keep
    from (select s.*, s.step_index not in (select idx from downstream) and s.status in ('succeeded', 'skipped') as keep
            from orchestrator.workflow_steps s where s.run_id = p_run_id) s;
  perform orchestrator.workflow_advance(v_new.id);
  select * into v_new from orchestrator.workflow_runs where id = v_new.id;
  return v_new;
end
$$;

--
-- Name: workflow_schedule_wake(bigint, integer, text, timestamp with time zone); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_schedule_wake(p_run_id bigint, p_step_index integer, p_reason text, p_at timestamp with time zone) RETURNS void
    LANGUAGE sql
    AS $$
  select from orchestrator.enqueue('workflow.wake',
    jsonb_build_object('run_id', p_run_id, 'step_index', p_step_index, 'reason', p_reason),
    jsonb_build_object('run_at', p_at, 'source', 'workflow-timer', 'max_attempts', 10, 'priority', 5,
                       'dedupe_key', case when p_reason <> 'event' then format('workflow.wake:%s:%s:%s', p_run_id, p_step_index, p_reason) end))
$$;

--
-- Name: workflow_steps; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.workflow_steps (
    run_id bigint NOT NULL,
    step_index integer NOT NULL,
    name text NOT NULL,
    type text NOT NULL,
    optional boolean DEFAULT false NOT NULL,
    status orchestrator.workflow_step_status DEFAULT 'pending'::orchestrator.workflow_step_status NOT NULL,
    input_template jsonb NOT NULL,
    options jsonb DEFAULT '{}'::jsonb NOT NULL,
    input jsonb,
    task_id bigint,
    result jsonb,
    error text,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    kind text DEFAULT 'task'::text NOT NULL,
    after_steps integer[] DEFAULT '{}'::integer[] NOT NULL,
    condition jsonb,
    skipped_by_condition boolean DEFAULT false NOT NULL,
    map_over jsonb,
    map_parallelism integer,
    continue_on_error boolean DEFAULT false NOT NULL,
    map_total integer,
    map_started integer DEFAULT 0 NOT NULL,
    map_finished integer DEFAULT 0 NOT NULL,
    map_failed integer DEFAULT 0 NOT NULL,
    wait jsonb,
    waiting_for jsonb,
    timeout_at timestamp with time zone,
    child_run_id bigint,
    reused boolean DEFAULT false NOT NULL,
    approval_ticket_id bigint,
    CONSTRAINT workflow_steps_kind_check CHECK ((kind = ANY (ARRAY['task'::text, 'sleep'::text, 'wait_for_event'::text, 'workflow'::text, 'approval'::text]))),
    CONSTRAINT workflow_steps_map_parallelism_check CHECK (((map_parallelism >= 1) AND (map_parallelism <= 1000))),
    CONSTRAINT workflow_steps_map_total_check CHECK (((map_total >= 0) AND (map_total <= 10000))),
    CONSTRAINT workflow_steps_step_index_check CHECK ((step_index >= 0))
);

--
-- Name: COLUMN workflow_steps.after_steps; Type: COMMENT; Schema: orchestrator; Owner: -
--

COMMENT ON COLUMN orchestrator.workflow_steps.after_steps IS 'The step_index of each step this one waits for (resolved from the names in `after` when the run started).';

--
-- Name: COLUMN workflow_steps.waiting_for; Type: COMMENT; Schema: orchestrator; Owner: -
--

COMMENT ON COLUMN orchestrator.workflow_steps.waiting_for IS 'What a waiting step waits for, rendered when it began: {"until": …} or {"event": {"source", "type", "match"}}.';

--
-- Name: COLUMN workflow_steps.reused; Type: COMMENT; Schema: orchestrator; Owner: -
--

COMMENT ON COLUMN orchestrator.workflow_steps.reused IS 'A re-run kept this step''s outcome from the run it re-runs (workflow_rerun): it did not run again.';

--
-- Name: workflow_start_approval(bigint, orchestrator.workflow_steps, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_start_approval(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  v_run orchestrator.workflow_runs;
  v_title text;
  v_body text;
  v_ticket bigint;
  v_timeout numeric := (p_step.wait ->> 'timeout_seconds')::numeric;
begin
  select * into v_run from orchestrator.workflow_runs where id = p_run_id;
  v_title := orchestrator.workflow_render(p_step.wait -> 'title', p_ctx) #>> '{}';
  v_body := orchestrator.workflow_render(p_step.wait -> 'body', p_ctx) #>> '{}';
  if coalesce(btrim(v_title), '') = '' then
    raise exception using errcode = '22023', message = 'its approval title resolved to nothing';
  end if;
  insert into orchestrator.tickets (title, description, priority, source, fingerprint)
  values (left('Approve: ' || v_title, 500),
          left(concat_ws(E'\n\n', v_body,
            format('Workflow %s, run %s, step %s. Resolve this ticket (Done in Notion) to approve it, close it to reject it, or '
                   'POST /workflows/%s/runs/%s/steps/%s/approve (or /reject).', v_run.workflow_name, p_run_id, p_step.name,
                   v_run.workflow_name, p_run_id, p_step.name)), 20000),
          'high', 'workflow', format('workflow-approval:%s:%s', p_run_id, p_step.step_index))
  returning id into v_ticket;
  update orchestrator.workflow_steps
     set status = 'waiting', approval_ticket_id = v_ticket, started_at = now(),
         waiting_for = jsonb_build_object('approval', jsonb_build_object('ticket_id', v_ticket, 'title', v_title)),
         timeout_at = now() + make_interval(secs => v_timeout)
   where run_id = p_run_id and step_index = p_step.step_index;
  perform orchestrator.workflow_schedule_wake(p_run_id, p_step.step_index, 'timeout', now() + make_interval(secs => v_timeout));
end
$$;

--
-- Name: workflow_start_child(bigint, orchestrator.workflow_steps, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_start_child(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  v_run orchestrator.workflow_runs;
  v_input jsonb;
  v_child orchestrator.workflow_runs;
begin
  select * into v_run from orchestrator.workflow_runs where id = p_run_id;
  v_input := coalesce(orchestrator.workflow_render(p_step.input_template, p_ctx), '{}'::jsonb);
  if jsonb_typeof(v_input) <> 'object' then
    raise exception using errcode = '22023', message = format('its input must be a JSON object, got %s', jsonb_typeof(v_input));
  end if;
  update orchestrator.workflow_steps
     set status = 'waiting', input = v_input, started_at = now(),
         waiting_for = jsonb_build_object('workflow', p_step.wait ->> 'workflow')
   where run_id = p_run_id and step_index = p_step.step_index;
  select (r.run).* into v_child
  from orchestrator.start_workflow_run(p_step.wait ->> 'workflow', v_input, jsonb_build_object(
    'source', left('workflow:' || v_run.workflow_name, 100), 'parent_run_id', p_run_id, 'parent_step_index', p_step.step_index)) r;
  update orchestrator.workflow_steps
     set child_run_id = v_child.id,
         waiting_for = jsonb_build_object('workflow', p_step.wait ->> 'workflow', 'run_id', v_child.id)
   where run_id = p_run_id and step_index = p_step.step_index and status = 'waiting';
  -- It ended as it started (before child_run_id was set): its end found no step to end, so end it now.
  if v_child.status <> 'running' then
    perform orchestrator.workflow_child_finished(v_child.id);
  end if;
end
$$;

--
-- Name: workflow_start_element(bigint, orchestrator.workflow_steps, integer, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_start_element(p_run_id bigint, p_step orchestrator.workflow_steps, p_idx integer, p_ctx jsonb) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  v_item jsonb;
  v_input jsonb;
  v_run orchestrator.workflow_runs;
  v_task_id bigint;
begin
  select item into v_item from orchestrator.workflow_map_elements where run_id = p_run_id and step_index = p_step.step_index and idx = p_idx;
  v_input := orchestrator.workflow_render(p_step.input_template, p_ctx || jsonb_build_object('item', v_item, 'index', p_idx));
  if v_input is null or jsonb_typeof(v_input) <> 'object' then
    raise exception using errcode = '22023',
      message = format('element %s: its input must be a JSON object, got %s', p_idx, coalesce(jsonb_typeof(v_input), 'nothing'));
  end if;
  select * into v_run from orchestrator.workflow_runs where id = p_run_id;
  select (e.task).id into v_task_id
  from orchestrator.enqueue(p_step.type, v_input, jsonb_build_object(
    'source', left('workflow:' || v_run.workflow_name, 100),
    'dedupe_key', format('workflow:%s:%s:%s', p_run_id, p_step.step_index, p_idx),
    'max_attempts', p_step.options -> 'max_attempts',
    'priority', p_step.options -> 'priority',
    'backoff_base_seconds', p_step.options -> 'backoff_base_seconds')) e;
  update orchestrator.workflow_map_elements set status = 'running', task_id = v_task_id
   where run_id = p_run_id and step_index = p_step.step_index and idx = p_idx;
  update orchestrator.workflow_steps set map_started = map_started + 1
   where run_id = p_run_id and step_index = p_step.step_index;
end
$$;

--
-- Name: workflow_start_event_wait(bigint, orchestrator.workflow_steps, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_start_event_wait(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  v_spec jsonb;
  v_event orchestrator.events;
  v_timeout numeric := (p_step.wait ->> 'timeout_seconds')::numeric;
begin
  v_spec := jsonb_build_object('source', p_step.wait #>> '{event,source}', 'type', p_step.wait #>> '{event,type}',
                               'match', coalesce(orchestrator.workflow_render(p_step.wait #> '{event,match}', p_ctx), '{}'::jsonb));
  -- Every event of this source and type whose transaction is still open commits first (20261202001300).
  perform pg_advisory_xact_lock(hashtext('orchestrator.workflow_events'), orchestrator.workflow_event_lock_key(v_spec ->> 'source', v_spec ->> 'type'));
  update orchestrator.workflow_steps
     set status = 'waiting', waiting_for = jsonb_build_object('event', v_spec), started_at = now(),
         timeout_at = case when v_timeout is not null then now() + make_interval(secs => v_timeout) end
   where run_id = p_run_id and step_index = p_step.step_index;
  v_event := orchestrator.workflow_matching_event(p_run_id, v_spec);
  if v_event.id is not null then
    perform orchestrator.workflow_step_succeeded(p_run_id, p_step.step_index, to_jsonb(v_event));
    return;
  end if;
  if v_timeout is not null then
    perform orchestrator.workflow_schedule_wake(p_run_id, p_step.step_index, 'timeout', now() + make_interval(secs => v_timeout));
  end if;
end
$$;

--
-- Name: workflow_start_map(bigint, orchestrator.workflow_steps, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_start_map(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  v_over jsonb;
  i integer;
begin
  v_over := orchestrator.workflow_render(p_step.map_over, p_ctx);
  if v_over is null or jsonb_typeof(v_over) <> 'array' then
    raise exception using errcode = '22023',
      message = format('map over %s: not an array (%s)', p_step.map_over #>> '{}', coalesce(jsonb_typeof(v_over), 'no value'));
  end if;
  if jsonb_array_length(v_over) > 10000 then
    raise exception using errcode = '22023', message = format('map over %s: %s elements, at most 10,000', p_step.map_over #>> '{}', jsonb_array_length(v_over));
  end if;
  insert into orchestrator.workflow_map_elements (run_id, step_index, idx, item)
  select p_run_id, p_step.step_index, (n - 1)::integer, x from jsonb_array_elements(v_over) with ordinality a(x, n);
  update orchestrator.workflow_steps
     set status = 'running', input = jsonb_build_object('over', v_over), map_total = jsonb_array_length(v_over), started_at = now()
   where run_id = p_run_id and step_index = p_step.step_index
  returning * into p_step;
  if p_step.map_total = 0 then
    perform orchestrator.workflow_step_succeeded(p_run_id, p_step.step_index, '[]'::jsonb);
    return;
  end if;
  for i in 0 .. least(coalesce(p_step.map_parallelism, 10), p_step.map_total) - 1 loop
    perform orchestrator.workflow_start_element(p_run_id, p_step, i, p_ctx);
  end loop;
end
$$;

--
-- Name: workflow_start_sleep(bigint, orchestrator.workflow_steps, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_start_sleep(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  v_until timestamptz;
  v_timeout numeric := (p_step.wait ->> 'timeout_seconds')::numeric;
begin
  v_until := case when p_step.wait ? 'seconds' then now() + make_interval(secs => (p_step.wait ->> 'seconds')::numeric)
                  else (orchestrator.workflow_render(p_step.wait -> 'until', p_ctx) #>> '{}')::timestamptz end;
  if v_until is null then
    raise exception using errcode = '22023', message = format('sleep until %s: no time', p_step.wait -> 'until');
  end if;
  if v_until > now() + interval '30 days' then
    raise exception using errcode = '22023', message = format('sleep until %s: more than 30 days away', v_until);
  end if;
  update orchestrator.workflow_steps
     set status = 'waiting', waiting_for = jsonb_build_object('until', v_until), started_at = now(),
         timeout_at = case when v_timeout is not null then now() + make_interval(secs => v_timeout) end
   where run_id = p_run_id and step_index = p_step.step_index;
  perform orchestrator.workflow_schedule_wake(p_run_id, p_step.step_index, 'sleep', v_until);
  if v_timeout is not null then
    perform orchestrator.workflow_schedule_wake(p_run_id, p_step.step_index, 'timeout', now() + make_interval(secs => v_timeout));
  end if;
end
$$;

--
-- Name: workflow_start_step(bigint, orchestrator.workflow_steps, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_start_step(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  v_outer text := current_setting('orchestrator.trace_id', true);
  v_trace text;
begin
  select trace_id into v_trace from orchestrator.workflow_runs where id = p_run_id;
  if v_trace is not null then
    perform set_config('orchestrator.trace_id', v_trace, true);
  end if;
  case
    when p_step.kind = 'task' and p_step.map_over is null then perform orchestrator.workflow_start_task(p_run_id, p_step, p_ctx);
    when p_step.kind = 'task' then perform orchestrator.workflow_start_map(p_run_id, p_step, p_ctx);
    when p_step.kind = 'sleep' then perform orchestrator.workflow_start_sleep(p_run_id, p_step, p_ctx);
    when p_step.kind = 'wait_for_event' then perform orchestrator.workflow_start_event_wait(p_run_id, p_step, p_ctx);
    when p_step.kind = 'workflow' then perform orchestrator.workflow_start_child(p_run_id, p_step, p_ctx);
    when p_step.kind = 'approval' then perform orchestrator.workflow_start_approval(p_run_id, p_step, p_ctx);
  end case;
  if v_trace is not null then
    perform set_config('orchestrator.trace_id', coalesce(v_outer, ''), true);
  end if;
end
$$;

--
-- Name: workflow_start_task(bigint, orchestrator.workflow_steps, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_start_task(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  v_run orchestrator.workflow_runs;
  v_input jsonb;
  v_task_id bigint;
begin
  select * into v_run from orchestrator.workflow_runs where id = p_run_id;
  v_input := orchestrator.workflow_render(p_step.input_template, p_ctx);
  if v_input is null or jsonb_typeof(v_input) = 'null' then
    update orchestrator.workflow_steps set status = 'skipped', error = 'input resolved to null', finished_at = now()
     where run_id = p_run_id and step_index = p_step.step_index;
    return;
  end if;
  if jsonb_typeof(v_input) <> 'object' then
    raise exception using errcode = '22023', message = format('its input must be a JSON object, got %s', jsonb_typeof(v_input));
  end if;
  select (e.task).id into v_task_id
  from orchestrator.enqueue(p_step.type, v_input, jsonb_build_object(
    'source', left('workflow:' || v_run.workflow_name, 100),
    'dedupe_key', format('workflow:%s:%s', p_run_id, p_step.step_index),
    'max_attempts', p_step.options -> 'max_attempts',
    'priority', p_step.options -> 'priority',
    'backoff_base_seconds', p_step.options -> 'backoff_base_seconds')) e;
  update orchestrator.workflow_steps set status = 'running', input = v_input, task_id = v_task_id, started_at = now()
   where run_id = p_run_id and step_index = p_step.step_index;
end
$$;

--
-- Name: workflow_step_failed(bigint, integer, text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_step_failed(p_run_id bigint, p_step_index integer, p_error text) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  v_step orchestrator.workflow_steps;
begin
  update orchestrator.workflow_steps
     set status = 'failed', error = left(p_error, 10000), finished_at = now()
   where run_id = p_run_id and step_index = p_step_index
  returning * into v_step;
  perform orchestrator.workflow_finish_run(p_run_id, 'failed',
    format('step %s (%s) %s', v_step.name, v_step.type, p_error), v_step.name);
end
$$;

--
-- Name: workflow_step_succeeded(bigint, integer, jsonb); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_step_succeeded(p_run_id bigint, p_step_index integer, p_result jsonb) RETURNS void
    LANGUAGE sql
    AS $$
  update orchestrator.workflow_steps
     set status = 'succeeded', result = p_result, error = null, finished_at = now()
   where run_id = p_run_id and step_index = p_step_index;
  select orchestrator.workflow_advance(p_run_id);
$$;

--
-- Name: workflow_wake(bigint, integer, text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.workflow_wake(p_run_id bigint, p_step_index integer, p_reason text) RETURNS text
    LANGUAGE plpgsql
    AS $$
declare
  v_run orchestrator.workflow_runs;
  v_step orchestrator.workflow_steps;
  v_event orchestrator.events;
begin
  select * into v_run from orchestrator.workflow_runs where id = p_run_id for update;
  if not found or v_run.status <> 'running' then
    return 'the run is not running';
  end if;
  select * into v_step from orchestrator.workflow_steps where run_id = p_run_id and step_index = p_step_index;
  if not found or v_step.status <> 'waiting' then
    return 'the step is not waiting';
  end if;
  if p_reason = 'sleep' then
    if (v_step.waiting_for ->> 'until')::timestamptz > now() then
      return 'not yet';
    end if;
    perform orchestrator.workflow_step_succeeded(p_run_id, p_step_index, jsonb_build_object('slept_until', v_step.waiting_for -> 'until'));
    return 'slept';
  elsif p_reason = 'event' then
    v_event := orchestrator.workflow_matching_event(p_run_id, v_step.waiting_for -> 'event');
    if v_event.id is null then
      return 'no matching event';
    end if;
    perform orchestrator.workflow_step_succeeded(p_run_id, p_step_index, to_jsonb(v_event));
    return 'event ' || v_event.id;
  elsif p_reason = 'timeout' then
    if v_step.timeout_at > now() then
      return 'not yet';
    end if;
    if coalesce(v_step.wait ->> 'on_timeout', 'fail') = 'continue' then
      perform orchestrator.workflow_step_succeeded(p_run_id, p_step_index, jsonb_build_object('timed_out', true, 'at', now()));
      return 'timed out; the run goes on';
    end if;
    perform orchestrator.workflow_step_failed(p_run_id, p_step_index,
      format('timed out after %s s waiting for %s', v_step.wait ->> 'timeout_seconds', v_step.waiting_for));
    return 'timed out; the run failed';
  end if;
  raise exception using errcode = '22023', message = format('workflow_wake: unknown reason %s', p_reason);
end
$$;

--
-- Name: zoned_instant(timestamp without time zone, text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.zoned_instant(p_local timestamp without time zone, p_timezone text) RETURNS timestamp with time zone
    LANGUAGE plpgsql STABLE
    AS $$
declare
  v_as_utc timestamptz := p_local at time zone 'UTC';
  v_offset_before interval := ((v_as_utc - interval '1 day') at time zone p_timezone) - (v_as_utc - interval '1 day') at time zone 'UTC';
  v_offset_after interval := ((v_as_utc + interval '1 day') at time zone p_timezone) - (v_as_utc + interval '1 day') at time zone 'UTC';
  v_early timestamptz := v_as_utc - greatest(v_offset_before, v_offset_after);
  v_late timestamptz := v_as_utc - least(v_offset_before, v_offset_after);
begin
  if v_offset_before = v_offset_after then
    return case when (v_early at time zone p_timezone) = p_local then v_early else p_local at time zone p_timezone end;
  end if;
  -- The earlier reading that shows p_local on the wall clock (both do when it exists twice).
  if (v_early at time zone p_timezone) = p_local then
    return v_early;
  elsif (v_late at time zone p_timezone) = p_local then
    return v_late;
  end if;
  -- In the gap: the first instant whose wall clock is past p_local, i.e. the transition itself.
  return (select min(t) from generate_series(v_early, v_late, interval '1 minute') t where (t at time zone p_timezone) > p_local);
end
$$;

--
-- Name: zoned_iso(timestamp with time zone, text); Type: FUNCTION; Schema: orchestrator; Owner: -
--

CREATE FUNCTION orchestrator.zoned_iso(p_at timestamp with time zone, p_timezone text) RETURNS text
    LANGUAGE sql STABLE
    AS $$
  with o as (select (p_at at time zone p_timezone) as local_at,
                    extract(epoch from (p_at at time zone p_timezone) - (p_at at time zone 'UTC'))::integer as secs)
  select to_char(local_at, 'YYYY-MM-DD"T"HH24:MI:SS')
         || case when secs < 0 then '-' else '+' end
         || lpad((abs(secs) / 3600)::text, 2, '0') || ':' || lpad((abs(secs) % 3600 / 60)::text, 2, '0')
  from o
$$;

--
-- Name: claim_rotation; Type: SEQUENCE; Schema: orchestrator; Owner: -
--

CREATE SEQUENCE orchestrator.claim_rotation
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
    CYCLE;

--
-- Name: digests; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.digests (
    day date NOT NULL,
    summary jsonb NOT NULL,
    body_md text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: event_replay_guard; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.event_replay_guard (
    signature text NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: event_rules; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.event_rules (
    id bigint NOT NULL,
    name text NOT NULL,
    description text,
    enabled boolean DEFAULT true NOT NULL,
    source text,
    type text DEFAULT '*'::text NOT NULL,
    min_level orchestrator.log_level,
    match jsonb DEFAULT '{}'::jsonb NOT NULL,
    task_type text NOT NULL,
    payload_template jsonb DEFAULT '{}'::jsonb NOT NULL,
    priority integer DEFAULT 0 NOT NULL,
    dedupe_key text,
    max_attempts integer,
    source_like text GENERATED ALWAYS AS (orchestrator.glob_to_like(source)) STORED,
    type_like text GENERATED ALWAYS AS (orchestrator.glob_to_like(type)) STORED NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT event_rules_dedupe_key_check CHECK (((length(dedupe_key) >= 1) AND (length(dedupe_key) <= 200))),
    CONSTRAINT event_rules_description_check CHECK ((length(description) <= 2000)),
    CONSTRAINT event_rules_match_check CHECK ((jsonb_typeof(match) = 'object'::text)),
    CONSTRAINT event_rules_max_attempts_check CHECK (((max_attempts >= 1) AND (max_attempts <= 100))),
    CONSTRAINT event_rules_name_check CHECK ((name ~ '^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,79}$'::text)),
    CONSTRAINT event_rules_payload_template_check CHECK ((jsonb_typeof(payload_template) = 'object'::text)),
    CONSTRAINT event_rules_priority_check CHECK (((priority >= '-1000'::integer) AND (priority <= 1000))),
    CONSTRAINT event_rules_source_check CHECK ((source ~ '^[a-z0-9*?][a-z0-9_.*?-]{0,63}$'::text)),
    CONSTRAINT event_rules_task_type_check CHECK ((task_type ~ '^[a-z][a-z0-9_.:-]{0,63}$'::text)),
    CONSTRAINT event_rules_type_check CHECK ((type ~ '^[A-Za-z0-9_.:/*?-]{1,100}$'::text))
);

--
-- Name: event_rules_id_seq; Type: SEQUENCE; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.event_rules ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME orchestrator.event_rules_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: events_id_seq; Type: SEQUENCE; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.events ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME orchestrator.events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: logs; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.logs (
    id bigint NOT NULL,
    at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    level orchestrator.log_level DEFAULT 'info'::orchestrator.log_level NOT NULL,
    component text DEFAULT 'orchestrator'::text NOT NULL,
    message text NOT NULL,
    context jsonb DEFAULT '{}'::jsonb NOT NULL,
    task_id bigint,
    request_id text,
    trace_id text DEFAULT orchestrator.current_trace_id()
);

--
-- Name: COLUMN logs.trace_id; Type: COMMENT; Schema: orchestrator; Owner: -
--

COMMENT ON COLUMN orchestrator.logs.trace_id IS 'W3C trace id of the work the row is about: GET /logs?trace_id=…';

--
-- Name: logs_id_seq; Type: SEQUENCE; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.logs ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME orchestrator.logs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: notion_pages; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.notion_pages (
    entity text NOT NULL,
    row_key text NOT NULL,
    orchestrator_id text GENERATED ALWAYS AS (((entity || ':'::text) || row_key)) STORED,
    database_id text,
    page_id text,
    synced jsonb DEFAULT '{}'::jsonb NOT NULL,
    field_times jsonb DEFAULT '{}'::jsonb NOT NULL,
    body_hash text,
    create_attempted_at timestamp with time zone,
    lock_token uuid,
    locked_until timestamp with time zone,
    pushed_at timestamp with time zone,
    pulled_at timestamp with time zone,
    notion_edited_at timestamp with time zone,
    last_error text,
    last_error_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT notion_pages_entity_check CHECK ((entity = ANY (ARRAY['task'::text, 'ticket'::text, 'sop'::text, 'digest'::text]))),
    CONSTRAINT notion_pages_row_key_check CHECK (((length(row_key) >= 1) AND (length(row_key) <= 200)))
);

--
-- Name: notion_tracked_task_types; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.notion_tracked_task_types (
    type text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT notion_tracked_task_types_type_check CHECK (((type ~ '^[a-z][a-z0-9_.:-]{0,63}$'::text) AND (type !~ '^(notion|webhook)\.'::text)))
);

--
-- Name: notion_webhook_verification; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.notion_webhook_verification (
    singleton boolean DEFAULT true NOT NULL,
    open_until timestamp with time zone,
    opened_at timestamp with time zone,
    replace_allowed boolean DEFAULT false NOT NULL,
    token_received_at timestamp with time zone,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT notion_webhook_verification_singleton_check CHECK (singleton)
);

--
-- Name: rate_limits; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.rate_limits (
    bucket text NOT NULL,
    tat timestamp with time zone NOT NULL,
    granted bigint DEFAULT 0 NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    interval_seconds double precision,
    tolerance_seconds double precision,
    deferred_until timestamp with time zone,
    CONSTRAINT rate_limits_bucket_check CHECK (((length(bucket) >= 1) AND (length(bucket) <= 200)))
);

--
-- Name: schedule_runs; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.schedule_runs (
    id bigint NOT NULL,
    schedule_id bigint NOT NULL,
    tick timestamp with time zone NOT NULL,
    trigger text DEFAULT 'cron'::text NOT NULL,
    task_id bigint,
    duplicates integer DEFAULT 0 NOT NULL,
    last_duplicate_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT schedule_runs_trigger_check CHECK ((trigger = ANY (ARRAY['cron'::text, 'manual'::text])))
);

--
-- Name: schedule_runs_id_seq; Type: SEQUENCE; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.schedule_runs ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME orchestrator.schedule_runs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: schedules; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.schedules (
    id bigint NOT NULL,
    name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    cron text NOT NULL,
    timezone text DEFAULT 'UTC'::text NOT NULL,
    task_type text NOT NULL,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    priority integer DEFAULT 0 NOT NULL,
    max_attempts integer DEFAULT 5 NOT NULL,
    enabled boolean DEFAULT true NOT NULL,
    builtin boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT schedules_description_check CHECK ((length(description) <= 2000)),
    CONSTRAINT schedules_max_attempts_check CHECK (((max_attempts >= 1) AND (max_attempts <= 100))),
    CONSTRAINT schedules_name_check CHECK (((name ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'::text) AND (name <> 'settings'::text))),
    CONSTRAINT schedules_payload_check CHECK ((jsonb_typeof(payload) = 'object'::text)),
    CONSTRAINT schedules_priority_check CHECK (((priority >= '-1000'::integer) AND (priority <= 1000))),
    CONSTRAINT schedules_task_type_check CHECK ((task_type ~ '^[a-z][a-z0-9_.:-]{0,63}$'::text))
);

--
-- Name: COLUMN schedules.timezone; Type: COMMENT; Schema: orchestrator; Owner: -
--

COMMENT ON COLUMN orchestrator.schedules.timezone IS 'IANA time zone the cron expression is read in (canonical pg_timezone_names spelling); UTC by default.';

--
-- Name: schedules_id_seq; Type: SEQUENCE; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.schedules ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME orchestrator.schedules_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: settings; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.settings (
    key text NOT NULL,
    value jsonb NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT settings_check CHECK (((key !~~ 'retention.%'::text) OR ((jsonb_typeof(value) = 'number'::text) AND ((((value #>> '{}'::text[]))::numeric >= (1)::numeric) AND (((value #>> '{}'::text[]))::numeric <= (36500)::numeric)) AND (((value #>> '{}'::text[]))::numeric = trunc(((value #>> '{}'::text[]))::numeric))))),
    CONSTRAINT settings_key_check CHECK ((key ~ '^[a-z][a-z0-9_.-]{0,99}$'::text)),
    CONSTRAINT settings_value_check CHECK ((jsonb_typeof(value) = ANY (ARRAY['number'::text, 'boolean'::text, 'string'::text])))
);

--
-- Name: sops_id_seq; Type: SEQUENCE; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.sops ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME orchestrator.sops_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: sync_state; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.sync_state (
    database_id text NOT NULL,
    enabled boolean DEFAULT false NOT NULL,
    data_source_id text,
    bot_user_id text,
    properties jsonb,
    config_error text,
    config_checked_at timestamp with time zone,
    watermark timestamp with time zone,
    pull_lock_token uuid,
    pull_locked_until timestamp with time zone,
    last_pull_at timestamp with time zone,
    last_pull_status text,
    last_pull_error text,
    last_pull_stats jsonb,
    webhook_token_received_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    enabled_at timestamp with time zone,
    CONSTRAINT sync_state_database_id_check CHECK (((length(database_id) >= 1) AND (length(database_id) <= 100))),
    CONSTRAINT sync_state_last_pull_status_check CHECK ((last_pull_status = ANY (ARRAY['ok'::text, 'error'::text])))
);

--
-- Name: task_type_flow; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.task_type_flow (
    type text NOT NULL,
    defaults jsonb NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT task_type_flow_defaults_check CHECK ((jsonb_typeof(defaults) = 'object'::text)),
    CONSTRAINT task_type_flow_type_check CHECK ((type ~ '^[a-z][a-z0-9_.:-]{0,63}$'::text))
);

--
-- Name: tasks_id_seq; Type: SEQUENCE; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.tasks ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME orchestrator.tasks_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: throttle_windows; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.throttle_windows (
    key text NOT NULL,
    window_ends_at timestamp with time zone NOT NULL,
    task_id bigint,
    CONSTRAINT throttle_windows_key_check CHECK (((length(key) >= 1) AND (length(key) <= 200)))
);

--
-- Name: tickets; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.tickets (
    id bigint NOT NULL,
    title text NOT NULL,
    description text,
    status orchestrator.ticket_status DEFAULT 'open'::orchestrator.ticket_status NOT NULL,
    priority orchestrator.ticket_priority DEFAULT 'normal'::orchestrator.ticket_priority NOT NULL,
    source text DEFAULT 'api'::text NOT NULL,
    fingerprint text,
    occurrences bigint DEFAULT 1 NOT NULL,
    first_seen timestamp with time zone DEFAULT now() NOT NULL,
    last_seen timestamp with time zone DEFAULT now() NOT NULL,
    first_event_id bigint,
    last_event_id bigint,
    task_id bigint,
    reopened_count integer DEFAULT 0 NOT NULL,
    reopened_at timestamp with time zone,
    resolved_at timestamp with time zone,
    closed_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    trace_id text DEFAULT orchestrator.trace_id_or_start(),
    CONSTRAINT tickets_description_check CHECK ((length(description) <= 20000)),
    CONSTRAINT tickets_occurrences_check CHECK ((occurrences >= 0)),
    CONSTRAINT tickets_source_check CHECK (((length(source) >= 1) AND (length(source) <= 100))),
    CONSTRAINT tickets_title_check CHECK (((length(title) >= 1) AND (length(title) <= 500)))
);

--
-- Name: tickets_id_seq; Type: SEQUENCE; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.tickets ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME orchestrator.tickets_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: wakeup_failures; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.wakeup_failures (
    request_id bigint NOT NULL,
    reason text NOT NULL,
    sent_at timestamp with time zone NOT NULL,
    answered_at timestamp with time zone NOT NULL,
    status_code integer,
    error text
);

--
-- Name: wakeup_requests; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE UNLOGGED TABLE orchestrator.wakeup_requests (
    request_id bigint NOT NULL,
    reason text NOT NULL,
    sent_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: watchers; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.watchers (
    relid oid NOT NULL,
    table_name text NOT NULL,
    source text NOT NULL,
    event_type text NOT NULL,
    options jsonb DEFAULT '{}'::jsonb NOT NULL,
    columns text[] NOT NULL,
    secret_columns text[] DEFAULT '{}'::text[] NOT NULL,
    function_name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: watcher_status; Type: VIEW; Schema: orchestrator; Owner: -
--

CREATE VIEW orchestrator.watcher_status AS
 SELECT w.table_name,
    w.source,
    w.event_type,
    w.columns,
    w.secret_columns,
    w.options,
    (EXISTS ( SELECT 1
           FROM pg_trigger t
          WHERE ((t.tgrelid = w.relid) AND (t.tgname = 'orchestrator_watch'::name)))) AS active,
    w.created_at,
    w.updated_at
   FROM orchestrator.watchers w;

--
-- Name: webhook_deliveries; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.webhook_deliveries (
    id bigint NOT NULL,
    subscription_id bigint NOT NULL,
    event text NOT NULL,
    payload jsonb NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    task_id bigint,
    last_status_code integer,
    last_error text,
    last_attempt_at timestamp with time zone,
    delivered_at timestamp with time zone,
    response_ms integer,
    attempt_log jsonb DEFAULT '[]'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT webhook_deliveries_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'retrying'::text, 'delivered'::text, 'dead'::text])))
);

--
-- Name: webhook_deliveries_id_seq; Type: SEQUENCE; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.webhook_deliveries ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME orchestrator.webhook_deliveries_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: webhook_subscriptions; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.webhook_subscriptions (
    id bigint NOT NULL,
    url text NOT NULL,
    events text[] DEFAULT '{*}'::text[] NOT NULL,
    secret text NOT NULL,
    format text DEFAULT 'json'::text NOT NULL,
    description text,
    active boolean DEFAULT true NOT NULL,
    max_attempts integer DEFAULT 6 NOT NULL,
    backoff_base_seconds numeric DEFAULT 10 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT webhook_subscriptions_backoff_base_seconds_check CHECK (((backoff_base_seconds >= (0)::numeric) AND (backoff_base_seconds <= (3600)::numeric))),
    CONSTRAINT webhook_subscriptions_description_check CHECK ((length(description) <= 500)),
    CONSTRAINT webhook_subscriptions_events_check CHECK ((((cardinality(events) >= 1) AND (cardinality(events) <= 50)) AND (array_to_string(events, ','::text) ~ '^[a-z0-9_.*,-]+$'::text))),
    CONSTRAINT webhook_subscriptions_format_check CHECK ((format = ANY (ARRAY['json'::text, 'slack'::text]))),
    CONSTRAINT webhook_subscriptions_max_attempts_check CHECK (((max_attempts >= 1) AND (max_attempts <= 20))),
    CONSTRAINT webhook_subscriptions_secret_check CHECK (((length(secret) >= 16) AND (length(secret) <= 200))),
    CONSTRAINT webhook_subscriptions_url_check CHECK (((url ~ '^https?://'::text) AND (length(url) <= 2000)))
);

--
-- Name: webhook_subscriptions_id_seq; Type: SEQUENCE; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.webhook_subscriptions ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME orchestrator.webhook_subscriptions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: worker_presence; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE UNLOGGED TABLE orchestrator.worker_presence (
    isolate text NOT NULL,
    until timestamp with time zone NOT NULL,
    since timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: TABLE worker_presence; Type: COMMENT; Schema: orchestrator; Owner: -
--

COMMENT ON TABLE orchestrator.worker_presence IS 'Isolates whose worker listens for orchestrator_task_ready now: while one is live (until > now()), inserts send no wake-up.';

--
-- Name: workflow_map_elements; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.workflow_map_elements (
    run_id bigint NOT NULL,
    step_index integer NOT NULL,
    idx integer NOT NULL,
    item jsonb NOT NULL,
    status orchestrator.workflow_step_status DEFAULT 'pending'::orchestrator.workflow_step_status NOT NULL,
    task_id bigint,
    result jsonb,
    error text,
    CONSTRAINT workflow_map_elements_idx_check CHECK ((idx >= 0))
);

--
-- Name: workflow_runs_id_seq; Type: SEQUENCE; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.workflow_runs ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME orchestrator.workflow_runs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: workflow_versions; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.workflow_versions (
    workflow_id bigint NOT NULL,
    version integer NOT NULL,
    steps jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: workflows; Type: TABLE; Schema: orchestrator; Owner: -
--

CREATE TABLE orchestrator.workflows (
    id bigint NOT NULL,
    name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    steps jsonb NOT NULL,
    enabled boolean DEFAULT true NOT NULL,
    builtin boolean DEFAULT false NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT workflows_description_check CHECK ((length(description) <= 2000)),
    CONSTRAINT workflows_name_check CHECK ((name ~ '^[a-z][a-z0-9_-]{0,62}$'::text)),
    CONSTRAINT workflows_steps_check CHECK (((jsonb_typeof(steps) = 'array'::text) AND ((jsonb_array_length(steps) >= 1) AND (jsonb_array_length(steps) <= 200))))
);

--
-- Name: workflows_id_seq; Type: SEQUENCE; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.workflows ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME orchestrator.workflows_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: digests digests_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.digests
    ADD CONSTRAINT digests_pkey PRIMARY KEY (day);

--
-- Name: event_replay_guard event_replay_guard_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.event_replay_guard
    ADD CONSTRAINT event_replay_guard_pkey PRIMARY KEY (signature);

--
-- Name: event_rules event_rules_name_key; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.event_rules
    ADD CONSTRAINT event_rules_name_key UNIQUE (name);

--
-- Name: event_rules event_rules_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.event_rules
    ADD CONSTRAINT event_rules_pkey PRIMARY KEY (id);

--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (id);

--
-- Name: logs logs_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.logs
    ADD CONSTRAINT logs_pkey PRIMARY KEY (id);

--
-- Name: notion_pages notion_pages_page_id_key; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.notion_pages
    ADD CONSTRAINT notion_pages_page_id_key UNIQUE (page_id);

--
-- Name: notion_pages notion_pages_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.notion_pages
    ADD CONSTRAINT notion_pages_pkey PRIMARY KEY (entity, row_key);

--
-- Name: notion_tracked_task_types notion_tracked_task_types_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.notion_tracked_task_types
    ADD CONSTRAINT notion_tracked_task_types_pkey PRIMARY KEY (type);

--
-- Name: notion_webhook_verification notion_webhook_verification_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.notion_webhook_verification
    ADD CONSTRAINT notion_webhook_verification_pkey PRIMARY KEY (singleton);

--
-- Name: rate_limits rate_limits_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.rate_limits
    ADD CONSTRAINT rate_limits_pkey PRIMARY KEY (bucket);

--
-- Name: schedule_runs schedule_runs_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.schedule_runs
    ADD CONSTRAINT schedule_runs_pkey PRIMARY KEY (id);

--
-- Name: schedule_runs schedule_runs_schedule_id_tick_key; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.schedule_runs
    ADD CONSTRAINT schedule_runs_schedule_id_tick_key UNIQUE (schedule_id, tick);

--
-- Name: schedules schedules_name_key; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.schedules
    ADD CONSTRAINT schedules_name_key UNIQUE (name);

--
-- Name: schedules schedules_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.schedules
    ADD CONSTRAINT schedules_pkey PRIMARY KEY (id);

--
-- Name: settings settings_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.settings
    ADD CONSTRAINT settings_pkey PRIMARY KEY (key);

--
-- Name: sops sops_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.sops
    ADD CONSTRAINT sops_pkey PRIMARY KEY (id);

--
-- Name: sops sops_slug_version_key; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.sops
    ADD CONSTRAINT sops_slug_version_key UNIQUE (slug, version);

--
-- Name: sync_state sync_state_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.sync_state
    ADD CONSTRAINT sync_state_pkey PRIMARY KEY (database_id);

--
-- Name: task_type_flow task_type_flow_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.task_type_flow
    ADD CONSTRAINT task_type_flow_pkey PRIMARY KEY (type);

--
-- Name: tasks tasks_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.tasks
    ADD CONSTRAINT tasks_pkey PRIMARY KEY (id);

--
-- Name: throttle_windows throttle_windows_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.throttle_windows
    ADD CONSTRAINT throttle_windows_pkey PRIMARY KEY (key);

--
-- Name: tickets tickets_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.tickets
    ADD CONSTRAINT tickets_pkey PRIMARY KEY (id);

--
-- Name: wakeup_failures wakeup_failures_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.wakeup_failures
    ADD CONSTRAINT wakeup_failures_pkey PRIMARY KEY (request_id);

--
-- Name: wakeup_requests wakeup_requests_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.wakeup_requests
    ADD CONSTRAINT wakeup_requests_pkey PRIMARY KEY (request_id);

--
-- Name: watchers watchers_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.watchers
    ADD CONSTRAINT watchers_pkey PRIMARY KEY (relid);

--
-- Name: webhook_deliveries webhook_deliveries_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id);

--
-- Name: webhook_subscriptions webhook_subscriptions_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.webhook_subscriptions
    ADD CONSTRAINT webhook_subscriptions_pkey PRIMARY KEY (id);

--
-- Name: worker_presence worker_presence_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.worker_presence
    ADD CONSTRAINT worker_presence_pkey PRIMARY KEY (isolate);

--
-- Name: workflow_map_elements workflow_map_elements_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.workflow_map_elements
    ADD CONSTRAINT workflow_map_elements_pkey PRIMARY KEY (run_id, step_index, idx);

--
-- Name: workflow_runs workflow_runs_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.workflow_runs
    ADD CONSTRAINT workflow_runs_pkey PRIMARY KEY (id);

--
-- Name: workflow_steps workflow_steps_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.workflow_steps
    ADD CONSTRAINT workflow_steps_pkey PRIMARY KEY (run_id, step_index);

--
-- Name: workflow_steps workflow_steps_run_id_name_key; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.workflow_steps
    ADD CONSTRAINT workflow_steps_run_id_name_key UNIQUE (run_id, name);

--
-- Name: workflow_versions workflow_versions_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.workflow_versions
    ADD CONSTRAINT workflow_versions_pkey PRIMARY KEY (workflow_id, version);

--
-- Name: workflows workflows_name_key; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.workflows
    ADD CONSTRAINT workflows_name_key UNIQUE (name);

--
-- Name: workflows workflows_pkey; Type: CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.workflows
    ADD CONSTRAINT workflows_pkey PRIMARY KEY (id);

--
-- Name: events_external_id_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE UNIQUE INDEX events_external_id_idx ON orchestrator.events USING btree (source, external_id) WHERE (external_id IS NOT NULL);

--
-- Name: events_fingerprint_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX events_fingerprint_idx ON orchestrator.events USING btree (fingerprint, id);

--
-- Name: events_received_brin; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX events_received_brin ON orchestrator.events USING brin (received_at);

--
-- Name: events_ticket_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX events_ticket_idx ON orchestrator.events USING btree (ticket_id, id) WHERE (ticket_id IS NOT NULL);

--
-- Name: events_unprocessed_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX events_unprocessed_idx ON orchestrator.events USING btree (id) WHERE (processed_at IS NULL);

--
-- Name: events_waiting_ticket_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX events_waiting_ticket_idx ON orchestrator.events USING btree (fingerprint) WHERE (wants_ticket AND (ticket_id IS NULL));

--
-- Name: logs_at_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX logs_at_idx ON orchestrator.logs USING btree (at);

--
-- Name: logs_component_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX logs_component_idx ON orchestrator.logs USING btree (component, id);

--
-- Name: logs_level_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX logs_level_idx ON orchestrator.logs USING btree (level, id);

--
-- Name: logs_message_trgm_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX logs_message_trgm_idx ON orchestrator.logs USING gin (message extensions.gin_trgm_ops);

--
-- Name: logs_request_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX logs_request_idx ON orchestrator.logs USING btree (request_id, id) WHERE (request_id IS NOT NULL);

--
-- Name: logs_task_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX logs_task_idx ON orchestrator.logs USING btree (task_id, id) WHERE (task_id IS NOT NULL);

--
-- Name: logs_trace_id_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX logs_trace_id_idx ON orchestrator.logs USING btree (trace_id, id DESC) WHERE (trace_id IS NOT NULL);

--
-- Name: notion_pages_error_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX notion_pages_error_idx ON orchestrator.notion_pages USING btree (last_error_at DESC) WHERE (last_error IS NOT NULL);

--
-- Name: notion_pages_pushed_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX notion_pages_pushed_idx ON orchestrator.notion_pages USING btree (pushed_at DESC) WHERE (pushed_at IS NOT NULL);

--
-- Name: schedule_runs_created_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX schedule_runs_created_idx ON orchestrator.schedule_runs USING btree (created_at);

--
-- Name: schedule_runs_schedule_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX schedule_runs_schedule_idx ON orchestrator.schedule_runs USING btree (schedule_id, id DESC);

--
-- Name: sops_created_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX sops_created_idx ON orchestrator.sops USING btree (id DESC);

--
-- Name: sops_event_ids_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX sops_event_ids_idx ON orchestrator.sops USING gin (event_ids);

--
-- Name: sops_generator_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX sops_generator_idx ON orchestrator.sops USING btree (generator, id DESC);

--
-- Name: sops_source_task_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE UNIQUE INDEX sops_source_task_idx ON orchestrator.sops USING btree (source_task_id) WHERE (source_task_id IS NOT NULL);

--
-- Name: sops_task_ids_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX sops_task_ids_idx ON orchestrator.sops USING gin (task_ids);

--
-- Name: sops_ticket_ids_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX sops_ticket_ids_idx ON orchestrator.sops USING gin (ticket_ids);

--
-- Name: tasks_cancel_on_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX tasks_cancel_on_idx ON orchestrator.tasks USING btree (((cancel_on ->> 'source'::text)), ((cancel_on ->> 'type'::text))) WHERE ((cancel_on IS NOT NULL) AND (status = ANY (ARRAY['queued'::orchestrator.task_status, 'running'::orchestrator.task_status])));

--
-- Name: tasks_claim_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX tasks_claim_idx ON orchestrator.tasks USING btree (group_key, priority DESC, run_at, id) WHERE ((status = 'queued'::orchestrator.task_status) AND (parked_on IS NULL));

--
-- Name: tasks_created_at_brin; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX tasks_created_at_brin ON orchestrator.tasks USING brin (created_at);

--
-- Name: tasks_debounce_key_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE UNIQUE INDEX tasks_debounce_key_idx ON orchestrator.tasks USING btree (debounce_key) WHERE ((status = 'queued'::orchestrator.task_status) AND (debounce_key IS NOT NULL));

--
-- Name: tasks_dedupe_key_live_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE UNIQUE INDEX tasks_dedupe_key_live_idx ON orchestrator.tasks USING btree (dedupe_key) WHERE ((dedupe_key IS NOT NULL) AND (status = ANY (ARRAY['queued'::orchestrator.task_status, 'running'::orchestrator.task_status])));

--
-- Name: tasks_finished_status_id_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX tasks_finished_status_id_idx ON orchestrator.tasks USING btree (status, id) WHERE (status = ANY (ARRAY['succeeded'::orchestrator.task_status, 'dead'::orchestrator.task_status, 'cancelled'::orchestrator.task_status]));

--
-- Name: tasks_parent_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX tasks_parent_idx ON orchestrator.tasks USING btree (parent_id) WHERE (parent_id IS NOT NULL);

--
-- Name: tasks_parked_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX tasks_parked_idx ON orchestrator.tasks USING btree (parked_on, priority DESC, run_at, id) WHERE ((status = 'queued'::orchestrator.task_status) AND (parked_on IS NOT NULL));

--
-- Name: tasks_queued_id_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX tasks_queued_id_idx ON orchestrator.tasks USING btree (id) WHERE (status = 'queued'::orchestrator.task_status);

--
-- Name: tasks_running_concurrency_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX tasks_running_concurrency_idx ON orchestrator.tasks USING btree (concurrency_key) WHERE ((status = 'running'::orchestrator.task_status) AND (concurrency_key IS NOT NULL));

--
-- Name: tasks_running_id_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX tasks_running_id_idx ON orchestrator.tasks USING btree (id) WHERE (status = 'running'::orchestrator.task_status);

--
-- Name: tasks_running_type_limited_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX tasks_running_type_limited_idx ON orchestrator.tasks USING btree (type) WHERE ((status = 'running'::orchestrator.task_status) AND (type_concurrency_limit IS NOT NULL));

--
-- Name: tasks_suspect_claim_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX tasks_suspect_claim_idx ON orchestrator.tasks USING btree (priority DESC, run_at, id) WHERE ((status = 'queued'::orchestrator.task_status) AND suspect);

--
-- Name: tasks_type_id_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX tasks_type_id_idx ON orchestrator.tasks USING btree (type, id DESC);

--
-- Name: tickets_fingerprint_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX tickets_fingerprint_idx ON orchestrator.tickets USING btree (fingerprint, id DESC) WHERE (fingerprint IS NOT NULL);

--
-- Name: tickets_fingerprint_live_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE UNIQUE INDEX tickets_fingerprint_live_idx ON orchestrator.tickets USING btree (fingerprint) WHERE ((fingerprint IS NOT NULL) AND (status <> 'closed'::orchestrator.ticket_status));

--
-- Name: tickets_status_id_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX tickets_status_id_idx ON orchestrator.tickets USING btree (status, id DESC);

--
-- Name: tickets_task_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX tickets_task_idx ON orchestrator.tickets USING btree (task_id) WHERE (task_id IS NOT NULL);

--
-- Name: wakeup_failures_answered_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX wakeup_failures_answered_idx ON orchestrator.wakeup_failures USING btree (answered_at);

--
-- Name: webhook_deliveries_created_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX webhook_deliveries_created_idx ON orchestrator.webhook_deliveries USING btree (created_at);

--
-- Name: webhook_deliveries_status_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX webhook_deliveries_status_idx ON orchestrator.webhook_deliveries USING btree (status, id DESC);

--
-- Name: webhook_deliveries_sub_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX webhook_deliveries_sub_idx ON orchestrator.webhook_deliveries USING btree (subscription_id, id DESC);

--
-- Name: workflow_map_elements_task_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE UNIQUE INDEX workflow_map_elements_task_idx ON orchestrator.workflow_map_elements USING btree (task_id) WHERE (task_id IS NOT NULL);

--
-- Name: workflow_runs_dedupe_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE UNIQUE INDEX workflow_runs_dedupe_idx ON orchestrator.workflow_runs USING btree (workflow_name, dedupe_key) WHERE ((dedupe_key IS NOT NULL) AND (status = 'running'::orchestrator.workflow_run_status));

--
-- Name: workflow_runs_finished_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX workflow_runs_finished_idx ON orchestrator.workflow_runs USING btree (finished_at) WHERE (status <> 'running'::orchestrator.workflow_run_status);

--
-- Name: workflow_runs_name_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX workflow_runs_name_idx ON orchestrator.workflow_runs USING btree (workflow_name, id DESC);

--
-- Name: workflow_runs_parent_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX workflow_runs_parent_idx ON orchestrator.workflow_runs USING btree (parent_run_id) WHERE (parent_run_id IS NOT NULL);

--
-- Name: workflow_steps_approval_ticket_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE UNIQUE INDEX workflow_steps_approval_ticket_idx ON orchestrator.workflow_steps USING btree (approval_ticket_id) WHERE (approval_ticket_id IS NOT NULL);

--
-- Name: workflow_steps_task_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE UNIQUE INDEX workflow_steps_task_idx ON orchestrator.workflow_steps USING btree (task_id) WHERE (task_id IS NOT NULL);

--
-- Name: workflow_steps_waiting_idx; Type: INDEX; Schema: orchestrator; Owner: -
--

CREATE INDEX workflow_steps_waiting_idx ON orchestrator.workflow_steps USING btree (kind) WHERE (status = 'waiting'::orchestrator.workflow_step_status);

--
-- Name: events events_changes_ins; Type: TRIGGER; Schema: orchestrator; Owner: -
--

CREATE TRIGGER events_changes_ins AFTER INSERT ON orchestrator.events REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION orchestrator.propagate_changes('event', 'workflows', 'cancel_on');

--
-- Name: events events_route; Type: TRIGGER; Schema: orchestrator; Owner: -
--

CREATE TRIGGER events_route AFTER INSERT ON orchestrator.events REFERENCING NEW TABLE AS orchestrator_new_events FOR EACH STATEMENT EXECUTE FUNCTION orchestrator.events_route_on_insert();

--
-- Name: schedules schedules_normalize; Type: TRIGGER; Schema: orchestrator; Owner: -
--

CREATE TRIGGER schedules_normalize BEFORE INSERT OR UPDATE ON orchestrator.schedules FOR EACH ROW EXECUTE FUNCTION orchestrator.schedules_normalize();

--
-- Name: schedules schedules_sync_cron; Type: TRIGGER; Schema: orchestrator; Owner: -
--

CREATE TRIGGER schedules_sync_cron AFTER INSERT OR DELETE OR UPDATE ON orchestrator.schedules FOR EACH ROW EXECUTE FUNCTION orchestrator.schedules_sync_cron();

--
-- Name: sops sops_changes_ins; Type: TRIGGER; Schema: orchestrator; Owner: -
--

CREATE TRIGGER sops_changes_ins AFTER INSERT ON orchestrator.sops REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION orchestrator.propagate_changes('sop', 'notion', 'webhooks');

--
-- Name: notion_tracked_task_types tasks_change_triggers_follow; Type: TRIGGER; Schema: orchestrator; Owner: -
--

CREATE TRIGGER tasks_change_triggers_follow AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON orchestrator.notion_tracked_task_types FOR EACH STATEMENT EXECUTE FUNCTION orchestrator.tasks_change_triggers_follow();

--
-- Name: webhook_subscriptions tasks_change_triggers_follow; Type: TRIGGER; Schema: orchestrator; Owner: -
--

CREATE TRIGGER tasks_change_triggers_follow AFTER INSERT OR DELETE OR UPDATE OF active OR TRUNCATE ON orchestrator.webhook_subscriptions FOR EACH STATEMENT EXECUTE FUNCTION orchestrator.tasks_change_triggers_follow();

--
-- Name: tasks tasks_changes_ins; Type: TRIGGER; Schema: orchestrator; Owner: -
--

CREATE TRIGGER tasks_changes_ins AFTER INSERT ON orchestrator.tasks REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION orchestrator.propagate_changes('task', 'notion');

--
-- Name: tasks tasks_changes_upd; Type: TRIGGER; Schema: orchestrator; Owner: -
--

CREATE TRIGGER tasks_changes_upd AFTER UPDATE ON orchestrator.tasks REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION orchestrator.propagate_changes('task', 'notion', 'webhooks');

--
-- Name: tasks tasks_check_fields_ins; Type: TRIGGER; Schema: orchestrator; Owner: -
--

CREATE TRIGGER tasks_check_fields_ins AFTER INSERT ON orchestrator.tasks REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION orchestrator.tasks_check_fields();

--
-- Name: tasks tasks_check_fields_upd; Type: TRIGGER; Schema: orchestrator; Owner: -
--

CREATE TRIGGER tasks_check_fields_upd BEFORE UPDATE OF type, payload, source, priority, max_attempts, backoff_base_seconds, dedupe_key, concurrency_key, concurrency_limit, type_concurrency_limit, rate_key, group_key, debounce_key, cancel_on ON orchestrator.tasks FOR EACH ROW EXECUTE FUNCTION orchestrator.tasks_check_fields();

--
-- Name: tasks tasks_flow_run_ended; Type: TRIGGER; Schema: orchestrator; Owner: -
--

CREATE TRIGGER tasks_flow_run_ended AFTER UPDATE OF status ON orchestrator.tasks FOR EACH ROW WHEN (((old.status = 'running'::orchestrator.task_status) AND (new.status <> 'running'::orchestrator.task_status) AND ((old.concurrency_key IS NOT NULL) OR (old.type_concurrency_limit IS NOT NULL)))) EXECUTE FUNCTION orchestrator.propagate_changes('task', 'flow');

--
-- Name: tasks tasks_wake_worker; Type: TRIGGER; Schema: orchestrator; Owner: -
--

CREATE TRIGGER tasks_wake_worker AFTER INSERT ON orchestrator.tasks REFERENCING NEW TABLE AS new_tasks FOR EACH STATEMENT EXECUTE FUNCTION orchestrator.tasks_wake_on_insert();

--
-- Name: tasks tasks_workflow_hooks; Type: TRIGGER; Schema: orchestrator; Owner: -
--

CREATE TRIGGER tasks_workflow_hooks AFTER UPDATE OF status ON orchestrator.tasks FOR EACH ROW WHEN (((new.source ~~ 'workflow:%'::text) AND (old.status IS DISTINCT FROM new.status) AND (new.status = ANY (ARRAY['succeeded'::orchestrator.task_status, 'dead'::orchestrator.task_status, 'cancelled'::orchestrator.task_status])))) EXECUTE FUNCTION orchestrator.propagate_changes('task', 'workflows');

--
-- Name: tickets tickets_changes_ins; Type: TRIGGER; Schema: orchestrator; Owner: -
--

CREATE TRIGGER tickets_changes_ins AFTER INSERT ON orchestrator.tickets REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION orchestrator.propagate_changes('ticket', 'notion', 'webhooks');

--
-- Name: tickets tickets_changes_upd; Type: TRIGGER; Schema: orchestrator; Owner: -
--

CREATE TRIGGER tickets_changes_upd AFTER UPDATE ON orchestrator.tickets REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION orchestrator.propagate_changes('ticket', 'notion', 'webhooks', 'events', 'workflows');

--
-- Name: workflows workflows_keep_version; Type: TRIGGER; Schema: orchestrator; Owner: -
--

CREATE TRIGGER workflows_keep_version AFTER INSERT OR UPDATE OF steps, version ON orchestrator.workflows FOR EACH ROW EXECUTE FUNCTION orchestrator.workflow_keep_version();

--
-- Name: schedule_runs schedule_runs_schedule_id_fkey; Type: FK CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.schedule_runs
    ADD CONSTRAINT schedule_runs_schedule_id_fkey FOREIGN KEY (schedule_id) REFERENCES orchestrator.schedules(id) ON DELETE CASCADE;

--
-- Name: sops sops_source_task_id_fkey; Type: FK CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.sops
    ADD CONSTRAINT sops_source_task_id_fkey FOREIGN KEY (source_task_id) REFERENCES orchestrator.tasks(id) ON DELETE SET NULL;

--
-- Name: tasks tasks_parent_id_fkey; Type: FK CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.tasks
    ADD CONSTRAINT tasks_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES orchestrator.tasks(id) ON DELETE SET NULL;

--
-- Name: tickets tickets_task_id_fkey; Type: FK CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.tickets
    ADD CONSTRAINT tickets_task_id_fkey FOREIGN KEY (task_id) REFERENCES orchestrator.tasks(id) ON DELETE SET NULL;

--
-- Name: webhook_deliveries webhook_deliveries_subscription_id_fkey; Type: FK CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_subscription_id_fkey FOREIGN KEY (subscription_id) REFERENCES orchestrator.webhook_subscriptions(id) ON DELETE CASCADE;

--
-- Name: workflow_map_elements workflow_map_elements_run_id_step_index_fkey; Type: FK CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.workflow_map_elements
    ADD CONSTRAINT workflow_map_elements_run_id_step_index_fkey FOREIGN KEY (run_id, step_index) REFERENCES orchestrator.workflow_steps(run_id, step_index) ON DELETE CASCADE;

--
-- Name: workflow_map_elements workflow_map_elements_task_id_fkey; Type: FK CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.workflow_map_elements
    ADD CONSTRAINT workflow_map_elements_task_id_fkey FOREIGN KEY (task_id) REFERENCES orchestrator.tasks(id) ON DELETE SET NULL;

--
-- Name: workflow_runs workflow_runs_parent_run_id_fkey; Type: FK CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.workflow_runs
    ADD CONSTRAINT workflow_runs_parent_run_id_fkey FOREIGN KEY (parent_run_id) REFERENCES orchestrator.workflow_runs(id) ON DELETE SET NULL;

--
-- Name: workflow_runs workflow_runs_rerun_of_fkey; Type: FK CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.workflow_runs
    ADD CONSTRAINT workflow_runs_rerun_of_fkey FOREIGN KEY (rerun_of) REFERENCES orchestrator.workflow_runs(id) ON DELETE SET NULL;

--
-- Name: workflow_runs workflow_runs_workflow_id_fkey; Type: FK CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.workflow_runs
    ADD CONSTRAINT workflow_runs_workflow_id_fkey FOREIGN KEY (workflow_id) REFERENCES orchestrator.workflows(id) ON DELETE SET NULL;

--
-- Name: workflow_steps workflow_steps_run_id_fkey; Type: FK CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.workflow_steps
    ADD CONSTRAINT workflow_steps_run_id_fkey FOREIGN KEY (run_id) REFERENCES orchestrator.workflow_runs(id) ON DELETE CASCADE;

--
-- Name: workflow_steps workflow_steps_task_id_fkey; Type: FK CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.workflow_steps
    ADD CONSTRAINT workflow_steps_task_id_fkey FOREIGN KEY (task_id) REFERENCES orchestrator.tasks(id) ON DELETE SET NULL;

--
-- Name: workflow_versions workflow_versions_workflow_id_fkey; Type: FK CONSTRAINT; Schema: orchestrator; Owner: -
--

ALTER TABLE ONLY orchestrator.workflow_versions
    ADD CONSTRAINT workflow_versions_workflow_id_fkey FOREIGN KEY (workflow_id) REFERENCES orchestrator.workflows(id) ON DELETE CASCADE;

--
-- Name: digests; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.digests ENABLE ROW LEVEL SECURITY;

--
-- Name: event_replay_guard; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.event_replay_guard ENABLE ROW LEVEL SECURITY;

--
-- Name: event_rules; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.event_rules ENABLE ROW LEVEL SECURITY;

--
-- Name: events; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.events ENABLE ROW LEVEL SECURITY;

--
-- Name: logs; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.logs ENABLE ROW LEVEL SECURITY;

--
-- Name: notion_pages; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.notion_pages ENABLE ROW LEVEL SECURITY;

--
-- Name: notion_tracked_task_types; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.notion_tracked_task_types ENABLE ROW LEVEL SECURITY;

--
-- Name: notion_webhook_verification; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.notion_webhook_verification ENABLE ROW LEVEL SECURITY;

--
-- Name: rate_limits; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.rate_limits ENABLE ROW LEVEL SECURITY;

--
-- Name: schedule_runs; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.schedule_runs ENABLE ROW LEVEL SECURITY;

--
-- Name: schedules; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.schedules ENABLE ROW LEVEL SECURITY;

--
-- Name: settings; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.settings ENABLE ROW LEVEL SECURITY;

--
-- Name: sops; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.sops ENABLE ROW LEVEL SECURITY;

--
-- Name: sync_state; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.sync_state ENABLE ROW LEVEL SECURITY;

--
-- Name: task_type_flow; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.task_type_flow ENABLE ROW LEVEL SECURITY;

--
-- Name: tasks; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.tasks ENABLE ROW LEVEL SECURITY;

--
-- Name: throttle_windows; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.throttle_windows ENABLE ROW LEVEL SECURITY;

--
-- Name: tickets; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.tickets ENABLE ROW LEVEL SECURITY;

--
-- Name: wakeup_failures; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.wakeup_failures ENABLE ROW LEVEL SECURITY;

--
-- Name: wakeup_requests; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.wakeup_requests ENABLE ROW LEVEL SECURITY;

--
-- Name: watchers; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.watchers ENABLE ROW LEVEL SECURITY;

--
-- Name: webhook_deliveries; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.webhook_deliveries ENABLE ROW LEVEL SECURITY;

--
-- Name: webhook_subscriptions; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.webhook_subscriptions ENABLE ROW LEVEL SECURITY;

--
-- Name: worker_presence; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.worker_presence ENABLE ROW LEVEL SECURITY;

--
-- Name: workflow_map_elements; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.workflow_map_elements ENABLE ROW LEVEL SECURITY;

--
-- Name: workflow_runs; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.workflow_runs ENABLE ROW LEVEL SECURITY;

--
-- Name: workflow_steps; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.workflow_steps ENABLE ROW LEVEL SECURITY;

--
-- Name: workflow_versions; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.workflow_versions ENABLE ROW LEVEL SECURITY;

--
-- Name: workflows; Type: ROW SECURITY; Schema: orchestrator; Owner: -
--

ALTER TABLE orchestrator.workflows ENABLE ROW LEVEL SECURITY;

--
-- Name: SCHEMA orchestrator; Type: ACL; Schema: -; Owner: -
--

GRANT USAGE ON SCHEMA orchestrator TO service_role;

--
-- Name: FUNCTION attach_to_tickets(p_event_ids bigint[]); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.attach_to_tickets(p_event_ids bigint[]) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.attach_to_tickets(p_event_ids bigint[]) TO service_role;

--
-- Name: FUNCTION trace_id_or_new(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.trace_id_or_new() FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.trace_id_or_new() TO service_role;

--
-- Name: TABLE tasks; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.tasks TO service_role;

--
-- Name: FUNCTION cancel(p_id bigint); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.cancel(p_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.cancel(p_id bigint) TO service_role;

--
-- Name: FUNCTION trace_id_or_start(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.trace_id_or_start() FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.trace_id_or_start() TO service_role;

--
-- Name: TABLE workflow_runs; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.workflow_runs TO service_role;

--
-- Name: FUNCTION cancel_workflow_run(p_run_id bigint); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.cancel_workflow_run(p_run_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.cancel_workflow_run(p_run_id bigint) TO service_role;

--
-- Name: FUNCTION check_wakeups(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.check_wakeups() FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.check_wakeups() TO service_role;

--
-- Name: FUNCTION claim(p_worker text, p_max_count integer, p_lease_seconds numeric, p_types text[], p_type_leases jsonb, p_take_suspect boolean, p_commit_async boolean); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.claim(p_worker text, p_max_count integer, p_lease_seconds numeric, p_types text[], p_type_leases jsonb, p_take_suspect boolean, p_commit_async boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.claim(p_worker text, p_max_count integer, p_lease_seconds numeric, p_types text[], p_type_leases jsonb, p_take_suspect boolean, p_commit_async boolean) TO service_role;

--
-- Name: FUNCTION claim_flow_filter(p_ids bigint[], p_ckeys text[], p_climits integer[], p_types text[], p_tlimits integer[], p_rkeys text[]); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.claim_flow_filter(p_ids bigint[], p_ckeys text[], p_climits integer[], p_types text[], p_tlimits integer[], p_rkeys text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.claim_flow_filter(p_ids bigint[], p_ckeys text[], p_climits integer[], p_types text[], p_tlimits integer[], p_rkeys text[]) TO service_role;

--
-- Name: FUNCTION claim_pick_ids(p_max_count integer, p_types text[], p_take_suspect boolean); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.claim_pick_ids(p_max_count integer, p_types text[], p_take_suspect boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.claim_pick_ids(p_max_count integer, p_types text[], p_take_suspect boolean) TO service_role;

--
-- Name: FUNCTION complete(p_id bigint, p_lease_token uuid, p_result jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.complete(p_id bigint, p_lease_token uuid, p_result jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.complete(p_id bigint, p_lease_token uuid, p_result jsonb) TO service_role;

--
-- Name: FUNCTION complete_many(p_ids bigint[], p_lease_tokens uuid[], p_results jsonb[]); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.complete_many(p_ids bigint[], p_lease_tokens uuid[], p_results jsonb[]) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.complete_many(p_ids bigint[], p_lease_tokens uuid[], p_results jsonb[]) TO service_role;

--
-- Name: FUNCTION cron_field(p_text text, p_field text, p_min integer, p_max integer, p_names text[]); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.cron_field(p_text text, p_field text, p_min integer, p_max integer, p_names text[]) FROM PUBLIC;

--
-- Name: FUNCTION cron_fires(p_cron text, p_timezone text, p_after timestamp with time zone, p_count integer, p_until timestamp with time zone); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.cron_fires(p_cron text, p_timezone text, p_after timestamp with time zone, p_count integer, p_until timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.cron_fires(p_cron text, p_timezone text, p_after timestamp with time zone, p_count integer, p_until timestamp with time zone) TO service_role;

--
-- Name: FUNCTION cron_is_valid(p_expr text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.cron_is_valid(p_expr text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.cron_is_valid(p_expr text) TO service_role;

--
-- Name: FUNCTION cron_matches(p_cron jsonb, p_at timestamp with time zone); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.cron_matches(p_cron jsonb, p_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.cron_matches(p_cron jsonb, p_at timestamp with time zone) TO service_role;

--
-- Name: FUNCTION cron_parse(p_expr text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.cron_parse(p_expr text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.cron_parse(p_expr text) TO service_role;

--
-- Name: FUNCTION cron_supports_seconds(); Type: ACL; Schema: orchestrator; Owner: -
--

GRANT ALL ON FUNCTION orchestrator.cron_supports_seconds() TO service_role;

--
-- Name: FUNCTION cron_value(p_raw text, p_field text, p_min integer, p_max integer, p_names text[]); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.cron_value(p_raw text, p_field text, p_min integer, p_max integer, p_names text[]) FROM PUBLIC;

--
-- Name: FUNCTION current_trace_id(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.current_trace_id() FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.current_trace_id() TO service_role;

--
-- Name: FUNCTION dead_letter(p_id bigint, p_error text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.dead_letter(p_id bigint, p_error text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.dead_letter(p_id bigint, p_error text) TO service_role;

--
-- Name: FUNCTION enqueue(p_type text, p_payload jsonb, p_opts jsonb, OUT task orchestrator.tasks, OUT created boolean); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.enqueue(p_type text, p_payload jsonb, p_opts jsonb, OUT task orchestrator.tasks, OUT created boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.enqueue(p_type text, p_payload jsonb, p_opts jsonb, OUT task orchestrator.tasks, OUT created boolean) TO service_role;

--
-- Name: FUNCTION enqueue_batch(p_items jsonb, p_source text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.enqueue_batch(p_items jsonb, p_source text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.enqueue_batch(p_items jsonb, p_source text) TO service_role;

--
-- Name: FUNCTION enqueue_many(p_type text, p_payloads jsonb[], p_opts jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.enqueue_many(p_type text, p_payloads jsonb[], p_opts jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.enqueue_many(p_type text, p_payloads jsonb[], p_opts jsonb) TO service_role;

--
-- Name: FUNCTION event_fingerprint(p_source text, p_type text, p_message text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.event_fingerprint(p_source text, p_type text, p_message text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.event_fingerprint(p_source text, p_type text, p_message text) TO service_role;

--
-- Name: TABLE events; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.events TO service_role;

--
-- Name: FUNCTION event_context(e orchestrator.events); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.event_context(e orchestrator.events) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.event_context(e orchestrator.events) TO service_role;

--
-- Name: FUNCTION events_housekeeping(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.events_housekeeping() FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.events_housekeeping() TO service_role;

--
-- Name: FUNCTION events_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.events_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.events_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray) TO service_role;

--
-- Name: FUNCTION events_route_on_insert(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.events_route_on_insert() FROM PUBLIC;

--
-- Name: FUNCTION extend_leases(p_ids bigint[], p_lease_tokens uuid[], p_type_leases jsonb, p_lease_seconds numeric); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.extend_leases(p_ids bigint[], p_lease_tokens uuid[], p_type_leases jsonb, p_lease_seconds numeric) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.extend_leases(p_ids bigint[], p_lease_tokens uuid[], p_type_leases jsonb, p_lease_seconds numeric) TO service_role;

--
-- Name: FUNCTION fail(p_id bigint, p_lease_token uuid, p_error text, p_retryable boolean); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.fail(p_id bigint, p_lease_token uuid, p_error text, p_retryable boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.fail(p_id bigint, p_lease_token uuid, p_error text, p_retryable boolean) TO service_role;

--
-- Name: FUNCTION fail_many(p_ids bigint[], p_lease_tokens uuid[], p_errors text[], p_retryables boolean[]); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.fail_many(p_ids bigint[], p_lease_tokens uuid[], p_errors text[], p_retryables boolean[]) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.fail_many(p_ids bigint[], p_lease_tokens uuid[], p_errors text[], p_retryables boolean[]) TO service_role;

--
-- Name: FUNCTION flow_key(p_path text, p_template jsonb, p_payload jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.flow_key(p_path text, p_template jsonb, p_payload jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.flow_key(p_path text, p_template jsonb, p_payload jsonb) TO service_role;

--
-- Name: FUNCTION flow_number(p_path text, p_value jsonb, p_min numeric, p_max numeric, p_whole boolean); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.flow_number(p_path text, p_value jsonb, p_min numeric, p_max numeric, p_whole boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.flow_number(p_path text, p_value jsonb, p_min numeric, p_max numeric, p_whole boolean) TO service_role;

--
-- Name: FUNCTION flow_object(p_path text, p_value jsonb, p_allowed text[], p_required text[]); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.flow_object(p_path text, p_value jsonb, p_allowed text[], p_required text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.flow_object(p_path text, p_value jsonb, p_allowed text[], p_required text[]) TO service_role;

--
-- Name: FUNCTION flow_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.flow_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.flow_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray) TO service_role;

--
-- Name: FUNCTION flow_resolve(p_type text, p_payload jsonb, p_opts jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.flow_resolve(p_type text, p_payload jsonb, p_opts jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.flow_resolve(p_type text, p_payload jsonb, p_opts jsonb) TO service_role;

--
-- Name: FUNCTION flow_unpark(p_key text, p_count integer); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.flow_unpark(p_key text, p_count integer) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.flow_unpark(p_key text, p_count integer) TO service_role;

--
-- Name: FUNCTION flow_unpark_all(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.flow_unpark_all() FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.flow_unpark_all() TO service_role;

--
-- Name: FUNCTION glob_to_like(p_glob text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.glob_to_like(p_glob text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.glob_to_like(p_glob text) TO service_role;

--
-- Name: FUNCTION hand_off(p_isolate text, p_types text[], p_reason text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.hand_off(p_isolate text, p_types text[], p_reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.hand_off(p_isolate text, p_types text[], p_reason text) TO service_role;

--
-- Name: FUNCTION is_jwt(p_key text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.is_jwt(p_key text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.is_jwt(p_key text) TO service_role;

--
-- Name: FUNCTION is_secret_name(p_name text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.is_secret_name(p_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.is_secret_name(p_name text) TO service_role;

--
-- Name: FUNCTION isolate_terminated(p_execution_id text, p_reason text, p_detail text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.isolate_terminated(p_execution_id text, p_reason text, p_detail text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.isolate_terminated(p_execution_id text, p_reason text, p_detail text) TO service_role;

--
-- Name: FUNCTION lease_isolate(p_locked_by text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.lease_isolate(p_locked_by text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.lease_isolate(p_locked_by text) TO service_role;

--
-- Name: FUNCTION lower_collapsed(p_text text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.lower_collapsed(p_text text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.lower_collapsed(p_text text) TO service_role;

--
-- Name: FUNCTION metrics_flow_control(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.metrics_flow_control() FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.metrics_flow_control() TO service_role;

--
-- Name: FUNCTION metrics_snapshot(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.metrics_snapshot() FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.metrics_snapshot() TO service_role;

--
-- Name: FUNCTION new_trace_id(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.new_trace_id() FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.new_trace_id() TO service_role;

--
-- Name: FUNCTION next_sweep_in(p_max_seconds double precision); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.next_sweep_in(p_max_seconds double precision) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.next_sweep_in(p_max_seconds double precision) TO service_role;

--
-- Name: FUNCTION normalize_message(p_message text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.normalize_message(p_message text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.normalize_message(p_message text) TO service_role;

--
-- Name: FUNCTION notion_cron_tick(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.notion_cron_tick() FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.notion_cron_tick() TO service_role;

--
-- Name: FUNCTION notion_enqueue_pushes(p_entity text, p_keys text[]); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.notion_enqueue_pushes(p_entity text, p_keys text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.notion_enqueue_pushes(p_entity text, p_keys text[]) TO service_role;

--
-- Name: FUNCTION notion_note_field_changes(p_entity text, p_changes jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.notion_note_field_changes(p_entity text, p_changes jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.notion_note_field_changes(p_entity text, p_changes jsonb) TO service_role;

--
-- Name: FUNCTION notion_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.notion_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.notion_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray) TO service_role;

--
-- Name: FUNCTION notion_push_target(p_dedupe_key text, p_payload jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.notion_push_target(p_dedupe_key text, p_payload jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.notion_push_target(p_dedupe_key text, p_payload jsonb) TO service_role;

--
-- Name: FUNCTION notion_repush_dead(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.notion_repush_dead() FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.notion_repush_dead() TO service_role;

--
-- Name: FUNCTION notion_sync_enabled(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.notion_sync_enabled() FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.notion_sync_enabled() TO service_role;

--
-- Name: FUNCTION notion_verification_clear(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.notion_verification_clear() FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.notion_verification_clear() TO service_role;

--
-- Name: FUNCTION notion_verification_offer(p_token text, p_database_id text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.notion_verification_offer(p_token text, p_database_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.notion_verification_offer(p_token text, p_database_id text) TO service_role;

--
-- Name: FUNCTION notion_verification_open(p_seconds integer, p_replace boolean); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.notion_verification_open(p_seconds integer, p_replace boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.notion_verification_open(p_seconds integer, p_replace boolean) TO service_role;

--
-- Name: FUNCTION notion_verification_state(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.notion_verification_state() FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.notion_verification_state() TO service_role;

--
-- Name: FUNCTION open_ticket(p_event_id bigint, p_title text, p_priority orchestrator.ticket_priority, p_task_id bigint); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.open_ticket(p_event_id bigint, p_title text, p_priority orchestrator.ticket_priority, p_task_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.open_ticket(p_event_id bigint, p_title text, p_priority orchestrator.ticket_priority, p_task_id bigint) TO service_role;

--
-- Name: FUNCTION other_worker_listening(p_isolate text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.other_worker_listening(p_isolate text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.other_worker_listening(p_isolate text) TO service_role;

--
-- Name: FUNCTION presence_end(p_isolate text, p_reason text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.presence_end(p_isolate text, p_reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.presence_end(p_isolate text, p_reason text) TO service_role;

--
-- Name: FUNCTION presence_renew(p_isolate text, p_seconds numeric); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.presence_renew(p_isolate text, p_seconds numeric) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.presence_renew(p_isolate text, p_seconds numeric) TO service_role;

--
-- Name: FUNCTION propagate_changes(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.propagate_changes() FROM PUBLIC;

--
-- Name: FUNCTION propagate_to(p_entity text, p_consumers text[], p_op text, p_new anyarray, p_old anyarray); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.propagate_to(p_entity text, p_consumers text[], p_op text, p_new anyarray, p_old anyarray) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.propagate_to(p_entity text, p_consumers text[], p_op text, p_new anyarray, p_old anyarray) TO service_role;

--
-- Name: FUNCTION prune_events(p_opts jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.prune_events(p_opts jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.prune_events(p_opts jsonb) TO service_role;

--
-- Name: FUNCTION prune_history(p_opts jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.prune_history(p_opts jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.prune_history(p_opts jsonb) TO service_role;

--
-- Name: FUNCTION prune_run_history(p_opts jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.prune_run_history(p_opts jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.prune_run_history(p_opts jsonb) TO service_role;

--
-- Name: FUNCTION rate_limit_defer(p_bucket text, p_seconds double precision); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.rate_limit_defer(p_bucket text, p_seconds double precision) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.rate_limit_defer(p_bucket text, p_seconds double precision) TO service_role;

--
-- Name: FUNCTION rate_limit_take(p_bucket text, p_rate double precision, p_burst integer, p_max_wait_seconds double precision); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.rate_limit_take(p_bucket text, p_rate double precision, p_burst integer, p_max_wait_seconds double precision) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.rate_limit_take(p_bucket text, p_rate double precision, p_burst integer, p_max_wait_seconds double precision) TO service_role;

--
-- Name: FUNCTION rate_take(p_bucket text, p_tat timestamp with time zone, p_interval double precision, p_tolerance double precision, p_at timestamp with time zone); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.rate_take(p_bucket text, p_tat timestamp with time zone, p_interval double precision, p_tolerance double precision, p_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.rate_take(p_bucket text, p_tat timestamp with time zone, p_interval double precision, p_tolerance double precision, p_at timestamp with time zone) TO service_role;

--
-- Name: FUNCTION reap(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.reap() FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.reap() TO service_role;

--
-- Name: FUNCTION record_events(p_events jsonb, p_via text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.record_events(p_events jsonb, p_via text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.record_events(p_events jsonb, p_via text) TO service_role;

--
-- Name: FUNCTION release_tasks(p_ids bigint[], p_lease_tokens uuid[]); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.release_tasks(p_ids bigint[], p_lease_tokens uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.release_tasks(p_ids bigint[], p_lease_tokens uuid[]) TO service_role;

--
-- Name: FUNCTION render_template(p_template jsonb, p_context jsonb, OUT value jsonb, OUT missing text[]); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.render_template(p_template jsonb, p_context jsonb, OUT value jsonb, OUT missing text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.render_template(p_template jsonb, p_context jsonb, OUT value jsonb, OUT missing text[]) TO service_role;

--
-- Name: FUNCTION retry(p_id bigint); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.retry(p_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.retry(p_id bigint) TO service_role;

--
-- Name: FUNCTION retry_delay(p_attempts integer, p_base_seconds numeric); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.retry_delay(p_attempts integer, p_base_seconds numeric) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.retry_delay(p_attempts integer, p_base_seconds numeric) TO service_role;

--
-- Name: FUNCTION route_events(p_event_ids bigint[]); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.route_events(p_event_ids bigint[]) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.route_events(p_event_ids bigint[]) TO service_role;

--
-- Name: FUNCTION schedule_job_cron(p_cron text, p_timezone text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.schedule_job_cron(p_cron text, p_timezone text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.schedule_job_cron(p_cron text, p_timezone text) TO service_role;

--
-- Name: FUNCTION schedule_job_name(p_name text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.schedule_job_name(p_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.schedule_job_name(p_name text) TO service_role;

--
-- Name: FUNCTION schedule_next_fires(p_schedule_id bigint, p_from timestamp with time zone, p_count integer); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.schedule_next_fires(p_schedule_id bigint, p_from timestamp with time zone, p_count integer) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.schedule_next_fires(p_schedule_id bigint, p_from timestamp with time zone, p_count integer) TO service_role;

--
-- Name: FUNCTION schedule_tick(p_schedule_id bigint, p_tick timestamp with time zone, p_trigger text, p_now timestamp with time zone); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.schedule_tick(p_schedule_id bigint, p_tick timestamp with time zone, p_trigger text, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.schedule_tick(p_schedule_id bigint, p_tick timestamp with time zone, p_trigger text, p_now timestamp with time zone) TO service_role;

--
-- Name: FUNCTION schedules_normalize(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.schedules_normalize() FROM PUBLIC;

--
-- Name: FUNCTION schedules_sync_cron(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.schedules_sync_cron() FROM PUBLIC;

--
-- Name: FUNCTION set_task_type_flow(p_type text, p_defaults jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.set_task_type_flow(p_type text, p_defaults jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.set_task_type_flow(p_type text, p_defaults jsonb) TO service_role;

--
-- Name: FUNCTION set_worker_endpoint(p_project_url text, p_service_role_key text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.set_worker_endpoint(p_project_url text, p_service_role_key text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.set_worker_endpoint(p_project_url text, p_service_role_key text) TO service_role;

--
-- Name: FUNCTION setting(p_key text, p_default jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.setting(p_key text, p_default jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.setting(p_key text, p_default jsonb) TO service_role;

--
-- Name: TABLE sops; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.sops TO service_role;

--
-- Name: FUNCTION sop_insert(p_slug text, p_title text, p_content jsonb, p_body_md text, p_generator text, p_meta jsonb, OUT sop orchestrator.sops, OUT created boolean); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.sop_insert(p_slug text, p_title text, p_content jsonb, p_body_md text, p_generator text, p_meta jsonb, OUT sop orchestrator.sops, OUT created boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.sop_insert(p_slug text, p_title text, p_content jsonb, p_body_md text, p_generator text, p_meta jsonb, OUT sop orchestrator.sops, OUT created boolean) TO service_role;

--
-- Name: FUNCTION start_workflow_run(p_name text, p_input jsonb, p_opts jsonb, OUT run orchestrator.workflow_runs, OUT created boolean); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.start_workflow_run(p_name text, p_input jsonb, p_opts jsonb, OUT run orchestrator.workflow_runs, OUT created boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.start_workflow_run(p_name text, p_input jsonb, p_opts jsonb, OUT run orchestrator.workflow_runs, OUT created boolean) TO service_role;

--
-- Name: FUNCTION strip_secrets(p_value jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.strip_secrets(p_value jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.strip_secrets(p_value jsonb) TO service_role;

--
-- Name: FUNCTION sweep(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.sweep() FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.sweep() TO service_role;

--
-- Name: FUNCTION task_field_violation(t orchestrator.tasks); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.task_field_violation(t orchestrator.tasks) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.task_field_violation(t orchestrator.tasks) TO service_role;

--
-- Name: FUNCTION task_wait_reason(t orchestrator.tasks); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.task_wait_reason(t orchestrator.tasks) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.task_wait_reason(t orchestrator.tasks) TO service_role;

--
-- Name: FUNCTION tasks_cancel_on_events(p_entity text, p_op text, p_new anyarray, p_old anyarray); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.tasks_cancel_on_events(p_entity text, p_op text, p_new anyarray, p_old anyarray) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.tasks_cancel_on_events(p_entity text, p_op text, p_new anyarray, p_old anyarray) TO service_role;

--
-- Name: FUNCTION tasks_change_triggers_follow(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.tasks_change_triggers_follow() FROM PUBLIC;

--
-- Name: FUNCTION tasks_change_triggers_sync(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.tasks_change_triggers_sync() FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.tasks_change_triggers_sync() TO service_role;

--
-- Name: FUNCTION tasks_check_fields(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.tasks_check_fields() FROM PUBLIC;

--
-- Name: FUNCTION tasks_trigger_set(p_trigger name, p_enabled boolean); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.tasks_trigger_set(p_trigger name, p_enabled boolean) FROM PUBLIC;

--
-- Name: FUNCTION tasks_wake_on_insert(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.tasks_wake_on_insert() FROM PUBLIC;

--
-- Name: FUNCTION timezone_canonical(p_timezone text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.timezone_canonical(p_timezone text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.timezone_canonical(p_timezone text) TO service_role;

--
-- Name: FUNCTION to_level(p_level text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.to_level(p_level text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.to_level(p_level text) TO service_role;

--
-- Name: FUNCTION unwatch_table(p_table regclass); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.unwatch_table(p_table regclass) FROM PUBLIC;

--
-- Name: FUNCTION wake_successor(p_isolate text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.wake_successor(p_isolate text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.wake_successor(p_isolate text) TO service_role;

--
-- Name: FUNCTION wake_worker(p_reason text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.wake_worker(p_reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.wake_worker(p_reason text) TO service_role;

--
-- Name: FUNCTION wakeup_status(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.wakeup_status() FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.wakeup_status() TO service_role;

--
-- Name: FUNCTION watch_table(p_table regclass, p_source text, p_event_type text, p_options jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.watch_table(p_table regclass, p_source text, p_event_type text, p_options jsonb) FROM PUBLIC;

--
-- Name: FUNCTION webhook_compact(p_row jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.webhook_compact(p_row jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.webhook_compact(p_row jsonb) TO service_role;

--
-- Name: FUNCTION webhook_emit(p_events jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.webhook_emit(p_events jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.webhook_emit(p_events jsonb) TO service_role;

--
-- Name: FUNCTION webhook_event_matches(p_patterns text[], p_event text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.webhook_event_matches(p_patterns text[], p_event text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.webhook_event_matches(p_patterns text[], p_event text) TO service_role;

--
-- Name: FUNCTION webhook_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.webhook_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.webhook_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray) TO service_role;

--
-- Name: FUNCTION worker_listening(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.worker_listening() FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.worker_listening() TO service_role;

--
-- Name: FUNCTION workflow_advance(p_run_id bigint); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_advance(p_run_id bigint) FROM PUBLIC;

--
-- Name: FUNCTION workflow_child_finished(p_child bigint); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_child_finished(p_child bigint) FROM PUBLIC;

--
-- Name: FUNCTION workflow_condition(p_cond jsonb, p_ctx jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_condition(p_cond jsonb, p_ctx jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.workflow_condition(p_cond jsonb, p_ctx jsonb) TO service_role;

--
-- Name: FUNCTION workflow_context(p_run_id bigint); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_context(p_run_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.workflow_context(p_run_id bigint) TO service_role;

--
-- Name: FUNCTION workflow_decide(p_run_id bigint, p_step_name text, p_decision text, p_by text, p_comment text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_decide(p_run_id bigint, p_step_name text, p_decision text, p_by text, p_comment text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.workflow_decide(p_run_id bigint, p_step_name text, p_decision text, p_by text, p_comment text) TO service_role;

--
-- Name: FUNCTION workflow_deps_done(p_run_id bigint, p_after integer[]); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_deps_done(p_run_id bigint, p_after integer[]) FROM PUBLIC;

--
-- Name: FUNCTION workflow_event_lock_key(p_source text, p_type text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_event_lock_key(p_source text, p_type text) FROM PUBLIC;

--
-- Name: FUNCTION workflow_finish_run(p_run_id bigint, p_status orchestrator.workflow_run_status, p_error text, p_failed_step text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_finish_run(p_run_id bigint, p_status orchestrator.workflow_run_status, p_error text, p_failed_step text) FROM PUBLIC;

--
-- Name: FUNCTION workflow_keep_version(); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_keep_version() FROM PUBLIC;

--
-- Name: FUNCTION workflow_matching_event(p_run_id bigint, p_spec jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_matching_event(p_run_id bigint, p_spec jsonb) FROM PUBLIC;

--
-- Name: FUNCTION workflow_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.workflow_on_changes(p_entity text, p_op text, p_new anyarray, p_old anyarray) TO service_role;

--
-- Name: FUNCTION workflow_render(p_template jsonb, p_ctx jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_render(p_template jsonb, p_ctx jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.workflow_render(p_template jsonb, p_ctx jsonb) TO service_role;

--
-- Name: FUNCTION workflow_rerun(p_run_id bigint, p_from text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_rerun(p_run_id bigint, p_from text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.workflow_rerun(p_run_id bigint, p_from text) TO service_role;

--
-- Name: FUNCTION workflow_schedule_wake(p_run_id bigint, p_step_index integer, p_reason text, p_at timestamp with time zone); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_schedule_wake(p_run_id bigint, p_step_index integer, p_reason text, p_at timestamp with time zone) FROM PUBLIC;

--
-- Name: TABLE workflow_steps; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.workflow_steps TO service_role;

--
-- Name: FUNCTION workflow_start_approval(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_start_approval(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb) FROM PUBLIC;

--
-- Name: FUNCTION workflow_start_child(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_start_child(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb) FROM PUBLIC;

--
-- Name: FUNCTION workflow_start_element(p_run_id bigint, p_step orchestrator.workflow_steps, p_idx integer, p_ctx jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_start_element(p_run_id bigint, p_step orchestrator.workflow_steps, p_idx integer, p_ctx jsonb) FROM PUBLIC;

--
-- Name: FUNCTION workflow_start_event_wait(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_start_event_wait(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb) FROM PUBLIC;

--
-- Name: FUNCTION workflow_start_map(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_start_map(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb) FROM PUBLIC;

--
-- Name: FUNCTION workflow_start_sleep(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_start_sleep(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb) FROM PUBLIC;

--
-- Name: FUNCTION workflow_start_step(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_start_step(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb) FROM PUBLIC;

--
-- Name: FUNCTION workflow_start_task(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_start_task(p_run_id bigint, p_step orchestrator.workflow_steps, p_ctx jsonb) FROM PUBLIC;

--
-- Name: FUNCTION workflow_step_failed(p_run_id bigint, p_step_index integer, p_error text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_step_failed(p_run_id bigint, p_step_index integer, p_error text) FROM PUBLIC;

--
-- Name: FUNCTION workflow_step_succeeded(p_run_id bigint, p_step_index integer, p_result jsonb); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_step_succeeded(p_run_id bigint, p_step_index integer, p_result jsonb) FROM PUBLIC;

--
-- Name: FUNCTION workflow_wake(p_run_id bigint, p_step_index integer, p_reason text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.workflow_wake(p_run_id bigint, p_step_index integer, p_reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.workflow_wake(p_run_id bigint, p_step_index integer, p_reason text) TO service_role;

--
-- Name: FUNCTION zoned_instant(p_local timestamp without time zone, p_timezone text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.zoned_instant(p_local timestamp without time zone, p_timezone text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.zoned_instant(p_local timestamp without time zone, p_timezone text) TO service_role;

--
-- Name: FUNCTION zoned_iso(p_at timestamp with time zone, p_timezone text); Type: ACL; Schema: orchestrator; Owner: -
--

REVOKE ALL ON FUNCTION orchestrator.zoned_iso(p_at timestamp with time zone, p_timezone text) FROM PUBLIC;
GRANT ALL ON FUNCTION orchestrator.zoned_iso(p_at timestamp with time zone, p_timezone text) TO service_role;

--
-- Name: SEQUENCE claim_rotation; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT USAGE ON SEQUENCE orchestrator.claim_rotation TO service_role;

--
-- Name: TABLE digests; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.digests TO service_role;

--
-- Name: TABLE event_replay_guard; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.event_replay_guard TO service_role;

--
-- Name: TABLE event_rules; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.event_rules TO service_role;

--
-- Name: SEQUENCE event_rules_id_seq; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,USAGE ON SEQUENCE orchestrator.event_rules_id_seq TO service_role;

--
-- Name: SEQUENCE events_id_seq; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,USAGE ON SEQUENCE orchestrator.events_id_seq TO service_role;

--
-- Name: TABLE logs; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.logs TO service_role;

--
-- Name: SEQUENCE logs_id_seq; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,USAGE ON SEQUENCE orchestrator.logs_id_seq TO service_role;

--
-- Name: TABLE notion_pages; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.notion_pages TO service_role;

--
-- Name: TABLE notion_tracked_task_types; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.notion_tracked_task_types TO service_role;

--
-- Name: TABLE notion_webhook_verification; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT ON TABLE orchestrator.notion_webhook_verification TO service_role;

--
-- Name: TABLE rate_limits; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.rate_limits TO service_role;

--
-- Name: TABLE schedule_runs; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.schedule_runs TO service_role;

--
-- Name: TABLE schedules; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.schedules TO service_role;

--
-- Name: TABLE settings; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.settings TO service_role;

--
-- Name: TABLE sync_state; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.sync_state TO service_role;

--
-- Name: TABLE task_type_flow; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.task_type_flow TO service_role;

--
-- Name: SEQUENCE tasks_id_seq; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,USAGE ON SEQUENCE orchestrator.tasks_id_seq TO service_role;

--
-- Name: TABLE throttle_windows; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.throttle_windows TO service_role;

--
-- Name: TABLE tickets; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.tickets TO service_role;

--
-- Name: SEQUENCE tickets_id_seq; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,USAGE ON SEQUENCE orchestrator.tickets_id_seq TO service_role;

--
-- Name: TABLE wakeup_failures; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT ON TABLE orchestrator.wakeup_failures TO service_role;

--
-- Name: TABLE watchers; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.watchers TO service_role;

--
-- Name: TABLE watcher_status; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT ON TABLE orchestrator.watcher_status TO service_role;

--
-- Name: TABLE webhook_deliveries; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.webhook_deliveries TO service_role;

--
-- Name: TABLE webhook_subscriptions; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.webhook_subscriptions TO service_role;

--
-- Name: TABLE worker_presence; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT ON TABLE orchestrator.worker_presence TO service_role;

--
-- Name: TABLE workflow_map_elements; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.workflow_map_elements TO service_role;

--
-- Name: TABLE workflow_versions; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.workflow_versions TO service_role;

--
-- Name: TABLE workflows; Type: ACL; Schema: orchestrator; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE orchestrator.workflows TO service_role;

--
--
