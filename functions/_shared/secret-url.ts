// URLs that are credentials: an incoming-webhook URL (Slack, Discord, Teams,
// Mattermost, Google Chat…) lets anyone who has it post into the channel, so it
// is masked like a key wherever it would be shown or logged.
//
// The masked form keeps what an operator needs to tell subscriptions apart and
// nothing that helps to post: scheme, host and port, then "/…", then the last 4
// characters of the last path segment when that segment is long enough (16+
// characters) for 4 of them to give nothing away, and "?…" when there was a
// query. User info is dropped.
//   https://hooks.slack.com/services/T0AB/B0CD/Xy12abcdEFGH34ijklMNop56 -> https://hooks.slack.com/…op56
//   https://discord.com/api/webhooks/123/abc?wait=true                   -> https://discord.com/…?…

const MIN_SEGMENT_FOR_HINT = 16;

/** The masked form of a URL (see above); text that is not a URL becomes "[redacted-url]". */
export function maskUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "[redacted-url]";
  }
  const path = u.pathname === "/" ? "" : u.pathname.replace(/\/+$/, "");
  if (!path && !u.search) return `${u.protocol}//${u.host}/`;
  const last = path.split("/").at(-1) ?? "";
  const hint = last.length >= MIN_SEGMENT_FOR_HINT ? last.slice(-4) : "";
  return `${u.protocol}//${u.host}/…${hint}${u.search ? "?…" : ""}`;
}

/** Hosts (and path prefixes) whose URLs are incoming webhooks: the URL is the credential. */
const WEBHOOK_HOSTS: [RegExp, RegExp][] = [
  [/^hooks\.slack\.com$/, /^\//],
  [/^(?:[\w-]+\.)?discord(?:app)?\.com$/, /^\/api\/webhooks\//],
  [/\.webhook\.office\.com$/, /^\//],
  [/^outlook\.office(?:365)?\.com$/, /^\/webhook/],
  [/^chat\.googleapis\.com$/, /^\/v1\/spaces\//],
  [/^hooks\.zapier\.com$/, /^\//],
  [/^maker\.ifttt\.com$/, /^\/trigger\//],
  [/^api\.telegram\.org$/, /^\/bot/],
  [/^oapi\.dingtalk\.com$/, /^\/robot\//],
  [/^open\.(?:feishu\.cn|larksuite\.com)$/, /^\/open-apis\/bot\//],
];
/** Query parameters that carry a credential (token=, key=, sig=, access_token=…). */
const SECRET_PARAM = /^(?:.*token|.*key|.*secret|sig|signature|code|auth|password|pass|pwd|apikey|api_key|x-amz-signature)$/i;
/** A path segment that looks like a generated token: 20+ URL-safe characters mixing letters and digits, not a hex id or UUID. */
const TOKEN_SEGMENT = /^(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{20,}$/;
/** Ids, not secrets: hex ids, UUIDs, and Notion's "Page-Title-<32 hex>" slugs. */
const ID_SEGMENT = /^[0-9a-fA-F-]+$|-[0-9a-f]{32}$/;

/** True when the URL carries a credential in its path or query (see WEBHOOK_HOSTS, SECRET_PARAM, TOKEN_SEGMENT). */
export function isSecretUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.username || u.password) return true;
  const host = u.hostname.toLowerCase();
  if (WEBHOOK_HOSTS.some(([h, p]) => h.test(host) && p.test(u.pathname))) return true;
  for (const name of u.searchParams.keys()) if (SECRET_PARAM.test(name)) return true;
  const segments = u.pathname.split("/").filter(Boolean);
  // Generic incoming webhooks (Mattermost /hooks/<id>, self-hosted receivers): anything under a hooks/webhook segment.
  const hooksAt = segments.findIndex((s) => /^(?:hooks?|webhooks?)$/i.test(s));
  if (hooksAt >= 0 && hooksAt < segments.length - 1) return true;
  return segments.some((s) => TOKEN_SEGMENT.test(s) && !ID_SEGMENT.test(s));
}

/** Every http(s) URL in a text. */
const URL_IN_TEXT = /\bhttps?:\/\/[^\s"'<>()\[\]{}`,]+/gi;

/** Masks the credential-bearing URLs inside a text (log messages, error strings), leaving other URLs readable. */
export function maskSecretUrls(text: string): string {
  if (!text.includes("://")) return text;
  return text.replace(URL_IN_TEXT, (url) => (isSecretUrl(url) ? maskUrl(url) : url));
}
