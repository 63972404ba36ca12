// The property mapping: defaults, overrides, validation against a data source,
// building and reading page properties; request idempotency and Retry-After.
import { describe, expect, it } from "vitest";
import {
  buildProperties,
  missingStatusOptions,
  NotionConfigError,
  parseOrchestratorId,
  priorityFromNotion,
  readPage,
  statusFromNotion,
  statusNames,
  validateMapping,
  wantedMapping,
} from "../../functions/_shared/notion/mapping.ts";
import { isIdempotent, parseRetryAfter } from "../../functions/_shared/notion/client.ts";
import { normaliseId } from "../../functions/_shared/notion/context.ts";

const ds = (props: Record<string, { type: string; options?: string[] }>) => ({
  id: "ds-1",
  name: "Work",
  properties: Object.fromEntries(Object.entries(props).map(([name, p]) => [name, {
    id: name.slice(0, 3), name, type: p.type, [p.type]: p.options ? { options: p.options.map((o) => ({ name: o })) } : {},
  }])),
});

const complete = {
  Name: { type: "title" },
  Status: { type: "status", options: ["Open", "Resolved"] },
  Type: { type: "select", options: ["Ticket"] },
  Priority: { type: "select" },
  "Orchestrator ID": { type: "rich_text" },
  Updated: { type: "date" },
  Link: { type: "url" },
};

describe("validateMapping", () => {
  it("resolves the default mapping with ids, types and options", () => {
    const m = validateMapping(ds(complete), wantedMapping());
    expect(m.status).toEqual({ name: "Status", type: "status", id: "Sta", options: ["Open", "Resolved"] });
    expect(m.orchestrator_id?.type).toBe("rich_text");
    expect(Object.keys(m).sort()).toEqual(["link", "orchestrator_id", "priority", "status", "title", "type", "updated"]);
  });

  it("names every missing or mistyped property in one clear error", () => {
    const { Status: _s, ...noStatus } = complete;
    const bad = { ...noStatus, status: { type: "status" }, Priority: { type: "multi_select" } };
    let error: NotionConfigError | undefined;
    try {
      validateMapping(ds(bad), wantedMapping());
    } catch (e) {
      error = e as NotionConfigError;
    }
    expect(error).toBeInstanceOf(NotionConfigError);
    expect(error!.problems).toHaveLength(2);
    expect(error!.message).toMatch(/"Status" \(status or select, for status\) is missing from Work \(ds-1\); there is "status" \(names are case-sensitive\)/);
    expect(error!.message).toMatch(/"Priority" is a multi_select property; the sync needs select for priority/);
  });

  it("accepts a select Status, renames and turns off optional fields with NOTION_PROPERTY_MAP", () => {
    const props = { ...complete, State: { type: "select" }, Status: undefined } as never;
    const wanted = wantedMapping(JSON.stringify({ status: "State", link: null, updated: { name: "Updated", type: "date" } }));
    const m = validateMapping(ds(Object.fromEntries(Object.entries(props).filter(([, v]) => v)) as never), wanted);
    expect(m.status).toMatchObject({ name: "State", type: "select" });
    expect(m.link).toBeUndefined();
  });

  it("rejects bad overrides clearly", () => {
    expect(() => wantedMapping("{nope")).toThrow(/NOTION_PROPERTY_MAP is not valid JSON/);
    expect(() => wantedMapping(JSON.stringify({ title: null }))).toThrow(/"title" cannot be turned off/);
    expect(() => wantedMapping(JSON.stringify({ priority: { name: "P", type: "number" } }))).toThrow(/"priority" can be a select property, not number/);
    expect(() => wantedMapping(JSON.stringify({ colour: "Red" }))).toThrow(/NOTION_PROPERTY_MAP is invalid/);
    expect(() => statusNames("[1]")).toThrow(/NOTION_STATUS_MAP is invalid/);
  });
});

describe("status options (issue 14, item 13)", () => {
  const names = statusNames();
  it("names each status option a *status* property lacks, for the entities that are pushed, in the same error", () => {
    const source = ds({ ...complete, Status: { type: "status", options: ["Open", "In progress", "Resolved", "Closed", "Queued", "Running", "Done"] } });
    let caught: NotionConfigError | undefined;
    try {
      validateMapping(source, wantedMapping(), { names, entities: ["ticket", "sop", "digest", "task"] });
    } catch (err) {
      caught = err as NotionConfigError;
    }
    expect(caught).toBeInstanceOf(NotionConfigError);
    expect(caught!.problems).toEqual([
      expect.stringMatching(/^Notion status option "Published" \(for sop status "published", digest status "published"\) does not exist on property "Status"/),
      expect.stringMatching(/^Notion status option "Failed" \(for task status "dead"\)/),
      expect.stringMatching(/^Notion status option "Cancelled" \(for task status "cancelled"\)/),
    ]);
    // Without tracked task types, only what tickets, SOPs and digests push is needed.
    expect(() => validateMapping(source, wantedMapping(), { names, entities: ["ticket"] })).not.toThrow();
  });

  it("follows NOTION_STATUS_MAP, and leaves a select property alone (Notion creates select options itself)", () => {
    const status = { name: "Status", type: "status", options: ["Open", "Resolved", "Closed", "In progress", "Live"] };
    const check = (map?: string) => missingStatusOptions(status, { names: statusNames(map), entities: ["ticket", "sop"] });
    expect(check()).toHaveLength(1);
    expect(check('{"sop": {"published": "Live"}}')).toEqual([]);
    expect(missingStatusOptions({ name: "Status", type: "select", options: [] }, { names, entities: ["ticket", "sop"] })).toEqual([]);
  });
});

describe("page values", () => {
  const mapping = validateMapping(ds(complete), wantedMapping());

  it("builds properties for each type and reads them back", () => {
    const props = buildProperties(mapping, {
      title: "Checkout fails", status: "Open", type: "Ticket", priority: "High", orchestrator_id: "ticket:42",
      updated: "2026-11-24T10:00:00.000Z", link: "https://x.test/tickets/42",
    });
    expect(props).toEqual({
      Name: { title: [{ type: "text", text: { content: "Checkout fails" } }] },
      Status: { status: { name: "Open" } },
      Type: { select: { name: "Ticket" } },
      Priority: { select: { name: "High" } },
      "Orchestrator ID": { rich_text: [{ type: "text", text: { content: "ticket:42" } }] },
      Updated: { date: { start: "2026-11-24T10:00:00.000Z" } },
      Link: { url: "https://x.test/tickets/42" },
    });
    // As Notion answers: plain_text on rich text, full option objects.
    const page = { properties: {
      Name: { type: "title", title: [{ plain_text: "Checkout fails" }] },
      Status: { type: "status", status: { id: "x", name: "Resolved", color: "green" } },
      Priority: { type: "select", select: null },
      "Orchestrator ID": { type: "rich_text", rich_text: [{ plain_text: "ticket:" }, { plain_text: "42" }] },
    } };
    expect(readPage(mapping, page)).toEqual({ title: "Checkout fails", status: "Resolved", priority: null, orchestrator_id: "ticket:42" });
  });

  it("leaves out fields that are not given, and strips commas from select names", () => {
    expect(buildProperties(mapping, { orchestrator_id: "task:7" })).toEqual({
      "Orchestrator ID": { rich_text: [{ type: "text", text: { content: "task:7" } }] },
    });
    expect(buildProperties(mapping, { priority: "High, very" })).toEqual({ Priority: { select: { name: "High  very" } } });
  });

  it("maps status and priority names both ways, case-insensitively, with overrides", () => {
    const names = statusNames(JSON.stringify({ ticket: { resolved: "Done" } }));
    expect(names.ticket.resolved).toBe("Done");
    expect(names.ticket.open).toBe("Open");
    expect(statusFromNotion(names.ticket, "done")).toBe("resolved");
    expect(statusFromNotion(names.ticket, "Requested")).toBeUndefined();
    expect(statusFromNotion(names.task, "Cancelled")).toBe("cancelled");
    expect(priorityFromNotion("Urgent")).toBe("urgent");
    expect(priorityFromNotion("Someday")).toBeUndefined();
  });

  it("parses Orchestrator IDs", () => {
    expect(parseOrchestratorId("ticket:42")).toEqual({ entity: "ticket", key: "42" });
    expect(parseOrchestratorId(" sop:reset-password ")).toEqual({ entity: "sop", key: "reset-password" });
    expect(parseOrchestratorId("digest:2026-11-23")).toEqual({ entity: "digest", key: "2026-11-23" });
    expect(parseOrchestratorId("user:1")).toBeUndefined();
    expect(parseOrchestratorId("")).toBeUndefined();
  });
});

describe("client helpers", () => {
  it("retries 5xx only for idempotent calls", () => {
    const base = "https://api.notion.com/v1";
    expect(isIdempotent("GET", `${base}/pages/abc`)).toBe(true);
    expect(isIdempotent("POST", `${base}/data_sources/abc/query`)).toBe(true);
    expect(isIdempotent("PATCH", `${base}/pages/abc`)).toBe(true);
    expect(isIdempotent("POST", `${base}/pages`)).toBe(false);
    expect(isIdempotent("PATCH", `${base}/blocks/abc/children`)).toBe(false);
  });

  it("reads Retry-After as seconds or an HTTP date", () => {
    expect(parseRetryAfter("3")).toBe(3);
    expect(parseRetryAfter(null)).toBeUndefined();
    const d = parseRetryAfter(new Date(Date.now() + 5000).toUTCString())!;
    expect(d).toBeGreaterThan(3);
    expect(d).toBeLessThanOrEqual(5);
  });

  it("normalises Notion ids from URLs and dashless forms", () => {
    expect(normaliseId("0123456789abcdef0123456789ABCDEF")).toBe("01234567-89ab-cdef-0123-456789abcdef");
    expect(normaliseId("https://www.notion.so/team/Work-0123456789abcdef0123456789abcdef?v=1")).toBe("01234567-89ab-cdef-0123-456789abcdef");
  });
});
