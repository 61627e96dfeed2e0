// `npm run bench:micro`: the plan pass's hot loops on one in-memory buffer of the seeded dataset (about 50 MB):
// the quote-aware record-boundary scan (src/scan.ts), sha256, and both together as workers/plan.ts runs them
// (1 MB chunks, as createReadStream hands them out). Prints MB/s and rows/s each. No database, no disk.
// Then the CSV -> COPY BINARY conversion (src/csvbin/) of the same buffer, sub-batch by sub-batch as the workers
// convert it. Then the Parquet decode path on one row group of the same rows (parquet-micro.ts): parquet-wasm's read, and
// the Arrow -> COPY BINARY encoding (direct field writers against the generic readers).
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Bench } from 'tinybench';
import { CsvBinaryEncoder } from '../src/csvbin/encode.js';
import { Kind, kindOf } from '../src/csvbin/types.js';
import { RecordScanner, scanBuffer } from '../src/scan.js';
import { datasetBuffer } from './dataset.js';
import { parquetParts } from './parquet-micro.js';

const { values: o } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    time: { type: 'string', default: '3000' },
    json: { type: 'string' },
    'batch-size': { type: 'string', default: '50000' },
  },
});
const rows = Number(o.rows);
const buf = datasetBuffer(rows);
const CHUNK = 1 << 20;
const chunks: Buffer[] = [];
for (let i = 0; i < buf.length; i += CHUNK) chunks.push(buf.subarray(i, i + CHUNK));
const QUOTE = 0x22;

function scan(parts: readonly Buffer[], batchSize = 50_000): number {
  const s = new RecordScanner({ quote: QUOTE, escape: QUOTE, batchSize, header: true });
  for (const c of parts) s.push(c);
  return s.finish().records;
}

/** A candidate for src/scan.ts, for comparison only: one plain byte loop (RFC 4180, escape = quote, so a doubled
 * quote toggles twice), counting records and lines. The real scanner makes one indexOf call per quote byte (this
 * dataset has about 24 per row), each byte searched once per kind. */
function byteLoop(parts: readonly Buffer[]): number {
  let inQuote = false;
  let records = 0;
  let lines = 0;
  for (const c of parts) {
    for (let i = 0, n = c.length; i < n; i++) {
      const b = c[i]!;
      if (b === QUOTE) inQuote = !inQuote;
      else if (b === 10) {
        lines++;
        if (!inQuote) records++;
      }
    }
  }
  return lines >= records ? records - 1 : -1; // less the header
}

// Check once that the scanner sees every row (the dataset has multi-line records), so the figures mean something.
if (scan(chunks) !== rows) throw new Error(`scan found ${scan(chunks)} records, expected ${rows}`);

const bench = new Bench({ time: Number(o.time), iterations: 5, warmup: true });
bench
  .add('scan: RecordScanner, 1 MB chunks, batch 50000', () => void scan(chunks))
  .add('scan: RecordScanner, one buffer, batch 50000', () => void scan([buf]))
  .add('scan: RecordScanner, 1 MB chunks, batch 1000', () => void scan(chunks, 1000))
  .add('sha256, 1 MB chunks (the hash pass before the claim)', () => {
    const h = createHash('sha256');
    for (const c of chunks) h.update(c);
    h.digest();
  })
  .add('old plan pass: sha256 + scan in one loop, 1 MB chunks', () => {
    const h = createHash('sha256');
    const s = new RecordScanner({ quote: QUOTE, escape: QUOTE, batchSize: 50_000, header: true });
    for (const c of chunks) {
      h.update(c);
      s.push(c);
    }
    h.digest();
    s.finish();
  });
bench.add('candidate: plain byte loop, 1 MB chunks', () => void byteLoop(chunks));
// CSV -> COPY BINARY: the bench table's types (bigint, integer, text x2, numeric(12,2), double precision, boolean,
// date, timestamptz, uuid, integer, json), and every field as text (the parse and copy alone)
const TYPES = ['bigint', 'integer', 'text', 'text', 'numeric(12,2)', 'double precision', 'boolean', 'date'];
TYPES.push('timestamp with time zone', 'uuid', 'integer', 'json');
const subBatches = scanBuffer(buf, { quote: QUOTE, escape: QUOTE, batchSize: 50_000, header: true }).batches;
const convert = (kinds: Kind[]): number => {
  const enc = new CsvBinaryEncoder({
    delimiter: 0x2c,
    quote: QUOTE,
    escape: QUOTE,
    nullBytes: Buffer.alloc(0),
    kinds,
  });
  let bytes = 0;
  for (const b of subBatches) {
    const r = enc.encode(buf.subarray(b.start, b.end));
    if (!r.ok) throw new Error(`the converter gave up: ${r.reason}`);
    bytes += r.data.length;
  }
  return bytes;
};
const typed = TYPES.map((t) => kindOf(t)!);
convert(typed); // every sub-batch converts (throws otherwise)
bench
  .add('csv -> COPY BINARY, the 12 typed columns, sub-batches of 50000', () => void convert(typed))
  .add('csv -> COPY BINARY, every column as text', () => void convert(typed.map(() => Kind.Text)));
if (byteLoop(chunks) !== rows) throw new Error(`byte loop found ${byteLoop(chunks)} records`);
await bench.run();

const mb = buf.length / 1e6;
console.log(
  `\n${rows} rows, ${mb.toFixed(1)} MB of CSV in memory (12 mixed columns, ~2% multi-line records)\n`,
);
const out = [...report(bench, rows, mb)];

// The Parquet decode path: one row group of the same rows, read and encoded as workers/parquet.ts does.
const pq = await parquetParts(buf);
const batch = Number(o['batch-size']);
const decoded = await pq.stream(batch);
const copyBytes = pq.encode(decoded, true);
if (copyBytes !== pq.encode(decoded, false)) throw new Error('direct and generic COPY BINARY differ in size');
const pqBench = new Bench({ time: Number(o.time), iterations: 5, warmup: true });
pqBench
  .add(`parquet-wasm: stream a row group, ${batch}-row batches, + IPC`, () => pq.stream(batch))
  .add(`parquet-wasm: read each ${batch}-row slice alone (before)`, () => pq.slices(batch))
  .add('COPY BINARY encode, direct field writers', () => void pq.encode(decoded, true))
  .add('COPY BINARY encode, generic readers (before)', () => void pq.encode(decoded, false))
  .add('row group: stream + encode (direct)', async () => void pq.encode(await pq.stream(batch), true));
await pqBench.run();
const groupMb = copyBytes / 1e6;
console.log(
  `\nParquet: ${rows} rows in ${(pq.parquetBytes / 1e6).toFixed(1)} MB (snappy, row groups of 122,880); one group ` +
    `of ${pq.groupRows} rows, ${groupMb.toFixed(1)} MB as COPY BINARY (MB/s: of COPY bytes)\n`,
);
out.push(...report(pqBench, pq.groupRows, groupMb));

if (o.json) {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(o.json, JSON.stringify({ rows, bytes: buf.length, tasks: out }, null, 2));
}

/** Prints one line per task: mean and p75 ms, MB/s and rows/s of `units` rows and `units` MB. */
function report(
  b: Bench,
  units: number,
  megabytes: number,
): { task: string; meanMs: number; mbPerS: number; rowsPerS: number }[] {
  console.log(['task'.padEnd(64), 'mean ms', 'p75 ms', 'MB/s', 'rows/s', 'samples'].join('  '));
  const lines: { task: string; meanMs: number; mbPerS: number; rowsPerS: number }[] = [];
  for (const t of b.tasks) {
    const r = t.result;
    if (r.state !== 'completed') {
      console.log(`${t.name.padEnd(64)}  ${r.state}${'error' in r ? `: ${String(r.error)}` : ''}`);
      continue;
    }
    const s = r.latency.mean / 1000;
    lines.push({ task: t.name, meanMs: r.latency.mean, mbPerS: megabytes / s, rowsPerS: units / s });
    console.log(
      [
        t.name.padEnd(64),
        r.latency.mean.toFixed(1).padStart(7),
        r.latency.p75.toFixed(1).padStart(6),
        (megabytes / s).toFixed(0).padStart(4),
        Math.round(units / s)
          .toLocaleString('en-US')
          .padStart(10),
        String(r.latency.samplesCount).padStart(7),
      ].join('  '),
    );
  }
  return lines;
}
