// The OpenAI-compatible client against a provider mocked by msw at the HTTP boundary.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { http, HttpResponse, delay } from "msw";
import { setupServer } from "msw/node";
import { z } from "zod";
import { AiClient, extractJson, retryAfterMs } from "../../functions/_shared/ai/client.ts";
import { AiOutputError, AiRejectedError, AiTimeoutError, AiUnavailableError } from "../../functions/_shared/ai/errors.ts";
import { PermanentTaskError } from "../../functions/_shared/errors.ts";

const BASE = "https://ai.test/v1";
const URL_ = `${BASE}/chat/completions`;
const KEY = "sk-test-0123456789abcdefghij";
const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: "error" }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

interface Seen { body: any; headers: Headers; url: string }
/** Answers with the given responses in turn (the last one repeats), recording each request. */
function provider(...answers: (() => Response | Promise<Response>)[]) {
  const seen: Seen[] = [];
  server.use(http.post(/https:\/\/ai\.test\/.*/, async ({ request }) => {
    seen.push({ body: await request.json(), headers: request.headers, url: request.url });
    return await answers[Math.min(seen.length - 1, answers.length - 1)]();
  }));
  return seen;
}

const completion = (content: string, usage = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 }, model = "test-model-2026") =>
  () => HttpResponse.json({ id: "c1", object: "chat.completion", model, choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }], usage });

const client = (over: Partial<ConstructorParameters<typeof AiClient>[0]> = {}) =>
  new AiClient({ baseUrl: BASE, apiKey: KEY, model: "test-model", timeoutMs: 2000, maxRetries: 2, ...over });

const ask = [{ role: "user" as const, content: "hello" }];

describe("chat", () => {
  it("posts an OpenAI chat completion and returns text, model and usage", async () => {
    const seen = provider(completion("hi there"));
    const out = await client().chat({ messages: ask, max_tokens: 50, temperature: 0.1 });
    expect(out).toEqual({ text: "hi there", model: "test-model-2026", usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18, calls: 1 }, finish_reason: "stop", attempts: 1 });
    expect(seen).toHaveLength(1);
    expect(seen[0].url).toBe(URL_);
    expect(seen[0].headers.get("authorization")).toBe(`Bearer ${KEY}`);
    expect(seen[0].headers.get("api-key")).toBeNull();
    expect(seen[0].body).toEqual({ model: "test-model", messages: ask, max_tokens: 50, temperature: 0.1 });
  });

  it("works with Azure (api-key header, api-version kept) and servers without a key (Ollama)", async () => {
    let azure: Seen | undefined;
    server.use(http.post("https://x.openai.azure.com/openai/v1/chat/completions", async ({ request }) => {
      azure = { body: await request.json(), headers: request.headers, url: request.url };
      return completion("from azure")();
    }));
    const out = await client({ baseUrl: "https://x.openai.azure.com/openai/v1/?api-version=preview" }).chat({ messages: ask });
    expect(out.text).toBe("from azure");
    expect(azure!.url).toBe("https://x.openai.azure.com/openai/v1/chat/completions?api-version=preview");
    expect(azure!.headers.get("api-key")).toBe(KEY);
    expect(client({ baseUrl: "http://127.0.0.1:11434/v1/chat/completions" }).endpoint).toBe("http://127.0.0.1:11434/v1/chat/completions");
    const seen = provider(completion("ok"));
    await client({ apiKey: undefined }).chat({ messages: ask });
    expect(seen.at(-1)!.headers.get("authorization")).toBeNull();
  });

  it("429 with Retry-After (seconds) waits that long, then succeeds", async () => {
    const seen = provider(
      () => HttpResponse.json({ error: { message: "Rate limit reached" } }, { status: 429, headers: { "retry-after": "1" } }),
      completion("after the wait"),
    );
    const started = Date.now();
    const out = await client().chat({ messages: ask });
    const waited = Date.now() - started;
    expect(out.text).toBe("after the wait");
    expect(out.attempts).toBe(2);
    expect(seen).toHaveLength(2);
    expect(waited).toBeGreaterThanOrEqual(1000);
    expect(waited).toBeLessThan(2500);
  });

  it("a Retry-After longer than the client waits in place fails at once as retryable (the queue backs off)", async () => {
    const seen = provider(() => new HttpResponse("slow down", { status: 429, headers: { "retry-after": "120" } }));
    const err = await client().chat({ messages: ask }).catch((e) => e);
    expect(err).toBeInstanceOf(AiUnavailableError);
    expect(err).not.toBeInstanceOf(PermanentTaskError);
    expect(err.message).toMatch(/429.*retry after 120 s/);
    expect(seen).toHaveLength(1);
  });

  it("5xx every time: retried maxRetries times, then a retryable error", async () => {
    const seen = provider(() => HttpResponse.json({ error: { message: "upstream overloaded" } }, { status: 503 }));
    const err = await client({ maxRetries: 2 }).chat({ messages: ask }).catch((e) => e);
    expect(seen).toHaveLength(3);
    expect(err).toBeInstanceOf(AiUnavailableError);
    expect(err).not.toBeInstanceOf(PermanentTaskError);
    expect(err.message).toBe("the AI provider answered 503 Service Unavailable: upstream overloaded (after 3 attempts)");
  });

  it("401 is not retried: a permanent error naming AI_API_KEY, never the key itself", async () => {
    const seen = provider(() => HttpResponse.json({ error: { message: `Incorrect API key provided: ${KEY}` } }, { status: 401 }));
    const err = await client().chat({ messages: ask }).catch((e) => e);
    expect(seen).toHaveLength(1);
    expect(err).toBeInstanceOf(AiRejectedError);
    expect(err).toBeInstanceOf(PermanentTaskError);
    expect(err.status).toBe(401);
    expect(err.message).toMatch(/answered 401.*Check AI_API_KEY/);
    expect(err.message).not.toContain(KEY);
    expect(err.message).not.toContain("0123456789abcdefghij");
  });

  it("a provider that never answers times out per attempt, then fails as retryable", async () => {
    const seen = provider(async () => {
      await delay(10_000);
      return HttpResponse.json({});
    });
    const started = Date.now();
    const err = await client({ timeoutMs: 200, maxRetries: 1 }).chat({ messages: ask }).catch((e) => e);
    const took = Date.now() - started;
    expect(err).toBeInstanceOf(AiTimeoutError);
    expect(err).not.toBeInstanceOf(PermanentTaskError);
    expect(err.message).toBe("the AI provider did not answer within 200 ms (after 2 attempts)");
    expect(seen).toHaveLength(2);
    expect(took).toBeGreaterThanOrEqual(400);
    expect(took).toBeLessThan(2000);
  });

  it("the task's abort signal stops a call at once", async () => {
    provider(async () => {
      await delay(10_000);
      return HttpResponse.json({});
    });
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(new Error("task timed out")), 100);
    await expect(client({ timeoutMs: 5000 }).chat({ messages: ask, signal: ctl.signal })).rejects.toThrow("task timed out");
  });

  it("network errors are retried", async () => {
    const seen = provider(() => HttpResponse.error(), completion("back"));
    const out = await client().chat({ messages: ask });
    expect(out.text).toBe("back");
    expect(seen).toHaveLength(2);
  });
});

describe("chatJson", () => {
  const schema = z.strictObject({ name: z.string().min(2), count: z.number().int() });
  const jsonSchema = z.toJSONSchema(schema) as Record<string, unknown>;

  it("asks for json_schema output and returns the validated value", async () => {
    const seen = provider(completion("```json\n{\"name\": \"ab\", \"count\": 3}\n```"));
    const out = await client().chatJson({ messages: ask, schema, jsonSchema, schemaName: "thing" });
    expect(out.value).toEqual({ name: "ab", count: 3 });
    expect(out.rounds).toBe(1);
    expect(seen[0].body.response_format).toEqual({ type: "json_schema", json_schema: { name: "thing", schema: jsonSchema, strict: true } });
  });

  it("an answer that fails the schema goes back once with the validation errors; usage adds up", async () => {
    const seen = provider(completion("{\"name\": \"a\", \"count\": 1.5}"), completion("{\"name\": \"abc\", \"count\": 2}"));
    const out = await client().chatJson({ messages: ask, schema, jsonSchema, schemaName: "thing" });
    expect(out.value).toEqual({ name: "abc", count: 2 });
    expect(out.rounds).toBe(2);
    expect(out.usage).toEqual({ prompt_tokens: 22, completion_tokens: 14, total_tokens: 36, calls: 2 });
    const repair = seen[1].body.messages;
    expect(repair.map((m: { role: string }) => m.role)).toEqual(["user", "assistant", "user"]);
    expect(repair[1].content).toBe("{\"name\": \"a\", \"count\": 1.5}");
    expect(repair[2].content).toContain("- name: Too small: expected string to have >=2 characters");
    expect(repair[2].content).toContain("- count: Invalid input: expected int, received number");
  });

  it("still wrong after the repair round: a permanent error listing the issues", async () => {
    const seen = provider(completion("not json at all"), completion("{\"name\": 5}"));
    const err = await client().chatJson({ messages: ask, schema, jsonSchema, schemaName: "thing" }).catch((e) => e);
    expect(seen).toHaveLength(2);
    expect(err).toBeInstanceOf(AiOutputError);
    expect(err).toBeInstanceOf(PermanentTaskError);
    expect(err.issues).toEqual(["name: Invalid input: expected string, received number", "count: Invalid input: expected number, received undefined"]);
    expect(err.message).toMatch(/did not match the thing schema after 2 tries: name: Invalid input/);
    expect(seen[1].body.messages[2].content).toContain("the answer is not a JSON object");
  });

  it("falls back to json_object when the server does not take json_schema", async () => {
    const seen = provider(
      () => HttpResponse.json({ error: { message: "response_format json_schema is not supported by this model" } }, { status: 400 }),
      completion("{\"name\": \"ok\", \"count\": 1}"),
    );
    const c = client();
    const out = await c.chatJson({ messages: ask, schema, jsonSchema, schemaName: "thing" });
    expect(out.value).toEqual({ name: "ok", count: 1 });
    expect(seen[1].body.response_format).toEqual({ type: "json_object" });
  });

  it("a refusal is a permanent output error", async () => {
    provider(() => HttpResponse.json({ model: "m", choices: [{ message: { role: "assistant", content: null, refusal: "I can't help with that." } }] }));
    const err = await client().chatJson({ messages: ask, schema, jsonSchema, schemaName: "thing" }).catch((e) => e);
    expect(err).toBeInstanceOf(AiOutputError);
    expect(err.message).toBe("the model refused: I can't help with that.");
  });
});

describe("helpers", () => {
  it("retryAfterMs reads retry-after-ms, seconds and HTTP dates", () => {
    expect(retryAfterMs(new Headers({ "retry-after-ms": "250" }))).toBe(250);
    expect(retryAfterMs(new Headers({ "retry-after": "2" }))).toBe(2000);
    expect(retryAfterMs(new Headers({ "retry-after": "0.5" }))).toBe(500);
    const now = Date.parse("2026-11-24T10:00:00Z");
    expect(retryAfterMs(new Headers({ "retry-after": "Tue, 24 Nov 2026 10:00:03 GMT" }), now)).toBe(3000);
    expect(retryAfterMs(new Headers({ "retry-after": "soon" }))).toBeUndefined();
    expect(retryAfterMs(new Headers())).toBeUndefined();
  });

  it("extractJson finds the object in bare, fenced or chatty answers", () => {
    expect(extractJson("{\"a\":1}")).toEqual({ ok: true, value: { a: 1 } });
    expect(extractJson("```\n{\"a\":1}\n```")).toEqual({ ok: true, value: { a: 1 } });
    expect(extractJson("Sure! Here it is: {\"a\": {\"b\": 2}} Hope it helps.")).toEqual({ ok: true, value: { a: { b: 2 } } });
    expect(extractJson("nope")).toEqual({ ok: false, issue: "the answer is not a JSON object" });
  });
});
