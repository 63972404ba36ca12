// The task listing stays an index read after 20261202001000_task_indexes_for_the_write_path.sql
// dropped the (status, id) index over every task: a status the finished-task index does not hold
// (queued, running) is read through the queue's own partial indexes, a finished one through that
// index. A rare status among many finished tasks must not scan them. The statement is the one
// listTasks() sends (functions/_shared/queue.ts), with its parameters.
import { describe, expect, it } from "vitest";
import { inRolledBackTx, uniqueType } from "../helpers/stack.ts";

type PlanNode = { "Node Type": string; "Index Name"?: string; "Actual Rows": number; "Actual Loops": number; "Rows Removed by Filter"?: number; Plans?: PlanNode[] };
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

const LIST = `select * from orchestrator.tasks where true and status = any($1::orchestrator.task_status[]) order by id desc limit 51`;
const LIST_BY_TYPE = `select * from orchestrator.tasks where true and type = $1 order by id desc limit 51`;

describe("task listing plans", () => {
  it("reads a few rows, not the table, for each status: 5,000 queued tasks behind 30,000 newer finished ones", async () => {
    const type = uniqueType("listed");
    const plans = await inRolledBackTx(async (tx) => {
      // Older queued tasks (due later), then 30,000 newer finished ones: reading the newest ids back to the queued would pass them all.
      await tx`insert into orchestrator.tasks (type, run_at) select ${type}, now() + interval '1 hour' from generate_series(1, 5000)`;
      await tx`insert into orchestrator.tasks (type, status, finished_at) select ${type}, 'succeeded', now() from generate_series(1, 30000)`;
      await tx`insert into orchestrator.tasks (type, status, finished_at) select ${type}, 'dead', now() from generate_series(1, 3)`;
      await tx`insert into orchestrator.tasks (type, status, lease_token, locked_until) values (${type}, 'running', gen_random_uuid(), now() + interval '1 minute')`;
      await tx`analyze orchestrator.tasks`;
      const explain = async (statement: string, param: unknown) => {
        const [row] = await tx.unsafe(`explain (analyze, format json) ${statement}`, [param as never]);
        const plan = (row["QUERY PLAN"] as { Plan: PlanNode }[])[0].Plan;
        const all = nodes(plan);
        return {
          rows: all.reduce((a, n) => a + n["Actual Rows"] * n["Actual Loops"] + (n["Rows Removed by Filter"] ?? 0), 0),
          scans: all.filter((n) => /Scan/.test(n["Node Type"])).map((n) => `${n["Node Type"]}${n["Index Name"] ? ` on ${n["Index Name"]}` : ""}`),
          returned: plan["Actual Rows"],
        };
      };
      return {
        dead: await explain(LIST, ["dead"]),
        queued: await explain(LIST, ["queued"]),
        running: await explain(LIST, ["running"]),
        succeeded: await explain(LIST, ["succeeded"]),
        type: await explain(LIST_BY_TYPE, type),
      };
    });
    for (const [status, p] of Object.entries(plans)) {
      expect(p.scans, `${status}: ${p.scans.join(", ")}`).not.toContain("Seq Scan");
    }
    expect(plans.dead.returned).toBeGreaterThanOrEqual(3); // ours, and any other test's (the listing is over every type)
    expect(plans.dead.rows, plans.dead.scans.join(", ")).toBeLessThan(1000); // other tests' dead tasks count too
    expect(plans.queued.returned).toBe(51);
    expect(plans.queued.rows, plans.queued.scans.join(", ")).toBeLessThan(1000);
    expect(plans.running.rows, plans.running.scans.join(", ")).toBeLessThan(1000);
    expect(plans.succeeded.returned).toBe(51);
    expect(plans.succeeded.rows, plans.succeeded.scans.join(", ")).toBeLessThan(1000);
    expect(plans.type.returned).toBe(51);
    expect(plans.type.rows, plans.type.scans.join(", ")).toBeLessThan(1000);
  });
});
