// The README's typed-client example, run against the local stack over real HTTP with each key system; and
// the README holds that code verbatim.
import { readFileSync } from "node:fs";
import { createOrchestratorClient } from "@sugarstudio/orchestrator-client";
import { describe, expect, it } from "vitest";
import { knisociExample } from "../../clients/orchestrator-client/examples/knisoci.ts";
import { sql, stack, waitFor } from "../helpers/stack.ts";

describe("typed client (clients/orchestrator-client)", () => {
  it("the README shows the example's calls as the example file has them", () => {
    const example = readFileSync(new URL("../../clients/orchestrator-client/examples/knisoci.ts", import.meta.url), "utf8");
    const body = example.slice(example.indexOf("// README:start\n") + 16, example.indexOf("  // README:end"));
    const dedented = body.split("\n").map((l) => l.replace(/^ {2}/, "")).join("\n");
    expect(dedented).toContain("orchestrator.enqueue(");
    expect(readFileSync(new URL("../../README.md", import.meta.url), "utf8")).toContain(dedented);
  });

  for (const system of ["secret", "service_role"] as const) {
    it(`runs the README's calls with the ${system} key: enqueue, read the task back, read its logs`, async () => {
      const s = stack();
      const key = system === "secret" ? s.SECRET_KEY : s.SERVICE_ROLE_KEY;
      const { task, same, logs } = await knisociExample({ SUPABASE_URL: s.API_URL, SUPABASE_SECRET_KEY: key });
      expect(task).toMatchObject({ type: "noop", payload: { echo: "from-knisoci" }, source: "api" });
      expect(same?.id).toBe(task.id);
      expect(Array.isArray(logs?.logs)).toBe(true);
      const done = await waitFor(async () => {
        const [row] = await sql()`select status, result from orchestrator.tasks where id = ${task.id}`;
        return row?.status === "succeeded" && row;
      }, "the task to succeed", 10_000);
      expect(done.result).toEqual({ ok: true, echo: "from-knisoci" });
    });
  }

  it("gives the error shape for a bad payload and a public key, and bulk-enqueues typed tasks", async () => {
    const s = stack();
    const client = createOrchestratorClient({ url: s.API_URL, key: s.SECRET_KEY });
    const bad = await client.enqueue({ type: "noop", payload: { delay_ms: -1 } });
    expect(bad.response.status).toBe(400);
    expect(bad.error?.error.code).toBe("validation_failed");
    const anon = await createOrchestratorClient({ url: s.API_URL, key: s.PUBLISHABLE_KEY }).GET("/functions/v1/tasks");
    expect(anon.response.status).toBe(401);
    expect(anon.error?.error.code).toBe("unauthorized");
    const bulk = await client.enqueueMany([
      { type: "noop", payload: { echo: 1 }, run_at: "2099-01-01T00:00:00Z" },
      { type: "noop", payload: { echo: 2 }, run_at: "2099-01-01T00:00:00Z" },
    ]);
    expect(bulk.response.status).toBe(201);
    expect(bulk.data?.created).toBe(2);
    await sql()`delete from orchestrator.tasks where id = any(${bulk.data!.tasks.map((t) => t.id)})`;
  });
});
