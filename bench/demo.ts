// `npm run demo`: the main job end to end on a throw-away embedded PostgreSQL. Loads the committed sample files in
// fixtures/ (plain, gzip, semicolon-delimited, one with a bad value, and a Parquet file: `npm run fixtures` writes
// them) with the real CLI, runs it again to show the skip, prints the summary, some rows and the audit table, then
// stops the server.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startEmbedded } from './embedded.js';
import { FIXTURES_DIR, ORDERS_DDL } from './fixtures.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '../src/cli.js');

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
const db = new pg.Client(server.dsn);
try {
  await db.connect();
  await db.query(ORDERS_DDL);

  const args = [
    '--dsn',
    server.dsn,
    '--table',
    'public.orders',
    `${FIXTURES_DIR}/*.csv*`,
    `${FIXTURES_DIR}/*.parquet`,
    '--batch-size',
    '200',
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
    `orders holds ${count.rows[0].rows} rows (ids 401-500 were in two files: upserted, not doubled)`,
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
}
