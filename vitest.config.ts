import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    // One local stack (own data dir and ports) per `npm test` run, shared by all files.
    globalSetup: ["tests/helpers/global-setup.ts"],
    setupFiles: ["tests/helpers/setup-env.ts"],
    pool: "forks",
    // Most files wait on the database or on cron ticks, not on CPU: run several at once even on 2 cores.
    maxWorkers: 4,
    testTimeout: 60_000,
    // expect.poll (the browser tests' waits on the page): the gateway may cold-start a function's user
    // worker on the way (up to ~1 s on a loaded machine), past the 1 s default.
    expect: { poll: { timeout: 10_000 } },
    // In CI only: one retry for a test that lost a timing race on the shared stack (2 cores, ~60
    // files at once). Locally a failure shows at once; fix flakes rather than lean on this.
    retry: process.env.CI ? 1 : 0,
    hookTimeout: 120_000,
    reporters: ["default"],
  },
});
