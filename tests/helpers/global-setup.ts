// Starts a private local stack for this test run: its own cluster in a temp dir,
// free ports, the real CLI migrations, Deno functions and the pg_net dispatcher.
// A small control server lets tests kill and restart parts of it (fault tests).
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";
import type { StackInfo } from "../../scripts/stack/stack.ts";
import { startPrivateStack } from "./private-stack.ts";

declare module "vitest" {
  export interface ProvidedContext {
    stack: StackInfo & { CONTROL_URL: string };
  }
}

/**
 * The db, api and e2e projects each name this file; the stack is started once per run and shared (the
 * projects' setups run in the one main process), and stopped after the last project is done with it.
 */
const shared = globalThis as { orchestratorTestStack?: { info: Promise<StackInfo & { CONTROL_URL: string }>; users: number; stop: () => Promise<void> } };

export default async function setup(project: TestProject) {
  if (!shared.orchestratorTestStack) {
    let stopStack = async () => {};
    const info = startStack().then(({ info, stop }) => {
      stopStack = stop;
      return info;
    });
    shared.orchestratorTestStack = { info, users: 0, stop: () => stopStack() };
  }
  const held = shared.orchestratorTestStack;
  held.users++;
  project.provide("stack", await held.info);
  return async () => {
    if (--held.users > 0) return;
    shared.orchestratorTestStack = undefined;
    await held.stop();
  };
}

async function startStack(): Promise<{ info: StackInfo & { CONTROL_URL: string }; stop: () => Promise<void> }> {
  const started = Date.now();
  // EVENTS_SIGNING_SECRET: signed POST /events over real HTTP (tests/e2e/events-*.test.ts signs with the same value).
  const { stack, stop } = await startPrivateStack({ seed: true, functionEnv: { EVENTS_SIGNING_SECRET: "test-events-signing-secret" } });
  console.log(`[stack] test stack healthy in ${((Date.now() - started) / 1000).toFixed(1)}s (${stack.opts.dataDir})`);

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
  return {
    info: { ...stack.info, CONTROL_URL: controlUrl },
    stop: async () => {
      control.close();
      await stop();
    },
  };
}
