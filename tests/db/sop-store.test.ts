// orchestrator.sops and sop_insert on a real PostgreSQL: versions, concurrency, idempotency.
import { describe, expect, it } from "vitest";
import postgres from "postgres";
import { sql, stack, uniqueType } from "../helpers/stack.ts";

const content = (title: string) => ({ title, purpose: "p", scope: "s", roles: [], prerequisites: [], steps: [], verification: [], rollback: [], references: [] });
const slugOf = () => `db-${Math.random().toString(36).slice(2, 10)}`;

async function insert(slug: string, meta: object = {}, generator = "template", db = sql()) {
  const [row] = await db<{ id: number; slug: string; version: number; created: boolean; task_ids: number[]; source_task_id: number | null; topic: string }[]>`
    select (r.sop).*, r.created from orchestrator.sop_insert(${slug}, ${"T " + slug}, ${db.json(content(slug) as never)}, ${"# md"}, ${generator}, ${db.json(meta as never)}) r`;
  return row;
}

describe("sops", () => {
  it("each insert for a slug is the next version; older versions stay", async () => {
    const slug = slugOf();
    const a = await insert(slug, { topic: "first", task_ids: [1, 2], event_ids: [], usage: { total_tokens: 5 } });
    const b = await insert(slug);
    expect([a.version, b.version]).toEqual([1, 2]);
    expect(a.task_ids).toEqual([1, 2]);
    expect(a.topic).toBe("first");
    expect(b.topic).toBe(`T ${slug}`);
    const rows = await sql()`select version from orchestrator.sops where slug = ${slug} order by version`;
    expect(rows.map((r) => r.version)).toEqual([1, 2]);
    expect((await insert(slugOf())).version).toBe(1);
  });

  it("twelve concurrent writers of one slug get versions 1..12, no gaps, no duplicates", async () => {
    const slug = slugOf();
    const workers = Array.from({ length: 4 }, () => postgres(stack().DB_URL, { max: 3, onnotice: () => {} }));
    const rows = await Promise.all(Array.from({ length: 12 }, (_, i) => insert(slug, {}, "template", workers[i % 4])));
    await Promise.all(workers.map((w) => w.end()));
    expect(rows.map((r) => r.version).sort((x, y) => x - y)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it("a task that is delivered twice writes one version (at-least-once safe)", async () => {
    const slug = slugOf();
    const [{ id: taskId }] = await sql()`select (r.task).id from orchestrator.enqueue(${uniqueType()}, '{}') r`;
    const first = await insert(slug, { source_task_id: taskId });
    const again = await insert(slug, { source_task_id: taskId });
    expect(first.created).toBe(true);
    expect(again.created).toBe(false);
    expect(again.id).toBe(first.id);
    const racers = await Promise.all(Array.from({ length: 5 }, () => insert(slugOf(), { source_task_id: taskId })));
    expect(racers.every((r) => r.id === first.id && !r.created)).toBe(true);
    // Pruning the task keeps the SOP.
    await sql()`delete from orchestrator.tasks where id = ${taskId}`;
    const [kept] = await sql()`select source_task_id from orchestrator.sops where id = ${first.id}`;
    expect(kept.source_task_id).toBeNull();
  });

  it("rejects bad slugs and generators", async () => {
    await expect(insert("Not A Slug")).rejects.toThrow(/sops_slug_check/);
    await expect(insert("-x")).rejects.toThrow(/sops_slug_check/);
    await expect(insert(slugOf(), {}, "gpt")).rejects.toThrow(/sops_generator_check/);
    expect((await insert(slugOf(), {}, "ai:gpt-4o-mini")).version).toBe(1);
  });

  it("anon and authenticated cannot read sops or call sop_insert; RLS is on", async () => {
    for (const role of ["anon", "authenticated"]) {
      await expect(sql().begin(async (tx) => {
        await tx.unsafe(`set local role ${role}`);
        return await tx`select count(*) from orchestrator.sops`;
      })).rejects.toThrow(/permission denied/);
    }
    const [{ rls }] = await sql()`select relrowsecurity as rls from pg_class where oid = 'orchestrator.sops'::regclass`;
    expect(rls).toBe(true);
    const rows = await sql().begin(async (tx) => {
      await tx.unsafe("set local role service_role");
      return await tx`select (r.sop).version from orchestrator.sop_insert(${slugOf()}, 't', '{}'::jsonb, 'md', 'template', '{}'::jsonb) r`;
    });
    expect(rows).toEqual([{ version: 1 }]);
  });
});
