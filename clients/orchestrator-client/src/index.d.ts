// Signatures of index.js. Everything API-shaped comes from schema.d.ts, generated from docs/openapi.json.
import type { Client } from "openapi-fetch";
import type { components, paths } from "./schema.d.ts";

export type { components, operations, paths } from "./schema.d.ts";

/** Each task type's payload, from the task catalog's schemas. */
export type TaskPayloads = components["schemas"]["TaskPayloads"];
export type TaskType = keyof TaskPayloads;
/** The one error shape: {error: {code, message, details?}, request_id}. */
export type OrchestratorError = components["schemas"]["Error"];

type EnqueueOperation = paths["/functions/v1/tasks"]["post"];
type EnqueueBody = NonNullable<EnqueueOperation["requestBody"]>["content"]["application/json"];
/** A single POST /tasks body (the array form is a list of these). */
export type CreateTask = Exclude<EnqueueBody, readonly unknown[]>;
/** A task to enqueue, its payload typed by its type. */
export type TaskInput<T extends TaskType = TaskType> = {
  [K in T]: Omit<CreateTask, "type" | "payload"> & { type: K; payload?: TaskPayloads[K] };
}[T];
/** A task as the API shows it. */
export type Task = paths["/functions/v1/tasks/{id}"]["get"]["responses"][200]["content"]["application/json"];

/** POST /tasks with an array answers one of these. */
export type BatchResult = Exclude<EnqueueOperation["responses"][201]["content"]["application/json"], Task>;

type RequestInitLike = Omit<RequestInit, "body" | "method">;

/** What a call gives back, as openapi-fetch's calls do: data on 2xx, the error shape otherwise. */
export type Result<T> = { data: T; error?: never; response: Response } | { data?: never; error: OrchestratorError; response: Response };

export interface OrchestratorClient extends Client<paths> {
  /** POST /tasks with one task: 201 new, 200 the live task of its dedupe_key. */
  enqueue<T extends TaskType>(task: TaskInput<T>, init?: RequestInitLike): Promise<Result<Task>>;
  /** POST /tasks with up to 1,000 tasks, all or nothing (a 400 names the bad item; nothing is stored). */
  enqueueMany(tasks: TaskInput[], init?: RequestInitLike): Promise<Result<BatchResult>>;
}

export interface OrchestratorClientOptions {
  /** The project URL (SUPABASE_URL), e.g. http://127.0.0.1:54321. */
  url: string;
  /** A secret key (sb_secret_…) or the legacy service_role key; a public key opens only public routes. */
  key?: string;
  fetch?: typeof globalThis.fetch;
  headers?: Record<string, string>;
}

export declare function keyHeaders(key: string | undefined): Record<string, string>;
export declare function createOrchestratorClient(options: OrchestratorClientOptions): OrchestratorClient;
