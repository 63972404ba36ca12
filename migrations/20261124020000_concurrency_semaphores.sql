-- Counting semaphores in Postgres: a cap on concurrent calls that holds across
-- every worker (Edge Function isolates, scripts, psql), not per process.
-- The AI provider layer takes a slot of the 'ai' semaphore around each HTTP call.
--
-- A semaphore is `capacity` slot rows. Acquiring takes a free slot row with
-- FOR UPDATE SKIP LOCKED (no waiting on each other, never the same slot twice)
-- and stamps it with a lease token and an expiry; releasing clears it. A holder
-- that dies without releasing loses its slot when the lease expires, so a crash
-- never shrinks the capacity for good. Works through Supavisor in transaction
-- mode (no session state, unlike advisory locks).
--
-- Change a capacity at any time: select orchestrator.set_semaphore_capacity('ai', 8);

create table orchestrator.semaphores (
  name text primary key check (name ~ '^[a-z][a-z0-9_.:-]{0,63}$'),
  capacity integer not null check (capacity between 1 and 1000),
  updated_at timestamptz not null default now()
);

create table orchestrator.semaphore_slots (
  name text not null references orchestrator.semaphores (name) on delete cascade,
  slot integer not null check (slot >= 1),
  holder text,
  lease_token uuid,
  acquired_at timestamptz,
  locked_until timestamptz,
  primary key (name, slot),
  check ((lease_token is null) = (locked_until is null))
);

-- set_semaphore_capacity(name, capacity): creates or resizes a semaphore. Slots
-- above a lowered capacity are dropped once free; held ones finish their call
-- (acquire never hands out a slot above the capacity).
create function orchestrator.set_semaphore_capacity(p_name text, p_capacity integer)
returns orchestrator.semaphores
language plpgsql as $$
declare
  v_row orchestrator.semaphores;
begin
  if p_capacity is null or p_capacity < 1 or p_capacity > 1000 then
    raise exception using errcode = '22023', message = format('semaphore capacity must be 1-1000, got %s', p_capacity);
  end if;
  insert into orchestrator.semaphores (name, capacity) values (p_name, p_capacity)
  on conflict (name) do update set capacity = excluded.capacity, updated_at = now()
  returning * into v_row;
  insert into orchestrator.semaphore_slots (name, slot)
  select p_name, g from generate_series(1, p_capacity) g
  on conflict do nothing;
  delete from orchestrator.semaphore_slots
  where name = p_name and slot > p_capacity and (lease_token is null or locked_until < now());
  return v_row;
end
$$;

-- semaphore_acquire(name, holder, lease_seconds) -> a lease token, or null when
-- every slot is taken (the caller waits and asks again). An unknown semaphore
-- raises: create it with set_semaphore_capacity first.
create function orchestrator.semaphore_acquire(p_name text, p_holder text, p_lease_seconds numeric default 120)
returns uuid
language plpgsql as $$
declare
  v_capacity integer;
  v_token uuid;
begin
  select capacity into v_capacity from orchestrator.semaphores where name = p_name;
  if v_capacity is null then
    raise exception using errcode = '22023', message = format('no semaphore named %L', p_name),
      hint = 'Create it with orchestrator.set_semaphore_capacity(name, capacity).';
  end if;
  with free as (
    select name, slot from orchestrator.semaphore_slots
    where name = p_name and slot <= v_capacity
      and (lease_token is null or locked_until < now())
    order by slot
    limit 1
    for update skip locked
  )
  update orchestrator.semaphore_slots s
     set holder = left(p_holder, 200),
         lease_token = gen_random_uuid(),
         acquired_at = now(),
         locked_until = now() + make_interval(secs => greatest(coalesce(p_lease_seconds, 120), 1))
    from free
   where s.name = free.name and s.slot = free.slot
  returning s.lease_token into v_token;
  return v_token;
end
$$;

-- semaphore_release(name, token) -> true when this call freed the slot, false
-- when the token no longer holds one (its lease expired and another caller took it).
create function orchestrator.semaphore_release(p_name text, p_token uuid)
returns boolean
language plpgsql as $$
begin
  update orchestrator.semaphore_slots
     set holder = null, lease_token = null, acquired_at = null, locked_until = null
   where name = p_name and lease_token = p_token;
  return found;
end
$$;

-- What is in use right now (for dashboards, /health and tests).
create function orchestrator.semaphore_status(p_name text)
returns table (name text, capacity integer, in_use integer)
language sql stable as $$
  select m.name, m.capacity,
         (select count(*)::integer from orchestrator.semaphore_slots s
           where s.name = m.name and s.lease_token is not null and s.locked_until >= now())
  from orchestrator.semaphores m
  where m.name = p_name
$$;

-- The AI provider cap: 4 concurrent calls across all workers by default.
select orchestrator.set_semaphore_capacity('ai', 4);

alter table orchestrator.semaphores enable row level security;
alter table orchestrator.semaphore_slots enable row level security;
grant select, insert, update, delete on orchestrator.semaphores, orchestrator.semaphore_slots to service_role;

revoke all on function orchestrator.set_semaphore_capacity(text, integer) from public;
revoke all on function orchestrator.semaphore_acquire(text, text, numeric) from public;
revoke all on function orchestrator.semaphore_release(text, uuid) from public;
revoke all on function orchestrator.semaphore_status(text) from public;
grant execute on function orchestrator.set_semaphore_capacity(text, integer) to service_role;
grant execute on function orchestrator.semaphore_acquire(text, text, numeric) to service_role;
grant execute on function orchestrator.semaphore_release(text, uuid) to service_role;
grant execute on function orchestrator.semaphore_status(text) to service_role;
