// /rules: which events become which tasks (orchestrator.event_rules).
import { json, parseBody, parseQuery, parseWith } from "../_shared/http.ts";
import { defineFunction } from "../_shared/router.ts";
import { createRule, deleteRule, getRule, listRules, patchRule } from "../_shared/events/rules.ts";
import { createRuleSchema, idParam, listRulesQuery, patchRuleSchema } from "../_shared/events/schemas.ts";

const id = (params: Record<string, string>) => parseWith(idParam, params.id, "rule id");

export default defineFunction("rules", [
  { method: "GET", path: "/", handler: ({ url }) => listRules(parseQuery(url, listRulesQuery)) },
  {
    method: "POST",
    path: "/",
    handler: async ({ req, log }) => {
      const rule = await createRule(await parseBody(req, createRuleSchema));
      log.info(`rule "${rule.name}" created`, { rule_id: rule.id, task_type: rule.task_type });
      return json(201, rule);
    },
  },
  { method: "GET", path: "/:id", handler: ({ params }) => getRule(id(params)) },
  {
    method: "PATCH",
    path: "/:id",
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
    handler: async ({ params, log }) => {
      const out = await deleteRule(id(params));
      log.info(`rule "${out.rule.name}" deleted`, { rule_id: out.rule.id });
      return out;
    },
  },
]);
