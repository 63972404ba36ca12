// The SOP API's services: request a generation (a task, never inline work),
// list and read stored versions.
import { db } from "../db.ts";
import { badRequest } from "../errors.ts";
import { enqueueTask, type PublicTask } from "../queue.ts";
import type { GenerateSopInput, ListSopsQuery } from "./schema.ts";
import { slugify } from "./schema.ts";
import { storedSopMarkdown } from "./markdown.ts";
import { withNotionUrls } from "../notion-url.ts";
import type { Sop, SopPage } from "./responses.ts";
import { getSop, listSops } from "./store.ts";

/** Every id the request names must exist now; a 400 lists the ones that do not. */
async function checkReferences(input: GenerateSopInput): Promise<void> {
  const sql = db();
  const issues: { path: string; code: string; message: string }[] = [];
  if (input.task_ids?.length) {
    const rows = await sql<{ id: number }[]>`select id from orchestrator.tasks where id = any(${input.task_ids}::bigint[])`;
    const found = new Set(rows.map((r) => r.id));
    input.task_ids.forEach((id, i) => {
      if (!found.has(id)) issues.push({ path: `task_ids.${i}`, code: "not_found", message: `task ${id} does not exist` });
    });
  }
  for (const [table, key, ids] of [["events", "event_ids", input.event_ids], ["tickets", "ticket_id", input.ticket_id === undefined ? undefined : [input.ticket_id]]] as const) {
    if (!ids?.length) continue;
    const [{ exists }] = await sql<{ exists: boolean }[]>`select to_regclass(${"orchestrator." + table}) is not null as exists`;
    if (!exists) {
      issues.push({ path: key, code: "not_available", message: `this deployment has no ${table} table yet` });
      continue;
    }
    const rows = await sql.unsafe<{ id: string }[]>(`select id::text as id from orchestrator.${table} where id::text = any($1::text[])`, [ids.map(String)]);
    const found = new Set(rows.map((r) => r.id));
    ids.forEach((id, i) => {
      if (!found.has(String(id))) issues.push({ path: key === "ticket_id" ? key : `${key}.${i}`, code: "not_found", message: `${table.slice(0, -1)} ${id} does not exist` });
    });
  }
  if (issues.length) {
    throw badRequest(`Invalid body: ${issues.slice(0, 3).map((i) => `${i.path}: ${i.message}`).join("; ")}`, { issues });
  }
}

/** Validates the references and enqueues sop.generate; the caller answers 202 with the task. */
export async function requestSopGeneration(input: GenerateSopInput): Promise<PublicTask> {
  await checkReferences(input);
  const payload = JSON.parse(JSON.stringify({ ...input, slug: input.slug ?? slugify(input.topic) }));
  const { task } = await enqueueTask({ type: "sop.generate", payload }, "api");
  return task;
}

export async function listStoredSops(q: ListSopsQuery): Promise<SopPage> {
  const sql = db();
  const page = await listSops(sql, q);
  return { ...page, sops: await withNotionUrls(sql, "sop", page.sops, (s) => s.slug) };
}

/** One version, its Markdown rendered from its content (so versions stored by an older renderer read right too). */
export async function readSop(slug: string, version?: number): Promise<Sop> {
  const sql = db();
  const sop = await getSop(sql, slug, version);
  const [withUrl] = await withNotionUrls(sql, "sop", [sop], (s) => s.slug);
  return { ...withUrl, body_md: storedSopMarkdown(sop) };
}
