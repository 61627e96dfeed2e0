import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { copyFile, link } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { destinationOf, moveFile, numbered, patternBases, relativePlace } from '../../src/settle.js';
import { newResult } from '../../src/file.js';

const dir = mkdtempSync(join(tmpdir(), 'loader-settle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('where a file goes', () => {
  it('loaded and already-loaded files to the archive, failed ones to the error folder, the rest nowhere', () => {
    const r = (status: 'succeeded' | 'failed' | 'skipped' | 'cancelled', code?: string) => ({
      ...newResult('x.csv', status),
      ...(code ? { error: { code, message: '' } } : {}),
    });
    expect(destinationOf(r('succeeded'))).toBe('archive');
    expect(destinationOf(r('skipped', 'ALREADY_LOADED'))).toBe('archive');
    expect(destinationOf(r('failed', 'DATA'))).toBe('error');
    expect(destinationOf(r('cancelled', 'CANCELLED'))).toBeUndefined();
    for (const code of ['IN_PROGRESS', 'DUPLICATE', 'CHANGING', 'TOO_NEW'])
      expect(destinationOf(r('skipped', code))).toBeUndefined();
  });

  it('keeps the place below the pattern fixed part, the longest base first', () => {
    const bases = patternBases(['/data/in/**/*.csv', '/data/in/special/x.csv', 'rel/*.csv'], '/work');
    expect(bases).toEqual(['/data/in', '/data/in/special', '/work/rel']);
    expect(relativePlace('/data/in/2026/01/a.csv', bases)).toBe(join('2026', '01', 'a.csv'));
    expect(relativePlace('/data/in/special/x.csv', bases)).toBe('x.csv');
    expect(relativePlace('rel/b.csv', bases, '/work')).toBe('b.csv');
    expect(relativePlace('/elsewhere/c.csv', bases)).toBe('c.csv');
  });

  it('numbers a taken name before its extensions', () => {
    expect(numbered('/a/x.csv.gz', 0)).toBe('/a/x.csv.gz');
    expect(numbered('/a/x.csv.gz', 2)).toBe('/a/x.2.csv.gz');
    expect(numbered('/a/noext', 1)).toBe('/a/noext.1');
    expect(numbered('/a/.hidden', 1)).toBe('/a/.hidden.1');
  });
});

describe('moveFile', () => {
  it('never overwrites: a second file of the same name becomes name.1', async () => {
    const a = join(dir, 'a.csv');
    writeFileSync(a, 'first');
    expect(await moveFile(a, join(dir, 'out', 'a.csv'))).toBe(join(dir, 'out', 'a.csv'));
    writeFileSync(a, 'second');
    expect(await moveFile(a, join(dir, 'out', 'a.csv'))).toBe(join(dir, 'out', 'a.1.csv'));
    expect(existsSync(a)).toBe(false);
    expect(readFileSync(join(dir, 'out', 'a.csv'), 'utf8')).toBe('first');
    expect(readFileSync(join(dir, 'out', 'a.1.csv'), 'utf8')).toBe('second');
  });

  it('across filesystems (link fails with EXDEV) copies exclusively, then unlinks', async () => {
    const b = join(dir, 'b.csv');
    writeFileSync(b, 'bytes');
    const copies: string[] = [];
    const exdev = (() => {
      throw Object.assign(new Error('cross-device link'), { code: 'EXDEV' });
    }) as unknown as typeof link;
    const to = await moveFile(b, join(dir, 'far', 'b.csv'), {
      link: exdev,
      copyFile: (async (s: string, d: string, m?: number) => {
        copies.push(d);
        return copyFile(s, d, m);
      }) as typeof copyFile,
    });
    expect(copies).toEqual([join(dir, 'far', 'b.csv')]);
    expect(readFileSync(to, 'utf8')).toBe('bytes');
    expect(existsSync(b)).toBe(false);
  });
});
