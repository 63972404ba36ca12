-- One template renderer for rules and workflows (issue 15).
--
-- Rules rendered with render_template() (20261124010200_event_routing.sql) and workflows with
-- workflow_render() (20261124030100_workflows.sql): two walkers with two rules for a placeholder
-- that has no value. Now there is one, render_template(), with one rule:
--
--   {{path}} is looked up in the context. A string that is exactly one placeholder takes the
--   value's JSON (numbers stay numbers); inside a longer string the value is text (JSON null and
--   a missing value as ""). A placeholder with no value is listed in `missing`, and where it is a
--   whole value it is left out: its key is dropped from its object (an array keeps the slot, as
--   null; the whole template, as null).
--
-- The callers decide what missing means, as before: a rule enqueues nothing for an event with a
-- missing placeholder (the event records why); a workflow step goes on, and its task's payload
-- schema says whether the field was required (a whole input that resolves to null skips the step).
-- Rules see no change (they never enqueue a payload with a missing value); workflows see none
-- either (their renderer already dropped such keys). workflow_render() stays, as the workflow
-- engine's name for it.

create or replace function orchestrator.render_template(p_template jsonb, p_context jsonb, out value jsonb, out missing text[])
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
$$;

-- The workflow engine's renderer: render_template's value.
create or replace function orchestrator.workflow_render(p_template jsonb, p_ctx jsonb)
returns jsonb
language sql immutable as $$
  select (orchestrator.render_template(p_template, p_ctx)).value
$$;

drop function orchestrator.workflow_value_text(jsonb);
