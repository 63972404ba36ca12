// noop: does nothing (optionally after a delay) and succeeds; for tests, smoke checks and benchmarks.
import { delay } from "deno-std/async/delay.js";
import { catalogSpec } from "../task-catalog.ts";
import { defineTaskType } from "../task-types.ts";

export const noop = defineTaskType({
  ...catalogSpec("noop"),
  // ctx.signal is read only when there is a delay: the worker makes a task's AbortController on first use.
  async handle(payload, ctx) {
    if (payload.delay_ms) await delay(payload.delay_ms, { signal: ctx.signal });
    return payload.echo === undefined ? { ok: true } : { ok: true, echo: payload.echo };
  },
});
