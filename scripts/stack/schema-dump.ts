// The orchestrator schema as the migrations leave it, for schema/orchestrator.sql: pg_dump's
// schema-only output of the `orchestrator` schema, normalized so that a diff shows only what changed.
//   - no owners (--no-owner) and no dump header (versions, SET lines, search_path);
//   - no ENABLE/DISABLE TRIGGER lines: which of tasks' Notion and webhook triggers are on follows what
//     is tracked (20261202000700_task_change_triggers_follow_tracking.sql), data, not schema;
//   - no capture_<oid>() functions: watch_table() writes one per app table it watches
//     (20261124010100_event_watchers.sql), as data does, not as the migrations do;
//   - runs of blank lines collapsed.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { PG_BIN } from "./postgres.ts";

export const SCHEMA_FILE = "schema/orchestrator.sql";

export function dumpSchema(dbUrl: string): string {
  const raw = execFileSync(join(PG_BIN, "pg_dump"), ["--schema-only", "--schema=orchestrator", "--no-owner", dbUrl], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  return normalizeSchema(raw);
}

export function normalizeSchema(raw: string): string {
  const kept = raw.split("\n").filter((line) =>
    !/^-- (Dumped (from|by)|PostgreSQL database dump)/.test(line) &&
    !/^SET /.test(line) &&
    !/^SELECT pg_catalog\.set_config\('search_path'/.test(line) &&
    !/^\\(un)?restrict /.test(line) && // pg_dump 15.14+: a random per-dump key
    !/^ALTER TABLE (ONLY )?\S+ (ENABLE|DISABLE) TRIGGER /.test(line)
  );
  // What is left of the header: "--" lines before the first object.
  const first = kept.findIndex((line) => line.startsWith("-- Name: "));
  // pg_dump writes one block per object, each opening with "--\n-- Name: <name>; Type: …".
  const blocks = kept.slice(Math.max(0, first - 1)).join("\n").split(/\n(?=--\n-- Name: )/);
  const schemaBlocks = blocks.filter((block) => !/^--\n-- Name: (FUNCTION )?capture_\d+\(\)/.test(block));
  const text = schemaBlocks.join("\n").replace(/\n{3,}/g, "\n\n").trim();
  return `-- The orchestrator schema as the migrations leave it (npm run schema writes it; tests/db/schema-snapshot.test.ts\n-- fails when it drifts from the migrations). Read it to see what is live; change it only through a migration.\n\n${text}\n`;
}
