// `npm run fixtures`: writes the committed sample files in fixtures/ (the demo loads them, test/cli/fixtures.test.ts
// loads them and checks each is what this script writes). Seeded by the row number alone, so the same bytes every
// time: a night's orders as plain CSV, gzip, `;`-delimited and Parquet, and one file with a bad value.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import {
  Dictionary,
  Float64,
  Int32,
  Table as ArrowTable,
  TimestampMillisecond,
  Utf8,
  tableToIPC,
  vectorFromArray,
} from 'apache-arrow';
import { Table, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';

export const FIXTURES_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures');

/** The table every fixture fits (the demo's and the fixture test's). */
export const ORDERS_DDL = `CREATE TABLE public.orders (
    id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2), placed_at timestamptz, note text,
    loaded_at timestamptz NOT NULL DEFAULT now())`;

/** Orders `from` to `from + n - 1` placed on 2026-11-`day`, as CSV; every 7th note quoted, with doubled quotes, the
 * delimiter and a newline. */
export function ordersCsv(from: number, n: number, day: number, sep = ','): string {
  const rows = [`id${sep}customer${sep}amount${sep}placed_at${sep}note`];
  for (let i = from; i < from + n; i++) {
    const note = i % 7 === 0 ? `"said ""hi"", then left${sep} twice\nsecond line"` : `plain ${i}`;
    rows.push(
      [
        i,
        `customer ${i % 13}`,
        (i * 1.25).toFixed(2),
        `2026-11-${two(day)} ${two(i % 24)}:${two(i % 60)}:00`,
        note,
      ].join(sep),
    );
  }
  return rows.join('\n') + '\n';
}

function two(n: number): string {
  return String(n).padStart(2, '0');
}

/** Orders as Parquet, placed on 2026-12-01 (row groups of 100 rows, customers dictionary-encoded). */
export function ordersParquet(from: number, n: number): Uint8Array {
  const ids = Array.from({ length: n }, (_, k) => from + k);
  const table = new ArrowTable({
    id: vectorFromArray(ids, new Int32()),
    customer: vectorFromArray(
      ids.map((i) => `customer ${i % 13}`),
      new Dictionary(new Utf8(), new Int32()),
    ),
    amount: vectorFromArray(
      ids.map((i) => i * 1.25),
      new Float64(),
    ),
    placed_at: vectorFromArray(
      ids.map((i) => Date.UTC(2026, 11, 1, i % 24, i % 60)),
      new TimestampMillisecond('UTC'),
    ),
    note: vectorFromArray(
      ids.map((i) => `parquet ${i}`),
      new Utf8(),
    ),
  });
  const props = new WriterPropertiesBuilder().setMaxRowGroupSize(100).build();
  return writeParquet(Table.fromIPCStream(tableToIPC(table, 'stream')), props);
}

/** Each fixture's name and bytes. Orders 401 to 500 are in the first two files: the upsert into ORDERS_DDL's
 * table updates them to the second file's day. */
export function fixtures(): Array<[string, Uint8Array | string]> {
  return [
    ['orders-2026-11-01.csv', ordersCsv(1, 500, 1)],
    ['orders-2026-11-02.csv.gz', gzipSync(ordersCsv(401, 500, 2))],
    ['orders-2026-11-03.csv', ordersCsv(901, 100, 3, ';')],
    [
      'orders-2026-11-04.csv',
      'id,customer,amount,placed_at,note\n2001,x,1.00,2026-11-04,ok\n2002,y,not-a-number,2026-11-04,bad\n',
    ],
    ['orders-2026-12.parquet', ordersParquet(3001, 500)],
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await mkdir(FIXTURES_DIR, { recursive: true });
  const files = fixtures();
  for (const [name, bytes] of files) await writeFile(join(FIXTURES_DIR, name), bytes);
  console.log(`wrote ${files.length} files to ${FIXTURES_DIR}`);
}
