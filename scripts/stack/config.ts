// Where `npm start` keeps its stack, and how `npm run status` (and a second
// `npm start`) find it: a state file at a fixed place in the project,
// .orchestrator/stack.json, whatever ORCH_DATA_DIR or ports the stack was
// started with. The supervisor rewrites it whenever a process changes, so it
// also says what is down and why. It holds the keys: mode 0600, git-ignored.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { pidAlive } from "./postgres.ts";
import { describeProcess, type ProcessSnapshot } from "./process-snapshot.ts";
import { ROOT, type StackInfo } from "./stack.ts";

export const DEFAULT_DATA_DIR = process.env.ORCH_DATA_DIR ?? join(ROOT, ".orchestrator", "local");
export const DEFAULT_PG_PORT = Number(process.env.ORCH_PG_PORT ?? 54322);
export const DEFAULT_API_PORT = Number(process.env.ORCH_API_PORT ?? 54321);
/** The pooler (pgbouncer, transaction mode), standing in for Supavisor's 6543: a fixed port so DB_POOLER_URL stays the same across starts. */
export const DEFAULT_POOLER_PORT = Number(process.env.ORCH_POOLER_PORT ?? 54329);
/** Fixed, so status finds the stack without the variables it was started with (tests point it elsewhere). */
export const STATE_FILE = process.env.ORCH_STATE_FILE ?? join(ROOT, ".orchestrator", "stack.json");

export interface StackFile extends StackInfo {
  /** The supervisor: the `npm start` process. */
  pid: number;
  started_at: string;
  data_dir: string;
  pg_port: number;
  api_port: number;
  processes: ProcessSnapshot[];
  updated_at: string;
}

export function readStackFile(file = STATE_FILE): StackFile | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as StackFile;
  } catch {
    return undefined; // half-written by a supervisor that died mid-write: as good as absent
  }
}

/** Atomic (temp file + rename): a reader never sees half a file. */
export function writeStackFile(content: StackFile, file = STATE_FILE): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(content, null, 2), { mode: 0o600 });
  renameSync(tmp, file);
}

export function removeStackFile(file = STATE_FILE): void {
  rmSync(file, { force: true });
}

/** The running stack's facts, or undefined when no `npm start` of this project is alive. */
export function runningStack(file = STATE_FILE): StackFile | undefined {
  const info = readStackFile(file);
  return info && pidAlive(info.pid) ? info : undefined;
}

/** What is wrong with a running stack's processes, one line each, with what the supervisor is doing about it. */
export function processProblems(info: StackFile): string[] {
  return (info.processes ?? []).filter((p) => p.state !== "running").map((p) => {
    const line = describeProcess(p);
    const stderr = p.last_stderr.length ? `\n      last stderr: ${p.last_stderr.join("\n                   ")}` : "";
    if (p.state === "failed") return `${line}: the supervisor gave up: ${p.gave_up}${stderr}`;
    if (p.state === "restarting") return `${line}: the supervisor restarts it shortly${stderr}`;
    return `${line}: stopped`;
  });
}

export function statusLines(info: StackInfo): string[] {
  const lines: [string, string | undefined][] = [
    ["API_URL", info.API_URL],
    ["FUNCTIONS_URL", info.FUNCTIONS_URL],
    ["DB_URL", info.DB_URL],
    ["DB_POOLER_URL", info.DB_POOLER_URL],
    ["ANON_KEY", info.ANON_KEY],
    ["SERVICE_ROLE_KEY", info.SERVICE_ROLE_KEY],
    ["JWT_SECRET", info.JWT_SECRET],
    // The new keys (not JWTs: send them as `apikey`) and the ES256 key the gateway verifies JWTs with.
    ["PUBLISHABLE_KEY", info.PUBLISHABLE_KEY],
    ["SECRET_KEY", info.SECRET_KEY],
    ["JWKS_URL", info.JWKS_URL],
    // JSON in single quotes stays one word for `eval` (base64url and JWK field names hold no single quote).
    ["JWKS", info.JWKS && `'${info.JWKS}'`],
    ["JWT_SIGNING_KEY", info.JWT_SIGNING_KEY && `'${info.JWT_SIGNING_KEY}'`],
  ];
  // A stack started by an older `npm start` lacks the newer fields: left out rather than printed as "undefined".
  return lines.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
}

/** Does the running stack's function server answer /health? The answer, or why not. */
export async function probeHealth(info: StackInfo): Promise<{ ok: boolean; detail: string }> {
  try {
    const res = await fetch(`${info.FUNCTIONS_URL}/health`, { signal: AbortSignal.timeout(3000) });
    return { ok: res.ok, detail: `/health answered ${res.status}` };
  } catch (err) {
    return { ok: false, detail: `/health did not answer: ${(err as Error).message}` };
  }
}
