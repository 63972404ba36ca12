// The SOP tests' names for the shared in-process runner (tests/helpers/inprocess.ts).
export { leaseNew as leasedTask, runLeased, runTask as runInProcess } from "../helpers/inprocess.ts";
export type { Outcome } from "../helpers/inprocess.ts";
