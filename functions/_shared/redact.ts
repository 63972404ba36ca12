// Secrets never reach logs or responses: values under secret-looking keys are
// masked, and token-shaped substrings (JWTs, Bearer tokens, provider keys, the
// configured secret values themselves, and URLs that are credentials, like a
// Slack incoming-webhook URL) are masked inside any string.
import { env, serviceKeys } from "./env.ts";
import { maskSecretUrls } from "./secret-url.ts";

const SECRET_KEY = /(authorization|api[-_]?key|apikey|secret|token|password|passwd|cookie|service[-_]?role|private[-_]?key|credential|^key$)/i;
const SECRET_ENV = [
  "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_SECRET_KEY", "ORCHESTRATOR_API_KEY", "NOTION_API_KEY", "AI_API_KEY", "LOCAL_JWT_SECRET",
  "NOTION_WEBHOOK_SECRET", "EVENTS_SIGNING_SECRET",
];
/** Secrets configured as comma-separated lists (one for each key in rotation): each one is redacted. */
const SECRET_LISTS = new Set(["EVENTS_SIGNING_SECRET"]);
const PATTERNS: [RegExp, string][] = [
  [/eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g, "[redacted-jwt]"],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, "$1 [redacted]"],
  [/\b(sb_secret_|sb_publishable_|ntn_|secret_|sk-|sk_live_|xox[abp]-)[A-Za-z0-9_-]{8,}/g, "[redacted-key]"],
  [/(postgres(?:ql)?:\/\/[^:\s/]+:)[^@\s]+@/gi, "$1[redacted]@"],
];
const MAX_DEPTH = 8;

export const REDACTED = "[redacted]";

/** The configured secret values, longest first (so a whole list is masked before its parts). */
function configuredSecrets(): string[] {
  const out: string[] = [];
  for (const name of SECRET_ENV) {
    const value = env(name);
    if (!value) continue;
    out.push(value);
    if (SECRET_LISTS.has(name)) out.push(...value.split(",").map((s) => s.trim()));
  }
  // Every key that opens the API, the secret keys of SUPABASE_SECRET_KEYS (a JSON dictionary) among them.
  out.push(...serviceKeys());
  // Shorter than 8 characters would mask ordinary words; such a secret is too weak to matter here anyway.
  return [...new Set(out.filter((s) => s.length >= 8))].sort((a, b) => b.length - a.length);
}

export function redactString(value: string): string {
  let out = value;
  for (const secret of configuredSecrets()) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  for (const [re, replacement] of PATTERNS) out = out.replace(re, replacement);
  return maskSecretUrls(out);
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
