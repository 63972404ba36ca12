// test.chaos's resource modes, run in this process: burn_cpu spends CPU time (not wall time), alloc holds memory.
import process from "node:process";
import { describe, expect, it } from "vitest";
import { burnCpu, processCpuMs } from "../../functions/_shared/cpu-clock.ts";
import { createLogger } from "../../functions/_shared/logger.ts";
import { CHAOS_MODES, testChaos } from "../../functions/_shared/tasks/test-chaos.ts";
import type { TaskRow } from "../../functions/_shared/task-types.ts";

const ctx = () => ({ task: { id: 1, attempts: 1 } as TaskRow, log: createLogger({ component: "chaos-test" }), signal: new AbortController().signal });

describe("test.chaos resource modes", () => {
  it("lists burn_cpu and alloc beside sleep, and its payload schema takes ms and mb", () => {
    expect(CHAOS_MODES).toEqual(expect.arrayContaining(["sleep", "burn_cpu", "alloc"]));
    expect(testChaos.payload.safeParse({ mode: "alloc", mb: 400 }).success).toBe(true);
    expect(testChaos.payload.safeParse({ mode: "burn_cpu", ms: 6_000 }).success).toBe(true);
    expect(testChaos.payload.safeParse({ mode: "alloc", mb: 0 }).success).toBe(false);
  });

  it("burn_cpu spends its ms as CPU time, measured by the process's own CPU clock", async () => {
    const before = process.cpuUsage();
    const result = (await testChaos.handle({ mode: "burn_cpu", ms: 150 }, ctx())) as { cpu_ms: number };
    const used = process.cpuUsage(before);
    const cpuMs = (used.user + used.system) / 1000;
    expect(result.cpu_ms).toBeGreaterThanOrEqual(150);
    // Busy, not sleeping: the process spent the ms on the CPU (a wall-clock bound here failed on a loaded CI machine).
    expect(cpuMs).toBeGreaterThanOrEqual(145); // process clock granularity
    expect(processCpuMs()).toBeGreaterThan(0);
    expect(burnCpu(0)).toBeGreaterThanOrEqual(0);
  });

  it("alloc holds its mb resident for the task's duration, then lets go", async () => {
    const rssBefore = process.memoryUsage().rss;
    let peak = 0;
    const probe = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    const result = await testChaos.handle({ mode: "alloc", mb: 64, ms: 100 }, ctx());
    clearInterval(probe);
    expect(result).toMatchObject({ ok: true, held_mb: 64, checksum: 64 });
    expect(peak - rssBefore).toBeGreaterThan(48 * 1024 * 1024);
  });
});
