// Rule templates: `{{event.field}}`, `{{record.field}}`, `{{payload.field}}`
// placeholders, rendered in SQL by orchestrator.render_template when events
// arrive. This module checks a template's placeholders when a rule is saved, so a
// typo is a 400 then instead of a dead task later.

/** Same pattern as orchestrator.render_template. */
export const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;
export const TEMPLATE_ROOTS = ["event", "record", "payload"] as const;
/** orchestrator.events columns a template may read. */
export const EVENT_FIELDS = [
  "id", "source", "type", "level", "message", "payload", "fingerprint", "occurred_at", "received_at", "via", "external_id",
] as const;

export interface TemplateIssue {
  path: (string | number)[];
  message: string;
}

/** The placeholder paths in one string, in order. */
export function placeholders(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1]);
}

function checkString(text: string, path: (string | number)[], issues: TemplateIssue[]): void {
  for (const p of placeholders(text)) {
    const [root, field, ...rest] = p.split(".");
    if (!(TEMPLATE_ROOTS as readonly string[]).includes(root)) {
      issues.push({ path, message: `{{${p}}}: a placeholder starts with event., record. or payload.` });
    } else if (root === "event" && field !== undefined && !(EVENT_FIELDS as readonly string[]).includes(field)) {
      issues.push({ path, message: `{{${p}}}: events have no field "${field}"; use one of ${EVENT_FIELDS.join(", ")}` });
    } else if ([root, field, ...rest].some((s) => s === "")) {
      issues.push({ path, message: `{{${p}}}: empty path segment` });
    }
  }
  const leftover = text.replace(PLACEHOLDER, "");
  if (leftover.includes("{{") || leftover.includes("}}")) {
    issues.push({ path, message: `malformed placeholder in ${JSON.stringify(text.slice(0, 80))}: write {{event.field}}, {{record.field}} or {{payload.field}}` });
  }
}

/** Every problem with the placeholders of a template value (object, array or string), with its JSON path. */
export function templateIssues(value: unknown, path: (string | number)[] = [], issues: TemplateIssue[] = []): TemplateIssue[] {
  if (typeof value === "string") checkString(value, path, issues);
  else if (Array.isArray(value)) value.forEach((v, i) => templateIssues(v, [...path, i], issues));
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) templateIssues(v, [...path, k], issues);
  }
  return issues;
}

/** True when the value holds no placeholder at all (so it can be checked against the task type's schema as is). */
export function isStatic(value: unknown): boolean {
  if (typeof value === "string") return placeholders(value).length === 0;
  if (Array.isArray(value)) return value.every(isStatic);
  if (value && typeof value === "object") return Object.values(value).every(isStatic);
  return true;
}
