// Who writes an SOP: the AI provider when it is usable, else the deterministic template.
// An SOP request should not die of the AI settings or of a provider outage: the template
// writes from the same context, and the result says why the model was not used.
//   - AI settings incomplete (say, no AI_MODEL): the template, with a warning per problem
//     (sampled: one row per problem a minute per worker, not one per task).
//   - Provider unreachable (5xx, 429, timeouts, network, the shared cap full) after the
//     client's own retries: the task is retried by the queue with backoff; on its last
//     attempt the template writes it instead of the task going dead.
//   - The provider refuses the request (401/403/404: a wrong key or model) or the model's
//     answer fails the schema: the task fails as before. Those need a person, and a
//     template SOP would hide them.
import type { AiClient, Usage } from "../ai/client.ts";
import type { AiConfigReport } from "../ai/config.ts";
import { AiUnavailableError } from "../ai/errors.ts";
import type { Logger } from "../logger.ts";
import type { SopContext } from "./context.ts";
import { buildSopPrompt, SOP_JSON_SCHEMA, SOP_SCHEMA_NAME } from "./prompt.ts";
import { type SopContent, sopModelSchema } from "./schema.ts";
import { templateSop } from "./template.ts";

/** Why the template wrote an SOP although a provider is configured; kept on the task result. */
export type AiFallback =
  | { cause: "ai_config_incomplete"; problems: string[] }
  | { cause: "ai_unavailable"; error: string; attempt: number };

export interface WrittenSop {
  content: SopContent;
  generator: string;
  usage?: Usage;
  ai_fallback?: AiFallback;
}

export interface WriterDeps {
  log: Logger;
  /** Present when the AI settings are usable. */
  ai?: AiClient;
  /** The AI settings as inspected (ai/config.ts); absent in callers that never configure AI. */
  aiConfig?: AiConfigReport;
  /** The task's attempt and its max_attempts: an outage on the last one gives way to the template. */
  attempt?: { n: number; max: number };
  signal?: AbortSignal;
}

export async function writeWithAi(ctx: SopContext, ai: AiClient, signal?: AbortSignal): Promise<{ content: SopContent; model: string; usage: Usage; rounds: number }> {
  const { messages } = buildSopPrompt(ctx);
  const out = await ai.chatJson({ messages, schema: sopModelSchema, jsonSchema: SOP_JSON_SCHEMA, schemaName: SOP_SCHEMA_NAME, strict: true, signal });
  return { content: out.value, model: out.model, usage: out.usage, rounds: out.rounds };
}

const isOutage = (err: unknown) => err instanceof AiUnavailableError;

export async function writeSop(ctx: SopContext, deps: WriterDeps): Promise<WrittenSop> {
  const { log, ai, aiConfig, attempt } = deps;
  if (ai) {
    try {
      const out = await writeWithAi(ctx, ai, deps.signal);
      log.info("SOP written by the AI provider", { model: out.model, rounds: out.rounds, ...out.usage });
      return { content: out.content, generator: `ai:${out.model}`.slice(0, 200), usage: out.usage };
    } catch (err) {
      const last = attempt && attempt.n >= attempt.max;
      if (!last || !isOutage(err) || deps.signal?.aborted) throw err;
      const error = `${(err as Error).name}: ${(err as Error).message}`;
      log.warn(`the AI provider is still unreachable on the task's last attempt (${attempt.n} of ${attempt.max}); the template writes this SOP`, { error });
      return { content: templateSop(ctx), generator: "template", ai_fallback: { cause: "ai_unavailable", error, attempt: attempt.n } };
    }
  }
  if (aiConfig?.configured) {
    for (const problem of aiConfig.problems) {
      log.sampled("warn", `sop.generate:ai-config:${problem}`, `SOPs are written by the template until the AI configuration is fixed: ${problem}`, {
        base_url: aiConfig.base_url,
        model: aiConfig.model,
      });
    }
    return { content: templateSop(ctx), generator: "template", ai_fallback: { cause: "ai_config_incomplete", problems: aiConfig.problems } };
  }
  return { content: templateSop(ctx), generator: "template" };
}
