// The one error type: every failure a caller should see carries an HTTP status,
// a stable code and a message saying what was wrong and what to do.
import type { z } from "zod";

export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details?: unknown;
  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.name = "AppError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export const badRequest = (message: string, details?: unknown) => new AppError(400, "bad_request", message, details);
export const unauthorized = (message: string) => new AppError(401, "unauthorized", message);
export const notFound = (message: string) => new AppError(404, "not_found", message);
export const methodNotAllowed = (message: string) => new AppError(405, "method_not_allowed", message);
export const requestTimeout = (message: string) => new AppError(408, "request_timeout", message);
export const conflict = (message: string, details?: unknown) => new AppError(409, "conflict", message, details);
export const payloadTooLarge = (message: string) => new AppError(413, "payload_too_large", message);
export const unsupportedMediaType = (message: string) => new AppError(415, "unsupported_media_type", message);

/** A zod failure as a 400 listing each issue with its path. */
export function validationError(error: z.ZodError, what = "request"): AppError {
  const issues = error.issues.map((i) => ({ path: i.path.map(String).join("."), code: i.code, message: i.message }));
  const summary = issues.slice(0, 3).map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ");
  return new AppError(400, "validation_failed", `Invalid ${what}: ${summary}`, { issues });
}

/** Marks a handler failure that retrying cannot fix (bad payload, missing configuration). */
export class PermanentTaskError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PermanentTaskError";
  }
}
