import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: test files in parallel would fight the one PostgreSQL for CPU; a couple at a time is enough.
    maxWorkers: 2,
  },
});
