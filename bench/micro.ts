// `npm run bench:micro`: the plan pass's hot loops on one in-memory buffer of the seeded dataset (about 50 MB):
// the quote-aware record-boundary scan (src/scan.ts), sha256, and both together as workers/plan.ts runs them
// (1 MB chunks, as createReadStream hands them out). Prints MB/s and rows/s each. No database, no disk.
// Parquet decode and Arrow -> COPY BINARY encoding join this file once src/parquet has an encoder and a decoder.
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Bench } from 'tinybench';
import { RecordScanner } from '../src/scan.js';
import { datasetBuffer } from './dataset.js';

const { values: o } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    time: { type: 'string', default: '3000' },
    json: { type: 'string' },
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
if (byteLoop(chunks) !== rows) throw new Error(`byte loop found ${byteLoop(chunks)} records`);
await bench.run();

const mb = buf.length / 1e6;
console.log(
  `\n${rows} rows, ${mb.toFixed(1)} MB of CSV in memory (12 mixed columns, ~2% multi-line records)\n`,
);
console.log(['task'.padEnd(56), 'mean ms', 'p75 ms', 'MB/s', 'rows/s', 'samples'].join('  '));
const out: { task: string; meanMs: number; mbPerS: number; rowsPerS: number }[] = [];
for (const t of bench.tasks) {
  const r = t.result;
  if (r.state !== 'completed') {
    console.log(`${t.name.padEnd(56)}  ${r.state}${'error' in r ? `: ${String(r.error)}` : ''}`);
    continue;
  }
  const s = r.latency.mean / 1000;
  out.push({ task: t.name, meanMs: r.latency.mean, mbPerS: mb / s, rowsPerS: rows / s });
  console.log(
    [
      t.name.padEnd(56),
      r.latency.mean.toFixed(1).padStart(7),
      r.latency.p75.toFixed(1).padStart(6),
      (mb / s).toFixed(0).padStart(4),
      Math.round(rows / s)
        .toLocaleString('en-US')
        .padStart(10),
      String(r.latency.samplesCount).padStart(7),
    ].join('  '),
  );
}
if (o.json) {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(o.json, JSON.stringify({ rows, bytes: buf.length, tasks: out }, null, 2));
}
