-- Standard Operating Procedures: one row per version. Regenerating a slug adds
-- version n+1 and keeps every older version.

create table orchestrator.sops (
  id bigint generated always as identity primary key,
  slug text not null check (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$'),
  version integer not null check (version >= 1),
  title text not null check (length(title) between 1 and 300),
  topic text not null check (length(topic) between 1 and 500),
  audience text check (length(audience) <= 200),
  -- The structured SOP (the zod schema in functions/_shared/sops/schema.ts).
  content jsonb not null check (jsonb_typeof(content) = 'object'),
  -- The same SOP rendered as Markdown.
  body_md text not null,
  -- 'template' (the deterministic embedded generator) or 'ai:<model>'.
  generator text not null check (generator = 'template' or generator ~ '^ai:.{1,200}$'),
  -- The sop.generate task that wrote this version (null once that task is pruned).
  source_task_id bigint references orchestrator.tasks (id) on delete set null,
  -- What it was written from.
  ticket_ids bigint[] not null default '{}',
  event_ids bigint[] not null default '{}',
  task_ids bigint[] not null default '{}',
  -- Provider token usage for AI-written versions.
  usage jsonb,
  created_at timestamptz not null default now(),
  unique (slug, version)
);

-- A task writes at most one version, however often it is delivered (at-least-once queue).
create unique index sops_source_task_idx on orchestrator.sops (source_task_id) where source_task_id is not null;
create index sops_created_idx on orchestrator.sops (id desc);
create index sops_generator_idx on orchestrator.sops (generator, id desc);
create index sops_ticket_ids_idx on orchestrator.sops using gin (ticket_ids);
create index sops_event_ids_idx on orchestrator.sops using gin (event_ids);
create index sops_task_ids_idx on orchestrator.sops using gin (task_ids);

-- sop_insert(slug, title, content, body_md, generator, meta) -> (sop, created)
-- meta: topic, audience, source_task_id, ticket_ids, event_ids, task_ids, usage.
-- Versions of one slug are numbered under a per-slug transaction lock, so two
-- concurrent generations get n+1 and n+2. A source_task_id that already wrote a
-- version returns that version with created = false.
create function orchestrator.sop_insert(
  p_slug text,
  p_title text,
  p_content jsonb,
  p_body_md text,
  p_generator text,
  p_meta jsonb default '{}'::jsonb,
  out sop orchestrator.sops,
  out created boolean
)
language plpgsql as $$
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

alter table orchestrator.sops enable row level security;
grant select, insert, update, delete on orchestrator.sops to service_role;
revoke all on function orchestrator.sop_insert(text, text, jsonb, text, text, jsonb) from public;
grant execute on function orchestrator.sop_insert(text, text, jsonb, text, text, jsonb) to service_role;
