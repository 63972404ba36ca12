// The rules service: which events become which tasks. Rules live in
// orchestrator.event_rules; the database applies them when events arrive
// (orchestrator.route_events). Here: CRUD with the checks the database cannot
// make (the task type must be registered; a static payload must fit its schema).
import { db } from "../db.ts";
import { badRequest, conflict, notFound } from "../errors.ts";
import { knownTaskTypes, taskSpec } from "../task-catalog.ts";
import { validateTaskPayload } from "../queue.ts";
import { isStatic } from "./template.ts";
import type { z } from "zod";
import type { Rule, ruleListSchema } from "./responses.ts";
import type { CreateRuleInput, ListRulesQuery, PatchRuleInput } from "./schemas.ts";

/** A rule as the API shows it (responses.ts). */
export type RuleRow = Rule;

const COLUMNS = ["name", "description", "enabled", "source", "type", "min_level", "match", "task_type", "payload_template", "priority", "dedupe_key", "max_attempts"] as const;

function checkTaskType(type: string, template: Record<string, unknown> | undefined): void {
  if (!taskSpec(type)) {
    throw badRequest(`Unknown task type "${type}". Known types: ${knownTaskTypes().join(", ")}.`, {
      issues: [{ path: "task_type", code: "unknown_task_type", message: `no handler is registered for "${type}"` }],
    });
  }
  // A template without placeholders is the payload itself: check it now rather than as a dead task later.
  if (template && isStatic(template)) validateTaskPayload(type, template);
}

function nameTaken(name: string | undefined, err: unknown): never {
  if ((err as { code?: string }).code === "23505") throw conflict(`A rule named "${name}" already exists; names are unique.`);
  throw err;
}

const select = (sql: ReturnType<typeof db>) => sql`
  id, name, description, enabled, source, type, min_level::text as min_level, match, task_type, payload_template,
  priority, dedupe_key, max_attempts, created_at, updated_at`;

export async function listRules(q: ListRulesQuery): Promise<z.infer<typeof ruleListSchema>> {
  const sql = db();
  const rows = await sql<RuleRow[]>`
    select ${select(sql)} from orchestrator.event_rules
    where true
      ${q.enabled !== undefined ? sql`and enabled = ${q.enabled}` : sql``}
      ${q.task_type ? sql`and task_type = ${q.task_type}` : sql``}
    order by id`;
  return { rules: [...rows] };
}

export async function getRule(id: number): Promise<RuleRow> {
  const sql = db();
  const [row] = await sql<RuleRow[]>`select ${select(sql)} from orchestrator.event_rules where id = ${id}`;
  if (!row) throw notFound(`Rule ${id} does not exist.`);
  return row;
}

export async function createRule(input: CreateRuleInput): Promise<RuleRow> {
  checkTaskType(input.task_type, input.payload_template);
  const sql = db();
  try {
    const [row] = await sql<RuleRow[]>`
      insert into orchestrator.event_rules (name, description, enabled, source, type, min_level, match, task_type,
                                            payload_template, priority, dedupe_key, max_attempts)
      values (${input.name}, ${input.description ?? null}, ${input.enabled}, ${input.source}, ${input.type},
              ${input.min_level}::orchestrator.log_level, ${sql.json(input.match as never)}, ${input.task_type},
              ${sql.json(input.payload_template as never)}, ${input.priority}, ${input.dedupe_key}, ${input.max_attempts})
      returning ${select(sql)}`;
    return row;
  } catch (err) {
    nameTaken(input.name, err);
  }
}

export async function patchRule(id: number, patch: PatchRuleInput): Promise<RuleRow> {
  const current = await getRule(id);
  const taskTypeAfter = patch.task_type ?? current.task_type;
  if (patch.task_type !== undefined || patch.payload_template !== undefined) {
    checkTaskType(taskTypeAfter, patch.payload_template ?? current.payload_template);
  }
  const sql = db();
  const values: Record<string, unknown> = {};
  for (const c of COLUMNS) {
    const v = patch[c];
    if (v === undefined) continue;
    values[c] = c === "match" || c === "payload_template" ? sql.json(v as never) : v;
  }
  try {
    const [row] = await sql<RuleRow[]>`
      update orchestrator.event_rules set ${sql(values)}, updated_at = now()
      where id = ${id}
      returning ${select(sql)}`;
    if (!row) throw notFound(`Rule ${id} does not exist.`);
    return row;
  } catch (err) {
    nameTaken(patch.name, err);
  }
}

export async function deleteRule(id: number): Promise<{ deleted: true; rule: RuleRow }> {
  const sql = db();
  const [row] = await sql<RuleRow[]>`delete from orchestrator.event_rules where id = ${id} returning ${select(sql)}`;
  if (!row) throw notFound(`Rule ${id} does not exist.`);
  return { deleted: true, rule: row };
}
