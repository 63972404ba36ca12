// What per-function user workers cost a caller, measured on the shared test stack and printed:
// a cold start (the first request to a function that has no live worker) and warm GET /health
// through gateway + worker. The bounds are loose (2 shared cores); the figures are the point.
import { describe, expect, it } from "vitest";
import { headersFor, stack, waitFor } from "../helpers/stack.ts";

const auth = () => headersFor("service");
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

async function timed(url: string): Promise<{ ms: number; status: number; worker: string | null }> {
  const t = performance.now();
  const res = await fetch(url, { headers: auth() });
  await res.arrayBuffer();
  return { ms: performance.now() - t, status: res.status, worker: res.headers.get("x-edge-worker") };
}

describe("user worker latency", () => {
  it("warm GET /health stays fast through gateway and worker", async () => {
    const url = `${stack().FUNCTIONS_URL}/health`;
    for (let i = 0; i < 20; i++) await timed(url);
    const runs = [];
    for (let i = 0; i < 200; i++) runs.push(await timed(url));
    expect(runs.every((r) => r.status === 200)).toBe(true);
    const ms = runs.map((r) => r.ms);
    console.log(`[edge latency] warm GET /health (service key): p50 ${percentile(ms, 0.5).toFixed(1)} ms, p95 ${percentile(ms, 0.95).toFixed(1)} ms over ${ms.length}`);
    expect(percentile(ms, 0.5)).toBeLessThan(50);
  });

  it("a request that finds no live worker starts one: a cold start, then warm", async () => {
    // GET /rules starts a rules worker when none is live; others may have used it: the cold one is the first with a new worker id.
    const url = `${stack().FUNCTIONS_URL}/rules`;
    const seen = new Set<string>();
    const first = await timed(url);
    expect(first.status).toBe(200);
    seen.add(first.worker!);
    const warm = [];
    for (let i = 0; i < 20; i++) warm.push((await timed(url)).ms);
    // Wait for that worker to retire (half its wall clock) and be dropped, then time the next cold start.
    const cold = await waitFor(async () => {
      const r = await timed(url);
      if (seen.has(r.worker!)) return false;
      return r;
    }, "a fresh rules worker", 200_000, 1_000);
    expect(cold.status).toBe(200);
    console.log(`[edge latency] cold start GET /rules: ${cold.ms.toFixed(0)} ms (first request seen: ${first.ms.toFixed(0)} ms); warm p50 ${percentile(warm, 0.5).toFixed(1)} ms`);
    expect(cold.ms).toBeLessThan(5_000);
  }, 240_000);
});
