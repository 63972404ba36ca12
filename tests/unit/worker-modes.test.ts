// The worker's modes (functions/_shared/worker-modes.ts): the moves the table allows, and a wrong one
// failing where it is made.
import { describe, expect, it } from "vitest";
import { canMove, type ModeChange, type WorkerMode, WorkerModes } from "../../functions/_shared/worker-modes.ts";

const ALL: WorkerMode[] = ["claiming", "waiting", "draining", "handing_off", "done"];

describe("worker modes", () => {
  it("allows exactly the moves of the diagram", () => {
    const allowed = ALL.flatMap((from) => ALL.filter((to) => canMove(from, to)).map((to) => `${from}->${to}`));
    expect(allowed).toEqual([
      "claiming->waiting", "claiming->draining",
      "waiting->claiming", "waiting->draining",
      "draining->handing_off", "draining->done",
      "handing_off->done",
    ]);
  });

  it("starts claiming, reports each move with its reason, and counts the modes entered", () => {
    const seen: ModeChange[] = [];
    const modes = new WorkerModes((c) => seen.push(c));
    expect(modes.mode).toBe("claiming");
    modes.move("waiting", "lingering");
    modes.move("claiming", "notified");
    modes.move("draining", "cpu");
    modes.move("handing_off", "cpu");
    modes.move("done", "cpu");
    expect(seen.map((c) => `${c.from}->${c.to} (${c.why})`)).toEqual([
      "claiming->waiting (lingering)", "waiting->claiming (notified)", "claiming->draining (cpu)",
      "draining->handing_off (cpu)", "handing_off->done (cpu)",
    ]);
    expect(modes.entered).toEqual({ claiming: 2, waiting: 1, draining: 1, handing_off: 1, done: 1 });
    expect(modes.is("done")).toBe(true);
  });

  it("throws on a move the worker never makes, and stays where it was", () => {
    const modes = new WorkerModes();
    expect(() => modes.move("handing_off", "cpu")).toThrow(/claiming -> handing_off \(cpu\) is not a move/);
    expect(modes.mode).toBe("claiming");
    modes.move("draining", "budget");
    expect(() => modes.move("claiming", "notified")).toThrow(/draining -> claiming/);
    modes.move("done", "budget");
    for (const to of ALL) expect(() => modes.move(to, "again")).toThrow(/done ->/);
  });
});
