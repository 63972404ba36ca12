// EDGE_VERIFY_JWT (scripts/edge/function-config.ts): which functions the local gateway applies verify_jwt to,
// on top of supabase/config.toml. Bad lists are refused at start-up with what to fix, never half-applied.
import { describe, expect, it } from "vitest";
import { applyVerifyJwt, type FunctionEntry, FunctionConfigError } from "../../scripts/edge/function-config.ts";

const entry = (name: string, verifyJwt = false): FunctionEntry => ({ name, verifyJwt, entrypoint: `file:///functions/${name}/index.ts` });
const served = () => [entry("health"), entry("tasks"), entry("task-worker"), entry("logs"), entry("sops", true)];
const checked = (list: string | undefined) => applyVerifyJwt(served(), list).filter((e) => e.verifyJwt).map((e) => e.name);

describe("EDGE_VERIFY_JWT", () => {
  it("unset or empty: config.toml as it is", () => {
    expect(checked(undefined)).toEqual(["sops"]);
    expect(checked("")).toEqual(["sops"]);
    expect(checked(" , ")).toEqual(["sops"]);
  });

  it("turns verify_jwt on for each function named (comma-separated, spaces allowed), the others untouched", () => {
    expect(checked("tasks")).toEqual(["tasks", "sops"]);
    expect(checked(" tasks , task-worker,")).toEqual(["tasks", "task-worker", "sops"]);
    const out = applyVerifyJwt(served(), "logs");
    expect(out.find((e) => e.name === "logs")).toEqual({ ...entry("logs"), verifyJwt: true });
    expect(out.map((e) => e.name)).toEqual(served().map((e) => e.name));
  });

  it("refuses a name that is not a served function, listing the functions", () => {
    expect(() => applyVerifyJwt(served(), "tasks,taks")).toThrow(FunctionConfigError);
    expect(() => applyVerifyJwt(served(), "tasks,taks,Logs")).toThrow(/EDGE_VERIFY_JWT names "taks", "Logs", which are not a function of supabase\/config\.toml\. Functions: health, tasks, task-worker, logs, sops\./);
  });

  it("refuses health: the stack probes it without a key to see that it is up", () => {
    expect(() => applyVerifyJwt(served(), "tasks,health")).toThrow(/cannot name health/);
  });
});
