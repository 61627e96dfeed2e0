// --on-error reject-rows: bad rows go to <rejects-dir>/<file>.rejects.csv (raw) and .rejects.log (line, byte,
// column, SQLSTATE, reason); the rest loads. Found by COPY's line at COPY time and by bisection at merge time.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditRows } from '../helpers.js';
import { useEnv } from './support.js';

const env = useEnv('rejects');

/** 30 records `id,qty,note`; record i starts on line firstLine[i]. Bad records as given. */
function file(bad: Record<number, string>): { body: string; firstLine: number[] } {
  const out = ['id,qty,note\n'];
  const firstLine: number[] = [];
  let line = 2;
  for (let i = 0; i < 30; i++) {
    firstLine.push(line);
    const rec = bad[i] ?? (i % 10 === 3 ? `${i},${i},"two\nlines ${i}"` : `${i},${i},n${i}`);
    out.push(rec + '\n');
    line += rec.split('\n').length;
  }
  return { body: out.join(''), firstLine };
}

describe('reject-rows', () => {
  it('sets aside type, field-count and NOT NULL errors at COPY time across sub-batches; the rest loads', async () => {
    await env.db.query('CREATE TABLE rj (id int PRIMARY KEY, qty int NOT NULL, note text)');
    const bad = { 4: '4,four,bad', 13: '13,"multi\nline",x', 17: '17,17,n,extra', 25: '25,,nul' };
    const f = file(bad);
    const path = await env.dir.write('rj.csv', f.body);
    const dir = join(env.dir.path, 'rejects-1');
    const r = await env.load('rj', [path], {
      onError: 'reject-rows',
      rejectsDir: dir,
      batchSize: 7,
      internalConcurrency: 3,
    });
    expect(r.exitCode).toBe(0);
    expect(r.files[0]).toMatchObject({
      status: 'succeeded',
      rowsRejected: 4,
      rowsInserted: 26,
      rowsRead: 30,
    });
    expect((await env.rows<{ id: number }>('SELECT id FROM rj ORDER BY id')).map((x) => x.id)).toEqual(
      Array.from({ length: 30 }, (_, i) => i).filter((i) => !(i in bad)),
    );
    const csvOut = await readFile(join(dir, 'rj.csv.rejects.csv'), 'utf8');
    expect(csvOut).toBe(`id,qty,note\n${Object.values(bad).join('\n')}\n`);
    const log = (await readFile(join(dir, 'rj.csv.rejects.log'), 'utf8')).trim().split('\n');
    expect(log).toHaveLength(4);
    Object.keys(bad).forEach((k, i) => expect(log[i]).toContain(`line ${f.firstLine[Number(k)]},`));
    expect(log[0]).toContain('column "qty"');
    expect(log[0]).toContain('SQLSTATE 22P02');
    expect(log[3]).toContain('23502');
    const [a] = await auditRows(env.db);
    expect([a?.status, a?.rows_rejected, a?.rows_inserted]).toEqual(['succeeded', '4', '26']);
  });

  it('finds CHECK and unique violations at merge time by bisection, with their lines', async () => {
    await env.db.query(
      'CREATE TABLE rj_merge (id int PRIMARY KEY, qty int CHECK (qty < 100), note text UNIQUE)',
    );
    const bad = { 8: '8,500,n8', 21: '21,21,n2' }; // qty too big; note n2 repeats record 2's
    const f = file(bad);
    const path = await env.dir.write('rj_merge.csv', f.body);
    const dir = join(env.dir.path, 'rejects-2');
    const r = await env.load('rj_merge', [path], { onError: 'reject-rows', rejectsDir: dir, batchSize: 10 });
    expect(r.files[0]).toMatchObject({ status: 'succeeded', rowsRejected: 2, rowsInserted: 28 });
    expect(await env.num('SELECT count(*) FROM rj_merge')).toBe(28);
    const log = await readFile(join(dir, 'rj_merge.csv.rejects.log'), 'utf8');
    expect(log).toContain(`line ${f.firstLine[8]},`);
    expect(log).toContain(`line ${f.firstLine[21]},`);
    expect(log).toContain('23514');
    expect(log).toContain('23505');
  });

  it('rejects on the direct append path too (one sub-batch)', async () => {
    await env.db.query('CREATE TABLE rj_direct (id int, qty int, note text)');
    const f = file({ 6: '6,six,x' });
    const path = await env.dir.write('rj_direct.csv', f.body);
    const r = await env.load('rj_direct', [path], {
      onError: 'reject-rows',
      rejectsDir: join(env.dir.path, 'rj3'),
    });
    expect(r.files[0]).toMatchObject({ status: 'succeeded', rowsRejected: 1, rowsInserted: 29 });
    expect(await env.num('SELECT count(*) FROM rj_direct')).toBe(29);
  });

  it('fails the file past --max-rejects (a count or a percentage), loading nothing', async () => {
    await env.db.query('CREATE TABLE rj_max (id int PRIMARY KEY, qty int, note text)');
    const path = await env.dir.write('rj_max.csv', file({ 1: '1,x,a', 2: '2,y,b', 3: '3,z,c' }).body);
    for (const maxRejects of ['2', '5%']) {
      const r = await env.load('rj_max', [path], {
        onError: 'reject-rows',
        maxRejects,
        rejectsDir: join(env.dir.path, 'rj4'),
      });
      expect(r.exitCode).toBe(1);
      expect(r.files[0]?.error?.code).toBe('DATA');
      expect(r.files[0]?.error?.message).toContain('--max-rejects');
      expect(await env.num('SELECT count(*) FROM rj_max')).toBe(0);
    }
    const ok = await env.load('rj_max', [path], {
      onError: 'reject-rows',
      maxRejects: '10%',
      rejectsDir: join(env.dir.path, 'rj4'),
    });
    expect(ok.files[0]).toMatchObject({ status: 'succeeded', rowsRejected: 3 });
  });

  // Regression: replace counted COPY-time rejects in rows_rejected but never wrote the rejects files.
  it('writes the rejects files of a replace run once the replace commits', async () => {
    await env.db.query('CREATE TABLE rj_replace (id int, qty int, note text)');
    await env.db.query("INSERT INTO rj_replace VALUES (999, 1, 'old')");
    const bad = { 5: '5,five,x' };
    const path = await env.dir.write('rj_replace.csv', file(bad).body);
    const dir = join(env.dir.path, 'rj-replace');
    const r = await env.load('rj_replace', [path], {
      mode: 'replace',
      onError: 'reject-rows',
      rejectsDir: dir,
      batchSize: 8,
    });
    expect(r.exitCode).toBe(0);
    expect(r.files[0]).toMatchObject({ status: 'succeeded', rowsRejected: 1, rowsInserted: 29 });
    expect(await env.num('SELECT count(*) FROM rj_replace WHERE id = 999')).toBe(0);
    expect(await env.num('SELECT count(*) FROM rj_replace')).toBe(29);
    expect(await readFile(join(dir, 'rj_replace.csv.rejects.csv'), 'utf8')).toBe(`id,qty,note\n${bad[5]}\n`);
    expect(await readFile(join(dir, 'rj_replace.csv.rejects.log'), 'utf8')).toContain('SQLSTATE 22P02');
  });
});

describe('abort-file', () => {
  it('names the line of a constraint violation found at merge time', async () => {
    await env.db.query('CREATE TABLE ab_merge (id int PRIMARY KEY, qty int CHECK (qty < 100), note text)');
    const f = file({ 19: '19,500,n' });
    const path = await env.dir.write('ab_merge.csv', f.body);
    const r = await env.load('ab_merge', [path], { batchSize: 4 });
    expect(r.exitCode).toBe(1);
    expect(r.files[0]?.error).toMatchObject({ code: 'DATA', line: f.firstLine[19] });
    expect(await env.num('SELECT count(*) FROM ab_merge')).toBe(0);
  });
});
