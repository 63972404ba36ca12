// The run graph's layout (dashboard/src/graph-layout.ts): a step's layer is 1 + the largest layer of
// its `after`, every edge points from a left layer to a right one, and no two nodes overlap.
import { describe, expect, it } from "vitest";
import { kindLabel, layoutGraph, NODE, type RunStep, stepLayers, waitingText } from "../../dashboard/src/graph-layout.ts";

const step = (index: number, name: string, after: string[]) => ({ index, name, after });

describe("run graph layout", () => {
  it("puts a step one layer right of the deepest step it waits for", () => {
    const steps = [
      step(0, "a", []), step(1, "b", []), step(2, "c", ["a"]), step(3, "d", ["c", "b"]), step(4, "e", ["a", "d"]),
    ];
    expect(Object.fromEntries(stepLayers(steps))).toEqual({ a: 0, b: 0, c: 1, d: 2, e: 3 });
    const layout = layoutGraph(steps);
    expect(layout.layers).toBe(4);
    expect(layout.edges.map((e) => `${e.from}->${e.to}`).sort()).toEqual(["a->c", "a->e", "b->d", "c->d", "d->e"]);
    const at = new Map(layout.nodes.map((n) => [n.step.name, n]));
    for (const e of layout.edges) expect(at.get(e.from)!.x + NODE.width).toBeLessThan(at.get(e.to)!.x);
  });

  it("places a fan-out and its join without overlaps, inside the drawing", () => {
    const steps = [step(0, "start", []), ...Array.from({ length: 6 }, (_, i) => step(i + 1, `f${i}`, ["start"])), step(7, "join", ["f0", "f1", "f2", "f3", "f4", "f5"])];
    const layout = layoutGraph(steps);
    expect(layout.nodes.map((n) => n.layer)).toEqual([0, 1, 1, 1, 1, 1, 1, 2]);
    expect(layout.edges.filter((e) => e.to === "join")).toHaveLength(6);
    for (const a of layout.nodes) {
      expect(a.x + NODE.width).toBeLessThanOrEqual(layout.width);
      expect(a.y + NODE.height).toBeLessThanOrEqual(layout.height);
      for (const b of layout.nodes) {
        if (a === b) continue;
        const apart = a.x + NODE.width <= b.x || b.x + NODE.width <= a.x || a.y + NODE.height <= b.y || b.y + NODE.height <= a.y;
        expect(apart, `${a.step.name} and ${b.step.name} overlap`).toBe(true);
      }
    }
    // The one-node layers are centred against the six-high one.
    const start = layout.nodes.find((n) => n.step.name === "start")!;
    expect(start.y + NODE.height / 2).toBeCloseTo(layout.height / 2);
  });

  it("ignores unknown names and cuts a cycle instead of looping", () => {
    const layout = layoutGraph([step(0, "x", ["ghost", "y"]), step(1, "y", ["x"])]);
    expect(layout.nodes).toHaveLength(2);
    expect(new Set(layout.nodes.map((n) => n.layer)).size).toBe(2);
    expect(layoutGraph([])).toMatchObject({ nodes: [], edges: [], width: 0, height: 0 });
  });
});

describe("what a node says", () => {
  const base = { index: 0, name: "s", after: [], optional: false, timeout_at: null, map: null, input: null, result: null, error: null,
    started_at: null, finished_at: null, task_id: null, child_run_id: null, reused: false, task: null } as const;
  const runStep = (over: Partial<RunStep>): RunStep => ({ ...base, type: "noop", kind: "task", status: "waiting", waiting_for: null, ...over } as RunStep);

  it("names the kind, and the task type or child workflow", () => {
    expect(kindLabel(runStep({ type: "sop.generate" }))).toBe("task · sop.generate");
    expect(kindLabel(runStep({ kind: "wait_for_event", type: "wait_for_event" }))).toBe("wait for event");
    expect(kindLabel(runStep({ kind: "workflow", type: "workflow", waiting_for: { workflow: "child", run_id: 7 } }))).toBe("workflow · child");
  });

  it("says what a waiting step waits for", () => {
    expect(waitingText(runStep({ waiting_for: null }))).toBeUndefined();
    expect(waitingText(runStep({ waiting_for: { event: { source: "knisoci", type: "activity_log", match: { level: "error" } } } })))
      .toBe('event knisoci/activity_log matching {"level":"error"}');
    expect(waitingText(runStep({ waiting_for: { event: { source: "app", type: "x", match: {} } } }))).toBe("event app/x");
    expect(waitingText(runStep({ waiting_for: { workflow: "child", run_id: 7 } }))).toBe("run #7 of child");
    expect(waitingText(runStep({ waiting_for: { until: "2026-12-01T10:00:00Z" } }))).toMatch(/^until \S/);
  });
});
