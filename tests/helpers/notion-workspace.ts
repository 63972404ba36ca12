// A test file's fake Notion workspaces (msw at the HTTP boundary) and the env that points the sync at
// the latest one; the msw server's life follows the file's (listen, reset after each test, close).
import { afterAll, afterEach, beforeAll } from "vitest";
import { setupServer } from "msw/node";
import { type defaultSchema, FakeNotion, notionHandlers } from "./notion-mock.ts";
import { withEnv } from "./inprocess.ts";

const rand = () => Math.random().toString(36).slice(2, 10);

export function useNotionWorkspaces(opts: { afterEach?: () => void } = {}) {
  const server = setupServer();
  let restoreEnv: () => void = () => {};
  beforeAll(() => server.listen({ onUnhandledFrame: "bypass" }));
  afterEach(() => {
    server.resetHandlers();
    opts.afterEach?.();
  });
  afterAll(() => {
    server.close();
    restoreEnv();
  });
  return {
    server,
    /** A fresh fake workspace; the sync's env points at it until the next one (or the file's end). */
    workspace(o: { schema?: ReturnType<typeof defaultSchema>; rate?: number } = {}): FakeNotion {
      const token = `secret_test_${rand()}${rand()}`;
      const fake = new FakeNotion({ integrationToken: token, humanToken: `human_${rand()}`, databaseId: crypto.randomUUID(), schema: o.schema });
      server.use(...notionHandlers(fake));
      restoreEnv();
      restoreEnv = withEnv({
        NOTION_API_KEY: token,
        NOTION_DATABASE_ID: fake.opts.databaseId,
        NOTION_API_BASE_URL: undefined,
        NOTION_RATE_PER_SECOND: String(o.rate ?? 100),
        NOTION_PROPERTY_MAP: undefined,
        NOTION_STATUS_MAP: undefined,
        NOTION_WEBHOOK_SECRET: undefined,
      });
      return fake;
    },
  };
}
