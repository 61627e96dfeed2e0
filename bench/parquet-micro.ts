// The Parquet decode path's parts for `npm run bench:micro`, in memory: the seeded dataset's rows as an Arrow table
// with the bench's column types (DuckDB's: bigint, int, decimal(12,2), double, boolean, date, timestamptz, uuid as
// 16 bytes, texts), written as Parquet by parquet-wasm (snappy, row groups of 122,880 rows); then one row group read
// back with parquet-wasm (a stream in --batch-size batches, as workers/parquet.ts reads it, and the former read of
// each slice alone), and its batches encoded as COPY BINARY (direct field writers, and the generic readers).
import { parse } from 'csv-parse/sync';
import {
  Bool,
  DateDay,
  Decimal,
  FixedSizeBinary,
  Float64,
  Int32,
  Int64,
  Table as ArrowTable,
  Timestamp,
  TimeUnit,
  Utf8,
  makeData,
  makeVector,
  tableToIPC,
  vectorFromArray,
  type Data,
  type RecordBatch,
} from 'apache-arrow';
import { Compression, ParquetFile, Table, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import { BinaryEncoder } from '../src/parquet/binary.js';
import { parseTargetType, type ColumnPlan } from '../src/parquet/mapping.js';
import { describeField } from '../src/parquet/schema.js';
import { arrow } from '../src/parquet/arrow.js';
import { BENCH_COLUMNS } from './dataset.js';

const TARGETS = [
  'bigint',
  'integer',
  'text',
  'text',
  'numeric(12,2)',
  'double precision',
  'boolean',
  'date',
  'timestamp with time zone',
  'uuid',
  'integer',
  'json',
];
export const GROUP_ROWS = 122_880;

/** The CSV rows (with a header) as an Arrow table of the bench's Parquet types. */
function arrowTable(csv: Buffer): ArrowTable {
  const rows = parse(csv, { from_line: 2 }) as string[][];
  const col = (k: number): string[] => rows.map((r) => r[k]!);
  const cents = col(4).map((s) => Math.round(Number(s) * 100));
  const words = new Uint32Array(cents.length * 4);
  cents.forEach((c, i) => {
    words[4 * i] = c >>> 0;
    words.fill(c < 0 ? 0xffffffff : 0, 4 * i + 1, 4 * i + 4);
  });
  const price = makeData({ type: new Decimal(2, 12, 128), data: words, length: rows.length });
  const days = Int32Array.from(col(7), (s) => Date.parse(s) / 86_400_000);
  const at = BigInt64Array.from(col(8), (s) => BigInt(Date.parse(s)) * 1000n);
  const ref = Buffer.concat(col(9).map((s) => Buffer.from(s.replaceAll('-', ''), 'hex')));
  const vectors = [
    vectorFromArray(col(0).map(BigInt), new Int64()),
    vectorFromArray(col(1).map(Number), new Int32()),
    vectorFromArray(col(2), new Utf8()),
    vectorFromArray(col(3), new Utf8()),
    makeVector(price),
    vectorFromArray(col(5).map(Number), new Float64()),
    vectorFromArray(
      col(6).map((s) => s === 't'),
      new Bool(),
    ),
    makeVector(makeData({ type: new DateDay(), data: days, length: rows.length })),
    makeVector(makeData({ type: new Timestamp(TimeUnit.MICROSECOND, 'UTC'), data: at, length: rows.length })),
    makeVector(makeData({ type: new FixedSizeBinary(16), data: ref, length: rows.length })),
    vectorFromArray(
      col(10).map((s) => (s === '' ? null : Number(s))),
      new Int32(),
    ),
    vectorFromArray(col(11), new Utf8()),
  ];
  return new ArrowTable(Object.fromEntries(BENCH_COLUMNS.map((c, k) => [c, vectors[k]!])));
}

export interface ParquetParts {
  parquetBytes: number;
  /** rows of the row group the tasks read */
  groupRows: number;
  /** reads row group 0 as workers/parquet.ts does: a stream in batches of `batch` rows, each IPC read by Arrow JS */
  stream(batch: number): Promise<RecordBatch[]>;
  /** the former way: each slice of `batch` rows read alone (offset and limit) */
  slices(batch: number): Promise<RecordBatch[]>;
  /** the batches as COPY BINARY: bytes written */
  encode(batches: RecordBatch[], direct: boolean): number;
}

export async function parquetParts(csv: Buffer): Promise<ParquetParts> {
  const table = arrowTable(csv);
  const props = new WriterPropertiesBuilder()
    .setCompression(Compression.SNAPPY)
    .setMaxRowGroupSize(GROUP_ROWS)
    .build();
  const bytes = writeParquet(Table.fromIPCStream(tableToIPC(table, 'stream')), props);
  const file = await ParquetFile.fromFile(new Blob([bytes]));
  const groupRows = Math.min(GROUP_ROWS, table.numRows);
  const plans: ColumnPlan[] = table.schema.fields.map((f, k) => ({
    field: k,
    info: describeField(f),
    target: parseTargetType(TARGETS[k]!),
    column: f.name,
  }));
  const ipc = (b: { intoIPCStream(): Uint8Array }): RecordBatch[] =>
    arrow.tableFromIPC(b.intoIPCStream()).batches as RecordBatch[];
  return {
    parquetBytes: bytes.length,
    groupRows,
    async stream(batch) {
      const out: RecordBatch[] = [];
      const s = (await file.stream({ rowGroups: [0], batchSize: batch })) as unknown as AsyncIterable<{
        intoIPCStream(): Uint8Array;
      }>;
      for await (const b of s) out.push(...ipc(b));
      return out;
    },
    async slices(batch) {
      const out: RecordBatch[] = [];
      for (let offset = 0; offset < groupRows; offset += batch) {
        const limit = Math.min(batch, groupRows - offset);
        out.push(...ipc(await file.read({ rowGroups: [0], offset, limit, batchSize: limit })));
      }
      return out;
    },
    encode(batches, direct) {
      let n = 0;
      for (const b of batches) {
        const enc = new BinaryEncoder(plans, 'UTC', false, direct);
        const cols = plans.map((p) => b.getChild(p.column)?.data[0] as Data);
        enc.add(cols, b.numRows, 0);
        n += enc.finish().length;
      }
      return n;
    },
  };
}
