import { describe, it, expect } from 'vitest';
import { redact, resolveConfig, secretsOf, type LoadOptions } from '../../src/config.js';
import { LoaderError } from '../../src/errors.js';

const base: LoadOptions = { table: 'public.orders', files: ['a.csv'] };
const resolve = (o: Partial<LoadOptions> = {}, env: NodeJS.ProcessEnv = {}) =>
  resolveConfig({ ...base, ...o }, env, '1.2.3');

function usageError(fn: () => unknown): LoaderError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LoaderError);
    expect((err as LoaderError).code).toBe('USAGE');
    return err as LoaderError;
  }
  throw new Error('expected a USAGE error');
}

describe('resolveConfig: defaults', () => {
  it('fills every default once', () => {
    const c = resolve();
    expect(c).toMatchObject({
      target: { schema: 'public', table: 'orders' },
      tableText: 'public.orders',
      patterns: ['a.csv'],
      concurrency: 4,
      internalConcurrency: 2,
      batchSize: 50_000,
      fileType: 'auto',
      maxRetries: 3,
      mode: undefined,
      key: undefined,
      ignoreExtraColumns: false,
      delimiter: undefined,
      quote: undefined,
      escape: undefined,
      null: '',
      header: undefined,
      encoding: 'UTF8',
      timezone: 'UTC',
      force: false,
      direct: true,
      connectTimeoutMs: 30_000,
      version: '1.2.3',
      secrets: [],
    });
    expect(typeof c.host).toBe('string');
  });

  it('appends direct unless --no-direct asks for staging', async () => {
    const { goesDirect } = await import('../../src/file.js');
    const cols = [{ source: 'id', target: { name: 'id' } }] as never[];
    const several = (direct: boolean | undefined, mode = 'append', internal = 2): boolean =>
      goesDirect({ mode } as never, cols, false, internal, resolve({ direct }));
    expect([several(undefined), several(true), several(false)]).toEqual([true, true, false]);
    // staging is only for an append of several sub-batches on several streams, and for the other modes
    expect([several(false, 'append', 1), several(undefined, 'upsert'), several(true, 'insert-only')]).toEqual(
      [true, false, false],
    );
    expect(goesDirect({ mode: 'append' } as never, cols, true, 2, resolve({ direct: false }))).toBe(true);
    // a file column the table lacks (--ignore-extra-columns) lives in staging only
    expect(goesDirect({ mode: 'append' } as never, [{ source: 'x' }] as never[], false, 2, resolve())).toBe(
      false,
    );
  });

  it('returns a frozen object', () => {
    const c = resolve();
    expect(Object.isFrozen(c)).toBe(true);
    expect(() => {
      (c as { batchSize: number }).batchSize = 1;
    }).toThrow(TypeError);
  });

  it('copies the file list', () => {
    const files = ['a.csv'];
    const c = resolve({ files });
    files.push('b.csv');
    expect(c.patterns).toEqual(['a.csv']);
  });

  it('keeps explicit values', () => {
    const c = resolve({
      concurrency: 8,
      internalConcurrency: 3,
      batchSize: 10,
      maxRetries: 0,
      mode: 'append',
      ignoreExtraColumns: true,
      header: false,
      encoding: ' LATIN1 ',
      timezone: 'Europe/Paris',
      force: true,
      connectTimeoutMs: 500,
      null: '\\N',
      fileType: 'csv',
    });
    expect(c).toMatchObject({
      concurrency: 8,
      internalConcurrency: 3,
      batchSize: 10,
      maxRetries: 0,
      mode: 'append',
      ignoreExtraColumns: true,
      header: false,
      encoding: 'LATIN1',
      timezone: 'Europe/Paris',
      force: true,
      connectTimeoutMs: 500,
      null: '\\N',
      fileType: 'csv',
    });
  });

  it('parses the table name with psql rules', () => {
    expect(resolve({ table: 'Orders' }).target).toEqual({ table: 'orders' });
    expect(resolve({ table: '"My"."T"' }).target).toEqual({ schema: 'My', table: 'T' });
  });

  it('trims key names and drops empty ones', () => {
    expect(resolve({ key: [' id ', '', 'day'] }).key).toEqual(['id', 'day']);
  });

  it.each([
    ['\\t', '\t'],
    ['tab', '\t'],
    ['TAB', '\t'],
    [';', ';'],
  ])('reads the delimiter %j as %j', (input, want) => {
    expect(resolve({ delimiter: input }).delimiter).toBe(want);
  });
});

describe('resolveConfig: connection precedence', () => {
  const env = { DATABASE_URL: 'postgres://env/db', PGHOST: 'pghost' };

  it('the option wins over DATABASE_URL', () => {
    expect(resolve({ dsn: 'postgres://opt/db' }, env).connection).toMatchObject({
      connectionString: 'postgres://opt/db',
      source: 'option',
      host: 'opt',
      database: 'db',
    });
  });

  it('DATABASE_URL wins over PG* variables', () => {
    expect(resolve({}, env).connection).toMatchObject({
      connectionString: 'postgres://env/db',
      source: 'DATABASE_URL',
      host: 'env',
    });
  });

  it('falls back to PG* variables (no connection string)', () => {
    const c = resolve({}, { PGHOST: 'pghost' });
    expect(c.connection).toMatchObject({ source: 'PG*', host: 'pghost' });
    expect(c.connection.connectionString).toBeUndefined();
  });

  it('does not read process.env when an env is given', () => {
    expect(resolve({}, {}).connection.source).toBe('PG*');
  });

  it('collects the passwords as secrets', () => {
    const c = resolve({ dsn: 'postgres://u:s3cret@h/db' }, { PGPASSWORD: 'pgpw' });
    expect(c.secrets).toEqual(['s3cret', 'pgpw']);
  });
});

describe('resolveConfig: validation names the option', () => {
  it.each<[Partial<LoadOptions>, RegExp]>([
    [{ table: '' }, /--table is required/],
    [{ table: 'a.b.c' }, /^--table: .*too many dots/],
    [{ table: 't; drop table x' }, /^--table: /],
    [{ files: [] }, /no files given/],
    [{ mode: 'merge' as never }, /--mode must be one of upsert, append, insert-only, replace, got "merge"/],
    [{ fileType: 'xlsx' as never }, /--file-type must be one of .*"xlsx"/],
    [{ key: [' ', ''] }, /--key needs at least one column name/],
    [{ maxRetries: -1 }, /--max-retries must be a whole number from 0 to 100, got -1/],
    [{ maxRetries: 101 }, /--max-retries/],
    [{ maxRetries: 1.5 }, /--max-retries/],
    [{ timezone: 'UTC; drop' }, /--timezone "UTC; drop" is not a time zone name/],
    [{ encoding: "UTF8'" }, /--encoding .* is not an encoding name/],
    [{ null: 'a\nb' }, /--null cannot contain a line break/],
    [{ concurrency: 0 }, /--concurrency must be a whole number from 1 to 1000, got 0/],
    [{ concurrency: 1001 }, /--concurrency/],
    [{ concurrency: 2.5 }, /--concurrency/],
    [{ concurrency: Number.NaN }, /--concurrency .* got NaN/],
    [{ internalConcurrency: 0 }, /--internal-concurrency/],
    [{ batchSize: 0 }, /--batch-size must be a whole number from 1 to 1000000000/],
    [{ connectTimeoutMs: 3_600_001 }, /--connect-timeout/],
    [{ delimiter: ',,' }, /--delimiter must be one character, got ",,"/],
    [{ delimiter: '\n' }, /--delimiter/],
    [{ quote: '\r' }, /--quote must be one character/],
    [{ escape: '' }, /--escape must be one character/],
  ])('%j', (o, message) => {
    expect(usageError(() => resolve(o)).message).toMatch(message);
  });
});

describe('secretsOf', () => {
  it('takes the password of a URL, raw and decoded', () => {
    expect(secretsOf('postgres://user:p%40ss@host/db', {})).toEqual(['p%40ss', 'p@ss']);
    expect(secretsOf('postgresql://user:plain@host:5432/db', {})).toEqual(['plain']);
  });

  it('takes a password query parameter', () => {
    expect(secretsOf('postgres://host/db?password=qp', {})).toEqual(['qp']);
  });

  it('takes password= from a key=value DSN, quoted or not', () => {
    expect(secretsOf('host=h user=u password=kv dbname=d', {})).toEqual(['kv']);
    expect(secretsOf("host=h password='with space' dbname=d", {})).toEqual(['with space']);
  });

  it('adds PGPASSWORD and removes duplicates and empty strings', () => {
    expect(secretsOf(undefined, { PGPASSWORD: 'x' })).toEqual(['x']);
    expect(secretsOf('postgres://u:x@h/db', { PGPASSWORD: 'x' })).toEqual(['x']);
    expect(secretsOf(undefined, { PGPASSWORD: '' })).toEqual([]);
    expect(secretsOf('postgres://u@h/db', {})).toEqual([]);
  });
});

describe('redact', () => {
  it('replaces the password part of any postgres URL', () => {
    expect(redact('failed: postgres://user:hunter2@db:5432/app', [])).toBe(
      'failed: postgres://user:***@db:5432/app',
    );
    expect(redact('POSTGRESQL://a:b@h and postgres://c:d@h2', [])).toBe(
      'POSTGRESQL://a:***@h and postgres://c:***@h2',
    );
  });

  it('leaves a URL without a password alone', () => {
    expect(redact('postgres://user@db/app', [])).toBe('postgres://user@db/app');
  });

  it('replaces every occurrence of every secret (PGPASSWORD)', () => {
    expect(redact('pw=pgpw, again pgpw', ['pgpw'])).toBe('pw=***, again ***');
  });

  it('hides a password holding an unencoded @ completely', () => {
    const dsn = 'postgres://user:pa@ss@host/db';
    const out = redact(`cannot connect to ${dsn}`, secretsOf(dsn, {}));
    expect(out).not.toContain('pa@ss');
    expect(out).not.toContain('ss@host');
    expect(out).toBe('cannot connect to postgres://user:***@host/db');
  });

  it('redacts the configured secrets of a resolved config', () => {
    const c = resolve({ dsn: 'postgres://u:topsecret@h/db' }, { PGPASSWORD: 'other' });
    expect(redact('topsecret other postgres://u:topsecret@h/db', c.secrets)).toBe(
      '*** *** postgres://u:***@h/db',
    );
  });
});
