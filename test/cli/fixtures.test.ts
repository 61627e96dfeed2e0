// The committed samples in fixtures/ (what `npm run demo` loads) through the built command, twice, as cron would:
// the rows and the audit rows after each run, the exit code, and the files being what `npm run fixtures` writes.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORDERS_DDL, fixtures } from '../../bench/fixtures.js';
import { ROOT, auditRows, createTestDb, runCli, type TestDb } from '../helpers.js';

const DIR = join(ROOT, 'fixtures');
let db: TestDb;

beforeAll(async () => {
  db = await createTestDb('fixtures');
});
afterAll(async () => {
  await db.close();
});

describe('fixtures/', () => {
  it('holds exactly what `npm run fixtures` writes', async () => {
    const expected = fixtures();
    expect((await readdir(DIR)).sort()).toEqual(expected.map(([name]) => name).sort());
    for (const [name, bytes] of expected) {
      expect(Buffer.compare(await readFile(join(DIR, name)), Buffer.from(bytes)), name).toBe(0);
    }
  });

  it('loads from cron twice: the good files once, the bad one failed both times with its line and column', async () => {
    await db.query(ORDERS_DDL);
    const args = ['--dsn', db.dsn, '--table', 'public.orders', `${DIR}/*`, '--batch-size', '200'];
    const bad = join(DIR, 'orders-2026-11-04.csv');

    const first = await runCli(args);
    expect(first.code).toBe(1);
    expect(first.stdout).toContain('4 loaded, 1 failed, 0 skipped');
    expect(first.stdout).toContain(`FAILED ${bad}: line 3, column "amount"`);
    const byFile = (await auditRows(db)).map((a) => [
      a.file_path.replace(`${DIR}/`, ''),
      a.status,
      a.rows_inserted,
      a.rows_updated,
      a.error_code,
    ]);
    expect(byFile.sort()).toEqual([
      ['orders-2026-11-01.csv', 'succeeded', '500', '0', null],
      ['orders-2026-11-02.csv.gz', 'succeeded', '400', '100', null],
      ['orders-2026-11-03.csv', 'succeeded', '100', '0', null],
      ['orders-2026-11-04.csv', 'failed', '0', '0', 'DATA'],
      ['orders-2026-12.parquet', 'succeeded', '500', '0', null],
    ]);
    const rows = async () =>
      db.query<{ day: string; n: string; lo: string; hi: string; quoted: string }>(
        `SELECT to_char(placed_at, 'YYYY-MM-DD') AS day, count(*) AS n, min(id) AS lo, max(id) AS hi,
                count(*) FILTER (WHERE note = E'said "hi", then left, twice\\nsecond line'
                                    OR note = E'said "hi", then left; twice\\nsecond line') AS quoted
           FROM orders GROUP BY 1 ORDER BY 1`,
      );
    // Orders 401-500 were in the first two files: updated to the second file's day. Nothing of the bad file.
    const expected = [
      { day: '2026-11-01', n: '400', lo: '1', hi: '400', quoted: '57' },
      { day: '2026-11-02', n: '500', lo: '401', hi: '900', quoted: '71' },
      { day: '2026-11-03', n: '100', lo: '901', hi: '1000', quoted: '14' },
      { day: '2026-12-01', n: '500', lo: '3001', hi: '3500', quoted: '0' },
    ];
    expect(await rows()).toEqual(expected);

    const again = await runCli(args);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain('0 loaded, 1 failed, 4 skipped');
    const second = (await auditRows(db)).slice(5);
    expect(second.filter((a) => a.status === 'skipped' && a.error_code === 'ALREADY_LOADED')).toHaveLength(4);
    expect(second.filter((a) => a.status === 'failed').map((a) => a.file_path)).toEqual([bad]);
    expect(await rows()).toEqual(expected);
  });
});
