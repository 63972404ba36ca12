import { defineConfig } from "vitest/config";

// Four projects. `npm test` runs them all; `npx vitest run --project unit` runs tests/unit alone, in
// seconds, with no PostgreSQL, Deno or dispatcher. db, api and e2e share one local stack (own data dir
// and ports) per run: tests/helpers/global-setup.ts starts it once for whichever of them runs first.
const withStack = (name: string) => ({
  test: {
    name,
    include: [`tests/${name}/**/*.test.ts`],
    globalSetup: ["tests/helpers/global-setup.ts"],
    setupFiles: ["tests/helpers/setup-env.ts"],
    pool: "forks" as const,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // expect.poll (the browser tests' waits on the page): the gateway may cold-start a function's user
    // worker on the way (up to ~1 s on a loaded machine), past the 1 s default.
    expect: { poll: { timeout: 10_000 } },
    // In CI only: one retry for a test that lost a timing race on the shared stack (2 cores, ~60
    // files at once). Locally a failure shows at once; fix flakes rather than lean on this.
    retry: process.env.CI ? 1 : 0,
  },
});

export default defineConfig({
  test: {
    // Most files wait on the database or on cron ticks, not on CPU: run several at once even on 2 cores.
    maxWorkers: 4,
    reporters: ["default"],
    projects: [
      { test: { name: "unit", include: ["tests/unit/**/*.test.ts"], pool: "forks", testTimeout: 10_000 } },
      withStack("db"),
      withStack("api"),
      withStack("e2e"),
    ],
  },
});
