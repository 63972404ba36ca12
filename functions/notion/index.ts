// /notion: the Notion sync.
//   POST   /notion/webhook               Notion's integration webhooks (public: the X-Notion-Signature is its auth;
//                                        a verification token is accepted only inside an open window)
//   POST   /notion/webhook/verification  open a window for Notion's verification token ({open_for_seconds, replace})
//   DELETE /notion/webhook/verification  forget the stored verification token (and close any window)
//   GET    /notion/status                sync status: configuration, problems, last push/pull, watermark, pages mapped
//   POST   /notion/enable                validate the configuration against Notion and turn the sync on ({repush_dead})
//   POST   /notion/disable               turn it off (nothing is enqueued any more)
//   POST   /notion/pull                  pull now ({page_id} for one page)
import { z } from "zod";
import { json, parseBody } from "../_shared/http.ts";
import { defineFunction } from "../_shared/router.ts";
import { disableSync, enableSchema, enableSync, requestPull, syncStatus } from "../_shared/notion/service.ts";
import { clearVerificationToken, openVerificationWindow, openWindowSchema } from "../_shared/notion/verification.ts";
import { handleNotionWebhook, readRawBody } from "../_shared/notion/webhook.ts";

const pullSchema = z.strictObject({ page_id: z.string().regex(/^[0-9a-fA-F-]{32,36}$/, "a Notion page id (UUID)").optional() });

export default defineFunction("notion", [
  {
    method: "POST",
    path: "/webhook",
    summary: "Notion's integration webhook (X-Notion-Signature)",
    public: true,
    handler: async ({ req, log }) => {
      const raw = await readRawBody(req);
      const out = await handleNotionWebhook(raw, req.headers, log);
      return json(out.status, out.body);
    },
  },
  {
    method: "POST",
    path: "/webhook/verification",
    summary: "Open a window for Notion's verification token",
    body: openWindowSchema.optional(),
    handler: async ({ req, log }) =>
      openVerificationWindow((await parseBody(req, openWindowSchema.optional())) ?? openWindowSchema.parse({}), log),
  },
  { method: "DELETE", path: "/webhook/verification", summary: "Forget the stored verification token", handler: ({ log }) => clearVerificationToken(log) },
  { method: "GET", path: "/status", summary: "Notion sync status", handler: () => syncStatus() },
  {
    method: "POST",
    path: "/enable",
    summary: "Check the configuration against Notion and turn the sync on",
    body: enableSchema.optional(),
    handler: async ({ req, log }) => enableSync((await parseBody(req, enableSchema.optional())) ?? enableSchema.parse({}), log),
  },
  { method: "POST", path: "/disable", summary: "Turn the Notion sync off", handler: ({ log }) => disableSync(log) },
  {
    method: "POST",
    path: "/pull",
    summary: "Pull from Notion now ({page_id} for one page)",
    body: pullSchema.optional(),
    handler: async ({ req }) => {
      const input = (await parseBody(req, pullSchema.optional())) ?? {};
      return json(202, await requestPull(input.page_id, "api"));
    },
  },
]);
