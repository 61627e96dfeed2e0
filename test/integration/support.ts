// Shared set-up for the integration tests: the library from the BUILT output (the Piscina worker only loads from
// dist), one database and one temp folder per test file, and small query shorthands.
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { load, type LoadOptions, type LoadResult } from '../../dist/src/index.js';
import { createTestDb, tempDir, type TestDb } from '../helpers.js';

export { LoaderError } from '../../dist/src/index.js';
export type { LoadResult };

export interface Env {
  db: TestDb;
  dir: Awaited<ReturnType<typeof tempDir>>;
  /** load() into this file's database */
  load(table: string, files: string[], opts?: Partial<LoadOptions>): Promise<LoadResult>;
  /** all rows of a query, as plain objects */
  rows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** the single number a `SELECT count(*) ...` (or any one-value query) returns */
  num(sql: string): Promise<number>;
}

/** Registers beforeAll/afterAll for one database and one temp folder; the returned object is filled in beforeAll. */
export function useEnv(prefix: string): Env {
  const env = {} as Env;
  beforeAll(async () => {
    env.db = await createTestDb(prefix);
    env.dir = await tempDir(`loader-${prefix}-`);
    env.load = (table, files, opts = {}) => load({ dsn: env.db.dsn, table, files, ...opts });
    env.rows = async <T>(sql: string) => (await env.db.query(sql)) as T[];
    env.num = async (sql: string) => {
      const r = await env.db.query(sql);
      return Number(Object.values(r[0] ?? {})[0]);
    };
  });
  afterAll(async () => {
    await env.db?.close();
    await env.dir?.remove();
  });
  return env;
}

/** A CSV body from a header and rows (no quoting: callers pass fields as they should appear). */
export function csv(header: string | undefined, rows: (string | number)[][], eol = '\n'): string {
  const lines = rows.map((r) => r.join(','));
  return (header !== undefined ? [header, ...lines] : lines).map((l) => l + eol).join('');
}

/** Kills the loader's active COPYs in the database, from a connection of its own, every 20 ms until `max` died or
 * stop() (which says how many died). `max` 2: one landing just as its COPY completed (no retry needed) cannot
 * make a test flaky. */
export async function killCopies(dsn: string, max = 2): Promise<{ stop(): Promise<number> }> {
  const admin = new pg.Client(dsn);
  await admin.connect();
  let running = true;
  let kills = 0;
  const loop = (async () => {
    while (running && kills < max) {
      const { rows } = await admin.query<{ ok: boolean }>(
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
          WHERE application_name = 'loader' AND datname = current_database()
            AND state = 'active' AND query ILIKE 'COPY%'`,
      );
      kills += rows.filter((k) => k.ok).length;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop.catch(() => {});
      await admin.end();
      return kills;
    },
  };
}

/** Registers beforeAll/afterAll for an in-memory DuckDB (it writes the Parquet files the tests read). */
export function useDuck(): { conn: DuckDBConnection } {
  const duck = {} as { conn: DuckDBConnection; instance: DuckDBInstance };
  beforeAll(async () => {
    duck.instance = await DuckDBInstance.create(':memory:');
    duck.conn = await duck.instance.connect();
  });
  afterAll(() => {
    duck.conn?.closeSync();
    duck.instance?.closeSync();
  });
  return duck;
}
