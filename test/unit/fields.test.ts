// The COPY BINARY field writers that read Arrow's buffers directly (src/parquet/fields.ts) against the generic path
// (a reader making a JS value per cell, then writeValue): the same bytes, the same errors (row, column, message,
// SQLSTATE) and the same reject-rows lists, for every pair the direct writers take, with NULLs, edge values of each
// type (int64 limits, unsafe integers, long and multi-byte strings, timestamps far from 1970) and sliced columns.
import {
  Binary,
  Bool,
  DateDay,
  Decimal,
  Field,
  FixedSizeBinary,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  Int8,
  Timestamp,
  TimeUnit,
  Uint16,
  Uint32,
  Uint64,
  Uint8,
  Utf8,
  makeData,
  vectorFromArray,
  type DataType,
  type Data,
} from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { BinaryEncoder, EncodeError, Writer } from '../../src/parquet/binary.js';
import { fieldWriter } from '../../src/parquet/fields.js';
import { parseTargetType, type ColumnPlan } from '../../src/parquet/mapping.js';
import { describeField } from '../../src/parquet/schema.js';

/** validity bits of `values`: null and undefined are NULL */
function bitmap(values: unknown[]): { nullBitmap: Uint8Array; nullCount: number } {
  const b = new Uint8Array(Math.ceil(values.length / 8) + 1);
  let nullCount = 0;
  values.forEach((v, i) => {
    if (v === null || v === undefined) nullCount++;
    else b[i >> 3]! |= 1 << (i & 7);
  });
  return { nullBitmap: b, nullCount };
}

/** little-endian two's complement words of each value */
function words(values: (bigint | null)[], bits: number): Uint32Array {
  const out = new Uint32Array((values.length * bits) / 32);
  values.forEach((v, i) => {
    let x = BigInt.asUintN(bits, v ?? 0n);
    for (let k = 0; k < bits / 32; k++, x >>= 32n) out[(i * bits) / 32 + k] = Number(x & 0xffffffffn);
  });
  return out;
}

const decimal = (scale: number, bits: 128 | 256, values: (bigint | null)[]): Data =>
  makeData({
    type: new Decimal(scale, bits === 128 ? 38 : 76, bits),
    data: words(values, bits),
    length: values.length,
    ...bitmap(values),
  });

const timestamp = (unit: TimeUnit, tz: string | null, values: (bigint | null)[]): Data =>
  makeData({
    type: new Timestamp(unit, tz),
    data: BigInt64Array.from(values, (v) => v ?? 0n),
    length: values.length,
    ...bitmap(values),
  });

const days = (values: (number | null)[]): Data =>
  makeData({
    type: new DateDay(),
    data: Int32Array.from(values, (v) => v ?? 0),
    length: values.length,
    ...bitmap(values),
  });

const vector = (values: unknown[], type: DataType): Data => vectorFromArray(values, type as never).data[0]!;

const I64 = [-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, -1n, 0n, null];
const EDGE = [
  2n ** 53n - 1n,
  -(2n ** 53n),
  2n ** 21n * 2n ** 32n - 1n,
  -(2n ** 21n) * 2n ** 32n,
  40000n,
  2n ** 31n,
];
const uuid = (k: number): Uint8Array => Uint8Array.from({ length: 16 }, (_, i) => (i * 37 + k) & 255);
const LONG = `${'x'.repeat(300)}é`;

/** [what, column, target types that take a direct writer, target types the generic path keeps] */
const CASES: [string, () => Data, string[], string[]][] = [
  [
    'int8',
    () => vector([-128, 127, null, 0], new Int8()),
    ['smallint', 'integer', 'bigint', 'real', 'double precision', 'numeric'],
    ['text'],
  ],
  [
    'int16',
    () => vector([-32768, 32767, null, 5], new Int16()),
    ['smallint', 'integer', 'bigint', 'double precision', 'numeric'],
    [],
  ],
  [
    'int32',
    () => vector([1, -2147483648, 2147483647, null, 40000, -40000], new Int32()),
    ['smallint', 'integer', 'bigint', 'real', 'double precision', 'numeric'],
    ['text', 'json'],
  ],
  ['uint8', () => vector([0, 255, null, 7], new Uint8()), ['smallint', 'integer', 'bigint', 'numeric'], []],
  ['uint16', () => vector([0, 65535, null, 32767], new Uint16()), ['smallint', 'integer', 'numeric'], []],
  [
    'uint32',
    () => vector([0, 4294967295, null, 2147483648, 5], new Uint32()),
    ['integer', 'bigint', 'double precision', 'numeric'],
    [],
  ],
  [
    'int64',
    () => vector([...I64, ...EDGE], new Int64()),
    ['bigint', 'integer', 'smallint', 'real', 'double precision', 'numeric'],
    ['text'],
  ],
  [
    'int64 in int2 range',
    () => vector([1n, -1n, 32767n, null, -32768n], new Int64()),
    ['smallint', 'integer'],
    [],
  ],
  [
    'uint64',
    () => vector([0n, 5n, null, 2n ** 63n, 2n ** 64n - 1n, 2n ** 53n + 1n], new Uint64()),
    ['bigint', 'numeric', 'double precision', 'real', 'integer'],
    [],
  ],
  ['uint64 small', () => vector([0n, 5n, null, 2n ** 31n - 1n], new Uint64()), ['integer', 'bigint'], []],
  [
    'float32',
    () => vector([1.5, -0, NaN, Infinity, -3.4e38, null, 1e-45], new Float32()),
    ['real', 'double precision'],
    ['numeric'],
  ],
  [
    'float64',
    () => vector([0.1, -0, NaN, -Infinity, 1e308, null, 5e-324, 123456.789], new Float64()),
    ['real', 'double precision'],
    ['numeric'],
  ],
  ...[0, 2, 4, 5, 10].map((scale): [string, () => Data, string[], string[]] => [
    `decimal128 scale ${scale}`,
    () =>
      decimal(scale, 128, [
        12345n,
        -1n,
        0n,
        2n ** 53n - 1n,
        -(2n ** 53n),
        2n ** 21n * 2n ** 32n,
        -(2n ** 21n) * 2n ** 32n - 1n,
        2n ** 63n,
        -(10n ** 30n),
        10n ** 37n,
        null,
        100000000n,
      ]),
    ['numeric'],
    ['double precision', 'text'],
  ]),
  [
    'decimal256',
    () => decimal(3, 256, [10n ** 70n, -5n, null, -(2n ** 200n), 2n ** 64n + 3n, 7n]),
    ['numeric'],
    [],
  ],
  [
    'utf8',
    () =>
      vector(
        ['héllo', '', null, LONG, '€𝄞', 'y'.repeat(63), 'z'.repeat(64), 'abc', '{"a": [1, 2]}'],
        new Utf8(),
      ),
    ['text', 'json', 'jsonb', 'character varying(400)'],
    [],
  ],
  [
    'binary',
    () => vector([Uint8Array.of(0, 255), new Uint8Array(0), null, uuid(9)], new Binary()),
    ['bytea'],
    [],
  ],
  [
    'fixed 16',
    () => vector([uuid(1), null, uuid(2), new Uint8Array(16)], new FixedSizeBinary(16)),
    ['uuid', 'bytea'],
    ['text'],
  ],
  [
    'bool',
    () => vector([true, false, null, true, true, false, null, false, true, true, false], new Bool()),
    ['boolean'],
    [],
  ],
  ['date', () => days([0, 19782, -719163, null, 2147483647, -2147483648]), ['date'], ['timestamp']],
  ...(
    [
      ['s', TimeUnit.SECOND, [1704070923n, -1n, 2n ** 40n, -(2n ** 40n), 9_200_000_000_000n, -(2n ** 62n)]],
      ['ms', TimeUnit.MILLISECOND, [1704070923123n, -1n, 2n ** 50n, -(2n ** 50n), 2n ** 62n, -(2n ** 63n)]],
      [
        'us',
        TimeUnit.MICROSECOND,
        [
          0n,
          -1n,
          1704070923123456n,
          253402300799999999n,
          -(2n ** 63n),
          2n ** 63n - 1n,
          2n ** 62n,
          -(2n ** 53n),
        ],
      ],
      [
        'ns',
        TimeUnit.NANOSECOND,
        [1704070923123456789n, -1n, -999n, -1000n, -1001n, 2n ** 62n, -(2n ** 62n) - 1n, 2n ** 63n - 1n],
      ],
    ] as const
  ).flatMap(([name, unit, values]): [string, () => Data, string[], string[]][] => [
    [
      `timestamp ${name} UTC`,
      () => timestamp(unit, 'UTC', [...values, null]),
      ['timestamp with time zone', 'timestamp without time zone'],
      [],
    ],
    [
      `timestamp ${name}`,
      () => timestamp(unit, null, [null, ...values]),
      ['timestamp without time zone', 'timestamp with time zone'],
      [],
    ],
  ]),
];

type Outcome = { bytes?: string; rejected?: unknown[]; error?: unknown[] };

function encode(data: Data, sql: string, zone: string, direct: boolean, rejecting: boolean): Outcome {
  const info = describeField(new Field('c', data.type, true));
  const plans: ColumnPlan[] = [{ field: 0, info, target: parseTargetType(sql), column: 'c' }];
  const enc = new BinaryEncoder(plans, zone, rejecting, direct);
  try {
    enc.add([data], data.length, 100);
    const rejected = enc.rejected.map((e) => [e.row, e.column, e.message, e.sqlState]);
    return { bytes: Buffer.from(enc.finish()).toString('hex'), rejected };
  } catch (err) {
    if (!(err instanceof EncodeError)) return { error: [String(err)] };
    return { error: [err.row, err.column, err.message, err.sqlState] };
  }
}

/** the column whole and two slices of it (Data.slice(offset, length): offsets not multiples of 8 in the bitmap) */
const variants = (make: () => Data): [string, Data][] => {
  const d = make();
  return [
    ['whole', d],
    ['sliced', d.slice(1, d.length - 2)],
    ['sliced at 3', d.slice(3, d.length - 3)],
  ];
};

describe('direct field writers', () => {
  for (const [what, make, direct, generic] of CASES) {
    it(`${what}: the generic path's bytes, errors and rejects`, () => {
      for (const [how, data] of variants(make)) {
        for (const sql of [...direct, ...generic]) {
          for (const zone of ['UTC', 'Europe/Paris']) {
            for (const rejecting of [false, true]) {
              const label = `${how} into ${sql}, ${zone}, rejecting ${rejecting}`;
              expect(encode(data, sql, zone, true, rejecting), label).toEqual(
                encode(data, sql, zone, false, rejecting),
              );
            }
          }
        }
      }
    });
    it(`${what}: takes the direct writer into ${direct.join(', ')}`, () => {
      const data = make();
      const info = describeField(new Field('c', data.type, true));
      const fail = (m: string): never => {
        throw new Error(m);
      };
      for (const sql of direct) {
        expect(fieldWriter(new Writer(), data, info, parseTargetType(sql), 'UTC', fail), sql).toBeDefined();
      }
      for (const sql of generic) {
        expect(fieldWriter(new Writer(), data, info, parseTargetType(sql), 'UTC', fail), sql).toBeUndefined();
      }
    });
  }

  it('converts through a zone other than UTC on the generic path only', () => {
    const data = timestamp(TimeUnit.MICROSECOND, null, [1704110400000000n]);
    const info = describeField(new Field('c', data.type, true));
    const fail = (m: string): never => {
      throw new Error(m);
    };
    const tz = parseTargetType('timestamp with time zone');
    expect(fieldWriter(new Writer(), data, info, tz, 'Europe/Paris', fail)).toBeUndefined();
    expect(fieldWriter(new Writer(), data, info, tz, 'UTC', fail)).toBeDefined();
  });
});
