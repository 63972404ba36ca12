// sop.generate: writes the next version of an SOP from the linked ticket,
// events and tasks. With a usable AI provider it asks the model for the SOP
// schema; without one (or with incomplete AI settings, or a provider still down
// on the last attempt) the deterministic template writes it (generator
// "template"), so a local run without keys still produces SOPs end to end.
import { aiProviderFromEnv } from "../ai/client.ts";
import { db } from "../db.ts";
import { generateSop } from "../sops/generate.ts";
import { generateSopSchema } from "../sops/schema.ts";
import { catalogSpec, taskSpec } from "../task-catalog.ts";
import { defineTaskType } from "../task-types.ts";

export const sopGenerate = defineTaskType({
  ...catalogSpec("sop.generate"),
  async handle(payload, { task, log, signal }) {
    const { config, client } = aiProviderFromEnv({ log });
    return await generateSop(payload, {
      sql: db(),
      log,
      ai: client,
      aiConfig: config,
      attempt: { n: task.attempts, max: task.max_attempts },
      taskId: task.id,
      signal,
      taskType: taskSpec,
    });
  },
});
