// A seeded dataset for benchmarks: 12 mixed columns (bigint id, int, short and long text with commas, quotes and
// some embedded newlines, numeric(12,2), double, boolean, date, timestamptz, uuid, nullable int, small json).
// The same seed gives the same bytes.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export const BENCH_TABLE_DDL = (name: string): string => `CREATE TABLE ${name} (
  id bigint PRIMARY KEY, qty integer, label text, body text, price numeric(12,2), score double precision,
  active boolean, day date, at timestamptz, ref uuid, maybe integer, meta json)`;

export const BENCH_COLUMNS = [
  'id',
  'qty',
  'label',
  'body',
  'price',
  'score',
  'active',
  'day',
  'at',
  'ref',
  'maybe',
  'meta',
];

/** mulberry32: small, fast, seeded. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS =
  'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau'.split(
    ' ',
  );

export function row(id: number, r: () => number): string {
  const w = (n: number): string =>
    Array.from({ length: n }, () => WORDS[Math.floor(r() * WORDS.length)]).join(' ');
  const hex = (n: number): string =>
    Array.from({ length: n }, () => Math.floor(r() * 16).toString(16)).join('');
  let body = `${w(8)}, "${w(3)}", ${w(10)}`;
  if (r() < 0.02) body += `\n${w(5)}`;
  const d = new Date(Date.UTC(2020, 0, 1) + Math.floor(r() * 5 * 365 * 86400_000));
  return [
    id,
    Math.floor(r() * 100000),
    w(2),
    `"${body.replaceAll('"', '""')}"`,
    (r() * 100000).toFixed(2),
    (r() * 1e6).toPrecision(12),
    r() < 0.5 ? 't' : 'f',
    d.toISOString().slice(0, 10),
    d.toISOString(),
    `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`,
    r() < 0.2 ? '' : String(Math.floor(r() * 1000)),
    `"{""k"":${Math.floor(r() * 100)},""w"":""${WORDS[Math.floor(r() * WORDS.length)]}""}"`,
  ].join(',');
}

/** Writes rows [from, to) to `files` CSV files with a header, round-robin in contiguous slices. */
export async function writeDataset(paths: string[], rows: number, seed = 42): Promise<number> {
  const r = rng(seed);
  const per = Math.ceil(rows / paths.length);
  let bytes = 0;
  for (let f = 0; f < paths.length; f++) {
    const out = createWriteStream(paths[f]!);
    let buf = BENCH_COLUMNS.join(',') + '\n';
    for (let id = f * per + 1; id <= Math.min(rows, (f + 1) * per); id++) {
      buf += row(id, r) + '\n';
      if (buf.length > 1 << 20) {
        bytes += Buffer.byteLength(buf);
        if (!out.write(buf)) await once(out, 'drain');
        buf = '';
      }
    }
    bytes += Buffer.byteLength(buf);
    out.end(buf);
    await once(out, 'finish');
  }
  return bytes;
}

/** The first `rows` rows of the dataset (with its header) as one buffer, for micro-benchmarks. */
export function datasetBuffer(rows: number, seed = 42): Buffer {
  const r = rng(seed);
  const parts: string[] = [BENCH_COLUMNS.join(',') + '\n'];
  for (let id = 1; id <= rows; id++) parts.push(row(id, r) + '\n');
  return Buffer.from(parts.join(''));
}
