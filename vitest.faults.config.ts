// `npm run test:faults`: the fault suite (tests/faults/*.fault.ts), kept out of
// `npm test` because it takes minutes (one fault stops the pg_net dispatcher for
// two minutes). Each file breaks a private stack of its own (own cluster, ports,
// function server and dispatcher), so the files run side by side.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/faults/**/*.fault.ts"],
    pool: "forks",
    maxWorkers: 2,
    fileParallelism: true,
    testTimeout: 600_000,
    hookTimeout: 180_000,
    reporters: ["default"],
  },
});
