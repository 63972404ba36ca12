// The whole local stack with no AI keys: POST /tasks/generate-sop over HTTP,
// the Deno worker runs sop.generate with the template generator, and the SOP
// is read back as Markdown; a second request adds version 2 and keeps version 1.
import { describe, expect, it } from "vitest";
import { http, sql, waitFor } from "../helpers/stack.ts";

type Task = { id: number; status: string; result: any; last_error: string | null; created_at: string; finished_at: string | null };

async function finished(id: number, timeoutMs = 15_000): Promise<Task> {
  return await waitFor(async () => {
    const t: Task = await (await http(`/tasks/${id}`)).json();
    return (t.status === "succeeded" || t.status === "dead") && t;
  }, `task ${id} to finish`, timeoutMs, 50);
}

describe("SOP generation end to end (template, no AI provider)", () => {
  it("POST /tasks/generate-sop -> task succeeded -> version 1 as Markdown; again -> version 2, version 1 kept", async () => {
    // History to write from: a task the worker ran, and one that died (recorded directly, with its
    // log line, so this test does not depend on the worker's failure path).
    const ok = await (await http("/tasks", { method: "POST", body: JSON.stringify({ type: "noop", payload: { echo: "seed" } }) })).json();
    expect((await finished(ok.id)).status).toBe("succeeded");
    const [{ id: bad }] = await sql()`select (r.task).id from orchestrator.enqueue('noop', '{"echo": "x"}', '{"source": "e2e", "run_at": "2999-01-01T00:00:00Z"}') r`;
    await sql()`update orchestrator.tasks set status = 'dead', attempts = 1, finished_at = now(),
                last_error = 'payload does not match the "noop" schema: delay_ms: Too small: expected number to be >=0' where id = ${bad}`;
    await sql()`insert into orchestrator.logs (level, component, message, task_id) values ('error', 'task-worker', 'task noop failed for good', ${bad})`;

    const slug = `e2e-sop-${Math.random().toString(36).slice(2, 8)}`;
    const body = { topic: "Recover failed noop tasks", audience: "On-call engineer", task_ids: [ok.id, bad], slug, notion: false };
    const t0 = Date.now();
    const res = await http("/tasks/generate-sop", { method: "POST", body: JSON.stringify(body) });
    expect(res.status).toBe(202);
    const queued = await res.json();
    expect(queued).toMatchObject({ type: "sop.generate", status: "queued" });
    const done = await finished(queued.id);
    const v1Ms = Date.now() - t0;
    expect(done.last_error).toBeNull();
    expect(done.status).toBe("succeeded");
    expect(done.result).toMatchObject({ sop: { slug, version: 1 }, generator: "template", sources: { task_ids: [ok.id, bad] } });

    const md = await http(`/sops/${slug}?format=md`);
    expect(md.status).toBe(200);
    expect(md.headers.get("content-type")).toBe("text/markdown; charset=utf-8");
    const text = await md.text();
    expect(text).toMatch(/^# Recover failed noop tasks\n/);
    expect(text).toContain("written by the template generator");
    // Steps follow the task history in order: the task that succeeded, then the one that died.
    expect(text).toContain(`## Procedure\n\n1. Repeat the work of task #${ok.id} (noop) if the procedure needs it`);
    expect(text).toContain(`\n2. Find why task #${bad} (noop) failed for good after 1 attempt of 5: "payload does not match the "noop" schema: delay_ms: Too small`);
    expect(text).toContain(`Key log lines: \\[error\\] "task noop failed for good"`);
    expect(text).toContain(`\n3. Run task #${bad} (noop) again with POST /tasks/${bad}/retry.`);
    expect(text).toContain("GET /tasks?type=noop&status=dead shows no new dead noop tasks.");

    const t1 = Date.now();
    const again = await (await http("/tasks/generate-sop", { method: "POST", body: JSON.stringify({ ...body, task_ids: [bad] }) })).json();
    const done2 = await finished(again.id);
    const v2Ms = Date.now() - t1;
    expect(done2.result.sop).toMatchObject({ slug, version: 2 });

    const latest = await (await http(`/sops/${slug}`)).json();
    expect(latest).toMatchObject({ version: 2, task_ids: [bad], source_task_id: again.id });
    const v1 = await (await http(`/sops/${slug}?version=1`)).json();
    expect(v1).toMatchObject({ version: 1, task_ids: [ok.id, bad], source_task_id: queued.id, generator: "template" });
    expect(v1.body_md).toBe(text);
    const list = await (await http(`/sops?slug=${slug}`)).json();
    expect(list.sops.map((s: { version: number }) => s.version)).toEqual([2, 1]);
    console.log(`[measure] e2e template SOP: POST -> succeeded v1 in ${v1Ms} ms, v2 in ${v2Ms} ms; Markdown ${text.length} chars`);
  });
});
