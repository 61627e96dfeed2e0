// `npm run demo`: the main job end to end on a throw-away embedded PostgreSQL. Writes sample files (plain, gzip,
// semicolon-delimited, one with a bad row, and a Parquet file written with apache-arrow + parquet-wasm), loads them
// with the real CLI, runs it again to show the skip, prints the summary, some rows and the audit table, then
// removes everything.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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
import pg from 'pg';
import { startEmbedded } from './embedded.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '../src/cli.js');

function sample(from: number, n: number, sep = ','): string {
  const rows = [`id${sep}customer${sep}amount${sep}placed_at${sep}note`];
  for (let i = from; i < from + n; i++) {
    const note = i % 7 === 0 ? `"said ""hi"", then left${sep} twice\nsecond line"` : `plain ${i}`;
    rows.push(
      [
        i,
        `customer ${i % 13}`,
        (i * 1.25).toFixed(2),
        `2026-11-${String((i % 28) + 1).padStart(2, '0')} 10:00:00`,
        note,
      ].join(sep),
    );
  }
  return rows.join('\n') + '\n';
}

/** The same orders as Parquet (row groups of 1000 rows, customers dictionary-encoded). */
function sampleParquet(from: number, n: number): Uint8Array {
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
      ids.map((i) => Date.UTC(2026, 11, (i % 28) + 1, 10)),
      new TimestampMillisecond('UTC'),
    ),
    note: vectorFromArray(
      ids.map((i) => `parquet ${i}`),
      new Utf8(),
    ),
  });
  const props = new WriterPropertiesBuilder().setMaxRowGroupSize(1000).build();
  return writeParquet(Table.fromIPCStream(tableToIPC(table, 'stream')), props);
}

function run(args: string[]): number {
  console.log(
    `\n$ loader ${args.map((a) => (a.includes('://') ? a.replace(/:[^:@/]+@/, ':***@') : a)).join(' ')}`,
  );
  const r = spawnSync(process.execPath, [cli, ...args], {
    stdio: ['ignore', 'inherit', 'pipe'],
    env: { ...process.env, LOADER_LOG_LEVEL: 'silent' },
  });
  const err = r.stderr.toString().trim();
  if (err)
    console.log(
      err
        .split('\n')
        .map((l) => `  (stderr) ${l}`)
        .join('\n'),
    );
  console.log(`exit code ${r.status}`);
  return r.status ?? -1;
}

const server = await startEmbedded();
const dir = await mkdtemp(join(tmpdir(), 'loader-demo-'));
const db = new pg.Client(server.dsn);
try {
  await db.connect();
  await db.query(`CREATE TABLE public.orders (
    id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2), placed_at timestamptz, note text,
    loaded_at timestamptz NOT NULL DEFAULT now())`);
  await writeFile(join(dir, 'orders-2026-11-01.csv'), sample(1, 5000));
  await writeFile(join(dir, 'orders-2026-11-02.csv.gz'), gzipSync(sample(4001, 5000)));
  await writeFile(join(dir, 'orders-2026-11-03.csv'), sample(9001, 1000, ';'));
  await writeFile(
    join(dir, 'orders-2026-11-04.csv'),
    'id,customer,amount,placed_at,note\n20001,x,1.00,2026-11-04,ok\n20002,y,not-a-number,2026-11-04,bad\n',
  );
  await writeFile(join(dir, 'orders-2026-12.parquet'), sampleParquet(30001, 5000));

  const args = [
    '--dsn',
    server.dsn,
    '--table',
    'public.orders',
    `${dir}/*.csv*`,
    `${dir}/*.parquet`,
    '--batch-size',
    '2000',
  ];
  run(args);
  console.log('\nThe same command again: every loaded file is skipped, the bad one fails again.');
  run(args);

  const rows = await db.query(
    `SELECT id, customer, amount, placed_at, left(note, 30) AS note FROM orders ORDER BY id LIMIT 5`,
  );
  console.log('\nSELECT * FROM orders LIMIT 5');
  console.table(rows.rows);
  const count = await db.query(`SELECT count(*)::int AS rows FROM orders`);
  console.log(
    `orders holds ${count.rows[0].rows} rows (ids 4001-5000 were in two files: upserted, not doubled)`,
  );
  const audit = await db.query(
    `SELECT regexp_replace(file_path, '^.*/', '') AS file, status, rows_read AS read, rows_inserted AS ins,
            rows_updated AS upd, sub_batches AS batches, left(coalesce(error_message, ''), 70) AS error
       FROM loader_audit ORDER BY id`,
  );
  console.log('\nSELECT * FROM loader_audit');
  console.table(audit.rows);
} finally {
  await db.end().catch(() => {});
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
