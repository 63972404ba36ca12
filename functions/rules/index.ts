// /rules: which events become which tasks (orchestrator.event_rules).
import { json, parseBody, parseQuery, parseWith } from "../_shared/http.ts";
import { defineFunction } from "../_shared/router.ts";
import { ruleListSchema, ruleSchema } from "../_shared/events/responses.ts";
import { errorShape } from "../_shared/error-shape.ts";
import { createRule, deleteRule, getRule, listRules, patchRule } from "../_shared/events/rules.ts";
import { createRuleSchema, idParam, listRulesQuery, patchRuleSchema } from "../_shared/events/schemas.ts";

const id = (params: Record<string, string>) => parseWith(idParam, params.id, "rule id");

export default defineFunction("rules", [
  { method: "GET", path: "/", summary: "List event rules", query: listRulesQuery, responses: { 200: ruleListSchema }, handler: ({ url }) => listRules(parseQuery(url, listRulesQuery)) },
  {
    method: "POST",
    path: "/",
    summary: "Create a rule",
    body: createRuleSchema,
    responses: { 201: ruleSchema },
    handler: async ({ req, log }) => {
      const rule = await createRule(await parseBody(req, createRuleSchema));
      log.info(`rule "${rule.name}" created`, { rule_id: rule.id, task_type: rule.task_type });
      return json(201, rule);
    },
  },
  { method: "GET", path: "/:id", summary: "One rule", params: { id: idParam }, responses: { 200: ruleSchema, 404: errorShape }, handler: ({ params }) => getRule(id(params)) },
  {
    method: "PATCH",
    path: "/:id",
    summary: "Change a rule",
    params: { id: idParam },
    body: patchRuleSchema,
    responses: { 200: ruleSchema, 404: errorShape },
    handler: async ({ req, params, log }) => {
      const ruleId = id(params);
      const rule = await patchRule(ruleId, await parseBody(req, patchRuleSchema));
      log.info(`rule "${rule.name}" changed`, { rule_id: rule.id });
      return rule;
    },
  },
  {
    method: "DELETE",
    path: "/:id",
    summary: "Delete a rule",
    params: { id: idParam },
    handler: async ({ params, log }) => {
      const out = await deleteRule(id(params));
      log.info(`rule "${out.rule.name}" deleted`, { rule_id: out.rule.id });
      return out;
    },
  },
]);
