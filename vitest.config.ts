import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/support/setup-env.ts'],
    testTimeout: 20_000,
    hookTimeout: 120_000,
    // Integration and workflow suites share one real cluster and one Docker engine;
    // their files run one at a time. Unit files run in parallel.
    fileParallelism: process.env.GANTRY_SUITE === 'unit',
  },
});
