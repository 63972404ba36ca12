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
    burnCpu(150); // the loop is blocked for 150 ms
    await sleep(30);
    const busy = lag.busyMs() - idle;
    lag.sample(false);
    expect(idle).toBeLessThan(Math.min(100, busy / 2)); // a loaded machine fires timers a little late
    expect(busy).toBeGreaterThanOrEqual(120);
    expect(busy).toBeLessThan(400);
    // Stopped: no more samples.
    const frozen = lag.busyMs();
    burnCpu(50);
    await sleep(20);
    expect(lag.busyMs()).toBe(frozen);
  });
});
