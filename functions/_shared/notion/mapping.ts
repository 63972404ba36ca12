// The property mapping between our rows and the Notion data source, validated
// against dataSources.retrieve before the first sync: a missing or mistyped
// property is one clear error naming it, never a sync loop failing on every row.
import { z } from "zod";
import { plainRichText, richTextPlain } from "./markdown.ts";

export const FIELDS = ["title", "status", "type", "priority", "orchestrator_id", "updated", "link"] as const;
export type Field = (typeof FIELDS)[number];

interface FieldSpec {
  name: string;
  /** Property types the sync can read and write for this field; the first is the default. */
  types: readonly string[];
  required: boolean;
}

export const DEFAULT_MAPPING: Record<Field, FieldSpec> = {
  title: { name: "Name", types: ["title"], required: true },
  status: { name: "Status", types: ["status", "select"], required: true },
  type: { name: "Type", types: ["select"], required: true },
  priority: { name: "Priority", types: ["select"], required: false },
  orchestrator_id: { name: "Orchestrator ID", types: ["rich_text"], required: true },
  updated: { name: "Updated", types: ["date"], required: false },
  link: { name: "Link", types: ["url"], required: false },
};

export interface MappedProperty {
  name: string;
  type: string;
  id?: string;
  /** Option names of a status or select property, as the data source lists them. */
  options?: string[];
}
/** Field -> its property; fields mapped to null are not synced. */
export type ResolvedMapping = Partial<Record<Field, MappedProperty>>;

/** A configuration problem: permanent until someone fixes Notion or the env. */
export class NotionConfigError extends Error {
  readonly problems: string[];
  constructor(message: string, problems: string[] = [message]) {
    super(message);
    this.name = "NotionConfigError";
    this.problems = problems;
  }
}

const overrideSchema = z.partialRecord(
  z.enum(FIELDS),
  z.union([
    z.string().min(1).max(100),
    z.strictObject({ name: z.string().min(1).max(100), type: z.string().min(1).max(40).optional() }),
    z.null(),
  ]),
);

export interface WantedProperty {
  name: string;
  types: readonly string[];
}

/** The mapping asked for: defaults, then NOTION_PROPERTY_MAP overrides. */
export function wantedMapping(overrideJson?: string): Partial<Record<Field, WantedProperty>> {
  const wanted: Partial<Record<Field, WantedProperty>> = {};
  for (const f of FIELDS) wanted[f] = { name: DEFAULT_MAPPING[f].name, types: DEFAULT_MAPPING[f].types };
  if (!overrideJson) return wanted;
  let raw: unknown;
  try {
    raw = JSON.parse(overrideJson);
  } catch (err) {
    throw new NotionConfigError(`NOTION_PROPERTY_MAP is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = overrideSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "NOTION_PROPERTY_MAP"}: ${i.message}`);
    throw new NotionConfigError(`NOTION_PROPERTY_MAP is invalid (fields: ${FIELDS.join(", ")}): ${issues.join("; ")}`, issues);
  }
  for (const [field, value] of Object.entries(parsed.data) as [Field, string | { name: string; type?: string } | null][]) {
    const spec = DEFAULT_MAPPING[field];
    if (value === null) {
      if (spec.required) throw new NotionConfigError(`NOTION_PROPERTY_MAP: "${field}" cannot be turned off; the sync needs it`);
      delete wanted[field];
    } else if (typeof value === "string") {
      wanted[field] = { name: value, types: spec.types };
    } else {
      if (value.type && !spec.types.includes(value.type)) {
        throw new NotionConfigError(`NOTION_PROPERTY_MAP: "${field}" can be a ${spec.types.join(" or ")} property, not ${value.type}`);
      }
      wanted[field] = { name: value.name, types: value.type ? [value.type] : spec.types };
    }
  }
  return wanted;
}

interface DataSourceLike {
  id?: string;
  title?: unknown;
  name?: string;
  properties?: Record<string, { id?: string; name?: string; type: string; [k: string]: unknown }>;
}

function optionNames(prop: { type: string; [k: string]: unknown }): string[] | undefined {
  const body = prop[prop.type] as { options?: { name: string }[] } | undefined;
  return body?.options ? body.options.map((o) => o.name) : undefined;
}

/** Which status values must exist as options of a *status* property (a select property creates its options itself). */
export interface StatusCheck {
  names: Record<Entity, Record<string, string>>;
  /** Entities whose pages are pushed: task statuses only matter while task types are tracked. */
  entities: readonly Entity[];
}

/** One problem per Notion option a status value maps to that the property does not have. */
export function missingStatusOptions(prop: MappedProperty, check: StatusCheck): string[] {
  if (prop.type !== "status" || !prop.options) return [];
  const missing = new Map<string, { entity: Entity; value: string }[]>();
  for (const entity of check.entities) {
    for (const [value, option] of Object.entries(check.names[entity])) {
      if (!prop.options.includes(option)) missing.set(option, [...(missing.get(option) ?? []), { entity, value }]);
    }
  }
  return [...missing].map(([option, uses]) =>
    `Notion status option "${option}" (for ${uses.map((u) => `${u.entity} status "${u.value}"`).join(", ")}) does not exist on property "${prop.name}" ` +
    `(options: ${prop.options!.join(", ") || "none"}). Add the option in Notion, or map it to an existing one with NOTION_STATUS_MAP, ` +
    `e.g. {"${uses[0].entity}": {"${uses[0].value}": "<an existing option>"}}.`
  );
}

/**
 * Checks the wanted mapping against a data source's schema (and, with statusCheck,
 * that every status we push exists as an option); every problem is named in one error.
 */
export function validateMapping(dataSource: DataSourceLike, wanted: Partial<Record<Field, WantedProperty>>, statusCheck?: StatusCheck): ResolvedMapping {
  const props = dataSource.properties ?? {};
  const label = `${dataSource.name ?? (richTextPlain(dataSource.title) || "data source")} (${dataSource.id ?? "?"})`;
  const problems: string[] = [];
  const resolved: ResolvedMapping = {};
  for (const f of FIELDS) {
    const want = wanted[f];
    if (!want) continue;
    const prop = props[want.name];
    if (!prop) {
      const similar = Object.keys(props).find((k) => k.toLowerCase() === want.name.toLowerCase());
      problems.push(
        `Notion property "${want.name}" (${want.types.join(" or ")}, for ${f}) is missing from ${label}` +
          (similar ? `; there is "${similar}" (names are case-sensitive)` : "") +
          `. Add it in Notion, or map ${f} to another property with NOTION_PROPERTY_MAP.`,
      );
      continue;
    }
    if (!want.types.includes(prop.type)) {
      problems.push(`Notion property "${want.name}" is a ${prop.type} property; the sync needs ${want.types.join(" or ")} for ${f}.`);
      continue;
    }
    resolved[f] = { name: want.name, type: prop.type, id: prop.id, options: optionNames(prop) };
  }
  if (statusCheck && resolved.status) problems.push(...missingStatusOptions(resolved.status, statusCheck));
  if (problems.length) {
    throw new NotionConfigError(`The Notion data source does not match the property mapping: ${problems.join(" ")}`, problems);
  }
  return resolved;
}

// ---- values -------------------------------------------------------------------

export type Entity = "task" | "ticket" | "sop" | "digest";

/** Notion "Type" option per kind of row. */
export const TYPE_NAMES = { task: "Task", ticket: "Ticket", sop: "SOP", digest: "Digest", sop_request: "SOP request" } as const;
export const SOP_REQUESTED_STATUS = "Requested";

export const DEFAULT_STATUS_NAMES: Record<Entity, Record<string, string>> = {
  task: { queued: "Queued", running: "Running", succeeded: "Done", dead: "Failed", cancelled: "Cancelled" },
  ticket: { open: "Open", in_progress: "In progress", resolved: "Resolved", closed: "Closed" },
  sop: { published: "Published" },
  digest: { published: "Published" },
};

export const PRIORITY_NAMES: Record<string, string> = { urgent: "Urgent", high: "High", medium: "Medium", low: "Low" };

const statusMapSchema = z.partialRecord(z.enum(["task", "ticket", "sop", "digest"]), z.record(z.string().min(1).max(50), z.string().min(1).max(100)));

/** Our status values -> Notion option names, with NOTION_STATUS_MAP overrides. */
export function statusNames(overrideJson?: string): Record<Entity, Record<string, string>> {
  const out = structuredClone(DEFAULT_STATUS_NAMES);
  if (!overrideJson) return out;
  let raw: unknown;
  try {
    raw = JSON.parse(overrideJson);
  } catch (err) {
    throw new NotionConfigError(`NOTION_STATUS_MAP is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = statusMapSchema.safeParse(raw);
  if (!parsed.success) {
    throw new NotionConfigError(`NOTION_STATUS_MAP is invalid: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  for (const [entity, map] of Object.entries(parsed.data) as [Entity, Record<string, string>][]) Object.assign(out[entity], map);
  return out;
}

/** A Notion option name -> our value (case-insensitive), or undefined when it names none of ours. */
export function statusFromNotion(names: Record<string, string>, notionName: string | null | undefined): string | undefined {
  if (!notionName) return undefined;
  const n = notionName.trim().toLowerCase();
  return Object.entries(names).find(([, v]) => v.toLowerCase() === n)?.[0];
}

export function priorityFromNotion(notionName: string | null | undefined): string | undefined {
  if (!notionName) return undefined;
  const n = notionName.trim().toLowerCase();
  return Object.keys(PRIORITY_NAMES).find((k) => k === n);
}

/** The values one row shows in Notion, by field (Notion option names, ISO dates). */
export interface PageValues {
  title?: string;
  status?: string | null;
  type?: string | null;
  priority?: string | null;
  orchestrator_id?: string;
  updated?: string | null;
  link?: string | null;
}

/** Page properties for the given values; fields without a mapped property are left out. */
export function buildProperties(mapping: ResolvedMapping, values: PageValues): Record<string, unknown> {
  const props: Record<string, unknown> = {};
  for (const f of FIELDS) {
    const m = mapping[f];
    const v = values[f];
    if (!m || v === undefined) continue;
    switch (m.type) {
      case "title":
        props[m.name] = { title: plainRichText(String(v ?? "").slice(0, 2000) || "Untitled") };
        break;
      case "rich_text":
        props[m.name] = { rich_text: v ? plainRichText(String(v)) : [] };
        break;
      case "status":
        props[m.name] = { status: v ? { name: String(v) } : null };
        break;
      case "select":
        // Notion refuses commas in option names.
        props[m.name] = { select: v ? { name: String(v).replace(/,/g, " ").slice(0, 100) } : null };
        break;
      case "date":
        props[m.name] = { date: v ? { start: String(v) } : null };
        break;
      case "url":
        props[m.name] = { url: v ? String(v) : null };
        break;
    }
  }
  return props;
}

interface PageLike {
  properties?: Record<string, { type: string; [k: string]: unknown }>;
}

/** Reads the mapped fields of a page (undefined: the property is not on the page). */
export function readPage(mapping: ResolvedMapping, page: PageLike): PageValues {
  const out: PageValues = {};
  for (const f of FIELDS) {
    const m = mapping[f];
    if (!m) continue;
    const prop = page.properties?.[m.name];
    if (!prop) continue;
    const body = prop[prop.type] as unknown;
    switch (prop.type) {
      case "title":
      case "rich_text":
        (out as Record<string, unknown>)[f] = richTextPlain(body);
        break;
      case "status":
      case "select":
        (out as Record<string, unknown>)[f] = (body as { name?: string } | null)?.name ?? null;
        break;
      case "date":
        (out as Record<string, unknown>)[f] = (body as { start?: string } | null)?.start ?? null;
        break;
      case "url":
        (out as Record<string, unknown>)[f] = (body as string | null) ?? null;
        break;
    }
  }
  return out;
}

/** "ticket:42" -> {entity, key}; anything else -> undefined. */
export function parseOrchestratorId(id: string | undefined | null): { entity: Entity; key: string } | undefined {
  const m = /^(task|ticket|sop|digest):(.{1,200})$/.exec((id ?? "").trim());
  return m ? { entity: m[1] as Entity, key: m[2] } : undefined;
}
