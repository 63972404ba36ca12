// sop.generate: writes the next version of an SOP from the linked ticket,
// events and tasks. With a usable AI provider it asks the model for the SOP
// schema; without one (or with incomplete AI settings, or a provider still down
// on the last attempt) the deterministic template writes it (generator
// "template"), so a local run without keys still produces SOPs end to end.
import { aiProviderFromEnv } from "../ai/client.ts";
import { db } from "../db.ts";
import { generateSop } from "../sops/generate.ts";
import { generateSopSchema } from "../sops/schema.ts";
import { defineTaskType } from "../task-types.ts";

export const sopGenerate = defineTaskType({
  description: "Writes the next version of an SOP (AI provider, or the template without one) from a ticket, events and tasks; stores it in orchestrator.sops.",
  payload: generateSopSchema,
  timeoutMs: 70_000, // was 240 s: the Free plan's isolate lives 150 s (task-types.ts)
  async handle(payload, { task, log, signal }) {
    // The registry imports this module: look it up at call time, not at import time.
    const { taskType } = await import("../registry.ts");
    const { config, client } = aiProviderFromEnv({ holder: `task:${task.id}`, log });
    return await generateSop(payload, {
      sql: db(),
      log,
      ai: client,
      aiConfig: config,
      attempt: { n: task.attempts, max: task.max_attempts },
      taskId: task.id,
      signal,
      taskType,
    });
  },
});
