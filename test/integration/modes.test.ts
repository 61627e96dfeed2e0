// Load modes against the real PostgreSQL: upsert (the default with a key), append (the default without), insert-only
// and replace; which occurrence of a key wins; --key on a unique index; and the audit row's counts.
import { describe, expect, it } from 'vitest';
import { auditRows, runCli } from '../helpers.js';
import { LoaderError, csv, useEnv } from './support.js';

const env = useEnv('modes');

async function auditOf(path: string): Promise<Awaited<ReturnType<typeof auditRows>>> {
  return (await auditRows(env.db)).filter((a) => a.file_path === path);
}

describe('upsert', () => {
  it('is the default with a primary key: inserts new keys, updates only the file columns of existing ones', async () => {
    await env.db.query(
      `CREATE TABLE up (id int PRIMARY KEY, a text, b text, c text DEFAULT 'dflt');
       INSERT INTO up VALUES (1, 'a1', 'b1', 'c1'), (2, 'a2', 'b2', 'c2')`,
    );
    const f = await env.dir.write(
      'up.csv',
      csv('id,a', [
        [2, 'new'],
        [3, 'x'],
      ]),
    );
    const r = await env.load('up', [f]);
    expect(r.exitCode).toBe(0);
    expect(r.mode).toBe('upsert');
    expect(await env.rows('SELECT * FROM up ORDER BY id')).toEqual([
      { id: 1, a: 'a1', b: 'b1', c: 'c1' },
      { id: 2, a: 'new', b: 'b2', c: 'c2' },
      { id: 3, a: 'x', b: null, c: 'dflt' },
    ]);
    const [a] = await auditOf(f);
    expect([a?.status, a?.mode, a?.rows_read, a?.rows_inserted, a?.rows_updated, a?.rows_skipped]).toEqual([
      'succeeded',
      'upsert',
      '2',
      '1',
      '1',
      '0',
    ]);
  });

  it('merges a rising key as it lands: by MERGE from PostgreSQL 17, by INSERT ... ON CONFLICT before, the same rows', async () => {
    await env.db.query(`CREATE TABLE rise_by (id int PRIMARY KEY, v text);
      INSERT INTO rise_by SELECT i, 'old' FROM generate_series(0, 99, 4) i`);
    const rows = Array.from({ length: 100 }, (_, i) => [i, `n${i}`]);
    const f = await env.dir.write('rise_by.csv', csv('id,v', rows));
    const r = await env.load('rise_by', [f], { batchSize: 9, internalConcurrency: 2 });
    expect(r.exitCode).toBe(0);
    const v17 = (await env.num(`SELECT current_setting('server_version_num')::int`)) >= 170000;
    expect([r.files[0]?.mergedAsLanded, r.files[0]?.mergedBy]).toEqual([true, v17 ? 'MERGE' : 'INSERT']);
    expect(await env.num(`SELECT count(*) FROM rise_by WHERE v = 'n' || id`)).toBe(100);
    const [a] = await auditOf(f);
    expect([a?.rows_read, a?.rows_inserted, a?.rows_updated]).toEqual(['100', '75', '25']);
  });

  it('merges as it lands sub-batches with a key twice or falling inside them, by either statement, the same rows', async () => {
    await env.db.query(`CREATE TABLE rise_mixed (id int PRIMARY KEY, v text);
      INSERT INTO rise_mixed SELECT i, 'old' FROM generate_series(0, 60, 5) i`);
    // sub-batches of 10: 0-9; 10-18 with 15 twice (the later wins); 29 down to 20; 30-39 rising
    const ids = [...Array.from({ length: 16 }, (_, i) => i), 15, 16, 17, 18];
    ids.push(
      ...Array.from({ length: 10 }, (_, i) => 29 - i),
      ...Array.from({ length: 10 }, (_, i) => 30 + i),
    );
    const f = await env.dir.write(
      'rise_mixed.csv',
      csv(
        'id,v',
        ids.map((id, k) => [id, `n${k}`]),
      ),
    );
    const r = await env.load('rise_mixed', [f], { batchSize: 10, internalConcurrency: 2 });
    expect(r.exitCode).toBe(0);
    expect(r.files[0]?.mergedAsLanded).toBe(true);
    const [a] = await auditOf(f);
    expect([a?.rows_read, a?.rows_inserted, a?.rows_updated, a?.rows_skipped]).toEqual([
      '40',
      '31',
      '8',
      '1',
    ]);
    const v = await env.rows<{ id: number; v: string }>(
      'SELECT id, v FROM rise_mixed WHERE id IN (14, 15, 16, 20, 29, 39, 45) ORDER BY id',
    );
    expect(v.map((x) => `${x.id}=${x.v}`)).toEqual([
      '14=n14',
      '15=n16',
      '16=n17',
      '20=n29',
      '29=n20',
      '39=n39',
      '45=old',
    ]);
  });

  it('resolves a key repeated in one file to its last occurrence, across sub-batches finishing in any order', async () => {
    await env.db.query('CREATE TABLE last_wins (id int PRIMARY KEY, v int, batch_hint text)');
    // 60 rows, keys 0..6 repeating; with batchSize 2 the repeats fall in different sub-batches.
    const rows = Array.from({ length: 60 }, (_, i) => [i % 7, i, `b${Math.floor(i / 2)}`]);
    const f = await env.dir.write('last_wins.csv', csv('id,v,batch_hint', rows));
    const r = await env.load('last_wins', [f], { batchSize: 2, internalConcurrency: 4 });
    expect(r.exitCode).toBe(0);
    expect(r.files[0]?.subBatches).toBe(30);
    const expected = Array.from({ length: 7 }, (_, k) => ({
      id: k,
      v: Math.max(...rows.filter((x) => x[0] === k).map((x) => x[1] as number)),
    }));
    expect(await env.rows('SELECT id, v FROM last_wins ORDER BY id')).toEqual(expected);
    const [a] = await auditOf(f);
    expect([a?.rows_read, a?.rows_inserted, a?.rows_updated, a?.rows_skipped]).toEqual([
      '60',
      '7',
      '0',
      '53',
    ]);
  });

  it('resolves a key in two files of one run to the later file in sorted path order', async () => {
    await env.db.query('CREATE TABLE two_files (id int PRIMARY KEY, src text)');
    // The earlier file is the bigger one, so it would finish last if merges did not wait their turn.
    const big = Array.from({ length: 3000 }, (_, i) => [i, 'a']);
    const a = await env.dir.write('two/a.csv', csv('id,src', big));
    const b = await env.dir.write(
      'two/b.csv',
      csv('id,src', [
        [1, 'b'],
        [2999, 'b'],
      ]),
    );
    const c = await env.dir.write('two/c.csv', csv('id,src', [[2999, 'c']]));
    const r = await env.load('two_files', [c, b, a], { batchSize: 100, concurrency: 3 });
    expect(r.exitCode).toBe(0);
    expect(r.files.map((x) => x.path)).toEqual([a, b, c]);
    expect(await env.rows('SELECT id, src FROM two_files WHERE id IN (0, 1, 2999) ORDER BY id')).toEqual([
      { id: 0, src: 'a' },
      { id: 1, src: 'b' },
      { id: 2999, src: 'c' },
    ]);
    expect(await env.num('SELECT count(*) FROM two_files')).toBe(3000);
  });
});

describe('append and insert-only', () => {
  it('appends by default without a key, keeping duplicate rows', async () => {
    await env.db.query('CREATE TABLE app (id int, v text)');
    const f1 = await env.dir.write(
      'app/1.csv',
      csv('id,v', [
        [1, 'x'],
        [1, 'x'],
      ]),
    );
    const f2 = await env.dir.write(
      'app/2.csv',
      csv('id,v', [
        [1, 'y'],
        [2, 'z'],
      ]),
    );
    const r = await env.load('app', [f1, f2], { batchSize: 1 });
    expect(r.exitCode).toBe(0);
    expect(r.mode).toBe('append');
    expect(await env.num('SELECT count(*) FROM app')).toBe(4);
    expect(await env.num('SELECT count(*) FROM app WHERE id = 1')).toBe(3);
    const audit = [...(await auditOf(f1)), ...(await auditOf(f2))];
    expect(audit.map((x) => [x.mode, x.rows_inserted, x.rows_skipped])).toEqual([
      ['append', '2', '0'],
      ['append', '2', '0'],
    ]);
  });

  it('insert-only skips existing keys and counts them in rows_skipped', async () => {
    await env.db.query(
      `CREATE TABLE ins (id int PRIMARY KEY, v text); INSERT INTO ins VALUES (1, 'old'), (2, 'old')`,
    );
    const f = await env.dir.write(
      'ins.csv',
      csv('id,v', [
        [1, 'new'],
        [2, 'new'],
        [3, 'new'],
        [3, 'newer'],
      ]),
    );
    const r = await env.load('ins', [f], { mode: 'insert-only' });
    expect(r.exitCode).toBe(0);
    expect(await env.rows('SELECT id, v FROM ins ORDER BY id')).toEqual([
      { id: 1, v: 'old' },
      { id: 2, v: 'old' },
      { id: 3, v: 'newer' },
    ]);
    const [a] = await auditOf(f);
    expect([a?.mode, a?.rows_read, a?.rows_inserted, a?.rows_updated, a?.rows_skipped]).toEqual([
      'insert-only',
      '4',
      '1',
      '0',
      '3',
    ]);
    expect(r.totals.rowsSkipped).toBe(3);
  });
});

describe('replace', () => {
  it("replaces the table's contents with the run's files together", async () => {
    await env.db.query(
      `CREATE TABLE rep (id int, v text); INSERT INTO rep VALUES (100, 'old'), (101, 'old')`,
    );
    const f1 = await env.dir.write(
      'rep/1.csv',
      csv('id,v', [
        [1, 'a'],
        [2, 'a'],
      ]),
    );
    const f2 = await env.dir.write('rep/2.csv', csv('id,v', [[3, 'b']]));
    const r = await env.load('rep', [f1, f2], { mode: 'replace', batchSize: 1 });
    expect(r.exitCode).toBe(0);
    expect(await env.rows('SELECT id, v FROM rep ORDER BY id')).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'a' },
      { id: 3, v: 'b' },
    ]);
    const audit = [...(await auditOf(f1)), ...(await auditOf(f2))];
    expect(audit.map((x) => [x.status, x.mode, x.rows_inserted])).toEqual([
      ['succeeded', 'replace', '2'],
      ['succeeded', 'replace', '1'],
    ]);
    // The same files again are not skipped: replace ignores the already-loaded check. An empty file takes part.
    const empty = await env.dir.write('rep/3-empty.csv', '');
    const again = await env.load('rep', [f1, f2, empty], { mode: 'replace' });
    expect(again.totals.succeeded).toBe(3);
    expect(await env.num('SELECT count(*) FROM rep')).toBe(3);
  });

  it('replaces nothing when any file of the run fails: the old rows remain', async () => {
    await env.db.query(
      `CREATE TABLE rep2 (id int, v text); INSERT INTO rep2 VALUES (100, 'old'), (101, 'old')`,
    );
    const good = await env.dir.write('rep2/a-good.csv', csv('id,v', [[1, 'a']]));
    const bad = await env.dir.write(
      'rep2/b-bad.csv',
      csv('id,v', [
        [2, 'b'],
        ['two', 'b'],
      ]),
    );
    const r = await env.load('rep2', [good, bad], { mode: 'replace' });
    expect(r.exitCode).toBe(1);
    expect(r.files.map((x) => x.status)).toEqual(['failed', 'failed']);
    expect(r.files[0]?.error?.code).toBe('REPLACE_ABORTED');
    expect(r.files[1]?.error?.code).toBe('DATA');
    expect(await env.rows('SELECT id, v FROM rep2 ORDER BY id')).toEqual([
      { id: 100, v: 'old' },
      { id: 101, v: 'old' },
    ]);
    const audit = [...(await auditOf(good)), ...(await auditOf(bad))];
    expect(audit.map((x) => [x.status, x.error_code])).toEqual([
      ['failed', 'REPLACE_ABORTED'],
      ['failed', 'DATA'],
    ]);
    // No staging table is left behind.
    expect(await env.num(`SELECT count(*) FROM pg_class WHERE relname LIKE 'loader_stg_%'`)).toBe(0);
  });
});

describe('--key', () => {
  it('fails a file that lacks the key column in upsert mode, naming the column', async () => {
    await env.db.query('CREATE TABLE keyless_file (id int PRIMARY KEY, v text)');
    const f = await env.dir.write('keyless_file.csv', csv('v', [['x']]));
    const r = await env.load('keyless_file', [f]);
    expect(r.exitCode).toBe(1);
    expect([r.files[0]?.error?.code, r.files[0]?.error?.column]).toEqual(['COLUMNS', 'id']);
  });

  it("replace with a key: the later file wins a key, and the table holds only the run's rows", async () => {
    await env.db.query(`CREATE TABLE repk (id int PRIMARY KEY, v text); INSERT INTO repk VALUES (9, 'old')`);
    const f1 = await env.dir.write(
      'repk/1.csv',
      csv('id,v', [
        [1, 'a'],
        [2, 'a'],
      ]),
    );
    const f2 = await env.dir.write('repk/2.csv', csv('id,v', [[2, 'b']]));
    const r = await env.load('repk', [f2, f1], { mode: 'replace' });
    expect(r.exitCode).toBe(0);
    expect(await env.rows('SELECT id, v FROM repk ORDER BY id')).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'b' },
    ]);
  });

  it('upserts on a composite unique index named with --key', async () => {
    await env.db.query(
      `CREATE TABLE comp (id serial PRIMARY KEY, a int, b text, v int, UNIQUE (b, a));
       INSERT INTO comp (a, b, v) VALUES (1, 'x', 10), (1, 'y', 20)`,
    );
    const f = await env.dir.write(
      'comp.csv',
      csv('a,b,v', [
        [1, 'y', 21],
        [2, 'x', 30],
        [1, 'x', 11],
      ]),
    );
    const r = await env.load('comp', [f], { key: ['a', 'b'] });
    expect(r.exitCode).toBe(0);
    expect(r.mode).toBe('upsert');
    expect(await env.rows('SELECT a, b, v FROM comp ORDER BY a, b')).toEqual([
      { a: 1, b: 'x', v: 11 },
      { a: 1, b: 'y', v: 21 },
      { a: 2, b: 'x', v: 30 },
    ]);
    const [a] = await auditOf(f);
    expect([a?.rows_inserted, a?.rows_updated]).toEqual(['1', '2']);
  });

  it('fails clearly when --key matches no unique index: load() rejects with TARGET, the CLI exits 3', async () => {
    await env.db.query('CREATE TABLE nokey (id int PRIMARY KEY, a int, v text)');
    const f = await env.dir.write('nokey.csv', csv('id,a,v', [[1, 1, 'x']]));
    const err = await env.load('nokey', [f], { key: ['a'] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LoaderError);
    expect((err as InstanceType<typeof LoaderError>).code).toBe('TARGET');
    const r = await runCli(['--dsn', env.db.dsn, '--table', 'nokey', '--key', 'a,v', f]);
    expect(r.code).toBe(3);
    expect(await env.num('SELECT count(*) FROM nokey')).toBe(0);
  });
});
