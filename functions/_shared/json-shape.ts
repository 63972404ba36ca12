// What every JSON body must satisfy before any code walks it recursively or
// hands it to Postgres: at most MAX_JSON_DEPTH levels of objects and arrays
// (Postgres' jsonb input and our recursive helpers run out of stack on deeper
// values), and strings — keys included — that Postgres text can hold (no NUL,
// no lone UTF-16 surrogate). The walk is iterative, so a 100,000-level value
// costs one pass and no stack.

/** The deepest nesting a body may have; the body itself is level 1. Documented in README (REST API). */
export const MAX_JSON_DEPTH = 64;

export type JsonPath = (string | number)[];

export interface JsonShapeProblem {
  kind: "too_deep" | "nul" | "lone_surrogate";
  /** Where the problem is, from the body's root (keys and array indexes). */
  path: JsonPath;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UNPRINTABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function stringProblem(s: string): JsonShapeProblem["kind"] | undefined {
  if (s.includes("\u0000")) return "nul";
  if (LONE_SURROGATE.test(s)) return "lone_surrogate";
  return undefined;
}

/** The first problem found in a parsed JSON value (depth first, in document order), or undefined. */
export function jsonShapeProblem(root: unknown, maxDepth = MAX_JSON_DEPTH): JsonShapeProblem | undefined {
  // Each entry: a value, its path, and its depth (how many containers hold it, itself included when it is one).
  const stack: { value: unknown; path: JsonPath; depth: number }[] = [{ value: root, path: [], depth: 1 }];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === "string") {
      const kind = stringProblem(value);
      if (kind) return { kind, path };
      continue;
    }
    if (value === null || typeof value !== "object") continue;
    if (depth > maxDepth) return { kind: "too_deep", path };
    const children: { value: unknown; path: JsonPath; depth: number }[] = [];
    if (Array.isArray(value)) {
      value.forEach((v, i) => children.push({ value: v, path: [...path, i], depth: depth + 1 }));
    } else {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const kind = stringProblem(k);
        if (kind) return { kind, path: [...path, k] };
        children.push({ value: v, path: [...path, k], depth: depth + 1 });
      }
    }
    // Reversed onto the stack so the first child is looked at first.
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
  return undefined;
}

/** A path as people read it: `payload.items.0.name`; long paths keep their start and end. */
export function formatJsonPath(path: JsonPath, maxChars = 200): string {
  if (path.length === 0) return "(the body itself)";
  const text = path.map((p) => {
    const s = String(p).replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
    const chars = [...s]; // by code point, so a cut never splits a surrogate pair
    return chars.length > 40 ? `${chars.slice(0, 37).join("")}...` : s;
  }).join(".");
  const chars = [...text];
  return chars.length <= maxChars ? text : `${chars.slice(0, maxChars / 2).join("")} ... ${chars.slice(-maxChars / 2).join("")}`;
}
