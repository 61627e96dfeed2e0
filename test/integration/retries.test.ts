// Retries and re-runs against the real PostgreSQL: a sub-batch whose connection is killed mid-COPY is sent again
// without doubling or losing rows (CSV, and Parquet, whose row groups stream to the COPYs: the direct path reads
// them again from the first); a file already loaded is skipped; force loads it again.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditRows } from '../helpers.js';
import { killCopies, useDuck, useEnv } from './support.js';

const env = useEnv('retries');
const duck = useDuck();

/** The same rows as Parquet, in row groups of 40,000 (several slices each at the test's batch size). */
async function parquetRows(name: string, n: number): Promise<string> {
  const path = join(env.dir.path, name);
  await duck.conn.run(
    `COPY (SELECT i::INT AS id, repeat('x', 120) || i AS payload FROM range(${n}) t(i))
       TO '${path}' (FORMAT parquet, ROW_GROUP_SIZE 40000)`,
  );
  return path;
}

/** `id,payload` rows, about 150 bytes each. */
function rows(n: number): string {
  const pad = 'x'.repeat(120);
  const out = ['id,payload'];
  for (let i = 0; i < n; i++) out.push(`${i},${pad}${i}`);
  return out.join('\n') + '\n';
}

describe('a connection killed during COPY', () => {
  // Staging: the killed sub-batch is sent again. Direct (one transaction straight into the target): the whole
  // transaction is (regression: the direct path failed a lost COPY as DATABASE, never retrying it).
  it.each([
    ['staging', 'killed', { internalConcurrency: 2, direct: false }, 'csv'],
    ['direct', 'killed_direct', { direct: true }, 'csv'],
    ['Parquet, staging', 'killed_pq', { internalConcurrency: 2, direct: false }, 'parquet'],
    ['Parquet, direct', 'killed_pq_direct', { direct: true }, 'parquet'],
  ] as const)(
    '%s: retried, the table ends with exactly the file rows, the audit row counts the retries',
    async (_, table, how, format) => {
      await env.db.query(`CREATE TABLE ${table} (id int, payload text)`);
      // Long enough for the killer's polls (every 20 ms or so) to find COPYs running, and more than once: a kill
      // that lands as a COPY completes needs no retry (150,000 CSV rows in sub-batches of 2,500 once loaded so
      // fast that the only kill was such a one)
      const n = format === 'csv' ? 400_000 : 120_000;
      const f =
        format === 'csv'
          ? await env.dir.write(`${table}.csv`, rows(n))
          : await parquetRows(`${table}.parquet`, n);

      // The test's own admin connection kills loader COPYs (of this database) until two die or the load ends.
      const killer = await killCopies(env.db.dsn);
      try {
        // binary COPYs are quick: long ones, so that a kill lands inside one
        const batchSize = 10_000;
        const r = await env.load(table, [f], { batchSize, maxRetries: 5, ...how });
        const kills = await killer.stop();
        expect(r.exitCode).toBe(0);
        expect(kills).toBeGreaterThanOrEqual(1);
        expect(await env.num(`SELECT count(*) FROM ${table}`)).toBe(n);
        expect(await env.num(`SELECT count(DISTINCT id) FROM ${table}`)).toBe(n);
        expect(await env.num(`SELECT min(id) FROM ${table}`)).toBe(0);
        expect(await env.num(`SELECT max(id) FROM ${table}`)).toBe(n - 1);
        const [a] = (await auditRows(env.db)).filter((x) => x.file_path === f);
        expect(a?.status).toBe('succeeded');
        expect(a?.rows_inserted).toBe(String(n));
        expect(a?.retries).toBeGreaterThanOrEqual(1);
        expect(r.files[0]?.retries).toBe(a?.retries);
      } finally {
        await killer.stop();
      }
    },
  );
});

describe('re-runs', () => {
  it('skips a file already loaded into the table (same content), and force loads it again', async () => {
    await env.db.query('CREATE TABLE rerun (id int, payload text)');
    const f = await env.dir.write('rerun/a.csv', rows(100));
    const first = await env.load('rerun', [f]);
    expect(first.files[0]?.status).toBe('succeeded');

    const second = await env.load('rerun', [f]);
    expect(second.exitCode).toBe(0);
    expect(second.files[0]?.status).toBe('skipped');
    expect(second.totals.skipped).toBe(1);
    expect(await env.num('SELECT count(*) FROM rerun')).toBe(100);

    // The same content under another name is the same file.
    const copy = await env.dir.write('rerun/copy-of-a.csv', rows(100));
    expect((await env.load('rerun', [copy])).files[0]?.status).toBe('skipped');
    expect(await env.num('SELECT count(*) FROM rerun')).toBe(100);

    const forced = await env.load('rerun', [f], { force: true });
    expect(forced.exitCode).toBe(0);
    expect(forced.files[0]?.status).toBe('succeeded');
    expect(await env.num('SELECT count(*) FROM rerun')).toBe(200);

    const audit = (await auditRows(env.db)).filter((x) => x.file_path.includes('/rerun/'));
    expect(audit.map((x) => [x.status, x.error_code, x.rows_inserted])).toEqual([
      ['succeeded', null, '100'],
      ['skipped', 'ALREADY_LOADED', '0'],
      ['skipped', 'ALREADY_LOADED', '0'],
      ['succeeded', null, '100'],
    ]);
  });

  it('loads the same file again once its content changed, and into another table', async () => {
    await env.db.query('CREATE TABLE rerun2 (id int, payload text); CREATE TABLE rerun3 (LIKE rerun2)');
    const f = await env.dir.write('rerun2.csv', rows(10));
    expect((await env.load('rerun2', [f])).files[0]?.status).toBe('succeeded');
    expect((await env.load('rerun3', [f])).files[0]?.status).toBe('succeeded');
    await env.dir.write('rerun2.csv', rows(11));
    expect((await env.load('rerun2', [f])).files[0]?.status).toBe('succeeded');
    expect(await env.num('SELECT count(*) FROM rerun2')).toBe(21);
    expect(await env.num('SELECT count(*) FROM rerun3')).toBe(10);
  });

  it('a failed file is not skipped on the next run', async () => {
    await env.db.query('CREATE TABLE rerun_fail (id int, payload int)');
    const f = await env.dir.write('rerun_fail.csv', 'id,payload\n1,1\n2,oops\n');
    expect((await env.load('rerun_fail', [f])).files[0]?.status).toBe('failed');
    expect((await env.load('rerun_fail', [f])).files[0]?.status).toBe('failed');
    await env.db.query('ALTER TABLE rerun_fail ALTER payload TYPE text');
    expect((await env.load('rerun_fail', [f])).files[0]?.status).toBe('succeeded');
    expect(await env.num('SELECT count(*) FROM rerun_fail')).toBe(2);
  });
});
