// The typed client's types are what openapi-typescript generates from the committed docs/openapi.json.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url).pathname;

describe("clients/orchestrator-client types", () => {
  it("src/schema.d.ts is openapi-typescript's output for docs/openapi.json (else: npm run openapi)", () => {
    const dir = mkdtempSync(join(tmpdir(), "client-types-"));
    try {
      const out = join(dir, "schema.d.ts");
      execFileSync(join(root, "clients/orchestrator-client/node_modules/.bin/openapi-typescript"), [join(root, "docs/openapi.json"), "--output", out], { stdio: "pipe" });
      expect(readFileSync(join(root, "clients/orchestrator-client/src/schema.d.ts"), "utf8"), "stale client types: run npm run openapi").toBe(readFileSync(out, "utf8"));
      expect(readFileSync(out, "utf8")).toContain('"/functions/v1/tasks": {');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
