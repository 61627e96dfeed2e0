// ffi.ts reads parquet-wasm's record batches in place (the Arrow C data interface): every type the loader maps,
// nulls, nested types, dictionaries and sliced batches (non-zero offsets) must read exactly as the IPC stream of
// the same batch does, and from the wasm memory itself (no copy). Files written by DuckDB and by parquet-wasm.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { openAsBlob } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { RecordBatch, Schema } from 'apache-arrow';
import {
  ParquetFile,
  Table as WasmTable,
  WriterPropertiesBuilder,
  wasmMemory,
  writeParquet,
  type RecordBatch as WasmBatch,
} from 'parquet-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arrow } from '../../src/parquet/arrow.js';
import { ImportError, importBatch } from '../../src/parquet/ffi.js';
import { arrowSchema } from '../../src/parquet/schema.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'loader-ffi-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A value as plain data, the same for equal values whatever buffers hold them. */
function plain(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number' && Number.isNaN(v)) return 'NaN';
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number | bigint>, plain);
  if (typeof v === 'object' && Symbol.iterator in v) return [...(v as Iterable<unknown>)].map(plain);
  if (typeof v === 'object') return Object.entries(v).map(([k, x]) => [k, plain(x)]);
  return v;
}

function rowsOf(b: RecordBatch): unknown[][] {
  return b.schema.fields.map((f) => {
    const col = b.getChild(f.name)!;
    return Array.from({ length: b.numRows }, (_, i) => plain(col.get(i)));
  });
}

interface Compared {
  batches: number;
  rows: number;
  types: string[];
}

/** Reads `path` in batches of `batchSize` (and a slice of each): in place and through IPC, compared. */
async function compare(path: string, batchSize: number): Promise<Compared> {
  const file = await ParquetFile.fromFile(await openAsBlob(path));
  const schema = arrowSchema(file);
  const out: Compared = { batches: 0, rows: 0, types: schema.fields.map((f) => String(f.type)) };
  const check = (b: WasmBatch): number => {
    const ffi = b.toFFI();
    try {
      const mine = importBatch(wasmMemory().buffer, ffi.arrayAddr(), ffi.schemaAddr(), schema);
      // in place: the first fixed-width column's values are a view of the wasm memory
      const first = mine.getChild(schema.fields[0]!.name)!.data[0]!;
      expect(first.values.buffer).toBe(wasmMemory().buffer);
      const got = rowsOf(mine);
      const want = rowsOf(arrow.tableFromIPC(b.intoIPCStream()).batches[0]!);
      expect(mine.numRows).toBe(want[0]!.length);
      schema.fields.forEach((f, k) => expect([f.name, got[k]]).toEqual([f.name, want[k]]));
      out.batches++;
      return mine.numRows;
    } finally {
      ffi.free();
    }
  };
  const stream = (await file.stream({ batchSize })) as unknown as AsyncIterable<WasmBatch>;
  for await (const b of stream) {
    const n = b.numRows;
    if (n > 3) check(b.slice(1, n - 3)); // an offset and a length other than the buffers'
    out.rows += check(b);
  }
  file.free();
  return out;
}

/** DuckDB expressions of row i, NULL every 7th row. */
const COLUMNS: [string, string][] = [
  ['i32', 'i::INTEGER'],
  ['b', 'i % 3 = 0'],
  ['i8', '(i % 200 - 100)::TINYINT'],
  ['i16', '(i * 7 - 9000)::SMALLINT'],
  ['i64', 'i::BIGINT * 1000000000007 - 5'],
  ['u8', '(i % 256)::UTINYINT'],
  ['u32', '(i::BIGINT * 1000003)::UINTEGER'],
  ['u64', '(i::UBIGINT * 6148914691236517)'],
  ['f32', '(i / 3)::FLOAT'],
  ['f64', 'i / 7 - 100'],
  ['dec4', '(i % 100 / 8)::DECIMAL(4,2)'],
  ['dec18', '(i * 12345.6789 - 9)::DECIMAL(18,4)'],
  ['dec38', '(i::DECIMAL(38,10) * 123456789012.3456789 - 1)'],
  ['s', `'a,"b"' || chr(10) || repeat('é', i % 5) || i`],
  ['blob', `('\\x00\\xFF' || i)::BLOB`],
  ['uuid', `('00000000-0000-0000-0000-' || lpad(i::VARCHAR, 12, '0'))::UUID`],
  ['d', `DATE '2024-02-29' + i`],
  ['t', `TIME '01:02:03.000004' + INTERVAL (i) SECOND`],
  ['ts', `TIMESTAMP '1999-12-31 23:59:59.999999' + INTERVAL (i) MINUTE`],
  ['tstz', `TIMESTAMPTZ '2024-01-01 00:00:00+00' + INTERVAL (i) HOUR`],
  ['tsns', `(TIMESTAMP '2024-01-01' + INTERVAL (i) MICROSECOND)::TIMESTAMP_NS`],
  ['tsms', `(TIMESTAMP '2024-01-01' + INTERVAL (i) SECOND)::TIMESTAMP_MS`],
  ['l', 'CASE WHEN i % 5 = 0 THEN []::INTEGER[] ELSE [i, NULL, i + 1] END'],
  ['ls', `[i::VARCHAR, 'x']`],
  ['st', `{'a': i, 'b': 'v' || i, 'c': [i, i]}`],
  ['m', `MAP {'k' || i: i, 'z': NULL}`],
  ['lst', `[{'x': i, 'y': NULL::VARCHAR}, {'x': -i, 'y': 'q'}]`],
  ['nul', 'NULL::INTEGER'],
];

describe('Parquet record batches read in place (the Arrow C data interface)', () => {
  it('reads every mapped type, nested types and nulls as IPC does, in batches and slices of them', async () => {
    const path = join(dir, 'types.parquet');
    const duck = await DuckDBInstance.create(':memory:');
    const conn = await duck.connect();
    try {
      const cols = COLUMNS.map(([n, e]) => `CASE WHEN i % 7 = 3 THEN NULL ELSE ${e} END AS "${n}"`).join(
        ', ',
      );
      await conn.run(
        `COPY (SELECT ${cols} FROM (SELECT range::INTEGER AS i FROM range(3000))) TO '${path}' (FORMAT parquet, ROW_GROUP_SIZE 1024)`,
      );
    } finally {
      conn.closeSync();
      duck.closeSync();
    }
    const r = await compare(path, 700);
    expect(r.rows).toBe(3000);
    expect(r.types).toEqual([
      ...['Int32', 'Bool', 'Int8', 'Int16', 'Int64', 'Uint8', 'Uint32', 'Uint64', 'Float32', 'Float64'],
      ...['Decimal[4e+2]', 'Decimal[18e+4]', 'Decimal[38e+17]', 'Utf8', 'Binary', 'FixedSizeBinary[16]'],
      ...['Date32<DAY>', 'Time64<MICROSECOND>', 'Timestamp<MICROSECOND>', 'Timestamp<MICROSECOND, UTC>'],
      ...['Timestamp<NANOSECOND>', 'Timestamp<MILLISECOND>', 'List<Int32>', 'List<Utf8>'],
      ...['Struct<{a:Int32, b:Utf8, c:List<Int32>}>', 'Map<{key:Utf8, value:Int32}>'],
      ...['List<Struct<{x:Int32, y:Utf8}>>', 'Int32'],
    ]);
    expect(r.batches).toBeGreaterThanOrEqual(2 * 5); // 3 groups of up to 1,024 rows, batches of up to 700, and a slice of each
  });

  it('reads dictionary-encoded and large strings written by parquet-wasm', async () => {
    const colours = Array.from({ length: 500 }, (_, i) =>
      i % 9 === 4 ? null : ['red', 'green', 'blue'][i % 3]!,
    );
    const table = new arrow.Table({
      id: arrow.vectorFromArray(
        Array.from({ length: 500 }, (_, i) => i),
        new arrow.Int32(),
      ),
      d: arrow.vectorFromArray(colours, new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32())),
      l: arrow.vectorFromArray(
        colours.map((c, i) => (c === null ? null : `${c},"${i}"\n`)),
        new arrow.LargeUtf8(),
      ),
    });
    const props = new WriterPropertiesBuilder().setDictionaryEnabled(true).setMaxRowGroupSize(200).build();
    const path = join(dir, 'strings.parquet');
    await writeFile(path, writeParquet(WasmTable.fromIPCStream(arrow.tableToIPC(table, 'stream')), props));
    const r = await compare(path, 90);
    expect(r.types).toEqual(['Int32', 'Dictionary<Int32, Utf8>', 'LargeUtf8']);
    expect(r.rows).toBe(500);
  });

  it('applies the offsets of arrays laid out by hand as the C data interface says (arrow-rs leaves them 0)', () => {
    // a wasm32 memory of our own: ArrowArray and ArrowSchema structs, buffers and strings bump-allocated
    const mem = new ArrayBuffer(1 << 16);
    const v = new DataView(mem);
    let top = 64;
    const alloc = (n: number): number => ((top = Math.ceil(top / 8) * 8 + n), top - n);
    const bytes = (b: ArrayLike<number>): number => {
      const at = alloc(b.length);
      new Uint8Array(mem, at, b.length).set(b);
      return at;
    };
    const str = (x: string): number => bytes([...Buffer.from(x), 0]);
    const ptrs = (list: number[]): number => {
      const at = alloc(4 * Math.max(list.length, 1));
      list.forEach((p, i) => v.setUint32(at + 4 * i, p, true));
      return at;
    };
    const i32 = (xs: number[]): number => bytes(new Uint8Array(Int32Array.from(xs).buffer));
    const bitmap = (bs: boolean[]): number =>
      bytes(
        Array.from({ length: Math.ceil(bs.length / 8) }, (_, k) =>
          bs.slice(8 * k, 8 * k + 8).reduce((x, b, j) => x | (b ? 1 << j : 0), 0),
        ),
      );
    type C = {
      format: string;
      name: string;
      length: number;
      nulls: number;
      offset: number;
      buffers: number[];
      children?: C[];
    };
    const lay = (c: C): [number, number] => {
      const kids = (c.children ?? []).map(lay);
      const sch = alloc(48);
      v.setUint32(sch, str(c.format), true);
      v.setUint32(sch + 4, str(c.name), true);
      v.setBigInt64(sch + 24, BigInt(kids.length), true);
      v.setUint32(sch + 32, ptrs(kids.map((k) => k[1])), true);
      const arr = alloc(64);
      [c.length, c.nulls, c.offset, c.buffers.length, kids.length].forEach((x, i) =>
        v.setBigInt64(arr + 8 * i, BigInt(x), true),
      );
      v.setUint32(arr + 40, ptrs(c.buffers), true);
      v.setUint32(arr + 44, ptrs(kids.map((k) => k[0])), true);
      return [arr, sch];
    };
    const [arr, sch] = lay({
      format: '+s',
      name: '',
      length: 3,
      nulls: 0,
      offset: 0,
      buffers: [0],
      children: [
        // rows 2..4 of [10, 11, null, 13, 14]
        {
          format: 'i',
          name: 'i',
          length: 3,
          nulls: 1,
          offset: 2,
          buffers: [bitmap([true, true, false, true, true]), i32([10, 11, 0, 13, 14])],
        },
        // rows 1..3 of ['a', 'bb', 'ccc', 'dddd']
        {
          format: 'u',
          name: 's',
          length: 3,
          nulls: 0,
          offset: 1,
          buffers: [0, i32([0, 1, 3, 6, 10]), bytes(Buffer.from('abbcccdddd'))],
        },
        // rows 3..5 of [t, f, t, f, t, t]
        {
          format: 'b',
          name: 'b',
          length: 3,
          nulls: 0,
          offset: 3,
          buffers: [0, bitmap([true, false, true, false, true, true])],
        },
        // rows 1..3 of a struct whose x is [1, 2, 3, 4], the struct's row 2 null
        {
          format: '+s',
          name: 'st',
          length: 3,
          nulls: 1,
          offset: 1,
          buffers: [bitmap([true, true, false, true])],
          children: [
            { format: 'i', name: 'x', length: 4, nulls: 0, offset: 0, buffers: [0, i32([1, 2, 3, 4])] },
          ],
        },
      ],
    });
    const f = (n: string, t: InstanceType<typeof arrow.DataType>) => new arrow.Field(n, t, true);
    const schema = new arrow.Schema([
      f('i', new arrow.Int32()),
      f('s', new arrow.Utf8()),
      f('b', new arrow.Bool()),
      f('st', new arrow.Struct([f('x', new arrow.Int32())])),
    ]) as Schema;
    const got = rowsOf(importBatch(mem, arr, sch, schema));
    expect(got).toEqual([
      [null, 13, 14],
      ['bb', 'ccc', 'dddd'],
      [false, true, true],
      [plain({ x: 2 }), null, plain({ x: 4 })],
    ]);
  });

  it('refuses a batch whose columns are not the schema it is given (the caller then reads it through IPC)', async () => {
    const table = new arrow.Table({
      a: arrow.vectorFromArray([1, 2, 3], new arrow.Int32()),
      b: arrow.vectorFromArray(['x', 'y', 'z'], new arrow.Utf8()),
    });
    const path = join(dir, 'two.parquet');
    await writeFile(path, writeParquet(WasmTable.fromIPCStream(arrow.tableToIPC(table, 'stream'))));
    const file = await ParquetFile.fromFile(await openAsBlob(path));
    const other = (s: Record<string, InstanceType<typeof arrow.DataType>>): Schema =>
      new arrow.Schema(Object.entries(s).map(([n, t]) => new arrow.Field(n, t, true))) as Schema;
    const stream = (await file.stream({})) as unknown as AsyncIterable<WasmBatch>;
    for await (const b of stream) {
      const ffi = b.toFFI();
      const at = (s: Schema) => () => importBatch(wasmMemory().buffer, ffi.arrayAddr(), ffi.schemaAddr(), s);
      expect(at(other({ a: new arrow.Int32(), b: new arrow.Utf8() }))().numRows).toBe(3);
      expect(at(other({ a: new arrow.Int64(), b: new arrow.Utf8() }))).toThrow(ImportError); // width
      expect(at(other({ a: new arrow.Int32(), b: new arrow.Binary() }))).toThrow(ImportError); // type
      expect(at(other({ a: new arrow.Int32(), c: new arrow.Utf8() }))).toThrow(ImportError); // name
      expect(at(other({ a: new arrow.Int32() }))).toThrow(ImportError); // columns
      ffi.free();
      b.free();
    }
    file.free();
  });
});
