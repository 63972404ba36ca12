// The functions to serve: the [functions.X] tables of supabase/config.toml (only the keys we use),
// as `supabase functions serve` and deploy read them. EDGE_VERIFY_JWT=<fn>[,<fn>…] turns the gateway's
// verify_jwt check on for those functions in the local runtime only, config.toml untouched: every function
// ships with verify_jwt = false (the new keys are not JWTs), so without it the check would never run
// over real HTTP (tests/e2e/edge-runtime-verify-jwt.test.ts).
export interface FunctionEntry {
  name: string;
  verifyJwt: boolean;
  /** Absolute file: URL of the function's module. */
  entrypoint: string;
}

// Deno's globals through globalThis: tsc also checks this file (the unit test of applyVerifyJwt runs in Node).
const deno = () => (globalThis as unknown as { Deno: { readTextFileSync(path: URL): string; env: { get(name: string): string | undefined } } }).Deno;

/** A setting that cannot work: the runtime refuses to start, saying what to fix. */
export class FunctionConfigError extends Error {}

/**
 * The functions config.toml lists, with verify_jwt = true for each one EDGE_VERIFY_JWT names (a comma-separated
 * list; empty or unset: config.toml as it is). A name that is not a served function is refused rather than
 * ignored, so a typo cannot leave a function unchecked that a test believes is checked.
 */
export function applyVerifyJwt(entries: FunctionEntry[], list: string | undefined): FunctionEntry[] {
  const names = (list ?? "").split(",").map((n) => n.trim()).filter((n) => n !== "");
  const served = new Set(entries.map((e) => e.name));
  const unknown = names.filter((n) => !served.has(n));
  if (unknown.length) {
    throw new FunctionConfigError(`EDGE_VERIFY_JWT names ${unknown.map((n) => `"${n}"`).join(", ")}, which ${unknown.length === 1 ? "is" : "are"} not a function of supabase/config.toml. Functions: ${[...served].join(", ")}.`);
  }
  // The stack's supervisor and `npm run status` probe /health without a key: with the check on, the
  // gateway would refuse them and the stack would never count as up.
  if (names.includes("health")) {
    throw new FunctionConfigError("EDGE_VERIFY_JWT cannot name health: the local stack probes /health without a key to see that it is up, which the verify_jwt check refuses. Name other functions.");
  }
  const on = new Set(names);
  return entries.map((e) => (on.has(e.name) ? { ...e, verifyJwt: true } : e));
}

export function readFunctionConfig(root: URL, verifyJwt: string | undefined = deno().env.get("EDGE_VERIFY_JWT")): FunctionEntry[] {
  const supabaseDir = new URL("supabase/", root);
  const toml = deno().readTextFileSync(new URL("config.toml", supabaseDir));
  const entries: (FunctionEntry & { relative: string })[] = [];
  let current: (FunctionEntry & { relative: string }) | undefined;
  for (const raw of toml.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    const table = /^\[(.+)\]$/.exec(line)?.[1];
    if (table) {
      current = undefined;
      const name = /^functions\.("?)([\w-]+)\1$/.exec(table)?.[2];
      if (name) entries.push(current = { name, verifyJwt: true, entrypoint: "", relative: `../functions/${name}/index.ts` });
      continue;
    }
    const kv = /^([\w]+)\s*=\s*(.+)$/.exec(line);
    if (!current || !kv) continue;
    if (kv[1] === "verify_jwt") current.verifyJwt = kv[2] === "true";
    if (kv[1] === "entrypoint") current.relative = JSON.parse(kv[2]);
    if (kv[1] === "enabled" && kv[2] === "false") entries.splice(entries.indexOf(current), 1);
  }
  // Entrypoints are relative to supabase/, as in config.toml.
  return applyVerifyJwt(entries.map(({ relative, ...e }) => ({ ...e, entrypoint: new URL(relative, supabaseDir).href })), verifyJwt);
}
