// The CPU estimate used where the runtime measures no CPU time (hosted edge-runtime): event-loop lag.
import { describe, expect, it } from "vitest";
import { burnCpu } from "../../functions/_shared/cpu-clock.ts";
import { lagSampler } from "../../functions/_shared/isolate-life.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe("event-loop lag estimate", () => {
  it("counts a blocked event loop as busy, and waiting as idle", async () => {
    const lag = lagSampler();
    lag.sample(true);
    await sleep(100); // idle: timers fire on time
    const idle = lag.busyMs();
    const t0 = performance.now();
    burnCpu(150); // the loop is blocked for 150 ms of CPU time: longer in wall time on a loaded machine
    const blockedMs = performance.now() - t0;
    await sleep(30);
    const busy = lag.busyMs() - idle;
    lag.sample(false);
    expect(idle).toBeLessThan(Math.min(100, busy / 2)); // a loaded machine fires timers a little late
    expect(busy).toBeGreaterThanOrEqual(120);
    // The estimate is the time the loop was blocked (wall), give or take a tick and a late timer.
    expect(busy).toBeLessThan(blockedMs + 100);
    // Stopped: no more samples.
    const frozen = lag.busyMs();
    burnCpu(50);
    await sleep(20);
    expect(lag.busyMs()).toBe(frozen);
  });
});
