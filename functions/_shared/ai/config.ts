// What the AI_* settings amount to, without calling anyone: whether a provider is meant to be used,
// whether it can be, and what is missing. /health, `npm start`'s startup check, sop.generate (which
// falls back to the template writer) and ai.run (which fails at once) all read this one report.
// It holds no secret: the key is only said to be set or not, the URL loses credentials and query.
import type { z } from "zod";
import { env, settings } from "../env.ts";
import type { aiConfigReportSchema } from "../responses.ts";
import { redactString } from "../redact.ts";

export const AI_RESPONSE_FORMATS = ["json_schema", "json_object", "none"] as const;

/** The report's shape is its response schema (responses.ts: /health shows it as `ai`). */
export type AiConfigReport = z.infer<typeof aiConfigReportSchema>;

/** Hosted providers that refuse calls without a key (local servers such as Ollama or vLLM need none). */
const KEYED_HOSTS = /(^|\.)(openai\.com|openai\.azure\.com|azure-api\.net|cognitiveservices\.azure\.com|openrouter\.ai|groq\.com|mistral\.ai|together\.xyz|deepseek\.com|anthropic\.com|googleapis\.com|fireworks\.ai)$/i;

function displayUrl(url: URL): string {
  const shown = new URL(url.toString());
  shown.username = "";
  shown.password = "";
  shown.search = "";
  shown.hash = "";
  return redactString(shown.toString().replace(/\/+$/, ""));
}

/**
 * Inspects the AI settings. Pure: reads the environment through env.ts, calls nothing.
 * `model`: a model the caller will pass itself (ai.run's payload), so an unset AI_MODEL is no problem.
 */
export function inspectAiConfig(opts: { model?: string } = {}): AiConfigReport {
  const rawBaseUrl = settings.aiBaseUrl;
  const apiKeySet = !!settings.aiApiKey;
  const model = opts.model ?? settings.aiModel;
  const responseFormat = settings.aiResponseFormat;
  const configured = !!(env("AI_BASE_URL") || apiKeySet || settings.aiModel);
  const report: AiConfigReport = { configured, usable: false, api_key_set: apiKeySet, response_format: responseFormat, problems: [] };
  if (model) report.model = model;
  if (!configured) return report;

  const problems = report.problems;
  let url: URL | undefined;
  if (!rawBaseUrl) {
    problems.push("AI_MODEL is set but no provider is: set AI_BASE_URL to an OpenAI-compatible …/v1 URL (and AI_API_KEY unless the server needs none), or unset AI_MODEL to keep the template writer.");
  } else if (!URL.canParse(rawBaseUrl)) {
    problems.push("AI_BASE_URL is not a URL: set it to an OpenAI-compatible base URL such as https://api.openai.com/v1 or http://localhost:11434/v1.");
  } else {
    url = new URL(rawBaseUrl);
    if (!/^https?:$/.test(url.protocol)) {
      problems.push(`AI_BASE_URL uses ${redactString(url.protocol).slice(0, 20)} where http: or https: is needed: set it to an OpenAI-compatible base URL such as https://api.openai.com/v1.`);
      url = undefined;
    } else {
      report.base_url = displayUrl(url);
    }
  }
  if (!model) {
    const where = url ? ` the provider at ${url.host} serves` : "";
    problems.push(`AI_MODEL is not set: set AI_MODEL to a model${where} (for example gpt-4o-mini, or llama3.1 on Ollama).`);
  }
  if (url && !apiKeySet && KEYED_HOSTS.test(url.hostname)) {
    problems.push(`AI_API_KEY is not set, and ${url.host} refuses calls without one: set AI_API_KEY.`);
  }
  if (!(AI_RESPONSE_FORMATS as readonly string[]).includes(responseFormat)) {
    problems.push(`AI_RESPONSE_FORMAT is "${redactString(responseFormat).slice(0, 40)}": set it to json_schema (the default), json_object or none.`);
  }
  report.usable = problems.length === 0;
  return report;
}

/** One sentence for an error or a log line: what is wrong and what to set. */
export function describeAiProblems(report: AiConfigReport): string {
  if (!report.configured) {
    return "No AI provider is configured: set AI_BASE_URL (an OpenAI-compatible …/v1 URL), AI_MODEL and, unless the server needs none, AI_API_KEY.";
  }
  return `The AI configuration is incomplete: ${report.problems.join(" ")}`;
}
