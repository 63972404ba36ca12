// The pooler is one of the stack's supervised processes: kill -9 of pgbouncer from outside is seen, it is
// restarted on the same port, and the functions' queries find it again (postgres.js reconnects).
import { describe, expect, it } from "vitest";
import { usePrivateStack } from "../helpers/private-stack.ts";
import { keyHeaders, waitFor } from "../helpers/stack.ts";

const ps = usePrivateStack({ functionEnv: { LOG_LEVEL: "warn" } });

async function enqueue(): Promise<number> {
  const { FUNCTIONS_URL } = ps.stack.info;
  const res = await fetch(`${FUNCTIONS_URL}/tasks`, {
    method: "POST",
    headers: keyHeaders(ps.stack.info, "service", { "content-type": "application/json" }),
    body: JSON.stringify({ type: "noop", payload: { echo: "pooler-supervise" } }),
    signal: AbortSignal.timeout(10_000),
  }).catch(() => undefined);
  return res?.status ?? 0;
}

describe("the pooler under supervision", () => {
  it("comes back after kill -9 and the functions query through it again", async () => {
    expect(await enqueue()).toBe(201);
    const pooler = ps.stack.pooler;
    const old = pooler.child!.pid!;
    const killedAt = Date.now();
    process.kill(old, "SIGKILL");
    await waitFor(async () => pooler.running && pooler.child?.pid !== old, "pgbouncer to be restarted", 10_000, 20);
    await waitFor(async () => (await enqueue()) === 201, "an enqueue through the restarted pooler", 15_000, 100);
    console.log(`[pooler] enqueues answered 201 again ${Date.now() - killedAt} ms after kill -9 of pgbouncer`);
    expect(pooler.snapshot).toMatchObject({ name: "pooler", state: "running", restarts: 1, last_exit: "signal SIGKILL" });
    const [{ n }] = await ps.sql<{ n: number }[]>`
      select count(*)::int as n from orchestrator.tasks where payload->>'echo' = 'pooler-supervise'`;
    expect(n).toBeGreaterThanOrEqual(2);
  });
});
