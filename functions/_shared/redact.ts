// Secrets never reach logs or responses: values under secret-looking keys are
// masked, and token-shaped substrings (JWTs, Bearer tokens, provider keys, and
// the configured secret values themselves) are masked inside any string.
import { env } from "./env.ts";

const SECRET_KEY = /(authorization|api[-_]?key|apikey|secret|token|password|passwd|cookie|service[-_]?role|private[-_]?key|credential|^key$)/i;
const SECRET_ENV = ["SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_SECRET_KEY", "ORCHESTRATOR_API_KEY", "NOTION_API_KEY", "AI_API_KEY", "LOCAL_JWT_SECRET", "NOTION_WEBHOOK_SECRET"];
const PATTERNS: [RegExp, string][] = [
  [/eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g, "[redacted-jwt]"],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, "$1 [redacted]"],
  [/\b(sb_secret_|sb_publishable_|ntn_|secret_|sk-|sk_live_|xox[abp]-)[A-Za-z0-9_-]{8,}/g, "[redacted-key]"],
  [/(postgres(?:ql)?:\/\/[^:\s/]+:)[^@\s]+@/gi, "$1[redacted]@"],
];
const MAX_DEPTH = 8;

export const REDACTED = "[redacted]";

export function redactString(value: string): string {
  let out = value;
  for (const name of SECRET_ENV) {
    const secret = env(name);
    if (secret && secret.length >= 8 && out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  for (const [re, replacement] of PATTERNS) out = out.replace(re, replacement);
  return out;
}

export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return redactString(value);
  if (value === null || typeof value !== "object") return value;
  if (depth >= MAX_DEPTH) return "[truncated]";
  if (value instanceof Error) return { name: value.name, message: redactString(value.message) };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEY.test(k) && v !== null && v !== undefined && typeof v !== "boolean" ? REDACTED : redact(v, depth + 1);
  }
  return out;
}
