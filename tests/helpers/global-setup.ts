// Starts a private local stack for this test run: its own cluster in a temp dir,
// free ports, the real CLI migrations, Deno functions and the pg_net dispatcher.
// A small control server lets tests kill and restart parts of it (fault tests).
import { mkdtempSync, rmSync, chmodSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { createServer as createHttpServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { LocalStack, type StackInfo } from "../../scripts/stack/stack.ts";

declare module "vitest" {
  export interface ProvidedContext {
    stack: StackInfo & { CONTROL_URL: string };
  }
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export default async function setup(project: TestProject) {
  const dataDir = mkdtempSync(join(tmpdir(), "orchestrator-test-"));
  chmodSync(dataDir, 0o755);
  const lines: string[] = [];
  const stack = new LocalStack({
    dataDir,
    pgPort: await freePort(),
    apiPort: await freePort(),
    fast: true,
    functionEnv: { WORKER_IDLE_WAIT_MS: "3000", LOG_LEVEL: "info", EDGE_ACCESS_LOG: "0" },
    onProgress: (step) => process.env.TEST_STACK_VERBOSE && console.log(`[stack] ${step}`),
    onLine: (source, line) => {
      lines.push(`${source}: ${line}`);
      if (lines.length > 2000) lines.splice(0, 1000);
      if (process.env.TEST_STACK_VERBOSE) console.log(`[${source}] ${line}`);
    },
  });
  const started = Date.now();
  try {
    await stack.start();
  } catch (err) {
    console.error(lines.slice(-50).join("\n"));
    await stack.stop().catch(() => {});
    throw err;
  }
  console.log(`[stack] test stack healthy in ${((Date.now() - started) / 1000).toFixed(1)}s (${dataDir})`);

  // Fault controls for e2e tests; loopback only, bound to this run.
  const control = createHttpServer(async (req, res) => {
    try {
      switch (req.url) {
        case "/functions/kill": await stack.functions.stop("SIGKILL"); break;
        case "/functions/start": if (!stack.functions.running) stack.functions.start(); await stack.waitHealthy(); break;
        case "/dispatcher/stop": await stack.dispatcher.stop(); break;
        case "/dispatcher/start": if (!stack.dispatcher.running) stack.dispatcher.start(); break;
        case "/postgres/restart": stack.cluster.restart(); break;
        default: res.writeHead(404).end(); return;
      }
      res.writeHead(200).end("ok");
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });
  await new Promise<void>((r) => control.listen(0, "127.0.0.1", () => r()));
  const controlUrl = `http://127.0.0.1:${(control.address() as AddressInfo).port}`;
  project.provide("stack", { ...stack.info, CONTROL_URL: controlUrl });

  return async () => {
    control.close();
    await stack.stop();
    if (!process.env.TEST_KEEP_STACK) rmSync(dataDir, { recursive: true, force: true });
  };
}
