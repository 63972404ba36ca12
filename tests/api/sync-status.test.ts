// GET /sync/status answers the same report as GET /notion/status, behind the service key.
import { expect, it } from "vitest";
import sync from "../../functions/sync/index.ts";
import notion from "../../functions/notion/index.ts";
import { request } from "../helpers/stack.ts";

it("GET /sync/status is the Notion sync report; 401 without the key", async () => {
  const viaSync = await sync.fetch(request("/sync/status"));
  expect(viaSync.status).toBe(200);
  const a = await viaSync.json();
  const b = await (await notion.fetch(request("/notion/status"))).json();
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  expect(a.configured).toBe(b.configured);
  expect((await sync.fetch(request("/sync/status", { key: "anon" }))).status).toBe(401);
});
