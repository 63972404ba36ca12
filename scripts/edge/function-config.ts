// The functions to serve: the [functions.X] tables of supabase/config.toml (only the keys we use),
// as `supabase functions serve` and deploy read them.
export interface FunctionEntry {
  name: string;
  verifyJwt: boolean;
  /** Absolute file: URL of the function's module. */
  entrypoint: string;
}

export function readFunctionConfig(root: URL): FunctionEntry[] {
  const supabaseDir = new URL("supabase/", root);
  const toml = Deno.readTextFileSync(new URL("config.toml", supabaseDir));
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
  return entries.map(({ relative, ...e }) => ({ ...e, entrypoint: new URL(relative, supabaseDir).href }));
}
