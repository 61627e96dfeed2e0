// `npm run bench -- [options]`: the end-to-end tuner. Loads the same rows with each setting and, in the same run
// on the same data, the baselines: a plain single-connection pg-copy-streams pipe and `psql \copy` (when psql is
// on PATH). Prints median/min/max wall time, rows/s, MB/s, peak RSS and the ratio to the baseline.
// Without --dsn it starts an embedded PostgreSQL and generates a seeded dataset.
import { spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { load } from '../src/index.js';
import { BENCH_COLUMNS, BENCH_TABLE_DDL, writeDataset } from './dataset.js';
import { startEmbedded, type EmbeddedServer } from './embedded.js';

const { values: o } = parseArgs({
  options: {
    dsn: { type: 'string' },
    rows: { type: 'string', default: '1000000' },
    files: { type: 'string', default: '1' },
    mode: { type: 'string', default: 'append' },
    'batch-sizes': { type: 'string', default: '50000' },
    'internal-concurrency': { type: 'string', default: '1,2' },
    concurrency: { type: 'string', default: '4' },
    runs: { type: 'string', default: '3' },
    json: { type: 'string' },
  },
});
const list = (s: string): number[] => s.split(',').map(Number);

interface Measured {
  name: string;
  times: number[];
  rss: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timed(
  name: string,
  runs: number,
  reset: () => Promise<void>,
  fn: () => Promise<void>,
): Promise<Measured> {
  const times: number[] = [];
  let rss = 0;
  for (let i = 0; i < runs; i++) {
    await reset();
    global.gc?.();
    const poll = setInterval(() => (rss = Math.max(rss, process.memoryUsage().rss)), 20);
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
    clearInterval(poll);
  }
  return { name, times, rss };
}

const dir = join(process.cwd(), '.bench');
await mkdir(dir, { recursive: true });
let server: EmbeddedServer | undefined;
const dsn = o.dsn ?? (server = await startEmbedded()).dsn;
const rows = Number(o.rows);
const nFiles = Number(o.files);
const paths = Array.from({ length: nFiles }, (_, i) => join(dir, `bench-${rows}-${nFiles}-${i}.csv`));
const bytes = await writeDataset(paths, rows);
const single = join(dir, `bench-${rows}-1-0.csv`);
if (nFiles !== 1) await writeDataset([single], rows);
const db = new pg.Client(dsn);
await db.connect();
const table = 'loader_bench';
await db.query(`DROP TABLE IF EXISTS ${table}`);
await db.query(
  o.mode === 'upsert' ? BENCH_TABLE_DDL(table) : BENCH_TABLE_DDL(table).replace(' PRIMARY KEY', ''),
);
const reset = async (): Promise<void> => {
  await db.query(`TRUNCATE ${table}`);
  await db.query(`DROP TABLE IF EXISTS loader_audit`);
  await db.query('CHECKPOINT');
};
const runs = Number(o.runs);
const results: Measured[] = [];

const copySql = `COPY ${table} (${BENCH_COLUMNS.join(',')}) FROM STDIN WITH (FORMAT csv, HEADER true)`;
results.push(
  await timed('pg-copy-streams pipe (1 file, 1 connection)', runs, reset, async () => {
    const c = new pg.Client(dsn);
    await c.connect();
    await pipeline(createReadStream(single, { highWaterMark: 1 << 20 }), c.query(copyFrom(copySql)));
    await c.end();
  }),
);
const psql = spawnSync('psql', ['--version']).status === 0;
if (psql) {
  results.push(
    await timed('psql \\copy (1 file)', runs, reset, async () => {
      const r = spawnSync(
        'psql',
        [
          dsn,
          '-v',
          'ON_ERROR_STOP=1',
          '-c',
          `\\copy ${copySql.replace(/^COPY /, '').replace('STDIN', `'${single}'`)}`,
        ],
        { encoding: 'utf8' },
      );
      if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
    }),
  );
}
for (const batchSize of list(o['batch-sizes'])) {
  for (const internal of list(o['internal-concurrency'])) {
    for (const concurrency of list(o.concurrency)) {
      results.push(
        await timed(
          `loader files=${nFiles} batch=${batchSize} internal=${internal} concurrency=${concurrency}`,
          runs,
          reset,
          async () => {
            const r = await load({
              dsn,
              table,
              files: paths,
              batchSize,
              internalConcurrency: internal,
              concurrency,
              mode: o.mode as 'append',
            });
            if (r.exitCode !== 0) throw new Error(JSON.stringify(r.files.map((f) => f.error)));
          },
        ),
      );
    }
  }
}
const base = results.find((r) => r.name.startsWith('psql')) ?? results[0]!;
const mb = bytes / 1e6;
console.log(
  `\n${rows} rows, ${mb.toFixed(0)} MB of CSV in ${nFiles} file(s), mode ${o.mode}, ${runs} runs each; ratio = median / ${base.name}\n`,
);
console.log(
  ['setting'.padEnd(62), 'median s', 'min s', 'max s', 'rows/s', 'MB/s', 'peak RSS MB', 'ratio'].join('  '),
);
for (const r of results) {
  const m = median(r.times);
  console.log(
    [
      r.name.padEnd(62),
      m.toFixed(2).padStart(8),
      Math.min(...r.times)
        .toFixed(2)
        .padStart(5),
      Math.max(...r.times)
        .toFixed(2)
        .padStart(5),
      Math.round(rows / m)
        .toString()
        .padStart(6),
      (mb / m).toFixed(0).padStart(4),
      (r.rss / 1e6).toFixed(0).padStart(11),
      (m / median(base.times)).toFixed(2).padStart(5),
    ].join('  '),
  );
}
const best = results
  .filter((r) => r.name.startsWith('loader'))
  .sort((a, b) => median(a.times) - median(b.times))[0];
if (best) console.log(`\nrecommended: ${best.name.replace('loader ', '')}`);
if (o.json) await writeFile(o.json, JSON.stringify({ rows, bytes, mode: o.mode, results }, null, 2));
await db.query(`DROP TABLE IF EXISTS ${table}`);
await db.end();
await server?.stop();
for (const p of [...paths, single]) await rm(p, { force: true });
