// docs/ARCHITECTURE.md is the map of the project: every file and directory it names exists, and each path
// it walks stays within the stops it promises.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/stack/stack.ts";

const doc = readFileSync(join(ROOT, "docs/ARCHITECTURE.md"), "utf8");
/** Every `path` in backticks that looks like one of ours (a top-level directory of the repo, then more). */
const named = [...new Set([...doc.matchAll(/`((?:functions|migrations|scripts|tests|schema|supabase|dashboard|docs)\/[^`\s]*)`/g)].map((m) => m[1]))]
  .filter((p) => !p.includes("<")); // functions/<family>/index.ts is a pattern, not a file

describe("docs/ARCHITECTURE.md", () => {
  it("names files that exist", () => {
    expect(named.length).toBeGreaterThan(30);
    const missing = named.filter((p) => !existsSync(join(ROOT, p)));
    expect(missing, `named in docs/ARCHITECTURE.md but not in the repository: ${missing.join(", ")}`).toEqual([]);
  });

  it("walks a KniSoci insert to a Notion page in at most 12 stops, and names a file at each", () => {
    const section = doc.split("## One KniSoci insert to a Notion page")[1].split("\n## ")[0];
    const stops = section.split("\n").filter((l) => /^\d+\. /.test(l));
    expect(stops.length).toBeGreaterThan(0);
    expect(stops.length).toBeLessThanOrEqual(12);
    const byStop = section.split(/\n(?=\d+\. )/).slice(1);
    for (const stop of byStop) expect(stop, stop.slice(0, 60)).toMatch(/`(functions|migrations|scripts|supabase)\/[^`]+`/);
  });
});
