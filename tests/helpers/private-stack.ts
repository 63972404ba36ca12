// A private local stack (own temp cluster, free ports) for the test run's shared
// stack and for tests that break things on purpose (kill the function server,
// stop the dispatcher), so their faults never reach other test files.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import postgres from "postgres";
import { LocalStack } from "../../scripts/stack/stack.ts";
import { freePort } from "../../scripts/stack/ports.ts";
export { freePort };


export interface PrivateStack {
  stack: LocalStack;
  /** Recent output of the stack's processes, for failure messages. */
  recentLines: () => string[];
  stop: () => Promise<void>;
}

export async function startPrivateStack(opts: {
  functionEnv?: Record<string, string>;
  seed?: boolean;
  /** Keep fsync and synchronous commits on (as `npm start` does), for faults that crash PostgreSQL itself. */
  durable?: boolean;
} = {}): Promise<PrivateStack> {
  const dataDir = mkdtempSync(join(tmpdir(), "orchestrator-test-"));
  chmodSync(dataDir, 0o755);
  const lines: string[] = [];
  const stack = new LocalStack({
    dataDir,
    pgPort: await freePort(),
    apiPort: await freePort(),
    fast: !opts.durable,
    seed: opts.seed,
    // The stack stores the secret key for wake-ups (sb_secret_…, as apikey), as a project past the key
    // migration has it; TEST_KEYS=legacy runs on the legacy service_role JWT instead, as a project that
    // has not migrated yet.
    wakeupKey: process.env.TEST_KEYS === "legacy" ? "service_role" : "secret",
    functionEnv: {
      WORKER_IDLE_WAIT_MS: "3000", LOG_LEVEL: "info", EDGE_ACCESS_LOG: "0",
      // No AI provider in the stack, whatever the shell or .env.local says: e2e runs the template SOP path.
      AI_BASE_URL: "", AI_API_KEY: "",
      ...opts.functionEnv,
    },
    onProgress: (step) => process.env.TEST_STACK_VERBOSE && console.log(`[stack] ${step}`),
    onLine: (source, line) => {
      lines.push(`${source}: ${line}`);
      if (lines.length > 2000) lines.splice(0, 1000);
      if (process.env.TEST_STACK_VERBOSE) console.log(`[${source}] ${line}`);
    },
  });
  const stop = async () => {
    await stack.stop();
    if (!process.env.TEST_KEEP_STACK) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await stack.start();
  } catch (err) {
    console.error(lines.slice(-50).join("\n"));
    await stop().catch(() => {});
    throw err;
  }
  return { stack, recentLines: () => lines.slice(-200), stop };
}

/** A private stack for one test file (started in beforeAll, stopped in afterAll) and a SQL client to it. */
export function usePrivateStack(opts: Parameters<typeof startPrivateStack>[0] = {}) {
  let ps: PrivateStack | undefined;
  let client: postgres.Sql | undefined;
  beforeAll(async () => {
    ps = await startPrivateStack(opts);
    client = postgres(ps.stack.info.DB_URL, { max: 4, onnotice: () => {} });
  });
  afterAll(async () => {
    await client?.end();
    await ps?.stop();
  });
  return {
    get stack(): LocalStack {
      return ps!.stack;
    },
    get sql(): postgres.Sql {
      return client!;
    },
  };
}
