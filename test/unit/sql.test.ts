import { describe, it, expect } from 'vitest';
import { parseTableName, qualified, quoteIdent, quoteLiteral } from '../../src/sql.js';

describe('quoteIdent', () => {
  it('wraps in double quotes', () => {
    expect(quoteIdent('t')).toBe('"t"');
    expect(quoteIdent('My Table')).toBe('"My Table"');
    expect(quoteIdent('')).toBe('""');
  });

  it('doubles embedded double quotes', () => {
    expect(quoteIdent('a"b')).toBe('"a""b"');
    expect(quoteIdent('"')).toBe('""""');
    expect(quoteIdent('x"; DROP TABLE t; --')).toBe('"x""; DROP TABLE t; --"');
  });

  it('leaves single quotes, dots and backslashes alone', () => {
    expect(quoteIdent("it's.a\\b")).toBe('"it\'s.a\\b"');
  });

  it('rejects a NUL byte', () => {
    expect(() => quoteIdent('a\0b')).toThrow(/NUL/);
  });
});

describe('quoteLiteral', () => {
  it('wraps in single quotes and doubles embedded ones', () => {
    expect(quoteLiteral('x')).toBe("'x'");
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(quoteLiteral("'; DROP TABLE t; --")).toBe("'''; DROP TABLE t; --'");
    expect(quoteLiteral('')).toBe("''");
  });

  it('keeps a tab or backslash as it is (standard_conforming_strings)', () => {
    expect(quoteLiteral('\t')).toBe("'\t'");
    expect(quoteLiteral('\\')).toBe("'\\'");
  });

  it('rejects a NUL byte', () => {
    expect(() => quoteLiteral('\0')).toThrow(/NUL/);
  });
});

describe('qualified', () => {
  it('quotes both parts', () => {
    expect(qualified('public', 'My"T')).toBe('"public"."My""T"');
  });
});

describe('parseTableName', () => {
  it('folds an unquoted name to lower case', () => {
    expect(parseTableName('Orders')).toEqual({ table: 'orders' });
    expect(parseTableName('Sales.Orders')).toEqual({ schema: 'sales', table: 'orders' });
  });

  it('keeps the case of a quoted name', () => {
    expect(parseTableName('"Orders"')).toEqual({ table: 'Orders' });
    expect(parseTableName('"Sales"."Orders"')).toEqual({ schema: 'Sales', table: 'Orders' });
    expect(parseTableName('Sales."Orders"')).toEqual({ schema: 'sales', table: 'Orders' });
  });

  it('allows dots, spaces and semicolons inside quotes', () => {
    expect(parseTableName('"my.schema"."a.b"')).toEqual({ schema: 'my.schema', table: 'a.b' });
    expect(parseTableName('"t; drop table x"')).toEqual({ table: 't; drop table x' });
  });

  it('turns doubled quotes into one', () => {
    expect(parseTableName('"a""b"')).toEqual({ table: 'a"b' });
    expect(parseTableName('s."""q"""')).toEqual({ schema: 's', table: '"q"' });
  });

  it('accepts digits, underscores and dollars after the first character', () => {
    expect(parseTableName('_t1$x')).toEqual({ table: '_t1$x' });
  });

  it('trims spaces around unquoted parts', () => {
    expect(parseTableName(' public . orders ')).toEqual({ schema: 'public', table: 'orders' });
  });

  it('folds only ASCII letters, as PostgreSQL does in a UTF-8 database', () => {
    expect(parseTableName('Ärger')).toEqual({ table: 'Ärger' });
    expect(parseTableName('ABC_Ünïcode')).toEqual({ table: 'abc_Ünïcode' });
  });

  it('rejects three parts', () => {
    expect(() => parseTableName('db.s.t')).toThrow(/too many dots/);
    expect(() => parseTableName('"a"."b"."c"')).toThrow(/too many dots/);
  });

  it.each(['', '.', 't.', '.t', 'a..b', '""', 's.""'])('rejects empty parts: %j', (text) => {
    expect(() => parseTableName(text)).toThrow();
  });

  it.each([
    't; drop table x',
    't;drop table x',
    "t' or 1=1",
    't--',
    't/*x*/',
    '1t',
    'a b',
    't(x)',
    '"t"; drop table x',
    '"t"x',
    '"unterminated',
    's."t',
  ])('rejects %j', (text) => {
    expect(() => parseTableName(text)).toThrow(Error);
  });

  it('names the text in the error', () => {
    expect(() => parseTableName('t; drop table x')).toThrow(
      '"t; drop table x" is not a valid [schema.]table name',
    );
    expect(() => parseTableName('"t"x')).toThrow('unexpected "x"');
    expect(() => parseTableName('"t')).toThrow(/unterminated quoted identifier/);
  });
});
