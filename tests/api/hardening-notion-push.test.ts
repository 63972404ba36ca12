// Issue 14, items 12, 13 (what enable checks) and 14: notion.push and POST /notion/enable
// in this process against the real database, Notion mocked by msw with the strict fake.
// Nothing here enables the sync on the shared stack (that would make every test's rows push):
// the successful enable, the re-push of the dead and the status report run on a private
// stack in tests/e2e/hardening-notion-enable.test.ts.
import { describe, expect, it } from "vitest";
import notion from "../../functions/notion/index.ts";
import { defaultSchema } from "../helpers/notion-mock.ts";
import { leaseNew, runTask } from "../helpers/inprocess.ts";
import { useNotionWorkspaces } from "../helpers/notion-workspace.ts";
import { request, sql, uniqueType } from "../helpers/stack.ts";

const rand = () => Math.random().toString(36).slice(2, 10);


const { workspace } = useNotionWorkspaces();

const enable = (body: object) => notion.fetch(request("/notion/enable", { method: "POST", body: JSON.stringify(body) }));
const orchestratorId = (page: any) => page.properties["Orchestrator ID"].rich_text.map((r: any) => r.plain_text).join("");

describe("one entity, one page (item 12)", () => {
  it("a tracked sop.generate task keeps its page; the SOP it writes gets its own; the task's next push updates its page", async () => {
    const fake = workspace();
    // An API-requested sop.generate (leased here, so the stack's worker leaves it alone), tracked in Notion.
    const task = await leaseNew("sop.generate", { topic: `Checkout 502s ${rand()}` });
    const first = await runTask("notion.push", { entity: "task", key: String(task.id) });
    expect(first.result).toMatchObject({ action: "created" });
    const [taskPage] = fake.findByOrchestratorId(`task:${task.id}`);

    // The task writes its SOP, and the SOP is pushed.
    const slug = `hn-sop-page-${rand()}`;
    await sql()`select orchestrator.sop_insert(${slug}, 'Checkout 502s', '{}'::jsonb, ${"# Checkout 502s\n\n1. Check the gateway."}, 'template',
      ${sql().json({ source_task_id: task.id })})`;
    const sop = await runTask("notion.push", { entity: "sop", key: slug });
    expect(sop.status, sop.last_error ?? "").toBe("succeeded");
    expect(sop.result.action).toBe("created");
    expect(sop.result.page_id).not.toBe(taskPage.id);
    const [sopPage] = fake.findByOrchestratorId(`sop:${slug}`);
    expect(sopPage.id).toBe(sop.result.page_id);
    // The task's page was not turned into the SOP's.
    expect(orchestratorId(fake.pages.get(taskPage.id))).toBe(`task:${task.id}`);
    expect(fake.pages.get(taskPage.id)!.properties.Type.select.name).toBe("Task");

    // The task finishes: its push updates the page it has, and makes no second one.
    await sql()`update orchestrator.tasks set status = 'succeeded', finished_at = now(), locked_by = null, locked_until = null,
      lease_token = null, updated_at = now() where id = ${task.id}`;
    const done = await runTask("notion.push", { entity: "task", key: String(task.id) });
    expect(done.result).toMatchObject({ action: "updated", page_id: taskPage.id });
    expect(fake.findByOrchestratorId(`task:${task.id}`)).toHaveLength(1);
    expect(fake.pages.get(taskPage.id)!.properties.Status.status.name).toBe("Done");
    expect(fake.requests.filter((r) => r.method === "POST" && r.path === "/v1/pages")).toHaveLength(2);
    const rows = await sql()`select entity, page_id from orchestrator.notion_pages
      where (entity = 'task' and row_key = ${String(task.id)}) or (entity = 'sop' and row_key = ${slug}) order by entity`;
    expect(rows).toEqual([{ entity: "sop", page_id: sopPage.id }, { entity: "task", page_id: taskPage.id }]);
  });
});

describe("POST /notion/enable checks everything first (item 13)", () => {
  it("lists every problem in one 400 — unknown task types and status options the database lacks — and enables nothing", async () => {
    const schema = defaultSchema();
    schema.Status.options = schema.Status.options!.filter((o) => o !== "Published" && o !== "Failed");
    const fake = workspace({ schema });
    const trackedBefore = await sql()`select type from orchestrator.notion_tracked_task_types order by type`;
    const res = await enable({ track_task_types: ["no.such.type", "noop"] });
    expect(res.status).toBe(400);
    const { error } = await res.json();
    expect(error.code).toBe("notion_config_invalid");
    expect(error.details.problems).toHaveLength(3);
    const [type, published, failed] = error.details.problems;
    expect(type).toMatch(/^track_task_types: "no.such.type" is not a task type: none is registered under that name and no task of that type exists/);
    expect(published).toMatch(/^Notion status option "Published" \(for sop status "published", digest status "published"\) does not exist on property "Status"/);
    expect(failed).toMatch(/^Notion status option "Failed" \(for task status "dead"\) does not exist on property "Status".*NOTION_STATUS_MAP, e\.g\. \{"task": \{"dead": "<an existing option>"\}\}/);
    expect(error.message).toMatch(/^Nothing was enabled: 3 problem\(s\) to fix first: \(1\) track_task_types/);
    const [state] = await sql()`select enabled, config_error from orchestrator.sync_state where database_id = ${fake.opts.databaseId}`;
    expect(state.enabled).toBe(false);
    expect(state.config_error).toMatch(/"Published"/);
    expect(await sql()`select type from orchestrator.notion_tracked_task_types order by type`).toEqual(trackedBefore);

    // Task statuses only matter when tasks are tracked; a type that has tasks here (another worker's) is accepted.
    const foreign = uniqueType("foreign");
    await sql()`select orchestrator.enqueue(${foreign}, '{}', '{"run_at": "2099-01-01T00:00:00Z"}')`;
    const untracked = await enable({ track_task_types: [] });
    const body = await untracked.json();
    expect(body.error.details.problems).toEqual([expect.stringMatching(/^Notion status option "Published"/)]);
    const withForeign = await (await enable({ track_task_types: [foreign] })).json();
    expect(withForeign.error.details.problems.join(" ")).not.toContain(foreign);
    expect(withForeign.error.details.problems).toHaveLength(2);
  });

  it("a push that meets a status option Notion does not have dies at once, saying which option and which request", async () => {
    const fake = workspace();
    const [{ id }] = await sql()`select (r.task).id from orchestrator.enqueue(${uniqueType("opt")}, '{}', '{"run_at": "2099-01-01T00:00:00Z"}') r`;
    expect((await runTask("notion.push", { entity: "task", key: String(id) })).status).toBe("succeeded");
    // Someone removes the option in Notion; the strict fake answers what Notion answers.
    fake.schema.Status.options = fake.schema.Status.options!.filter((o) => o !== "Cancelled");
    await sql()`select orchestrator.cancel(${id})`;
    const out = await runTask("notion.push", { entity: "task", key: String(id) });
    expect(out.status).toBe("dead");
    expect(out.last_error).toMatch(/Notion API 400 validation_error: Invalid status option\. Status option "Cancelled" does not exist for "Status"\./);
    expect(out.last_error).toContain(`(request: PATCH /v1/pages/`);
  });
});

describe("a failed Notion call says which request failed (item 14)", () => {
  it("400 invalid_request_url during enable names the call (method + path, no secrets)", async () => {
    const fake = workspace();
    fake.failNext("GET /v1/databases/", 400, { code: "invalid_request_url", message: "Invalid request URL." });
    const res = await enable({});
    expect(res.status).toBe(400);
    const { error } = await res.json();
    expect(error.message).toContain(`Notion API 400 invalid_request_url: Invalid request URL. (request: GET /v1/databases/${fake.opts.databaseId})`);
    expect(JSON.stringify(error)).not.toContain(process.env.NOTION_API_KEY!);
  });

  it("pushes and pulls name theirs too: a refused create, a query still failing after its retries", async () => {
    const fake = workspace();
    const [{ id }] = await sql()`select (r.task).id from orchestrator.enqueue(${uniqueType("req")}, '{}', '{"run_at": "2099-01-01T00:00:00Z"}') r`;
    fake.failNext("POST /v1/pages", 400, { code: "validation_error", message: "body failed validation: body.parent should be defined." });
    const create = await runTask("notion.push", { entity: "task", key: String(id) });
    expect(create.status).toBe("dead");
    expect(create.last_error).toContain("creating the page of task:");
    expect(create.last_error).toContain("(request: POST /v1/pages)");

    fake.failNext("/query", 503, { times: 3 });
    const pull = await runTask("notion.pull", {}, { max_attempts: 1 });
    expect(pull.status).toBe("dead");
    expect(pull.last_error).toContain(`(request: POST /v1/data_sources/${fake.dataSourceId}/query)`);
    expect(pull.last_error).not.toContain(process.env.NOTION_API_KEY!);
  });
});
