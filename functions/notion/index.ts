// /notion: the Notion sync.
//   POST /notion/webhook  Notion's integration webhooks (public: the X-Notion-Signature is its auth)
//   GET  /notion/status   sync status: configuration, last push/pull, watermark, pages mapped, errors in the last hour
//   POST /notion/enable   validate the configuration against Notion and turn the sync on
//   POST /notion/disable  turn it off (nothing is enqueued any more)
//   POST /notion/pull     pull now ({page_id} for one page)
import { z } from "zod";
import { json, parseBody } from "../_shared/http.ts";
import { defineFunction } from "../_shared/router.ts";
import {
  disableSync,
  enableSchema,
  enableSync,
  handleNotionWebhook,
  readRawBody,
  requestPull,
  syncStatus,
} from "../_shared/notion/service.ts";

const pullSchema = z.strictObject({ page_id: z.string().regex(/^[0-9a-fA-F-]{32,36}$/, "a Notion page id (UUID)").optional() });

export default defineFunction("notion", [
  {
    method: "POST",
    path: "/webhook",
    public: true,
    handler: async ({ req, log }) => {
      const raw = await readRawBody(req);
      const out = await handleNotionWebhook(raw, req.headers.get("x-notion-signature"), log);
      return json(out.status, out.body);
    },
  },
  { method: "GET", path: "/status", handler: () => syncStatus() },
  {
    method: "POST",
    path: "/enable",
    handler: async ({ req, log }) => enableSync((await parseBody(req, enableSchema.optional())) ?? enableSchema.parse({}), log),
  },
  { method: "POST", path: "/disable", handler: ({ log }) => disableSync(log) },
  {
    method: "POST",
    path: "/pull",
    handler: async ({ req }) => {
      const input = (await parseBody(req, pullSchema.optional())) ?? {};
      return json(202, await requestPull(input.page_id, "api"));
    },
  },
]);
