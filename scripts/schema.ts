// `npm run schema`: writes schema/orchestrator.sql, the orchestrator schema after every migration, from a
// fresh private stack (own temp cluster and ports; a running `npm start` is untouched).
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalStack, ROOT } from "./stack/stack.ts";
import { freePort } from "./stack/ports.ts";
import { dumpSchema, SCHEMA_FILE } from "./stack/schema-dump.ts";

const dataDir = mkdtempSync(join(tmpdir(), "orchestrator-schema-"));
chmodSync(dataDir, 0o755);
const stack = new LocalStack({ dataDir, pgPort: await freePort(), apiPort: await freePort(), fast: true, onProgress: (step) => console.log(`schema: ${step}`) });
try {
  await stack.start();
  const text = dumpSchema(stack.info.DB_URL);
  writeFileSync(join(ROOT, SCHEMA_FILE), text);
  console.log(`schema: wrote ${SCHEMA_FILE} (${text.split("\n").length} lines); review it with git diff and commit it with the migration`);
} finally {
  await stack.stop().catch(() => {});
  rmSync(dataDir, { recursive: true, force: true });
}
