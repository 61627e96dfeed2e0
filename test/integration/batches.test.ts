// Sub-batches against the real PostgreSQL: a large file cut into many COPYs is still all or nothing, a bad value
// deep inside it is reported at the file's own line (the record's first line) and column, and the number of
// sub-batches in flight does not change the result.
import { describe, expect, it } from 'vitest';
import { auditRows } from '../helpers.js';
import { useEnv } from './support.js';

const env = useEnv('batches');

interface Generated {
  body: string;
  /** line of the first physical line of each record, by record index (0-based) */
  firstLines: number[];
}

/** `id,note,amount` rows; every 37th note spans three lines. `bad` puts a non-numeric amount in that record,
 * whose note also spans lines, so COPY's `line N` (the record's last line) differs from its first line. */
function generate(n: number, bad?: number): Generated {
  const parts = ['id,note,amount\n'];
  const firstLines: number[] = [];
  let line = 2;
  for (let i = 0; i < n; i++) {
    firstLines.push(line);
    const multi = i % 37 === 0 || i === bad;
    const note = multi ? `"note ${i}\nsecond, ""quoted""\nthird"` : `note ${i}`;
    const amount = i === bad ? 'twelve' : `${i}.5`;
    parts.push(`${i},${note},${amount}\n`);
    line += multi ? 3 : 1;
  }
  return { body: parts.join(''), firstLines };
}

describe('a large file in many sub-batches', () => {
  it('loads 20,000 rows in 20 sub-batches, recorded in the audit row', async () => {
    await env.db.query('CREATE TABLE big (id int PRIMARY KEY, note text, amount numeric)');
    const f = await env.dir.write('big.csv', generate(20_000).body);
    const r = await env.load('big', [f], { batchSize: 1000, internalConcurrency: 4 });
    expect(r.exitCode).toBe(0);
    expect(r.files[0]?.subBatches).toBe(20);
    expect(await env.num('SELECT count(*) FROM big')).toBe(20_000);
    expect(await env.num('SELECT sum(amount) FROM big')).toBe(20_000 * 0.5 + (19_999 * 20_000) / 2);
    expect(await env.rows(`SELECT note FROM big WHERE id = 37`)).toEqual([
      { note: 'note 37\nsecond, "quoted"\nthird' },
    ]);
    const [a] = (await auditRows(env.db)).filter((x) => x.file_path === f);
    expect([a?.status, a?.sub_batches, a?.rows_read, a?.rows_inserted]).toEqual([
      'succeeded',
      20,
      '20000',
      '20000',
    ]);
  });

  it('fails on a bad value deep in the file: nothing lands, the error names the file line and column', async () => {
    await env.db.query('CREATE TABLE big_bad (id int, note text, amount numeric)');
    const badIndex = 13_457;
    const g = generate(20_000, badIndex);
    const line = g.firstLines[badIndex]!;
    const f = await env.dir.write('big_bad.csv', g.body);
    const r = await env.load('big_bad', [f], { batchSize: 1000, internalConcurrency: 4 });
    expect(r.exitCode).toBe(1);
    const file = r.files[0]!;
    expect(file.status).toBe('failed');
    expect(file.error?.code).toBe('DATA');
    expect(file.error?.line).toBe(line);
    expect(file.error?.column).toBe('amount');
    expect(await env.num('SELECT count(*) FROM big_bad')).toBe(0);
    const [a] = (await auditRows(env.db)).filter((x) => x.file_path === f);
    expect([a?.status, a?.error_code]).toEqual(['failed', 'DATA']);
    expect(a?.error_message).toMatch(new RegExp(`\\bline ${line}\\b`));
    expect(a?.error_message).toContain('amount');
    expect(await env.num(`SELECT count(*) FROM pg_class WHERE relname LIKE 'loader_stg_%'`)).toBe(0);
  });

  it('reports the right line for a bad value in the first and in the last sub-batch', async () => {
    await env.db.query('CREATE TABLE edge_bad (id int, note text, amount numeric)');
    for (const badIndex of [0, 2_999]) {
      const g = generate(3_000, badIndex);
      const f = await env.dir.write(`edge_bad_${badIndex}.csv`, g.body);
      const r = await env.load('edge_bad', [f], { batchSize: 500 });
      expect(r.files[0]?.error?.line).toBe(g.firstLines[badIndex]);
      expect(r.files[0]?.error?.column).toBe('amount');
    }
    expect(await env.num('SELECT count(*) FROM edge_bad')).toBe(0);
  });

  it('reports the right line for a bad value in a gzip file cut into sub-batches', async () => {
    await env.db.query('CREATE TABLE gz_bad (id int, note text, amount numeric)');
    const g = generate(3_000, 2_100);
    const f = await env.dir.write('gz_bad.csv.gz', g.body, { gzip: true });
    const r = await env.load('gz_bad', [f], { batchSize: 500, internalConcurrency: 3 });
    expect(r.files[0]?.error?.code).toBe('DATA');
    expect(r.files[0]?.error?.line).toBe(g.firstLines[2_100]);
    expect(r.files[0]?.error?.column).toBe('amount');
    expect(await env.num('SELECT count(*) FROM gz_bad')).toBe(0);
  });

  it('fails on a constraint violation found at merge time and loads nothing', async () => {
    await env.db.query('CREATE TABLE big_check (id int, note text, amount numeric CHECK (amount < 2500))');
    const f = await env.dir.write('big_check.csv', generate(3_000).body);
    const r = await env.load('big_check', [f], { batchSize: 1000 });
    expect(r.exitCode).toBe(1);
    expect(r.files[0]?.error?.code).toBe('DATA');
    expect(await env.num('SELECT count(*) FROM big_check')).toBe(0);
  });
});

describe('internal concurrency', () => {
  it('gives identical table contents with 1 and 4 sub-batches in flight', async () => {
    await env.db.query(
      `CREATE TABLE conc1 (id int PRIMARY KEY, note text, amount numeric);
       CREATE TABLE conc4 (LIKE conc1 INCLUDING ALL)`,
    );
    // 5,000 records over 1,000 keys: every key repeats in several sub-batches; the last occurrence must win.
    const lines = ['id,note,amount'];
    for (let i = 0; i < 5_000; i++) lines.push(`${(i * 7919) % 1000},"n${i}\nx",${i}`);
    const f = await env.dir.write('conc.csv', lines.join('\n') + '\n');
    const r1 = await env.load('conc1', [f], { batchSize: 250, internalConcurrency: 1 });
    const r4 = await env.load('conc4', [f], { batchSize: 250, internalConcurrency: 4 });
    expect([r1.exitCode, r4.exitCode]).toEqual([0, 0]);
    expect(await env.num('SELECT count(*) FROM conc1')).toBe(1000);
    expect(
      await env.num(
        `SELECT count(*) FROM ((TABLE conc1 EXCEPT TABLE conc4) UNION ALL (TABLE conc4 EXCEPT TABLE conc1)) d`,
      ),
    ).toBe(0);
    // Key k's last occurrence is the largest i with i * 7919 = k (mod 1000).
    expect(await env.num(`SELECT count(*) FROM conc4 WHERE amount < 4000`)).toBe(0);
    expect(await env.rows(`SELECT note, amount FROM conc4 WHERE id = 0`)).toEqual([
      { note: 'n4000\nx', amount: '4000' },
    ]);
  });
});

describe('append straight into the target (--direct, or --internal-concurrency 1)', () => {
  it('loads every sub-batch of a plain and a gzip file in one transaction', async () => {
    await env.db.query('CREATE TABLE direct_ok (id int, note text, amount numeric)');
    const g = generate(5_000);
    const plain = await env.dir.write('direct_ok.csv', g.body);
    const gz = await env.dir.write(
      'direct_ok2.csv.gz',
      g.body.replace(/^(\d+),/gm, (_, id) => `${Number(id) + 5_000},`),
      {
        gzip: true,
      },
    );
    const r = await env.load('direct_ok', [plain, gz], { batchSize: 400, direct: true });
    expect(r.exitCode).toBe(0);
    expect(r.files.map((f) => f.subBatches)).toEqual([13, 13]);
    expect(await env.num('SELECT count(DISTINCT id) FROM direct_ok')).toBe(10_000);
    const r2 = await env.load('direct_ok', [plain], { batchSize: 400, internalConcurrency: 1, force: true });
    expect(r2.files[0]?.rowsInserted).toBe(5_000);
    expect(await env.num('SELECT count(*) FROM direct_ok')).toBe(15_000);
  });

  it('fails a bad value deep in the file with its own line, leaving nothing', async () => {
    await env.db.query('CREATE TABLE direct_bad (id int, note text, amount numeric)');
    const g = generate(5_000, 4_321);
    const f = await env.dir.write('direct_bad.csv', g.body);
    const r = await env.load('direct_bad', [f], { batchSize: 400, direct: true });
    expect(r.exitCode).toBe(1);
    expect(r.files[0]?.error?.line).toBe(g.firstLines[4_321]);
    expect(r.files[0]?.error?.column).toBe('amount');
    expect(await env.num('SELECT count(*) FROM direct_bad')).toBe(0);
  });
});
