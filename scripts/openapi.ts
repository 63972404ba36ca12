// `npm run openapi`: writes docs/openapi.json, the OpenAPI 3.1 document built from every function's route
// table (the functions supabase/config.toml serves), then the typed client's types from it
// (clients/orchestrator-client). A test fails when the committed file differs from what this builds.
import { readFileSync, writeFileSync } from "node:fs";
import { buildOpenApi } from "../functions/_shared/openapi.ts";
import type { FunctionTable } from "../functions/_shared/router.ts";
import { VERSION } from "../functions/_shared/version.ts";

export const OPENAPI_FILE = new URL("../docs/openapi.json", import.meta.url);

/** The functions config.toml serves, in its order. */
export function servedFunctions(): string[] {
  const toml = readFileSync(new URL("../supabase/config.toml", import.meta.url), "utf8");
  return [...toml.matchAll(/^\[functions\.([\w-]+)\]/gm)].map((m) => m[1]);
}

export async function generateOpenApi(): Promise<string> {
  const tables: FunctionTable[] = [];
  for (const name of servedFunctions()) {
    tables.push((await import(`../functions/${name}/index.ts`)).default as FunctionTable);
  }
  return JSON.stringify(buildOpenApi(tables, VERSION), null, 2) + "\n";
}

// Run by Deno (npm run openapi): the functions are Deno modules (TypeScript Node cannot strip), and tests import it under vitest.
if (import.meta.main) {
  writeFileSync(OPENAPI_FILE, await generateOpenApi());
  console.log(`openapi: wrote ${OPENAPI_FILE.pathname}`);
}
