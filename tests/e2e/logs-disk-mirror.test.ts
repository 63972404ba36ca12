// Logs on disk: the stack's mirror keeps <LOGS_DIR>/orchestrator.log (NDJSON) and
// <LOGS_DIR>/tasks.md current (the test stack writes into its temp data dir, not
// the repo's logs/), and `npm run logs:export` reproduces both from the database.
// A private stack: tasks.md shows the newest tasks, and the shared stack's bulk tests
// (thousands of tasks a second) would push this file's tasks out of that window.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { usePrivateStack } from "../helpers/private-stack.ts";
import { keyHeaders, waitFor } from "../helpers/stack.ts";

// LOG_LEVEL=debug: a task's success is a log row only at debug (at info it is its task row), and this test mirrors one.
const priv = usePrivateStack({ functionEnv: { LOG_LEVEL: "debug" } });
const stack = () => priv.stack.info;
const sql = () => priv.sql;
const http = (path: string, init: RequestInit = {}) =>
  fetch(`${stack().FUNCTIONS_URL}${path}`, {
    ...init,
    headers: keyHeaders(stack(), "service", { "content-type": "application/json", ...(init.headers as Record<string, string>) }),
  });

const ROOT = resolve(import.meta.dirname, "../..");

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env } });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", rej);
    child.on("exit", (code) => res({ code: code ?? -1, out }));
  });
}

const logsDir = () => stack().LOGS_DIR!;
const read = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : "");
const lines = (text: string) => text.split("\n").filter((l) => l.trim());
const taskRow = (md: string, id: number) => md.split("\n").find((l) => l.startsWith(`| ${id} |`));

async function enqueue(body: object): Promise<{ id: number }> {
  const res = await http("/tasks", { method: "POST", body: JSON.stringify(body) });
  expect(res.status).toBe(201);
  return await res.json();
}

describe("logs on disk", () => {
  it("a test stack mirrors into its own data dir, not the repo's logs/", () => {
    expect(logsDir()).toBeTruthy();
    expect(resolve(logsDir()).startsWith(resolve(ROOT))).toBe(false);
  });

  it("orchestrator.log and tasks.md are current while the stack runs", async () => {
    const logFile = join(logsDir(), "orchestrator.log");
    const mdFile = join(logsDir(), "tasks.md");
    const marker = `disk-${Math.random().toString(36).slice(2, 8)}`;
    const task = await enqueue({ type: "noop", payload: { echo: marker } });
    const done = await waitFor(async () => {
      const [t] = await sql()<{ status: string; finished_at: Date }[]>`select status::text, finished_at from orchestrator.tasks where id = ${task.id}`;
      return t.status === "succeeded" && t;
    }, "the task to succeed", 20_000, 50);

    const logLine = await waitFor(async () => lines(read(logFile)).map((l) => JSON.parse(l)).find((e) => e.task_id === task.id && /succeeded/.test(e.message)), "its log line in orchestrator.log", 10_000, 50);
    const logLag = Date.now() - done.finished_at.getTime();
    expect(logLine).toMatchObject({ level: "debug", component: "task-worker", message: "task noop succeeded", task_id: task.id });
    const row = await waitFor(async () => {
      const r = taskRow(read(mdFile), task.id);
      return r?.includes("| succeeded |") && r;
    }, "its row in tasks.md", 10_000, 50);
    const mdLag = Date.now() - done.finished_at.getTime();
    expect(row).toMatch(new RegExp(`^\\| ${task.id} \\| succeeded \\| noop \\| 1/5 \\| .+ \\| api \\|  \\| \\[task\\]\\(${stack().FUNCTIONS_URL}/tasks/${task.id}\\) · \\[logs\\]`));

    // A status change shows up too: queued (scheduled for later) -> cancelled.
    const later = await enqueue({ type: "noop", run_at: new Date(Date.now() + 3600_000).toISOString() });
    await waitFor(async () => taskRow(read(mdFile), later.id)?.includes("| queued |"), "the queued task in tasks.md", 10_000, 50);
    expect((await http(`/tasks/${later.id}/cancel`, { method: "POST" })).status).toBe(200);
    await waitFor(async () => taskRow(read(mdFile), later.id)?.includes("| cancelled |"), "the cancellation in tasks.md", 10_000, 50);

    // Every line is one JSON log row, in id order as written.
    const all = lines(read(logFile)).map((l) => JSON.parse(l));
    expect(all.every((e) => Number.isInteger(e.id) && typeof e.message === "string" && typeof e.at === "string")).toBe(true);
    console.log(`[logs on disk] ${all.length} lines mirrored; task ${task.id} in orchestrator.log within ${logLag} ms and in tasks.md within ${mdLag} ms of finishing`);
  });

  it("logs:export reproduces the mirror's files from the database", async () => {
    const marker = `export-${Math.random().toString(36).slice(2, 8)}`;
    const task = await enqueue({ type: "noop", payload: { echo: marker } });
    await waitFor(async () => (await sql()`select 1 from orchestrator.logs where task_id = ${task.id} and message = 'task noop succeeded'`).length > 0, "the task's log row", 20_000, 50);
    const out = mkdtempSync(join(tmpdir(), "logs-export-"));
    try {
      const res = await run(process.execPath, [
        "scripts/logs-export.ts", "--db-url", stack().DB_URL, "--since", "2h", "--out", out, "--functions-url", stack().FUNCTIONS_URL!,
      ]);
      expect(res.code, res.out).toBe(0);
      expect(res.out).toMatch(/^wrote \d+ log lines since .* and \d+ tasks to/);

      // Give the mirror a moment to catch up with the rows the export read.
      const exported = lines(read(join(out, "orchestrator.log")));
      const maxExported = Math.max(...exported.map((l) => JSON.parse(l).id));
      await waitFor(async () => lines(read(join(logsDir(), "orchestrator.log"))).some((l) => JSON.parse(l).id >= maxExported), "the mirror to reach the export's last row", 10_000, 50);
      const mirrored = new Set(lines(read(join(logsDir(), "orchestrator.log"))));
      const missing = exported.filter((l) => !mirrored.has(l));
      expect(missing).toEqual([]);
      expect(exported.some((l) => JSON.parse(l).task_id === task.id)).toBe(true);

      // tasks.md: same renderer, same rows -> the same line for each task (the rest of the suite changes others meanwhile).
      const exportMd = read(join(out, "tasks.md"));
      const exportedRow = taskRow(exportMd, task.id);
      expect(exportedRow).toMatch(/\| succeeded \| noop \|/);
      const mirrorMd = await waitFor(async () => {
        const md = read(join(logsDir(), "tasks.md"));
        return taskRow(md, task.id) === exportedRow && md;
      }, "the mirror's tasks.md to show the same row", 10_000, 50);
      expect(exportMd.split("\n")[0]).toBe(mirrorMd.split("\n")[0]);
      expect(exportMd.split("\n").filter((l) => l.startsWith("| id |"))).toEqual(mirrorMd.split("\n").filter((l) => l.startsWith("| id |")));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("a restarted mirror resumes after the last line it wrote: no line twice, none lost", async () => {
    const dir = mkdtempSync(join(tmpdir(), "logs-mirror-"));
    const env = { DB_URL: stack().DB_URL, LOGS_DIR: dir, LOGS_MIRROR_SINCE: "1m", LOGS_MIRROR_INTERVAL_MS: "100", LOGS_TASKS_INTERVAL_MS: "200" };
    const marker = `resume-${Math.random().toString(36).slice(2, 8)}`;
    const insert = (n: number, from: number) =>
      sql()`insert into orchestrator.logs (component, message) select 'test', ${marker} || ' ' || g from generate_series(${from}::int, ${from + n - 1}::int) g`;
    const start = () => spawn(process.execPath, ["scripts/logs-mirror.ts"], { cwd: ROOT, env: { ...process.env, ...env }, stdio: "ignore" });
    const stop = (child: ReturnType<typeof start>) => new Promise<void>((r) => {
      child.once("exit", () => r());
      child.kill("SIGTERM");
    });
    const ours = () => lines(read(join(dir, "orchestrator.log"))).map((l) => JSON.parse(l)).filter((e) => e.message.startsWith(marker));
    try {
      let child = start();
      await insert(50, 1);
      await waitFor(async () => ours().length === 50, "50 lines", 15_000, 50);
      await stop(child);
      await insert(70, 51); // written while the mirror is down
      child = start();
      await insert(30, 121);
      await waitFor(async () => ours().length >= 150, "150 lines", 15_000, 50);
      await new Promise((r) => setTimeout(r, 400));
      await stop(child);
      const got = ours().map((e) => Number(e.message.split(" ")[1]));
      expect(got).toHaveLength(150);
      expect(new Set(got).size).toBe(150);
      expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
      expect(existsSync(join(dir, "tasks.md"))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
