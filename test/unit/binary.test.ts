// The Parquet encoders' pure cores: numeric's base-10000 form, the text forms of floats, decimals, dates and
// timestamps, time zone conversion, the type mapping's verdicts, and whole COPY BINARY / CSV batches built from
// Arrow columns made in memory (no file, no thread, no database).
import { describe, expect, it } from 'vitest';
import { Bool, Field, Int32, Int64, List, Utf8, vectorFromArray, type Data } from 'apache-arrow';
import {
  BinaryEncoder,
  EncodeError,
  Writer,
  writeNumeric,
  writeNumericScaled,
} from '../../src/parquet/binary.js';
import {
  parseTargetType,
  planFile,
  verdict,
  type ColumnPlan,
  type FieldInfo,
} from '../../src/parquet/mapping.js';
import { CsvEncoder } from '../../src/parquet/text.js';
import {
  dateString,
  decimalString,
  floatString,
  localToUtcUs,
  timestampString,
  utcToLocalUs,
  zoneOffsetMs,
} from '../../src/parquet/values.js';
import type { FileColumn } from '../../src/merge.js';

const numeric = (s: string): number[] => {
  const w = new Writer(8);
  writeNumeric(w, s);
  const out: number[] = [];
  for (let i = 0; i < w.pos; i += 2) out.push(w.view.getInt16(i));
  return out;
};
const scaled = (u: bigint | number, scale: number): number[] => {
  const w = new Writer(8);
  writeNumericScaled(w, u, scale);
  const out: number[] = [];
  for (let i = 0; i < w.pos; i += 2) out.push(w.view.getInt16(i));
  return out;
};

describe('numeric binary form', () => {
  it('writes ndigits, weight, sign, dscale and base-10000 digits', () => {
    expect(numeric('0')).toEqual([0, 0, 0, 0]);
    expect(numeric('12345.678')).toEqual([3, 1, 0, 3, 1, 2345, 6780]);
    expect(numeric('-0.0001')).toEqual([1, -1, 0x4000, 4, 1]);
    expect(numeric('100000000')).toEqual([1, 2, 0, 0, 1]);
    expect(numeric('NaN')).toEqual([0, 0, 0xc000 - 0x10000, 0]);
  });
  it('gives the same bytes from an unscaled integer as from its decimal text', () => {
    for (const [u, s] of [
      [1234567n, 3],
      [-1n, 4],
      [0n, 2],
      [10n ** 30n + 7n, 10],
      [123456789012345678n, 0],
      [-42n, 1],
    ] as const) {
      expect(scaled(u, s)).toEqual(numeric(decimalString(u, s)));
      expect(scaled(Number(u) === Number(u) && u < 2n ** 53n && u > -(2n ** 53n) ? Number(u) : u, s)).toEqual(
        numeric(decimalString(u, s)),
      );
    }
  });
});

describe('text forms', () => {
  it('prints floats without exponents, decimals, dates and timestamps as PostgreSQL reads them', () => {
    expect([
      floatString(1e21),
      floatString(-1.5e-7),
      floatString(0.1),
      floatString(NaN),
      floatString(-Infinity),
    ]).toEqual(['1000000000000000000000', '-0.00000015', '0.1', 'NaN', '-Infinity']);
    expect([decimalString(-5n, 3), decimalString(12345n, 2), decimalString(7n, 0)]).toEqual([
      '-0.005',
      '123.45',
      '7',
    ]);
    expect([dateString(0), dateString(19782), dateString(-719163)]).toEqual([
      '1970-01-01',
      '2024-02-29',
      '0001-12-31 BC',
    ]);
    expect(timestampString(-1n)).toBe('1969-12-31 23:59:59.999999');
    expect(timestampString(1_704_070_923_123_456n)).toBe('2024-01-01 01:02:03.123456');
  });
  it('converts wall-clock times and instants through an IANA zone, daylight saving included', () => {
    const paris = 'Europe/Paris';
    const jan = 1_704_110_400_000_000n; // 2024-01-01 12:00 as a wall-clock time
    expect(localToUtcUs(jan, paris)).toBe(jan - 3_600_000_000n);
    const jul = 1_719_835_200_000_000n; // 2024-07-01 12:00 UTC
    expect(utcToLocalUs(jul, paris)).toBe(jul + 7_200_000_000n);
    expect(localToUtcUs(jan, 'UTC')).toBe(jan);
  });
});

describe('type mapping', () => {
  const f = (kind: FieldInfo['kind'], extra: Partial<FieldInfo> = {}): FieldInfo => ({
    name: 'c',
    arrow: kind,
    kind,
    ...extra,
  });
  it('parses catalog spellings, arrays included', () => {
    expect(parseTargetType('character varying(20)').cat).toBe('text');
    expect(parseTargetType('timestamp(3) with time zone').cat).toBe('timestamptz');
    expect(parseTargetType('numeric(12,2)').cat).toBe('numeric');
    expect(parseTargetType('integer[]')).toMatchObject({ cat: 'int4', elem: { cat: 'int4' } });
    expect(parseTargetType('mood').cat).toBe('other');
    expect(parseTargetType('inet[]').cat).toBe('other');
  });
  it('decides binary, text (the type parses it) or refusal', () => {
    expect(verdict(f('int'), parseTargetType('smallint'))).toBe('binary');
    expect(verdict(f('float'), parseTargetType('integer'))).toBe('no');
    expect(verdict(f('string'), parseTargetType('integer'))).toBe('text');
    expect(verdict(f('string'), parseTargetType('mood'))).toBe('text');
    expect(verdict(f('binary'), parseTargetType('text'))).toBe('no');
    expect(verdict(f('fixed', { byteWidth: 16 }), parseTargetType('uuid'))).toBe('binary');
    expect(verdict(f('list', { children: [f('int')] }), parseTargetType('bigint[]'))).toBe('binary');
    expect(verdict(f('list', { children: [f('string')] }), parseTargetType('inet[]'))).toBe('text');
    expect(verdict(f('struct', { children: [] }), parseTargetType('jsonb'))).toBe('binary');
    expect(verdict(f('struct', { children: [] }), parseTargetType('integer'))).toBe('no');
  });
  it('names the column, the Parquet type and the target type when a conversion cannot work', () => {
    const cols: FileColumn[] = [
      {
        source: 'amount',
        stagingName: 'amount',
        target: {
          name: 'amount',
          type: 'integer',
          notNull: false,
          hasDefault: false,
          generated: false,
          identity: '',
        },
      },
    ];
    expect(() => planFile([{ name: 'amount', arrow: 'Float64', kind: 'float', bitWidth: 64 }], cols)).toThrow(
      /column "amount": Parquet type Float64 cannot be loaded into integer/,
    );
  });
});

describe('encoders', () => {
  const plans = (types: string[], fields: FieldInfo[]): ColumnPlan[] =>
    types.map((t, k) => ({ field: k, info: fields[k], target: parseTargetType(t), column: fields[k]!.name }));
  const fields: FieldInfo[] = [
    { name: 'id', arrow: 'Int32', kind: 'int', signed: true, bitWidth: 32 },
    { name: 'big', arrow: 'Int64', kind: 'int', signed: true, bitWidth: 64 },
    { name: 'ok', arrow: 'Bool', kind: 'bool' },
    { name: 's', arrow: 'Utf8', kind: 'string' },
    {
      name: 'l',
      arrow: 'List<Int32>',
      kind: 'list',
      children: [{ name: 'item', arrow: 'Int32', kind: 'int' }],
    },
  ];
  const data = (): Data[] => [
    vectorFromArray([1, null], new Int32()).data[0]!,
    vectorFromArray([2n ** 40n, -1n], new Int64()).data[0]!,
    vectorFromArray([true, null], new Bool()).data[0]!,
    vectorFromArray(['a"b', null], new Utf8()).data[0]!,
    vectorFromArray([[1, null], []], new List(new Field('item', new Int32(), true))).data[0]!,
  ];

  it('writes the COPY BINARY signature, tuples with NULLs, arrays and the trailer', () => {
    const enc = new BinaryEncoder(
      plans(['integer', 'bigint', 'boolean', 'text', 'integer[]'], fields),
      'UTC',
    );
    enc.add(data(), 2, 0);
    const out = Buffer.from(enc.finish());
    expect(out.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
    let p = 19;
    const i16 = (): number => ((p += 2), out.readInt16BE(p - 2));
    const i32 = (): number => ((p += 4), out.readInt32BE(p - 4));
    expect(i16()).toBe(5);
    expect([i32(), i32()]).toEqual([4, 1]);
    expect([i32(), out.readBigInt64BE(p)]).toEqual([8, 2n ** 40n]);
    p += 8;
    expect([i32(), out[p++]]).toEqual([1, 1]);
    expect(i32()).toBe(3);
    expect(out.subarray(p, (p += 3)).toString()).toBe('a"b');
    // int4[] {1,NULL}: length, ndim 1, hasnull 1, oid 23, dim 2, lbound 1, then (4, 1) and -1
    expect([i32(), i32(), i32(), i32(), i32(), i32(), i32(), i32(), i32()]).toEqual([
      32, 1, 1, 23, 2, 1, 4, 1, -1,
    ]);
    expect(i16()).toBe(5);
    expect([i32(), i32()]).toEqual([-1, 8]);
    p += 8;
    expect([i32(), i32()]).toEqual([-1, -1]);
    expect([i32(), i32(), i32(), i32()]).toEqual([12, 0, 0, 23]); // the empty array
    expect(i16()).toBe(-1);
    expect(p).toBe(out.length);
  });

  it('fails a value out of the target range naming the row and column', () => {
    const enc = new BinaryEncoder(plans(['integer', 'integer'], fields), 'UTC');
    let err: unknown;
    try {
      enc.add(data(), 2, 10);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EncodeError);
    expect([(err as EncodeError).row, (err as EncodeError).column]).toEqual([10, 'big']);
    expect((err as Error).message).toMatch(/1099511627776 is out of range for integer/);
  });

  it('writes the CSV fallback: NULL unquoted, values quoted, arrays as literals', () => {
    const enc = new CsvEncoder(plans(['integer', 'bigint', 'boolean', 'text', 'integer[]'], fields), 'UTC');
    enc.add(data(), 2, 0);
    expect(Buffer.from(enc.finish()).toString()).toBe(
      '"1","1099511627776","t","a""b","{""1"",NULL}"\n,"-1",,,"{}"\n',
    );
  });
});

describe('zone offsets at the ends of time', () => {
  it('takes the offset at the edge of a JS Date for instants past it, instead of throwing', () => {
    const far = 9.2e15; // ms: an int64 of microseconds near its limit, past year 275760
    expect(zoneOffsetMs('Europe/Paris', far)).toBe(zoneOffsetMs('Europe/Paris', 8.64e15 - 86_400_000));
    expect(Number.isFinite(zoneOffsetMs('America/New_York', -far))).toBe(true);
    expect(() => localToUtcUs(9_000_000_000_000_000_000n, 'Europe/Paris')).not.toThrow();
  });

  it('reads the years 0 to 99 as themselves (Date.UTC would make them 1900 to 1999)', () => {
    // 0050-06-01T00:00Z: Paris had its local mean time then, +0:09:21, not the +2:00 of 1950's summer
    const ms = Date.parse('0050-06-01T00:00:00Z');
    expect(zoneOffsetMs('Europe/Paris', ms)).toBe(561_000);
  });
});
