// The supervised local stack (issue 14, item 8), as `npm start` runs it: a real
// `node scripts/start.ts` in a temp data dir on free ports. kill -9 of the pg_net
// dispatcher and of the function server: both come back by themselves, say why they
// died, count the restart in /health, and the wake-ups that piled up meanwhile are
// sent. `npm run status` finds the stack without the ORCH_* variables it was started
// with; a second `npm start` on a degraded (hung) stack says what is wrong and what to do.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, chmodSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import postgres from "postgres";
import { freePort } from "../helpers/private-stack.ts";
import { keyHeaders, waitFor } from "../helpers/stack.ts";
import { readStackFile, type StackFile } from "../../scripts/stack/config.ts";
import { ROOT } from "../../scripts/stack/stack.ts";

const dir = mkdtempSync(join(tmpdir(), "orchestrator-npm-start-"));
chmodSync(dir, 0o755);
const stateFile = join(dir, "stack.json");
let apiPort = 0;
let poolerPort = 0;
let supervisor: ChildProcess | undefined;
const output: string[] = [];
let sql: postgres.Sql;

/** The environment without any ORCH_* variable, but for where the state file lives (a test must not touch the project's). */
function bareEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("ORCH_")));
  return { ...env, ORCH_STATE_FILE: stateFile };
}

const state = (): StackFile => readStackFile(stateFile)!;
const proc = (name: string) => state().processes.find((p) => p.name === name)!;

beforeAll(async () => {
  apiPort = await freePort();
  poolerPort = await freePort();
  supervisor = spawn(process.execPath, [join(ROOT, "scripts/start.ts")], {
    cwd: ROOT,
    env: {
      ...bareEnv(), ORCH_DATA_DIR: join(dir, "data"), ORCH_LOGS_DIR: join(dir, "logs"),
      ORCH_API_PORT: String(apiPort), ORCH_PG_PORT: String(await freePort()), ORCH_POOLER_PORT: String(poolerPort),
      AI_BASE_URL: "", AI_API_KEY: "", EDGE_ACCESS_LOG: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const s of [supervisor.stdout!, supervisor.stderr!]) s.on("data", (d) => output.push(...String(d).split("\n")));
  await waitFor(async () => {
    if (supervisor!.exitCode !== null) throw new Error(`npm start exited ${supervisor!.exitCode}:\n${output.join("\n")}`);
    return output.some((l) => l.includes("Orchestrator is running"));
  }, "npm start to be up", 110_000, 100);
  sql = postgres(state().DB_URL, { max: 2, onnotice: () => {} });
}, 120_000);

afterAll(async () => {
  await sql?.end({ timeout: 2 });
  if (supervisor && supervisor.exitCode === null) {
    const exited = new Promise((r) => supervisor!.once("exit", r));
    supervisor.kill("SIGINT");
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

async function serviceHealth() {
  const s = state();
  const res = await fetch(`${s.FUNCTIONS_URL}/health`, { headers: keyHeaders(s, "service") });
  return { status: res.status, body: await res.json() };
}

describe("npm start supervises its processes", () => {
  it("npm run status finds the stack without the ORCH_* variables it was started with", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "scripts/status.ts")], { cwd: ROOT, env: bareEnv(), encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`API_URL=http://127.0.0.1:${apiPort}\n`);
    // The pooler on the port npm start was given (ORCH_POOLER_PORT), as the functions reach it.
    expect(r.stdout).toMatch(new RegExp(`\nDB_POOLER_URL=postgresql://[^\n]+@127\.0\.0\.1:${poolerPort}/`));
    expect(r.stdout).toContain("STATUS=healthy\n");
    expect(r.stdout).toContain(`PID=${supervisor!.pid}`);
  });

  it("kill -9 of the dispatcher: back by itself, the wake-ups queued meanwhile are sent, the restart is in /health", async () => {
    const old = proc("pg_net").pid!;
    const killedAt = Date.now();
    process.kill(old, "SIGKILL");
    // Wake-ups keep coming while it is down: each insert statement queues one.
    for (let i = 0; i < 20; i++) await sql`select orchestrator.enqueue('noop', ${sql.json({ echo: i })})`;
    await waitFor(async () => proc("pg_net").state === "running" && proc("pg_net").pid !== old, "the dispatcher to be restarted", 10_000, 50);
    const back = Date.now() - killedAt;
    await waitFor(async () => {
      const [{ n }] = await sql`select count(*)::int as n from net.http_request_queue`;
      return n === 0;
    }, "the queued wake-ups to be sent", 10_000, 100);
    await waitFor(async () => {
      const [{ n }] = await sql`select count(*)::int as n from orchestrator.tasks where type = 'noop' and status <> 'succeeded'`;
      return n === 0;
    }, "the tasks to run", 15_000, 100);
    expect(output.join("\n")).toMatch(/pg_net died \(signal SIGKILL\) after [\d.]+ s[^\n]*\n\s+restarting it in \d+ ms \(restart 1\)/);
    const { status, body } = await serviceHealth();
    expect(status).toBe(200);
    expect(body.local_stack.processes.find((p: { name: string }) => p.name === "pg_net")).toMatchObject({
      state: "running", restarts: 1, last_exit: "signal SIGKILL",
    });
    console.log(`[supervise] dispatcher back ${back} ms after kill -9`);
  });

  it("kill -9 of the function server: back by itself, answering /health with its restart counted", async () => {
    const old = proc("functions").pid!;
    const killedAt = Date.now();
    process.kill(old, "SIGKILL");
    const { body } = await waitFor(async () => {
      const h = await serviceHealth().catch(() => undefined);
      return h?.status === 200 && h.body.local_stack.processes.some((p: { name: string; pid: number }) => p.name === "functions" && p.pid !== old) && h;
    }, "the function server to answer again", 10_000, 100);
    const back = Date.now() - killedAt;
    expect(body.status).toBe("ok");
    const names = body.local_stack.processes.map((p: { name: string }) => p.name).sort();
    expect(names).toEqual(["functions", "logs", "pg_net", "pooler", "postgres"]);
    expect(body.local_stack.processes.find((p: { name: string }) => p.name === "functions")).toMatchObject({ state: "running", restarts: 1, last_exit: "signal SIGKILL" });
    // No stderr in /health: that stays in the terminal.
    expect(JSON.stringify(body)).not.toContain("last_stderr");
    expect((await fetch(`${state().FUNCTIONS_URL}/health`)).status).toBe(200);
    console.log(`[supervise] function server answering ${back} ms after kill -9`);
  });

  it("a second npm start on a degraded stack says what is wrong and what to do", async () => {
    // A hung function server: alive (nothing to restart), but /health does not answer.
    const pid = proc("functions").pid!;
    process.kill(pid, "SIGSTOP");
    try {
      const [second, status] = await Promise.all([
        run([join(ROOT, "scripts/start.ts")]),
        run([join(ROOT, "scripts/status.ts")]),
      ]);
      expect(second.code).toBe(1);
      expect(second.out).toContain(`The orchestrator is already running (pid ${supervisor!.pid}`);
      expect(second.out).toContain("but it is degraded:");
      expect(second.out).toMatch(/- functions: \/health did not answer/);
      expect(second.out).toMatch(/What to do: .*run `npm run status` in a few seconds.*\n.*stop the stack \(Ctrl-C in its terminal, or `kill \d+`\) and run `npm start` again/);
      expect(status.out).toContain("STATUS=unhealthy");
      expect(status.err).toMatch(/- functions: \/health did not answer/);
    } finally {
      process.kill(pid, "SIGCONT");
    }
    expect(existsSync(stateFile)).toBe(true);
  });
});

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: bareEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code) => resolve({ code, out, err }));
  });
}
