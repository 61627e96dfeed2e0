// reject-rows for Parquet, the pure parts: a COPY BINARY stream split into tuples (each run resent with the header
// and trailer must be a stream of its own), and the encoders leaving out rows they cannot write when asked to,
// listing them, and rendering chosen rows as CSV for the rejects file.
import { Int32, Int64, Utf8, vectorFromArray, type Data } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { BinaryEncoder, EncodeError } from '../../src/parquet/binary.js';
import { parseTargetType, type ColumnPlan, type FieldInfo } from '../../src/parquet/mapping.js';
import { binarySegments, splitTuples } from '../../src/parquet/reject.js';
import { CsvEncoder } from '../../src/parquet/text.js';

const fields: FieldInfo[] = [
  { name: 'id', arrow: 'Int32', kind: 'int', signed: true, bitWidth: 32 },
  { name: 'big', arrow: 'Int64', kind: 'int', signed: true, bitWidth: 64 },
  { name: 's', arrow: 'Utf8', kind: 'string' },
];
const plans = (types: string[]): ColumnPlan[] =>
  types.map((t, k) => ({ field: k, info: fields[k], target: parseTargetType(t), column: fields[k]!.name }));
const data = (): Data[] => [
  vectorFromArray([1, null, 3, 4], new Int32()).data[0]!,
  vectorFromArray([5n, 2n ** 40n, -1n, 2n ** 33n], new Int64()).data[0]!,
  vectorFromArray(['a', '', null, 'héllo, "x"\n'], new Utf8()).data[0]!,
];

function encode(types = ['integer', 'bigint', 'text'], rejecting = false): BinaryEncoder {
  const enc = new BinaryEncoder(plans(types), 'UTC', rejecting);
  enc.add(data(), 4, 100);
  return enc;
}

describe('splitTuples', () => {
  it('finds the header end and each tuple, NULLs and empty values included', () => {
    const buf = Buffer.from(encode().finish());
    const { header, bounds } = splitTuples(buf);
    expect(header).toBe(19);
    expect(bounds).toHaveLength(5);
    // tuple 0: count, 4+4 (id), 4+8 (big), 4+1 ("a")
    expect(bounds[1]! - bounds[0]!).toBe(2 + 8 + 12 + 5);
    // tuple 1: NULL id (-1, no bytes), big, "" (length 0)
    expect(bounds[2]! - bounds[1]!).toBe(2 + 4 + 12 + 4);
    expect(buf.readInt16BE(bounds[4]!)).toBe(-1);
    expect(bounds[4]! + 2).toBe(buf.length);
  });

  it('gives runs of tuples that are COPY BINARY streams of their own', () => {
    const buf = Buffer.from(encode().finish());
    const segs = binarySegments(buf, 4);
    expect(segs.payload(0, 4)).toEqual([buf]); // the whole as it is, unsplit
    const whole = splitTuples(buf);
    for (const [lo, hi] of [
      [0, 4],
      [1, 2],
      [2, 4],
      [3, 4],
    ] as const) {
      const part = Buffer.concat(segs.payload(lo, hi));
      const t = splitTuples(part);
      expect(t.bounds).toHaveLength(hi - lo + 1);
      expect(part.subarray(t.bounds[0], t.bounds[hi - lo])).toEqual(
        buf.subarray(whole.bounds[lo], whole.bounds[hi]),
      );
    }
    expect(() => binarySegments(buf, 3).payload(0, 1)).toThrow(/4 tuples encoded for 3 rows/);
    // COPY's `line N` of a run is its Nth tuple
    expect([segs.atLine(2, 4, 1), segs.atLine(2, 4, 2), segs.atLine(2, 4, 0)]).toEqual([0, 1, undefined]);
  });

  it('reads a header extension and an empty stream', () => {
    const sig = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
    const ext = Buffer.concat([sig, Buffer.from([0, 0, 0, 0, 0, 0, 0, 3, 9, 9, 9, 0xff, 0xff])]);
    expect(splitTuples(ext)).toEqual({ header: 22, bounds: [22] });
  });

  it('refuses what is not a whole COPY BINARY stream', () => {
    const buf = Buffer.from(encode().finish());
    expect(() => splitTuples(Buffer.from('id,qty\n1,2\n'))).toThrow(/no signature/);
    expect(() => splitTuples(buf.subarray(0, buf.length - 2))).toThrow(/no trailer/);
    expect(() => splitTuples(buf.subarray(0, 30))).toThrow(/truncated|no trailer/);
    expect(() => splitTuples(Buffer.concat([buf, Buffer.from([0])]))).toThrow(/after the trailer/);
    const broken = Buffer.from(buf);
    broken.writeInt32BE(-7, 21); // the first field's length
    expect(() => splitTuples(broken)).toThrow(/field length -7/);
  });
});

describe('encoders under reject-rows', () => {
  it('COPY BINARY: leaves out a row with a value out of range and lists it; throws without rejecting', () => {
    expect(() => encode(['integer', 'integer', 'text'])).toThrow(EncodeError);
    const enc = encode(['integer', 'integer', 'text'], true);
    expect(enc.rejected.map((e) => [e.row, e.column, e.sqlState])).toEqual([
      [101, 'big', '22003'],
      [103, 'big', '22003'],
    ]);
    expect(enc.rows).toBe(2);
    const buf = Buffer.from(enc.finish());
    const { bounds } = splitTuples(buf);
    expect(bounds).toHaveLength(3);
    // the rows kept are rows 0 and 2: ids 1 and 3
    expect([buf.readInt32BE(bounds[0]! + 6), buf.readInt32BE(bounds[1]! + 6)]).toEqual([1, 3]);
  });

  it('CSV: leaves out a row whose value cannot be written, and renders chosen rows as CSV', () => {
    const ts: FieldInfo = {
      name: 'ts',
      arrow: 'Timestamp<MICROSECOND>',
      kind: 'timestamp',
      unit: 'us',
      tz: null,
    };
    const tsPlans: ColumnPlan[] = [
      plans(['integer'])[0]!,
      { field: 1, info: ts, target: parseTargetType('timestamp with time zone'), column: 'ts' },
    ];
    const cols = [
      vectorFromArray([7, 8], new Int32()).data[0]!,
      vectorFromArray([0n, null], new Int64()).data[0]!,
    ];
    // A wall-clock time read in a zone that does not exist cannot be written.
    const enc = new CsvEncoder(tsPlans, 'Nowhere/Bogus', true);
    enc.add(cols, 2, 50);
    expect(enc.rejected.map((e) => [e.row, e.column])).toEqual([[50, 'ts']]);
    expect([enc.rows, Buffer.from(enc.finish()).toString()]).toEqual([1, '"8",\n']);
    expect(() => new CsvEncoder(tsPlans, 'Nowhere/Bogus').add(cols, 2, 50)).toThrow(EncodeError);
    // Rendering for the rejects file: chosen rows, a value that cannot be written left empty.
    expect(enc.render(cols, [1, 0])).toEqual(['"8",\n', '"7",\n']);
    const all = new CsvEncoder(plans(['integer', 'bigint', 'text']), 'UTC');
    expect(all.render(data(), [3, 1])).toEqual([
      '"4","8589934592","héllo, ""x""\n"\n',
      ',"1099511627776",""\n',
    ]);
  });
});
