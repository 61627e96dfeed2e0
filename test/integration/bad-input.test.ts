// Bad input never crashes the process and never leaves partial data: each case fails its own file (or is handled
// as documented) with one clear line, the other files load, and the run exits 1.
import { execFileSync } from 'node:child_process';
import { mkdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { auditRows, runCli, waitForCopy } from '../helpers.js';
import { csv, useEnv } from './support.js';

const env = useEnv('badin');

/** The first half of a buffer: a gzip stream cut short. */
function truncated(b: Buffer): Buffer {
  return b.subarray(0, Math.floor(b.length / 2));
}

describe('bad input, each file alone', () => {
  it('fails each bad file with its own reason while the good files load', async () => {
    await env.db.query('CREATE TABLE bad_in (id int, v text)');
    const d = 'mix';
    const good = await env.dir.write(
      `${d}/00 good.csv`,
      csv('id,v', [
        [1, 'a'],
        [2, 'b'],
      ]),
    );
    const cases: Record<string, { path: string; code: string }> = {
      garbage: {
        path: await env.dir.write(
          `${d}/garbage.csv`,
          Buffer.from([0x89, 0x00, 0xff, 0x10, 0x00, 0x01, 0x02, 0x03, 0x00, 0x7f]),
        ),
        code: 'DETECT',
      },
      truncatedGzip: {
        path: await env.dir.write(
          `${d}/trunc.csv.gz`,
          truncated(
            gzipSync(
              csv(
                'id,v',
                Array.from({ length: 5000 }, (_, i) => [i, `row ${i * 7919}`]),
              ),
            ),
          ),
        ),
        code: 'READ',
      },
      nul: { path: await env.dir.write(`${d}/nul.csv`, 'id,v\n5,a\u0000b\n'), code: 'DETECT' },
      nonUtf8: {
        path: await env.dir.write(
          `${d}/latin1.csv`,
          Buffer.concat([Buffer.from('id,v\n6,caf'), Buffer.from([0xe9]), Buffer.from('\n')]),
        ),
        code: 'DATA',
      },
      unterminated: {
        path: await env.dir.write(`${d}/unterminated.csv`, 'id,v\n7,"open\n8,x\n'),
        code: 'CSV',
      },
      ragged: { path: await env.dir.write(`${d}/ragged.csv`, 'id,v\n9,a\n10,b,extra\n'), code: 'DATA' },
      duplicateHeader: { path: await env.dir.write(`${d}/dup.csv`, 'id,id\n11,12\n'), code: 'COLUMNS' },
      emptyHeader: { path: await env.dir.write(`${d}/emptyhdr.csv`, 'id,,v\n13,x,y\n'), code: 'COLUMNS' },
      injectionHeader: {
        path: await env.dir.write(`${d}/inject.csv`, 'id,"v); DROP TABLE bad_in; --"\n14,x\n'),
        code: 'COLUMNS',
      },
    };
    const r = await env.load('bad_in', [good, ...Object.values(cases).map((c) => c.path)]);
    expect(r.exitCode).toBe(1);
    const byPath = new Map(r.files.map((f) => [f.path, f]));
    expect(byPath.get(good)?.status).toBe('succeeded');
    for (const [name, c] of Object.entries(cases)) {
      const f = byPath.get(c.path);
      expect({ name, status: f?.status, code: f?.error?.code, message: f?.error?.message }).toMatchObject({
        name,
        status: 'failed',
        code: c.code,
      });
      expect(f?.error?.message.length).toBeGreaterThan(10);
    }
    // Only the good files' rows are in the table; the table itself survived the injection attempt.
    expect((await env.rows<{ id: number }>('SELECT id FROM bad_in ORDER BY id')).map((x) => x.id)).toEqual([
      1, 2,
    ]);
    const audit = await auditRows(env.db);
    for (const c of Object.values(cases))
      expect(audit.find((a) => a.file_path === c.path)?.status).toBe('failed');
  });

  it('fails a file deleted between discovery and load, and loads the others', async () => {
    await env.db.query('CREATE TABLE gone_in (id int, v text)');
    const first = await env.dir.write(
      'gone/a.csv',
      csv(
        'id,v',
        Array.from({ length: 100_000 }, (_, i) => [i, 'x']),
      ),
    );
    const gone = await env.dir.write('gone/b.csv', csv('id,v', [[-1, 'y']]));
    const watcher = (async () => {
      await waitForCopy(env.db);
      await rm(gone);
    })();
    const r = await env.load('gone_in', [first, gone], { concurrency: 1 });
    await watcher;
    expect(r.exitCode).toBe(1);
    expect(r.files.map((f) => [f.status, f.error?.code])).toEqual([
      ['succeeded', undefined],
      ['failed', 'READ'],
    ]);
    expect(await env.num('SELECT count(*) FROM gone_in')).toBe(100_000);
  });

  it('names the line of an unterminated quote and of a ragged row', async () => {
    await env.db.query('CREATE TABLE lines_in (id int, v text)');
    const a = await env.dir.write('lines/a.csv', 'id,v\n1,x\n2,"never closed\n3,y\n');
    const b = await env.dir.write('lines/b.csv', 'id,v\n1,x\n2,y\n3,z,extra\n');
    const r = await env.load('lines_in', [a, b]);
    expect(r.files.find((f) => f.path === a)?.error).toMatchObject({ code: 'CSV', line: 3 });
    expect(r.files.find((f) => f.path === b)?.error).toMatchObject({ code: 'DATA', line: 4 });
  });

  it('loads latin1 bytes right with --encoding LATIN1, a 10 MB field, and odd file names', async () => {
    await env.db.query('CREATE TABLE odd_in (id int, v text)');
    const latin = await env.dir.write(
      'odd/latin1.csv',
      Buffer.concat([Buffer.from('id,v\n1,caf'), Buffer.from([0xe9]), Buffer.from('\n')]),
    );
    const r1 = await env.load('odd_in', [latin], { encoding: 'LATIN1' });
    expect(r1.exitCode).toBe(0);
    const big = 'x'.repeat(10 * 1024 * 1024);
    const names = ['odd/with space.csv', 'odd/[brackets].csv', 'odd/día ünïcödé.csv'];
    const paths = [await env.dir.write(names[0]!, `id,v\n2,"${big}"\n`)];
    paths.push(await env.dir.write(names[1]!, 'id,v\n3,b\n'), await env.dir.write(names[2]!, 'id,v\n4,c\n'));
    const r2 = await env.load('odd_in', paths);
    expect(r2.exitCode).toBe(0);
    expect(await env.rows('SELECT id, length(v) AS n FROM odd_in ORDER BY id')).toEqual([
      { id: 1, n: 4 },
      { id: 2, n: big.length },
      { id: 3, n: 1 },
      { id: 4, n: 1 },
    ]);
    expect((await env.rows<{ v: string }>('SELECT v FROM odd_in WHERE id = 1'))[0]?.v).toBe('café');
  });

  it('matches a header name longer than 63 bytes to the column PostgreSQL truncated it to', async () => {
    const long = 'a_very_long_column_name_that_goes_on_and_on_past_the_sixty_three_byte_limit';
    await env.db.query(`CREATE TABLE long_in (id int, ${long} text)`);
    const f = await env.dir.write('long.csv', `id,${long}\n1,x\n`);
    const r = await env.load('long_in', [f]);
    expect(r.exitCode).toBe(0);
    expect(await env.num('SELECT count(*) FROM long_in')).toBe(1);
  });

  it('fails a file of 2,000 columns clearly', async () => {
    await env.db.query('CREATE TABLE wide_in (id int)');
    const header = Array.from({ length: 2000 }, (_, i) => `c${i}`).join(',');
    const f = await env.dir.write(
      'wide.csv',
      `${header}\n${Array.from({ length: 2000 }, (_, i) => i).join(',')}\n`,
    );
    const r = await env.load('wide_in', [f]);
    expect(r.exitCode).toBe(1);
    expect(r.files[0]?.error?.code).toBe('COLUMNS');
  });

  it('skips a directory, a FIFO and a symlink loop matched by a glob, and loads the rest', async () => {
    await env.db.query('CREATE TABLE glob_in (id int)');
    const base = join(env.dir.path, 'globbed');
    await mkdir(join(base, 'dir.csv'), { recursive: true });
    execFileSync('mkfifo', [join(base, 'fifo.csv')]);
    await symlink(join(base, 'loop.csv'), join(base, 'loop.csv')).catch(() => {});
    await env.dir.write('globbed/ok.csv', 'id\n1\n');
    const r = await runCli(['--dsn', env.db.dsn, '--table', 'glob_in', `${base}/*.csv`]);
    expect(r.code).toBe(0);
    expect(await env.num('SELECT count(*) FROM glob_in')).toBe(1);
    // Named literally, a directory and a FIFO fail alone with a clear reason.
    const r2 = await env.load('glob_in', [join(base, 'dir.csv'), join(base, 'fifo.csv')]);
    expect(r2.exitCode).toBe(1);
    expect(r2.files.map((f) => f.error?.code)).toEqual(['READ', 'READ']);
  });

  it('rejects SQL injection in --table as a bad name or a missing table, touching nothing', async () => {
    await env.db.query('CREATE TABLE victim (id int)');
    const f = await env.dir.write('inj.csv', 'id\n1\n');
    const r = await runCli(['--dsn', env.db.dsn, '--table', 'victim; DROP TABLE victim', f]);
    expect(r.code).toBe(2);
    const r2 = await runCli(['--dsn', env.db.dsn, '--table', '"victim; DROP TABLE victim"', f]);
    expect(r2.code).toBe(3);
    expect(await env.num(`SELECT count(*) FROM pg_class WHERE relname = 'victim'`)).toBe(1);
  });
});
