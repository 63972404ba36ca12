// An OpenAI-compatible chat-completions client (OpenAI, Azure OpenAI v1,
// OpenRouter, Ollama, vLLM, LM Studio…): per-request timeout, retries on
// 408/409/425/429/5xx/network errors honouring Retry-After, structured JSON
// output validated with zod (one repair round), and token usage summed. The cap on
// provider calls at once is the queue's: ai.run and sop.generate run at most 4 at a
// time on the concurrency key "ai" (20261203001100_flow_defaults_notion_ai.sql).
import type { z } from "zod";
import { settings } from "../env.ts";
import type { Logger } from "../logger.ts";
import { outboundTraceparent } from "../trace.ts";
import { redactString } from "../redact.ts";
import { type AiConfigReport, inspectAiConfig } from "./config.ts";
import { AiConfigError, AiOutputError, AiRejectedError, AiTimeoutError, AiUnavailableError } from "./errors.ts";
import { delay } from "deno-std/async/delay.js";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export type ResponseFormatMode = "json_schema" | "json_object" | "none";

export interface ChatRequest {
  messages: ChatMessage[];
  model?: string;
  max_tokens?: number;
  temperature?: number;
  response_format?: Record<string, unknown>;
  signal?: AbortSignal;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** Successful provider calls counted in these totals. */
  calls: number;
}

export interface ChatResult {
  text: string;
  model: string;
  usage: Usage;
  finish_reason: string | null;
  /** HTTP attempts this call took (1 = no retry). */
  attempts: number;
}

export interface JsonRequest<T> extends Omit<ChatRequest, "response_format"> {
  /** Validates the parsed answer. */
  schema: z.ZodType<T>;
  /** The same shape as JSON Schema, sent to the provider. */
  jsonSchema: Record<string, unknown>;
  schemaName: string;
  /** OpenAI strict mode (every property required, no extras). */
  strict?: boolean;
  /** Rounds that send the validation errors back to the model; default 1. */
  repairs?: number;
}

export interface JsonResult<T> {
  value: T;
  text: string;
  model: string;
  usage: Usage;
  /** Model answers used (1 = valid the first time). */
  rounds: number;
}

type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface AiClientOptions {
  baseUrl: string;
  apiKey?: string;
  model?: string;
  timeoutMs?: number;
  maxRetries?: number;
  responseFormat?: ResponseFormatMode;
  /** Defaults to the global fetch, looked up at call time (so msw and test doubles apply). */
  fetch?: FetchLike;
  /** Longest Retry-After waited in place; a longer one fails the call as retryable so the queue backs off. */
  maxRetryAfterMs?: number;
  log?: Logger;
}

export const emptyUsage = (): Usage => ({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, calls: 0 });

export function addUsage(a: Usage, b: Partial<Usage> | undefined): Usage {
  return {
    prompt_tokens: a.prompt_tokens + (b?.prompt_tokens ?? 0),
    completion_tokens: a.completion_tokens + (b?.completion_tokens ?? 0),
    total_tokens: a.total_tokens + (b?.total_tokens ?? 0),
    calls: a.calls + (b?.calls ?? 0),
  };
}

const RETRYABLE_STATUS = new Set([408, 409, 425, 429]);
const clip = (s: string, n: number) => (s.length > n ? s.slice(0, n) + "…" : s);

/** Milliseconds the provider asks us to wait: `retry-after-ms` (OpenAI), `retry-after` as seconds or an HTTP date. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const ms = Number(headers.get("retry-after-ms"));
  if (headers.get("retry-after-ms") !== null && Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers.get("retry-after")?.trim();
  if (!raw) return undefined;
  if (/^\d+(\.\d+)?$/.test(raw)) return Number(raw) * 1000;
  const at = Date.parse(raw);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/** The JSON object inside a model answer: bare, in a ``` fence, or the outermost {...}. */
export function extractJson(text: string): { ok: true; value: unknown } | { ok: false; issue: string } {
  let t = text.trim();
  const fenced = /^```[a-zA-Z]*\s*\n([\s\S]*?)\n?```$/.exec(t);
  if (fenced) t = fenced[1].trim();
  try {
    return { ok: true, value: JSON.parse(t) };
  } catch {
    const a = t.indexOf("{");
    const b = t.lastIndexOf("}");
    if (a >= 0 && b > a) {
      try {
        return { ok: true, value: JSON.parse(t.slice(a, b + 1)) };
      } catch {
        // fall through
      }
    }
  }
  return { ok: false, issue: "the answer is not a JSON object" };
}

function providerMessage(text: string): string {
  try {
    const body = JSON.parse(text);
    const m = body?.error?.message ?? body?.message ?? body?.error ?? body?.detail;
    if (typeof m === "string") return clip(redactString(m), 300);
  } catch {
    // not JSON
  }
  return clip(redactString(text.replace(/\s+/g, " ").trim()), 300) || "(empty body)";
}

export class AiClient {
  readonly baseUrl: string;
  readonly model: string | undefined;
  private readonly apiKey: string | undefined;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private responseFormat: ResponseFormatMode;
  private readonly fetchImpl: FetchLike;
  private readonly maxRetryAfterMs: number;
  private readonly log: Logger | undefined;

  constructor(opts: AiClientOptions) {
    this.baseUrl = opts.baseUrl;
    this.apiKey = opts.apiKey;
    this.model = opts.model;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.maxRetries = Math.max(0, opts.maxRetries ?? 3);
    this.responseFormat = opts.responseFormat ?? "json_schema";
    this.fetchImpl = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.maxRetryAfterMs = opts.maxRetryAfterMs ?? 30_000;
    this.log = opts.log;
  }

  /** …/v1 + /chat/completions, keeping a query string (Azure's api-version). */
  get endpoint(): string {
    const url = new URL(this.baseUrl);
    if (!/\/chat\/completions\/?$/.test(url.pathname)) url.pathname = url.pathname.replace(/\/+$/, "") + "/chat/completions";
    return url.toString();
  }

  private headers(): Record<string, string> {
    const h: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
    // Called per attempt: each is a hop of the current trace, with a new parent id.
    const traceparent = outboundTraceparent();
    if (traceparent) h.traceparent = traceparent;
    if (this.apiKey) {
      h.authorization = `Bearer ${this.apiKey}`;
      // Azure OpenAI authenticates with an api-key header.
      if (/\.(openai\.azure\.com|azure-api\.net|cognitiveservices\.azure\.com)$/i.test(new URL(this.baseUrl).hostname)) h["api-key"] = this.apiKey;
    }
    return h;
  }

  /** Exponential backoff with jitter when the provider gives no Retry-After: ~0.5, 1, 2, 4 s… capped at 8 s. */
  private backoffMs(attempt: number): number {
    const base = Math.min(500 * 2 ** attempt, 8000);
    return base / 2 + Math.random() * base / 2;
  }

  async chat(req: ChatRequest): Promise<ChatResult> {
    const model = req.model ?? this.model;
    if (!model) throw new AiConfigError("No AI model: set AI_MODEL (or pass `model` in the task payload).");
    const body: Record<string, unknown> = { model, messages: req.messages };
    if (req.max_tokens !== undefined) body.max_tokens = req.max_tokens;
    if (req.temperature !== undefined) body.temperature = req.temperature;
    if (req.response_format) body.response_format = req.response_format;
    const payload = JSON.stringify(body);
    const signal = req.signal;
    let last: Error | undefined;

    for (let attempt = 0; attempt <= this.maxRetries; attempt++) {
      if (attempt > 0) {
        const wait = last instanceof RetryAfter ? last.ms : this.backoffMs(attempt - 1);
        this.log?.warn(`AI provider call failed; retry ${attempt}/${this.maxRetries} in ${Math.round(wait)} ms`, { error: last?.message, attempt });
        await delay(wait, { signal });
      }
      const timeout = AbortSignal.timeout(this.timeoutMs);
      const started = Date.now();
      let res: Response;
      let text: string;
      try {
        res = await this.fetchImpl(this.endpoint, {
          method: "POST",
          headers: this.headers(),
          body: payload,
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
        text = await res.text();
      } catch (err) {
        if (signal?.aborted) throw signal.reason ?? err;
        last = timeout.aborted
          ? new AiTimeoutError(`the AI provider did not answer within ${this.timeoutMs} ms`)
          : new AiUnavailableError(`could not reach the AI provider at ${new URL(this.baseUrl).host}: ${redactString((err as Error).message)}`);
        continue;
      }

      if (res.ok) {
        let data: any;
        try {
          data = JSON.parse(text);
        } catch {
          last = new AiUnavailableError(`the AI provider answered ${res.status} with a body that is not JSON: ${clip(redactString(text), 200)}`, res.status);
          continue;
        }
        const message = data?.choices?.[0]?.message;
        if (typeof message?.refusal === "string" && message.refusal) {
          throw new AiOutputError(`the model refused: ${clip(redactString(message.refusal), 300)}`, ["refusal"]);
        }
        let content: unknown = message?.content;
        if (Array.isArray(content)) content = content.map((p: { text?: string }) => p?.text ?? "").join("");
        if (typeof content !== "string") {
          last = new AiUnavailableError("the AI provider answered without a message (choices[0].message.content)", res.status);
          continue;
        }
        const usage: Usage = {
          prompt_tokens: Number(data.usage?.prompt_tokens) || 0,
          completion_tokens: Number(data.usage?.completion_tokens) || 0,
          total_tokens: Number(data.usage?.total_tokens) || (Number(data.usage?.prompt_tokens) || 0) + (Number(data.usage?.completion_tokens) || 0),
          calls: 1,
        };
        this.log?.debug("AI provider call", { model: data.model ?? model, ms: Date.now() - started, attempt: attempt + 1, ...usage });
        return { text: content, model: typeof data.model === "string" && data.model ? data.model : model, usage, finish_reason: data.choices[0].finish_reason ?? null, attempts: attempt + 1 };
      }

      const what = `the AI provider answered ${res.status}${res.statusText ? ` ${res.statusText}` : ""}: ${providerMessage(text)}`;
      if (res.status >= 500 || RETRYABLE_STATUS.has(res.status)) {
        const asked = retryAfterMs(res.headers);
        if (asked !== undefined && asked > this.maxRetryAfterMs) {
          throw new AiUnavailableError(`${what} (asks to retry after ${Math.ceil(asked / 1000)} s: the task will be retried later)`, res.status);
        }
        last = asked !== undefined ? new RetryAfter(what, res.status, asked) : new AiUnavailableError(what, res.status);
        continue;
      }
      if (res.status === 401 || res.status === 403) {
        throw new AiRejectedError(res.status, `${what}. Check AI_API_KEY (and that it may use model "${model}").`);
      }
      if (res.status === 404) {
        throw new AiRejectedError(res.status, `${what}. Check AI_BASE_URL (${new URL(this.baseUrl).host}) and AI_MODEL ("${model}").`);
      }
      throw new AiRejectedError(res.status, what);
    }
    const final = last instanceof RetryAfter ? new AiUnavailableError(last.message, last.status) : last!;
    final.message = `${final.message} (after ${this.maxRetries + 1} attempts)`;
    throw final;
  }

  private formatFor(name: string, schema: Record<string, unknown>, strict: boolean): Record<string, unknown> | undefined {
    if (this.responseFormat === "json_schema") return { type: "json_schema", json_schema: { name, schema, strict } };
    if (this.responseFormat === "json_object") return { type: "json_object" };
    return undefined;
  }

  /** A chat call whose answer must be JSON matching `schema`; validation errors go back to the model once. */
  async chatJson<T>(req: JsonRequest<T>): Promise<JsonResult<T>> {
    const { schema, jsonSchema, schemaName, strict = true, repairs = 1, ...chat } = req;
    let messages = [...chat.messages];
    let usage = emptyUsage();
    let issues: string[] = [];
    for (let round = 0; round <= repairs; round++) {
      let res: ChatResult;
      try {
        res = await this.chat({ ...chat, messages, response_format: this.formatFor(schemaName, jsonSchema, strict) });
      } catch (err) {
        // Servers without json_schema support: fall back to JSON mode once, for this client.
        if (err instanceof AiRejectedError && err.status === 400 && this.responseFormat === "json_schema" && /response_format|json_schema/i.test(err.message)) {
          this.log?.warn("the AI provider does not take response_format json_schema; falling back to json_object", { error: err.message });
          this.responseFormat = "json_object";
          round--;
          continue;
        }
        throw err;
      }
      usage = addUsage(usage, res.usage);
      const parsed = extractJson(res.text);
      if (parsed.ok) {
        const checked = schema.safeParse(parsed.value);
        if (checked.success) return { value: checked.data, text: res.text, model: res.model, usage, rounds: round + 1 };
        issues = checked.error.issues.slice(0, 20).map((i) => `${i.path.map(String).join(".") || "(root)"}: ${i.message}`);
      } else {
        issues = [parsed.issue];
      }
      this.log?.warn(`the model's answer does not match the ${schemaName} schema`, { round: round + 1, issues });
      messages = [
        ...messages,
        { role: "assistant", content: clip(res.text, 8000) },
        {
          role: "user",
          content: `Your answer does not match the required JSON Schema "${schemaName}". Problems:\n` +
            issues.map((i) => `- ${i}`).join("\n") +
            `\nReply again with only the corrected JSON object, complete, matching the schema exactly.`,
        },
      ];
    }
    const err = new AiOutputError(
      `the model's answer did not match the ${schemaName} schema after ${repairs + 1} tries: ${issues.join("; ")}`,
      issues,
    );
    (err as AiOutputError & { usage?: Usage }).usage = usage;
    throw err;
  }
}

/** A 429/5xx with a Retry-After we are willing to wait for. */
class RetryAfter extends AiUnavailableError {
  readonly ms: number;
  constructor(message: string, status: number, ms: number) {
    super(message, status);
    this.ms = ms;
  }
}

export interface AiProvider {
  /** What the AI_* settings amount to (no secrets): see ai/config.ts. */
  config: AiConfigReport;
  /** Present only when `config.usable`. */
  client?: AiClient;
}

/**
 * The provider the env describes. No client when the settings are
 * missing or incomplete: the caller decides what that means (sop.generate: the template; ai.run: a failure).
 * `model`: a model the caller passes on every call, so an unset AI_MODEL is no problem.
 */
export function aiProviderFromEnv(opts: { log?: Logger; fetch?: FetchLike; model?: string } = {}): AiProvider {
  const config = inspectAiConfig({ model: opts.model });
  if (!config.usable) return { config };
  const timeoutMs = settings.aiTimeoutMs;
  const client = new AiClient({
    baseUrl: settings.aiBaseUrl!,
    apiKey: settings.aiApiKey,
    model: settings.aiModel,
    timeoutMs,
    maxRetries: settings.aiMaxRetries,
    responseFormat: config.response_format as ResponseFormatMode,
    fetch: opts.fetch,
    log: opts.log,
  });
  return { config, client };
}
