// noop: does nothing (optionally after a delay) and succeeds; for tests, smoke checks and benchmarks.
import { delay } from "deno-std/async/delay.js";
import { z } from "zod";
import { defineTaskType } from "../task-types.ts";

export const noop = defineTaskType({
  description: "Does nothing and succeeds; `delay_ms` waits first, `echo` is returned as the result.",
  payload: z.strictObject({
    delay_ms: z.number().int().min(0).max(600_000).optional(),
    echo: z.unknown().optional(),
  }),
  timeoutMs: 10_000,
  async handle(payload, { signal }) {
    if (payload.delay_ms) await delay(payload.delay_ms, { signal });
    return payload.echo === undefined ? { ok: true } : { ok: true, echo: payload.echo };
  },
});
