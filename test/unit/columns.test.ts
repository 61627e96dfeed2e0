import { describe, it, expect } from 'vitest';
import type { Column } from '../../src/catalog.js';
import { mapColumns } from '../../src/columns.js';
import { LoaderError } from '../../src/errors.js';

function col(name: string, extra: Partial<Column> = {}): Column {
  return { name, type: 'text', notNull: false, hasDefault: false, generated: false, identity: '', ...extra };
}

const target = {
  columns: [col('id', { type: 'integer', notNull: true }), col('Name'), col('amount', { type: 'numeric' })],
  key: ['id'] as string[] | undefined,
};
const noKey = { ...target, key: undefined };

function columnsError(fn: () => unknown): LoaderError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LoaderError);
    expect((err as LoaderError).code).toBe('COLUMNS');
    return err as LoaderError;
  }
  throw new Error('expected a COLUMNS error');
}

const summary = (cs: ReturnType<typeof mapColumns>) =>
  cs.map((c) => [c.source, c.target?.name, c.stagingName]);

describe('mapColumns with a header', () => {
  it('maps exact names in file order', () => {
    const out = mapColumns(['amount', 'id', 'Name'], 3, target, 'upsert', false, 'public.t');
    expect(summary(out)).toEqual([
      ['amount', 'amount', 'amount'],
      ['id', 'id', 'id'],
      ['Name', 'Name', 'Name'],
    ]);
    expect(out[1]!.target).toBe(target.columns[0]);
  });

  it('falls back to a case-insensitive match, and trims names', () => {
    const out = mapColumns([' ID ', 'name', 'AMOUNT'], 3, target, 'upsert', false, 't');
    expect(summary(out)).toEqual([
      ['ID', 'id', 'id'],
      ['name', 'Name', 'Name'],
      ['AMOUNT', 'amount', 'amount'],
    ]);
  });

  it('prefers the exact match when two columns differ only by case', () => {
    const t = { columns: [col('a'), col('A')], key: undefined };
    expect(summary(mapColumns(['A', 'a'], 2, t, 'append', false, 't'))).toEqual([
      ['A', 'A', 'A'],
      ['a', 'a', 'a'],
    ]);
  });

  it('refuses an ambiguous case-insensitive match', () => {
    const t = { columns: [col('Ab'), col('aB'), col('b')], key: undefined };
    const e = columnsError(() => mapColumns(['b', 'ab'], 2, t, 'append', false, 't'));
    expect(e.context.column).toBe('ab');
    // an exact name is not ambiguous
    expect(summary(mapColumns(['b', 'aB'], 2, t, 'append', false, 't'))[1]).toEqual(['aB', 'aB', 'aB']);
  });

  it('a subset of the columns is fine', () => {
    expect(mapColumns(['id'], 1, target, 'upsert', false, 't')).toHaveLength(1);
  });

  it('fails on an unknown column, naming it and the table', () => {
    const e = columnsError(() => mapColumns(['id', 'colour'], 2, target, 'upsert', false, 'public.t'));
    expect(e.message).toContain('column "colour" is not in public.t');
    expect(e.message).toContain('--ignore-extra-columns');
    expect(e.context.column).toBe('colour');
  });

  it('keeps an unknown column as an extra with ignoreExtra', () => {
    const out = mapColumns(['id', 'colour', 'amount'], 3, target, 'upsert', true, 't');
    expect(summary(out)).toEqual([
      ['id', 'id', 'id'],
      ['colour', undefined, '__loader_extra_2'],
      ['amount', 'amount', 'amount'],
    ]);
  });

  it('refuses a generated column unless extras are ignored', () => {
    const t = { columns: [...target.columns, col('total', { generated: true })], key: ['id'] };
    const e = columnsError(() => mapColumns(['id', 'total'], 2, t, 'upsert', false, 't'));
    expect(e.message).toContain('"total" of t is generated');
    expect(e.context.column).toBe('total');
    expect(summary(mapColumns(['id', 'TOTAL'], 2, t, 'upsert', true, 't'))).toEqual([
      ['id', 'id', 'id'],
      ['TOTAL', undefined, '__loader_extra_2'],
    ]);
  });

  it('refuses two header fields naming the same column, even with ignoreExtra', () => {
    for (const ignore of [false, true]) {
      const e = columnsError(() => mapColumns(['id', 'amount', 'ID'], 3, target, 'upsert', ignore, 't'));
      expect(e.message).toBe('header fields 1 and 3 both name column "id"');
      expect(e.context.column).toBe('id');
    }
  });

  it('refuses an empty header name unless extras are ignored', () => {
    const e = columnsError(() => mapColumns(['id', '  '], 2, target, 'upsert', false, 't'));
    expect(e.message).toContain('header field 2 is empty');
    expect(summary(mapColumns(['id', ''], 2, target, 'upsert', true, 't'))[1]).toEqual([
      '',
      undefined,
      '__loader_extra_2',
    ]);
  });

  it('fails when no header field matches, even with ignoreExtra', () => {
    const e = columnsError(() => mapColumns(['x', 'y'], 2, noKey, 'append', true, 'public.t'));
    expect(e.message).toBe('no column of the file matches a column of public.t');
  });
});

describe('mapColumns without a header', () => {
  it('maps fields to loadable columns by position', () => {
    expect(summary(mapColumns(undefined, 2, target, 'upsert', false, 't'))).toEqual([
      ['field 1', 'id', 'id'],
      ['field 2', 'Name', 'Name'],
    ]);
  });

  it('skips generated columns when counting positions', () => {
    const t = { columns: [col('id'), col('g', { generated: true }), col('v')], key: undefined };
    expect(summary(mapColumns(undefined, 2, t, 'append', false, 't'))).toEqual([
      ['field 1', 'id', 'id'],
      ['field 2', 'v', 'v'],
    ]);
  });

  it('fails when the file has more fields than loadable columns', () => {
    const e = columnsError(() => mapColumns(undefined, 4, target, 'upsert', false, 'public.t'));
    expect(e.message).toContain('the file has 4 fields per record but public.t has 3 loadable columns');
  });

  it('keeps surplus fields as extras with ignoreExtra', () => {
    expect(summary(mapColumns(undefined, 4, target, 'upsert', true, 't'))[3]).toEqual([
      'field 4',
      undefined,
      '__loader_extra_4',
    ]);
  });

  it('fails on zero fields', () => {
    columnsError(() => mapColumns(undefined, 0, noKey, 'append', false, 't'));
  });
});

describe('mapColumns: key columns', () => {
  it.each(['upsert', 'insert-only', 'replace'] as const)('%s needs the key columns in the file', (mode) => {
    const e = columnsError(() => mapColumns(['Name', 'amount'], 2, target, mode, false, 't'));
    expect(e.message).toBe(`key column "id" is missing from the file (mode ${mode})`);
    expect(e.context.column).toBe('id');
  });

  it('lists every missing key column', () => {
    const t = { columns: [col('a'), col('b'), col('v')], key: ['a', 'b'] };
    const e = columnsError(() => mapColumns(['v'], 1, t, 'upsert', false, 't'));
    expect(e.message).toContain('"a", "b"');
    expect(e.context.column).toBe('a');
  });

  it('append does not need the key', () => {
    expect(mapColumns(['Name'], 1, target, 'append', false, 't')).toHaveLength(1);
  });

  it('a key column present only as an ignored extra does not count', () => {
    const t = { columns: [col('id', { generated: true }), col('v')], key: ['id'] };
    columnsError(() => mapColumns(['id', 'v'], 2, t, 'upsert', true, 't'));
  });
});
