// The one error shape every endpoint answers with (http.ts errorResponse builds it), as a zod schema for the
// OpenAPI document and the typed client. Zod only.
import { z } from "zod";

export const errorShape = z.object({
  error: z.object({
    /** Stable: validation_failed, bad_request, unauthorized, not_found, conflict, payload_too_large, … */
    code: z.string(),
    /** What was wrong and what to do. */
    message: z.string(),
    /** More about it, e.g. {issues: [{path, code, message}]} for validation_failed. */
    details: z.unknown().optional(),
  }),
  /** Also in the x-request-id header; the logs carry it. */
  request_id: z.string(),
});
export type ErrorShape = z.infer<typeof errorShape>;
