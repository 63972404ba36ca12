// Issue 14 item 10: incomplete AI settings (AI_API_KEY and AI_BASE_URL but no AI_MODEL) must not
// kill every sop.generate: the template writes the SOP, the result says why, and a warning is
// logged once per problem (sampled), not once per task. A provider that stays unreachable gives
// way to the template on the task's last attempt. ai.run, with nothing to fall back to, still
// fails at once saying what to set. The provider is mocked by msw; the database is real.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { http, HttpResponse } from "msw";
import { setupServer } from "msw/node";
import { resetLogSampling } from "../../functions/_shared/logger.ts";
import { sql } from "../helpers/stack.ts";
import { leaseAgain, leaseNew, runLeased, runTask, withEnv } from "../helpers/inprocess.ts";

const KEY = "sk-test-fallback-0123456789abcdef";
const BASE = "https://fallback.ai.test/v1";
const server = setupServer();
let calls = 0;
let restore: () => void;
beforeAll(() => {
  server.listen({ onUnhandledFrame: "bypass" });
  restore = withEnv({ AI_BASE_URL: BASE, AI_API_KEY: KEY, AI_MODEL: undefined, AI_TIMEOUT_MS: "2000", AI_MAX_RETRIES: "0", NOTION_API_KEY: undefined });
});
afterAll(() => {
  server.close();
  restore();
});
beforeEach(() => {
  calls = 0;
  server.resetHandlers();
  resetLogSampling();
  delete process.env.AI_MODEL;
});

const slug = () => `ai-fallback-${Math.random().toString(36).slice(2, 9)}`;
const warnings = async (taskIds: number[]) =>
  await sql()<{ task_id: number; message: string; context: Record<string, unknown> }[]>`
    select task_id, message, context from orchestrator.logs where task_id = any(${taskIds}::bigint[]) and level = 'warn' order by id`;
const MISSING_MODEL = "AI_MODEL is not set: set AI_MODEL to a model the provider at fallback.ai.test serves (for example gpt-4o-mini, or llama3.1 on Ollama).";

describe("sop.generate with incomplete AI settings", () => {
  it("no AI_MODEL: the template writes the SOP, the result says why, one warning per problem across tasks, the provider is not called", async () => {
    server.use(http.post(`${BASE}/chat/completions`, () => {
      calls++;
      return HttpResponse.json({ error: { message: "should not be called" } }, { status: 500 });
    }));
    const s = slug();
    const first = await runTask("sop.generate", { topic: "Checkout 502s without a model", slug: s, notion: false });
    const second = await runTask("sop.generate", { topic: "Checkout 502s without a model", slug: s, notion: false });
    for (const out of [first, second]) {
      expect(out.last_error).toBeNull();
      expect(out.status).toBe("succeeded");
      expect(out.result).toMatchObject({ generator: "template", ai_fallback: { cause: "ai_config_incomplete", problems: [MISSING_MODEL] } });
    }
    expect(second.result.sop.version).toBe(2);
    expect(calls).toBe(0);
    const rows = await sql()`select generator from orchestrator.sops where slug = ${s} order by version`;
    expect(rows.map((r) => r.generator)).toEqual(["template", "template"]);

    const logged = await warnings([first.id, second.id]);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ task_id: first.id, message: `SOPs are written by the template until the AI configuration is fixed: ${MISSING_MODEL}`, context: { base_url: BASE } });
    expect(JSON.stringify(logged) + JSON.stringify(first.result)).not.toContain(KEY);
  });

  it("a provider still unreachable on the last attempt: retried by the queue first, then the template writes it", async () => {
    process.env.AI_MODEL = "sop-model";
    server.use(http.post(`${BASE}/chat/completions`, () => {
      calls++;
      return HttpResponse.json({ error: { message: "upstream overloaded" } }, { status: 503 });
    }));
    const first = await runLeased(await leaseNew("sop.generate", { topic: "Provider outage", slug: slug(), notion: false }, { max_attempts: 2 }));
    // Not the last attempt: the queue backs off and retries, as for any outage.
    expect(first.status).toBe("queued");
    expect(first.last_error).toBe("AiUnavailableError: the AI provider answered 503 Service Unavailable: upstream overloaded (after 1 attempts)");
    const last = await runLeased(await leaseAgain(first.id));
    expect(last.error).toBeUndefined();
    expect(last.status).toBe("succeeded");
    expect(last.attempts).toBe(2);
    expect(last.result).toMatchObject({
      generator: "template",
      ai_fallback: { cause: "ai_unavailable", attempt: 2, error: "AiUnavailableError: the AI provider answered 503 Service Unavailable: upstream overloaded (after 1 attempts)" },
    });
    expect(calls).toBe(2);
    const logged = await warnings([first.id]);
    expect(logged.map((l) => l.message)).toContain("the AI provider is still unreachable on the task's last attempt (2 of 2); the template writes this SOP");
  });
});

describe("ai.run with incomplete AI settings", () => {
  it("no AI_MODEL and no model in the payload: dead at once, not retried, saying to set AI_MODEL; nobody is called", async () => {
    server.use(http.post(`${BASE}/chat/completions`, () => {
      calls++;
      return HttpResponse.json({ model: "x", choices: [{ message: { role: "assistant", content: "hi" }, finish_reason: "stop" }] });
    }));
    const out = await runTask("ai.run", { prompt: "hello" });
    expect(out.status).toBe("dead");
    expect(out.attempts).toBe(1);
    expect(out.last_error).toBe(`AiConfigError: The AI configuration is incomplete: ${MISSING_MODEL}`);
    expect(calls).toBe(0);

    // A model in the payload is all it lacked.
    const withModel = await runTask("ai.run", { prompt: "hello", model: "payload-model" });
    expect(withModel.status).toBe("succeeded");
    expect(withModel.result).toMatchObject({ text: "hi" });
    expect(calls).toBe(1);
  });
});
