// What can go wrong with an AI call, sorted by whether retrying can help.
// Subclasses of PermanentTaskError make the worker fail the task at once;
// the others let the queue retry it with backoff.
import { PermanentTaskError } from "../errors.ts";

/** No provider configured, or no model: a deployment fix, not a retry. */
export class AiConfigError extends PermanentTaskError {
  constructor(message: string) {
    super(message);
    this.name = "AiConfigError";
  }
}

/** The provider refused the request for good (401, 403, 400, 404, 422…). */
export class AiRejectedError extends PermanentTaskError {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "AiRejectedError";
    this.status = status;
  }
}

/** The model answered, but not with what the schema asks for, even after a repair round. */
export class AiOutputError extends PermanentTaskError {
  readonly issues: string[];
  constructor(message: string, issues: string[]) {
    super(message);
    this.name = "AiOutputError";
    this.issues = issues;
  }
}

/** 429, 5xx, network failure or timeout that outlasted the client's own retries. */
export class AiUnavailableError extends Error {
  readonly status?: number;
  constructor(message: string, status?: number) {
    super(message);
    this.name = "AiUnavailableError";
    this.status = status;
  }
}

export class AiTimeoutError extends AiUnavailableError {
  constructor(message: string) {
    super(message);
    this.name = "AiTimeoutError";
  }
}

