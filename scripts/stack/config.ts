// Where `npm start` keeps its stack, and how `npm run status` finds it.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pidAlive } from "./postgres.ts";
import { ROOT, type StackInfo } from "./stack.ts";

export const DEFAULT_DATA_DIR = process.env.ORCH_DATA_DIR ?? join(ROOT, ".orchestrator", "local");
export const DEFAULT_PG_PORT = Number(process.env.ORCH_PG_PORT ?? 54322);
export const DEFAULT_API_PORT = Number(process.env.ORCH_API_PORT ?? 54321);

export interface StackFile extends StackInfo {
  pid: number;
  started_at: string;
  data_dir: string;
}

/** The running stack's facts, or undefined when no `npm start` is alive for this data dir. */
export function runningStack(dataDir = DEFAULT_DATA_DIR): StackFile | undefined {
  const file = join(dataDir, "stack.json");
  if (!existsSync(file)) return undefined;
  const info = JSON.parse(readFileSync(file, "utf8")) as StackFile;
  return pidAlive(info.pid) ? info : undefined;
}

export function statusLines(info: StackInfo): string[] {
  return [
    `API_URL=${info.API_URL}`,
    `FUNCTIONS_URL=${info.FUNCTIONS_URL}`,
    `DB_URL=${info.DB_URL}`,
    `ANON_KEY=${info.ANON_KEY}`,
    `SERVICE_ROLE_KEY=${info.SERVICE_ROLE_KEY}`,
    `JWT_SECRET=${info.JWT_SECRET}`,
  ];
}
