// `npm start` checks the AI configuration as the functions see it (issue 14, item 10): with a provider
// and a key but no AI_MODEL it says what is missing and that SOPs come from the template meanwhile,
// and /health says the same (degraded) — never showing the key.
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { freePort } from "../helpers/private-stack.ts";
import { keyHeaders, waitFor } from "../helpers/stack.ts";
import { readStackFile } from "../../scripts/stack/config.ts";
import { ROOT } from "../../scripts/stack/stack.ts";

const dir = mkdtempSync(join(tmpdir(), "orchestrator-ai-check-"));
chmodSync(dir, 0o755);
const KEY = "sk-startcheck-0123456789abcdefghijkl";
let child: ChildProcess | undefined;

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.once("exit", r));
    child.kill("SIGINT");
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

it("npm start names the missing AI_MODEL and /health reports it, without the key", async () => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("ORCH_") && !k.startsWith("AI_")));
  child = spawn(process.execPath, [join(ROOT, "scripts/start.ts")], {
    cwd: ROOT,
    env: {
      ...env, ORCH_STATE_FILE: join(dir, "stack.json"), ORCH_DATA_DIR: join(dir, "data"), ORCH_LOGS_DIR: join(dir, "logs"),
      ORCH_API_PORT: String(await freePort()), ORCH_PG_PORT: String(await freePort()), ORCH_POOLER_PORT: String(await freePort()),
      AI_BASE_URL: "https://api.openai.com/v1", AI_API_KEY: KEY, EDGE_ACCESS_LOG: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  for (const s of [child.stdout!, child.stderr!]) s.on("data", (d) => output.push(String(d)));
  await waitFor(async () => {
    if (child!.exitCode !== null) throw new Error(`npm start exited ${child!.exitCode}:\n${output.join("")}`);
    return output.join("").includes("SOPs are written by the template");
  }, "npm start's AI configuration warning", 110_000, 100);
  const printed = output.join("");
  expect(printed).toMatch(/AI_MODEL is not set: set AI_MODEL/);
  expect(printed).not.toContain(KEY);

  const state = readStackFile(join(dir, "stack.json"))!;
  const res = await fetch(`${state.FUNCTIONS_URL}/health`, { headers: keyHeaders(state, "service") });
  const body = await res.text();
  expect(JSON.parse(body)).toMatchObject({ status: "degraded", ai: { configured: true, usable: false, api_key_set: true } });
  expect(body).not.toContain(KEY);
}, 120_000);
