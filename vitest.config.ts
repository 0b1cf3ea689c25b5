import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Integration and workflow suites share one real cluster; run files one at a time there.
    fileParallelism: process.env.GANTRY_SUITE === 'unit',
  },
});
