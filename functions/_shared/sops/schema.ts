// What an SOP is (zod), what the API takes to request one, and how it is listed.
import { z } from "zod";

const text = (max: number) => z.string().trim().min(1).max(max);

export const sopStepSchema = z.strictObject({
  action: text(2000),
  expected_result: text(2000),
  warning: text(1000).optional(),
});

/** The structured SOP stored in sops.content. Steps are numbered by their order. */
export const sopContentSchema = z.strictObject({
  title: text(200),
  purpose: text(4000),
  scope: text(4000),
  roles: z.array(z.strictObject({ role: text(200), responsibilities: text(2000) })).min(1).max(20),
  prerequisites: z.array(text(1000)).max(30),
  steps: z.array(sopStepSchema).min(1).max(60),
  verification: z.array(text(1000)).min(1).max(30),
  rollback: z.array(text(1000)).min(1).max(30),
  references: z.array(text(1000)).max(50),
});
export type SopContent = z.infer<typeof sopContentSchema>;
export type SopStep = z.infer<typeof sopStepSchema>;

/**
 * What the model must return: the same shape with every key required (OpenAI
 * strict mode), `warning` null when a step has none. Normalised to SopContent.
 */
export const sopModelSchema = sopContentSchema.extend({
  steps: z.array(sopStepSchema.extend({ warning: text(1000).nullable() })).min(1).max(60),
}).transform((m): SopContent => ({
  ...m,
  steps: m.steps.map(({ warning, ...s }) => (warning ? { ...s, warning } : s)),
}));

export const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$/;
const slug = z.string().regex(SLUG, "a slug is 1-100 of a-z, 0-9 and inner hyphens, e.g. checkout-outage");
const id = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** POST /tasks/generate-sop, and the sop.generate payload. */
export const generateSopSchema = z.strictObject({
  topic: text(500),
  audience: text(200).optional(),
  /** Free text from the requester (notes, pasted output); treated as untrusted in prompts. */
  context: z.string().max(20_000).optional(),
  ticket_id: id.optional(),
  event_ids: z.array(id).max(100).optional(),
  task_ids: z.array(id).max(100).optional(),
  slug: slug.optional(),
  /** Sync to Notion: true = ask for it, false = never; unset = when Notion is configured. */
  notion: z.boolean().optional(),
});
export type GenerateSopInput = z.infer<typeof generateSopSchema>;

const isoDate = z.iso.datetime({ offset: true });
const cursor = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, "not a cursor returned by this API").optional();
const idParam = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const listSopsQuery = z.strictObject({
  slug: slug.optional(),
  /** template, ai (any model) or ai:<model>. */
  generator: z.string().regex(/^(template|ai|ai:.{1,200})$/, "use template, ai, or ai:<model>").optional(),
  q: z.string().min(1).max(200).optional(),
  ticket_id: idParam.optional(),
  event_id: idParam.optional(),
  task_id: idParam.optional(),
  /** true: only the newest version of each slug. */
  latest: z.enum(["true", "false"]).optional().transform((v) => v === "true"),
  since: isoDate.optional(),
  until: isoDate.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor,
});
export type ListSopsQuery = z.infer<typeof listSopsQuery>;

export const sopSlugParam = slug;

export const getSopQuery = z.strictObject({
  version: z.coerce.number().int().min(1).max(1_000_000).optional(),
  format: z.enum(["json", "md"]).default("json"),
});

/** A topic as a slug: "Checkout outage (EU)" -> "checkout-outage-eu". */
export function slugify(topic: string): string {
  const s = topic
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 100)
    .replace(/-+$/g, "");
  return s || "sop";
}
