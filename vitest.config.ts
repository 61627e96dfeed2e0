import { defineConfig } from 'vitest/config';

// The test matrix: every file against PostgreSQL 18; against 16 (no COPY ON_ERROR, no transaction_timeout, no
// reserved_connections) the files where server versions differ: COPY (CSV and its binary conversion), modes,
// rejects, Parquet, retries, session settings, privileges. Both projects run in one `vitest run`, each with its own server.
const OLDER = [
  'test/integration/batches.test.ts',
  'test/integration/dialects.test.ts',
  'test/integration/csvbinary.test.ts',
  'test/integration/modes.test.ts',
  'test/integration/rejects.test.ts',
  'test/integration/parquet.test.ts',
  'test/integration/parquet-arrow.test.ts',
  'test/integration/retries.test.ts',
  'test/integration/sessions.test.ts',
  'test/integration/privileges.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: test files in parallel would fight the one PostgreSQL for CPU; a couple at a time is enough.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: 'pg18', include: ['test/**/*.test.ts'], globalSetup: ['test/globalSetup.ts'] },
      },
      {
        extends: true,
        test: { name: 'pg16', include: OLDER, globalSetup: ['test/globalSetup16.ts'] },
      },
    ],
  },
});
