// ai.run: one chat-completions call as a task. Text in, text (or JSON checked
// against a caller-given JSON Schema) out, with the token usage on the result.
import { z } from "zod";
import { aiProviderFromEnv, type ChatMessage } from "../ai/client.ts";
import { describeAiProblems } from "../ai/config.ts";
import { AiConfigError } from "../ai/errors.ts";
import { defineTaskType } from "../task-types.ts";

const message = z.strictObject({
  role: z.enum(["system", "user", "assistant"]),
  content: z.string().max(200_000),
});

/** A JSON Schema zod can turn into a validator; checked when the task is enqueued. */
const jsonSchemaObject = z.record(z.string(), z.unknown()).superRefine((schema, ctx) => {
  try {
    z.fromJSONSchema(schema as never);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: `not a JSON Schema this service can check: ${(err as Error).message}` });
  }
  if (JSON.stringify(schema).length > 50_000) ctx.addIssue({ code: "custom", message: "the schema is over 50,000 characters" });
});

export const aiRunPayload = z.strictObject({
  prompt: z.string().min(1).max(200_000).optional(),
  messages: z.array(message).min(1).max(200).optional(),
  system: z.string().min(1).max(50_000).optional(),
  model: z.string().min(1).max(200).optional(),
  max_tokens: z.number().int().min(1).max(1_000_000).optional(),
  temperature: z.number().min(0).max(2).optional(),
  response_schema: jsonSchemaObject.optional(),
}).refine((p) => (p.prompt === undefined) !== (p.messages === undefined), {
  message: "give exactly one of `prompt` (a string) or `messages` (a chat history)",
  path: ["prompt"],
});
export type AiRunPayload = z.infer<typeof aiRunPayload>;

export const aiRun = defineTaskType({
  description: "Runs one OpenAI-compatible chat completion; `response_schema` asks for JSON and checks it. Result: { text | json, usage, model }.",
  payload: aiRunPayload,
  timeoutMs: 70_000, // was 180 s: the Free plan's isolate lives 150 s (task-types.ts)
  async handle(payload, { task, log, signal }) {
    // Unlike sop.generate there is nothing to fall back to: fail at once (not retried), saying what to set.
    const { config, client } = aiProviderFromEnv({ holder: `task:${task.id}`, log, model: payload.model });
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
