// The worker's local line of claimed tasks takes turns across groups, as the claim does (issue 17).
import { describe, expect, it } from "vitest";
import { fairLine } from "../../functions/_shared/worker.ts";
import type { ClaimedTask } from "../../functions/_shared/task-types.ts";

const t = (id: number, group_key: string) => ({ id, group_key }) as ClaimedTask;

describe("fairLine", () => {
  it("puts another group's fresh task second, behind one of the backlog, each group in its own order", () => {
    const line = [t(1, "a"), t(2, "a"), t(3, "a"), t(4, "a"), t(9, "b")];
    fairLine(line);
    expect(line.map((x) => x.id)).toEqual([1, 9, 2, 3, 4]);
  });
  it("interleaves three groups and keeps every task", () => {
    const line = [t(1, "a"), t(2, "a"), t(3, "b"), t(4, "c"), t(5, "b"), t(6, "a")];
    fairLine(line);
    expect(line.map((x) => x.id)).toEqual([1, 3, 4, 2, 5, 6]);
  });
  it("leaves a one-group line as it is", () => {
    const line = [t(3, ""), t(1, ""), t(2, "")];
    fairLine(line);
    expect(line.map((x) => x.id)).toEqual([3, 1, 2]);
  });
});
