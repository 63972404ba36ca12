// zod -> the JSON Schema a provider accepts for structured output (the input
// side of the schema: what the model must write, before any transform). OpenAI's
// strict mode takes a subset: no $schema, no string length limits (zod still
// checks those on the answer, and a violation goes back to the model).
import { z } from "zod";

const UNSUPPORTED = new Set(["$schema", "minLength", "maxLength"]);

function strip(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strip);
  if (node === null || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    if (!UNSUPPORTED.has(k)) out[k] = strip(v);
  }
  return out;
}

export function providerJsonSchema(schema: z.ZodType): Record<string, unknown> {
  return strip(z.toJSONSchema(schema, { io: "input" })) as Record<string, unknown>;
}
