// Issue 14 item 10: one report of what the AI_* settings amount to, with every missing piece
// named with what to set, and no secret in it.
import { afterEach, describe, expect, it } from "vitest";
import { describeAiProblems, inspectAiConfig } from "../../functions/_shared/ai/config.ts";

const NAMES = ["AI_BASE_URL", "AI_API_KEY", "AI_MODEL", "AI_RESPONSE_FORMAT"] as const;
const saved = Object.fromEntries(NAMES.map((n) => [n, process.env[n]]));
function setAi(vars: Partial<Record<(typeof NAMES)[number], string>>) {
  for (const n of NAMES) {
    if (vars[n] === undefined) delete process.env[n];
    else process.env[n] = vars[n];
  }
}
afterEach(() => {
  for (const n of NAMES) {
    if (saved[n] === undefined) delete process.env[n];
    else process.env[n] = saved[n];
  }
});

const KEY = "sk-test-config-0123456789abcdef";

describe("inspectAiConfig", () => {
  it("nothing set: not configured, not usable, no problems (the template writes SOPs by design)", () => {
    setAi({});
    expect(inspectAiConfig()).toEqual({ configured: false, usable: false, api_key_set: false, response_format: "json_schema", problems: [] });
    expect(describeAiProblems(inspectAiConfig())).toBe(
      "No AI provider is configured: set AI_BASE_URL (an OpenAI-compatible …/v1 URL), AI_MODEL and, unless the server needs none, AI_API_KEY.",
    );
  });

  it("AI_API_KEY and AI_BASE_URL without AI_MODEL: configured, not usable, says to set AI_MODEL", () => {
    setAi({ AI_API_KEY: KEY, AI_BASE_URL: "https://provider.ai.test/v1" });
    const report = inspectAiConfig();
    expect(report).toEqual({
      configured: true,
      usable: false,
      base_url: "https://provider.ai.test/v1",
      api_key_set: true,
      response_format: "json_schema",
      problems: ["AI_MODEL is not set: set AI_MODEL to a model the provider at provider.ai.test serves (for example gpt-4o-mini, or llama3.1 on Ollama)."],
    });
    expect(describeAiProblems(report)).toBe(`The AI configuration is incomplete: ${report.problems[0]}`);
    // A caller that passes its own model (ai.run's payload) is not missing one.
    expect(inspectAiConfig({ model: "gpt-4o-mini" })).toMatchObject({ usable: true, model: "gpt-4o-mini", problems: [] });
  });

  it("everything set: usable", () => {
    setAi({ AI_API_KEY: KEY, AI_BASE_URL: "https://api.openai.com/v1/", AI_MODEL: "gpt-4o-mini" });
    expect(inspectAiConfig()).toEqual({
      configured: true, usable: true, base_url: "https://api.openai.com/v1", model: "gpt-4o-mini", api_key_set: true, response_format: "json_schema", problems: [],
    });
  });

  it("only AI_API_KEY: OpenAI's URL, and AI_MODEL is asked for", () => {
    setAi({ AI_API_KEY: KEY });
    const report = inspectAiConfig();
    expect(report.base_url).toBe("https://api.openai.com/v1");
    expect(report.usable).toBe(false);
    expect(report.problems).toEqual([expect.stringMatching(/^AI_MODEL is not set: set AI_MODEL to a model the provider at api\.openai\.com serves/)]);
  });

  it("only AI_MODEL: no provider, says to set AI_BASE_URL", () => {
    setAi({ AI_MODEL: "gpt-4o-mini" });
    expect(inspectAiConfig()).toMatchObject({
      configured: true,
      usable: false,
      problems: ["AI_MODEL is set but no provider is: set AI_BASE_URL to an OpenAI-compatible …/v1 URL (and AI_API_KEY unless the server needs none), or unset AI_MODEL to keep the template writer."],
    });
  });

  it("a hosted provider without a key, a bad URL, a bad response format: each a problem saying what to set", () => {
    setAi({ AI_BASE_URL: "https://openrouter.ai/api/v1", AI_MODEL: "m" });
    expect(inspectAiConfig().problems).toEqual(["AI_API_KEY is not set, and openrouter.ai refuses calls without one: set AI_API_KEY."]);
    // A local server needs no key.
    setAi({ AI_BASE_URL: "http://localhost:11434/v1", AI_MODEL: "llama3.1" });
    expect(inspectAiConfig()).toMatchObject({ usable: true, api_key_set: false, base_url: "http://localhost:11434/v1" });

    setAi({ AI_BASE_URL: "not a url", AI_MODEL: "m" });
    expect(inspectAiConfig().problems).toEqual([expect.stringMatching(/^AI_BASE_URL is not a URL: set it to an OpenAI-compatible base URL such as /)]);
    setAi({ AI_BASE_URL: "ftp://models.example/v1", AI_MODEL: "m" });
    expect(inspectAiConfig().problems).toEqual([expect.stringMatching(/^AI_BASE_URL uses ftp: where http: or https: is needed/)]);
    setAi({ AI_BASE_URL: "http://localhost:11434/v1", AI_MODEL: "m", AI_RESPONSE_FORMAT: "xml" });
    expect(inspectAiConfig()).toMatchObject({ usable: false, problems: ['AI_RESPONSE_FORMAT is "xml": set it to json_schema (the default), json_object or none.'] });
  });

  it("holds no secret: credentials and query leave the URL, the key is only said to be set", () => {
    setAi({ AI_API_KEY: KEY, AI_BASE_URL: `https://user:${KEY}@gateway.example/openai/v1?api-key=${KEY}&api-version=2024-10-21` });
    const report = inspectAiConfig();
    expect(report.base_url).toBe("https://gateway.example/openai/v1");
    expect(report.api_key_set).toBe(true);
    expect(JSON.stringify(report)).not.toContain(KEY);
    expect(JSON.stringify(report)).not.toContain("user:");
    setAi({ AI_API_KEY: KEY, AI_BASE_URL: `${KEY}://x` });
    expect(JSON.stringify(inspectAiConfig())).not.toContain(KEY);
  });
});
