import { describe, it, expect } from 'vitest';
import pg from 'pg';
import { LoaderError, classifyError, classifySqlState, sqlStateOf } from '../../src/errors.js';

function dbError(code: string | undefined): pg.DatabaseError {
  const e = new pg.DatabaseError('server says no', 0, 'error');
  e.code = code;
  return e;
}

function sysError(code: string, syscall = 'read'): NodeJS.ErrnoException {
  return Object.assign(new Error(`${syscall} ${code}`), { code, errno: -1, syscall });
}

describe('classifySqlState', () => {
  it.each([
    '08000',
    '08003',
    '08006',
    '08001',
    '08004',
    '08P01',
    '40001',
    '40P01',
    '53300',
    '57P01',
    '57P02',
    '57P03',
  ])('%s is retried', (s) => {
    expect(classifySqlState(s)).toBe('retry');
  });

  it.each(['22001', '22003', '22007', '22P02', '22021', '23502', '23505', '23503', '23514', '23P01'])(
    '%s rejects rows',
    (s) => {
      expect(classifySqlState(s)).toBe('reject');
    },
  );

  it.each([
    '42P01',
    '42703',
    '42501',
    '40003',
    '53100',
    '53200',
    '57014',
    '57000',
    '25P02',
    'XX000',
    '0A000',
    '',
  ])('%j is fatal', (s) => {
    expect(classifySqlState(s)).toBe('fatal');
  });
});

describe('classifyError', () => {
  it('uses the SQLSTATE of a DatabaseError', () => {
    expect(classifyError(dbError('40P01'))).toBe('retry');
    expect(classifyError(dbError('57P01'))).toBe('retry');
    expect(classifyError(dbError('08006'))).toBe('retry');
    expect(classifyError(dbError('23505'))).toBe('reject');
    expect(classifyError(dbError('22P02'))).toBe('reject');
    expect(classifyError(dbError('42P01'))).toBe('fatal');
  });

  it('a DatabaseError without a code is fatal', () => {
    expect(classifyError(dbError(undefined))).toBe('fatal');
  });

  it.each([
    'ECONNRESET',
    'ECONNREFUSED',
    'ECONNABORTED',
    'EPIPE',
    'ETIMEDOUT',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'EAI_AGAIN',
  ])('socket error %s is retried', (code) => {
    expect(classifyError(sysError(code))).toBe('retry');
  });

  it('a plain object with a socket code is retried', () => {
    expect(classifyError({ code: 'ECONNRESET' })).toBe('retry');
  });

  it.each([
    ['ENOENT', 'open'],
    ['EACCES', 'open'],
    ['EISDIR', 'read'],
    ['ENOSPC', 'write'],
    ['ENOTFOUND', 'getaddrinfo'],
  ])('a system error %s (%s) that waiting will not fix is fatal', (code, syscall) => {
    expect(classifyError(sysError(code, syscall))).toBe('fatal');
  });

  it('LoaderError: DATA rejects, every other code is fatal', () => {
    expect(classifyError(new LoaderError('DATA', 'bad value'))).toBe('reject');
    expect(classifyError(new LoaderError('CONNECTION', 'down'))).toBe('fatal');
    expect(classifyError(new LoaderError('CSV', 'unterminated'))).toBe('fatal');
    expect(classifyError(new LoaderError('CANCELLED', 'cancelled'))).toBe('fatal');
  });

  it('an abort is fatal', () => {
    const ac = new AbortController();
    ac.abort();
    expect(classifyError(ac.signal.reason)).toBe('fatal');
    expect(classifyError(Object.assign(new Error('aborted'), { name: 'AbortError' }))).toBe('fatal');
  });

  it('a bare driver Error (connection terminated, pool timeout) is retried', () => {
    expect(classifyError(new Error('Connection terminated unexpectedly'))).toBe('retry');
    expect(classifyError(new Error('timeout exceeded when trying to connect'))).toBe('retry');
  });

  it('programming errors and non-errors are fatal', () => {
    expect(classifyError(new TypeError('x is undefined'))).toBe('fatal');
    expect(classifyError(new RangeError('bad'))).toBe('fatal');
    expect(classifyError('a string')).toBe('fatal');
    expect(classifyError(undefined)).toBe('fatal');
    expect(classifyError(null)).toBe('fatal');
    expect(classifyError(42)).toBe('fatal');
  });

  it('never looks at the message', () => {
    expect(classifyError(dbError('42601'))).toBe('fatal');
    const e = new pg.DatabaseError('could not serialize access due to concurrent update', 0, 'error');
    e.code = '42601';
    expect(classifyError(e)).toBe('fatal');
  });
});

describe('LoaderError', () => {
  it('carries a code, context and cause', () => {
    const cause = new Error('root');
    const e = new LoaderError('COLUMNS', 'no such column', { file: 'a.csv', column: 'x' }, { cause });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('LoaderError');
    expect(e.code).toBe('COLUMNS');
    expect(e.context).toEqual({ file: 'a.csv', column: 'x' });
    expect(e.cause).toBe(cause);
    expect(e.message).toBe('no such column');
  });

  it('defaults to an empty context', () => {
    expect(new LoaderError('INTERNAL', 'x').context).toEqual({});
  });
});

describe('sqlStateOf', () => {
  it('returns the code of a DatabaseError only', () => {
    expect(sqlStateOf(dbError('23505'))).toBe('23505');
    expect(sqlStateOf(Object.assign(new Error('x'), { code: '23505' }))).toBeUndefined();
    expect(sqlStateOf(undefined)).toBeUndefined();
  });
});
