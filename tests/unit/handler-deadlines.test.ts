// The running handlers' timeouts on one timer (functions/_shared/handler-deadlines.ts).
import { describe, expect, it } from "vitest";
import { pendingDeadlines, startDeadline } from "../../functions/_shared/handler-deadlines.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe("handler deadlines", () => {
  it("ends each handler at its own deadline, in deadline order, whatever order they started in", async () => {
    const fired: string[] = [];
    const at = performance.now();
    const when: Record<string, number> = {};
    const mark = (name: string) => () => {
      fired.push(name);
      when[name] = performance.now() - at;
    };
    startDeadline(120, mark("slow"));
    startDeadline(30, mark("fast"));
    startDeadline(60, mark("middle"));
    await sleep(200);
    expect(fired).toEqual(["fast", "middle", "slow"]);
    // Never early; late only by a timer's slack.
    expect(when.fast).toBeGreaterThanOrEqual(29);
    expect(when.middle).toBeGreaterThanOrEqual(59);
    expect(when.slow).toBeGreaterThanOrEqual(119);
    expect(pendingDeadlines()).toBe(0);
  });

  it("never ends a handler that finished first, and still ends the others when the armed one is gone", async () => {
    const fired: string[] = [];
    const endFirst = startDeadline(20, () => fired.push("first"));
    startDeadline(60, () => fired.push("second"));
    endFirst(); // the timer stays armed for 20 ms: it must find nothing due then, and re-arm for 60
    endFirst(); // a second call does nothing
    await sleep(40);
    expect(fired).toEqual([]);
    expect(pendingDeadlines()).toBe(1);
    await sleep(60);
    expect(fired).toEqual(["second"]);
    expect(pendingDeadlines()).toBe(0);
  });

  it("keeps no timer once no handler runs (an idle isolate is not kept alive by it)", async () => {
    let fired = false;
    const end = startDeadline(10_000, () => (fired = true));
    expect(pendingDeadlines()).toBe(1);
    end();
    expect(pendingDeadlines()).toBe(0);
    // A later, shorter deadline still fires on time: the cleared timer left no stale state behind.
    const at = performance.now();
    let after = 0;
    startDeadline(15, () => (after = performance.now() - at));
    await sleep(60);
    expect(fired).toBe(false);
    expect(after).toBeGreaterThanOrEqual(14);
  });
});
