import { describe, expect, it } from 'vitest';
import { classify, columnNames, inferTypes, looksLikeHeader } from '../../src/infer.js';

describe('classify', () => {
  it.each([
    ['42', 'integer'],
    ['-2147483648', 'integer'],
    ['2147483648', 'bigint'],
    ['-9223372036854775808', 'bigint'],
    ['9223372036854775808', 'numeric'],
    ['3.14', 'numeric'],
    ['.5', 'numeric'],
    ['1e10', 'double precision'],
    ['-2.5E-3', 'double precision'],
    ['true', 'boolean'],
    ['F', 'boolean'],
    ['yes', 'boolean'],
    ['2026-02-28', 'date'],
    ['2026-02-30', 'text'],
    ['2026-02-28T10:15:00Z', 'timestamp with time zone'],
    ['2026-02-28 10:15:00.123456+02:00', 'timestamp with time zone'],
    ['2026-02-28 10:15', 'timestamp with time zone'],
    ['2026-02-28 25:15:00', 'text'],
    ['8c4b1a0e-1f2d-4c3b-9a8e-7d6c5b4a3f21', 'uuid'],
    ['{"a": 1}', 'jsonb'],
    ['[1, 2]', 'jsonb'],
    ['{not json}', 'text'],
    [' 42', 'text'],
    ['', 'text'],
    ['hello', 'text'],
  ])('%j is %s', (v, want) => {
    expect(classify(v)).toBe(want);
  });
});

describe('inferTypes', () => {
  it('NULL markers and empty columns say nothing; an all-NULL column is text', () => {
    expect(
      inferTypes(
        [
          ['1', null],
          [null, null],
          ['2', null],
        ],
        2,
      ),
    ).toEqual(['integer', 'text']);
  });

  it('an empty (non-NULL) field in a number column makes it text: COPY would refuse it as a number', () => {
    expect(inferTypes([['1'], ['']], 1)).toEqual(['text']);
  });

  it('widens integer to bigint to numeric to double precision', () => {
    expect(inferTypes([['1'], ['3000000000']], 1)).toEqual(['bigint']);
    expect(inferTypes([['1'], ['3000000000'], ['1.5']], 1)).toEqual(['numeric']);
    expect(inferTypes([['1'], ['99999999999999999999']], 1)).toEqual(['numeric']);
    expect(inferTypes([['1.5'], ['2e3']], 1)).toEqual(['double precision']);
  });

  it('a date and a timestamp make timestamptz; other mixes are text', () => {
    expect(inferTypes([['2026-01-01'], ['2026-01-02 10:00:00Z']], 1)).toEqual(['timestamp with time zone']);
    expect(inferTypes([['1'], ['2026-01-01']], 1)).toEqual(['text']);
    expect(inferTypes([['true'], ['1']], 1)).toEqual(['text']);
    expect(inferTypes([['8c4b1a0e-1f2d-4c3b-9a8e-7d6c5b4a3f21'], ['x']], 1)).toEqual(['text']);
  });

  it('short records leave the missing fields unknown', () => {
    expect(inferTypes([['1', 'true'], ['2']], 2)).toEqual(['integer', 'boolean']);
  });
});

describe('header and names', () => {
  it('a first record of words is a header; one with a number, date or empty field is data', () => {
    expect(looksLikeHeader(['id', 'name', 'created at'])).toBe(true);
    expect(looksLikeHeader(['1', 'name'])).toBe(false);
    expect(looksLikeHeader(['id', ''])).toBe(false);
    expect(looksLikeHeader(['id', '2026-01-01'])).toBe(false);
  });

  it('names: trimmed, empty ones colN, repeats numbered; no header: col1..colN', () => {
    expect(columnNames([' Id ', '', 'name', 'name'], 4)).toEqual(['Id', 'col2', 'name', 'name_2']);
    expect(columnNames(undefined, 3)).toEqual(['col1', 'col2', 'col3']);
  });
});
