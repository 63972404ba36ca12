// ai.run: one chat-completions call as a task. Text in, text (or JSON checked
// against a caller-given JSON Schema) out, with the token usage on the result.
import { z } from "zod";
import { aiProviderFromEnv, type ChatMessage } from "../ai/client.ts";
import { describeAiProblems } from "../ai/config.ts";
import { AiConfigError } from "../ai/errors.ts";
import { catalogSpec } from "../task-catalog.ts";
import { defineTaskType } from "../task-types.ts";


export const aiRun = defineTaskType({
  ...catalogSpec("ai.run"),
  async handle(payload, { task, log, signal }) {
    // Unlike sop.generate there is nothing to fall back to: fail at once (not retried), saying what to set.
    const { config, client } = aiProviderFromEnv({ log, model: payload.model });
    if (!client) throw new AiConfigError(describeAiProblems(config));
    const messages: ChatMessage[] = [
      ...(payload.system ? [{ role: "system" as const, content: payload.system }] : []),
      ...(payload.messages ?? [{ role: "user" as const, content: payload.prompt! }]),
    ];
    const common = { messages, model: payload.model, max_tokens: payload.max_tokens, temperature: payload.temperature, signal };
    if (payload.response_schema) {
      const out = await client.chatJson({
        ...common,
        schema: z.fromJSONSchema(payload.response_schema as never),
        jsonSchema: payload.response_schema,
        schemaName: "response",
        strict: false,
      });
      log.info("ai.run answered with JSON", { model: out.model, rounds: out.rounds, ...out.usage });
      return { json: out.value, usage: out.usage, model: out.model };
    }
    const out = await client.chat(common);
    log.info("ai.run answered", { model: out.model, attempts: out.attempts, finish_reason: out.finish_reason, ...out.usage });
    return { text: out.text, usage: out.usage, model: out.model, finish_reason: out.finish_reason };
  },
});
