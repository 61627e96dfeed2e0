import { describe, it, expect } from 'vitest';
import { chooseMode, type Column } from '../../src/catalog.js';
import type { Config } from '../../src/config.js';
import { LoaderError } from '../../src/errors.js';

function col(name: string): Column {
  return { name, type: 'text', notNull: false, hasDefault: false, generated: false, identity: '' };
}

const columns = [col('id'), col('Day'), col('region'), col('amount')];
const cfg = (o: Partial<Pick<Config, 'mode' | 'key'>> = {}): Pick<Config, 'mode' | 'key' | 'tableText'> => ({
  mode: undefined,
  key: undefined,
  tableText: 'public.sales',
  ...o,
});

function targetError(fn: () => unknown): LoaderError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LoaderError);
    expect((err as LoaderError).code).toBe('TARGET');
    return err as LoaderError;
  }
  throw new Error('expected a TARGET error');
}

describe('chooseMode: defaults', () => {
  it('upsert on the primary key when there is one', () => {
    expect(chooseMode(cfg(), [['id'], ['Day', 'region']], ['id'], columns)).toEqual({
      mode: 'upsert',
      key: ['id'],
    });
  });

  it('append without a primary key, even with other unique indexes', () => {
    expect(chooseMode(cfg(), [['Day', 'region']], undefined, columns)).toEqual({
      mode: 'append',
      key: undefined,
    });
    expect(chooseMode(cfg(), [], undefined, columns)).toEqual({ mode: 'append', key: undefined });
  });

  it('an explicit append drops the key', () => {
    expect(chooseMode(cfg({ mode: 'append' }), [['id']], ['id'], columns)).toEqual({
      mode: 'append',
      key: undefined,
    });
  });

  it('replace keeps the primary key, or none', () => {
    expect(chooseMode(cfg({ mode: 'replace' }), [['id']], ['id'], columns)).toEqual({
      mode: 'replace',
      key: ['id'],
    });
    expect(chooseMode(cfg({ mode: 'replace' }), [], undefined, columns)).toEqual({
      mode: 'replace',
      key: undefined,
    });
  });

  it('insert-only uses the primary key', () => {
    expect(chooseMode(cfg({ mode: 'insert-only' }), [['id']], ['id'], columns)).toEqual({
      mode: 'insert-only',
      key: ['id'],
    });
  });
});

describe('chooseMode: --key', () => {
  const unique = [['id'], ['Day', 'region']];

  it('matches a unique index in any column order, keeping the order given', () => {
    expect(chooseMode(cfg({ key: ['region', 'Day'] }), unique, ['id'], columns)).toEqual({
      mode: 'upsert',
      key: ['region', 'Day'],
    });
  });

  it('selects upsert without a primary key', () => {
    expect(chooseMode(cfg({ key: ['Day', 'region'] }), unique, undefined, columns)).toEqual({
      mode: 'upsert',
      key: ['Day', 'region'],
    });
  });

  it('resolves column names case-insensitively to the catalog spelling', () => {
    expect(chooseMode(cfg({ key: ['day', 'REGION'] }), unique, undefined, columns).key).toEqual([
      'Day',
      'region',
    ]);
  });

  it('works with insert-only', () => {
    expect(chooseMode(cfg({ mode: 'insert-only', key: ['id'] }), unique, undefined, columns)).toEqual({
      mode: 'insert-only',
      key: ['id'],
    });
  });

  it('must match a whole unique index, not a part or a superset', () => {
    const e = targetError(() => chooseMode(cfg({ key: ['Day'] }), unique, undefined, columns));
    expect(e.message).toContain('--key (Day) matches no unique index or primary key of public.sales');
    expect(e.message).toContain('CREATE UNIQUE INDEX ON public.sales ("Day")');
    targetError(() => chooseMode(cfg({ key: ['id', 'Day'] }), unique, undefined, columns));
  });

  it('names a column that is not in the table', () => {
    const e = targetError(() => chooseMode(cfg({ key: ['nope'] }), unique, undefined, columns));
    expect(e.message).toBe('--key column "nope" is not a column of public.sales');
  });

  it('refuses an ambiguous case-insensitive name; an exact name wins', () => {
    const cs = [col('Ab'), col('aB'), col('c')];
    const e = targetError(() => chooseMode(cfg({ key: ['ab'] }), [['Ab'], ['aB']], undefined, cs));
    expect(e.message).toBe('--key column "ab" is not a column of public.sales');
    expect(chooseMode(cfg({ key: ['aB'] }), [['Ab'], ['aB']], undefined, cs).key).toEqual(['aB']);
  });
});

describe('chooseMode: errors', () => {
  it.each(['upsert', 'insert-only'] as const)('%s without any key fails clearly', (mode) => {
    const e = targetError(() => chooseMode(cfg({ mode }), [['Day', 'region']], undefined, columns));
    expect(e.message).toContain(`--mode ${mode} needs a key`);
    expect(e.message).toContain('public.sales has no primary key');
    expect(e.message).toContain('--key');
  });
});
