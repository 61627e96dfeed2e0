// The staging table's housekeeping: drop it, check it is still there and whole (crash recovery empties UNLOGGED
// tables), and the merge that falls back to bisection when a constraint refuses a row.
import type pg from 'pg';
import { withClient } from './db.js';
import { classifyError } from './errors.js';
import { BATCH_COL, dropStagingSql } from './merge.js';
import { mergeRejecting, type MergeRejectingJob } from './reject.js';
import { quoteIdent } from './sql.js';

export async function dropStaging(pool: pg.Pool, stagingSql: string): Promise<void> {
  await withClient(pool, (c) => c.query(dropStagingSql(stagingSql))).catch(() => {});
}

export async function stagingExists(pool: pg.Pool, stagingSql: string): Promise<boolean> {
  return withClient(
    pool,
    async (c) =>
      (await c.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [stagingSql])).rows[0]?.ok === true,
  );
}

export async function incompleteBatches(
  client: pg.ClientBase,
  stagingSql: string,
  counts: Map<number, number>,
): Promise<number[]> {
  const { rows } = await client.query<{ b: number; n: string }>(
    `SELECT ${quoteIdent(BATCH_COL)} AS b, count(*) AS n FROM ${stagingSql} GROUP BY 1`,
  );
  const have = new Map(rows.map((r) => [r.b, Number(r.n)]));
  return [...counts].filter(([b, n]) => (have.get(b) ?? 0) !== n).map(([b]) => b);
}

/** The merge; on a constraint error, bisection finds the row: set aside (reject-rows) or named (abort-file). */
export async function mergeOrBisect(
  client: pg.ClientBase,
  merge: string,
  job: MergeRejectingJob,
): Promise<{ inserted: number; updated: number }> {
  await client.query('SAVEPOINT loader_whole');
  try {
    const { rows } = await client.query<{ inserted: string; updated: string }>(merge);
    await client.query('RELEASE SAVEPOINT loader_whole');
    return { inserted: Number(rows[0]?.inserted ?? 0), updated: Number(rows[0]?.updated ?? 0) };
  } catch (err) {
    if (classifyError(err) !== 'reject') throw err;
    await client.query('ROLLBACK TO SAVEPOINT loader_whole');
    return mergeRejecting(client, job);
  }
}

export function identity(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
