// `npm run bench:merges`: the statements that move an upsert's staged rows into the target, on an embedded
// PostgreSQL, against each other: the bench's rows as sub-batches in tables of their own (as src/landed.ts stages
// them), merged in one transaction into the bench's table holding about half of them, by INSERT ... ON CONFLICT
// (mergeSql, the statement before MERGE) and by MERGE (landedUpsertSql, what an upsert merged as it lands uses from
// PostgreSQL 17), and the hand-written way's one INSERT ... ON CONFLICT of all the rows. The SQL is the loader's own
// (src/merge.ts). Each turn refills the table, VACUUM ANALYZE and CHECKPOINT first; the settings run in turns, in
// reversed order every other turn.
// Prints medians of the wall time, the backend's CPU time (from /proc: the server is local) and the WAL written.
import { createReadStream, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Column, Target } from '../src/catalog.js';
import { BATCH_COL, ORD_COL, landedUpsertSql, mergeSql, type FileColumn } from '../src/merge.js';
import { BENCH_COLUMNS, BENCH_TABLE_DDL, writeDataset } from './dataset.js';
import { startEmbedded } from './embedded.js';
import { median, turnOrder } from './measure.js';

const { values: o } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    'batch-size': { type: 'string', default: '50000' },
    turns: { type: 'string', default: '5' },
    /** also the MERGE left to the planner (a merge join over the target's whole index: slow) */
    'planner-merge': { type: 'boolean', default: false },
  },
});
const rows = Number(o.rows);
const batch = Number(o['batch-size']);
const turns = Number(o.turns);
const batches = Math.ceil(rows / batch);

const server = await startEmbedded(); // PostgreSQL 18: MERGE ... RETURNING needs 17
const dir = await mkdtemp(join(tmpdir(), 'loader-merges-'));
const db = new pg.Client(server.dsn);
try {
  await db.connect();
  await db.query('SET client_min_messages = warning');
  console.error(`bench:merges: ${rows} rows in ${batches} sub-batches of ${batch}, ${turns} turns`);
  const csv = join(dir, 'rows.csv');
  await writeDataset([csv], rows);
  await db.query(BENCH_TABLE_DDL('t'));
  await db.query('CREATE UNLOGGED TABLE allrows (LIKE t)');
  await pipeline(
    createReadStream(csv),
    db.query(copyFrom('COPY allrows FROM STDIN (FORMAT csv, HEADER true)')),
  );
  await db.query(`CREATE UNLOGGED TABLE seed AS SELECT * FROM allrows WHERE (hashtext(ctid::text) & 1) = 1`);
  for (let k = 0; k < batches; k++) {
    await db.query(
      `CREATE UNLOGGED TABLE s_${k} AS SELECT *, ${k} AS "${BATCH_COL}", row_number() OVER (ORDER BY id) AS "${ORD_COL}"
         FROM allrows WHERE id > ${k * batch} AND id <= ${(k + 1) * batch}`,
    );
  }
  const types = await db.query<{ name: string; type: string }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
      WHERE attrelid = 't'::regclass AND attnum > 0 ORDER BY attnum`,
  );
  const columns: Column[] = types.rows.map((c) => ({
    ...c,
    notNull: c.name === 'id',
    hasDefault: false,
    generated: false,
    identity: '',
  }));
  const target: Target = {
    oid: 0,
    schema: 'public',
    table: 't',
    sql: '"public"."t"',
    partitioned: false,
    columns,
    uniqueKeys: [['id']],
    primaryKey: ['id'],
    referenced: false,
    mode: 'upsert',
    key: ['id'],
    mergeable: true,
  };
  const files: FileColumn[] = columns.map((c) => ({ source: c.name, target: c, stagingName: c.name }));
  const cols = BENCH_COLUMNS.join(', ');
  const set = BENCH_COLUMNS.filter((c) => c !== 'id')
    .map((c) => `${c} = EXCLUDED.${c}`)
    .join(', ');
  const each = (sql: (k: number) => string) => Array.from({ length: batches }, (_, k) => sql(k));
  const settings: [string, string[]][] = [
    [
      'INSERT ... ON CONFLICT per sub-batch (before)',
      each((k) => mergeSql(target, `s_${k}`, files, 'upsert', k)),
    ],
    ['MERGE per sub-batch (this build)', each((k) => landedUpsertSql(target, `s_${k}`, files, k))],
    [
      'one INSERT ... ON CONFLICT of all rows (hand-written)',
      [`INSERT INTO t (${cols}) SELECT ${cols} FROM allrows ON CONFLICT (id) DO UPDATE SET ${set}`],
    ],
  ];
  if (o['planner-merge'])
    settings.push([
      "MERGE per sub-batch, the planner's own plan",
      each((k) =>
        landedUpsertSql(target, `s_${k}`, files, k).replace(/^SET LOCAL[^;]*; SET LOCAL[^;]*; /, ''),
      ),
    ]);
  const pid = (await db.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0]!.p;
  const cpu = (): number => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 10 ms
  };
  const got = settings.map(() => ({ wall: [] as number[], cpu: [] as number[], wal: [] as number[] }));
  for (let turn = 0; turn < turns; turn++) {
    for (const i of turnOrder([...settings.keys()], turn)) {
      const [name, statements] = settings[i]!;
      await db.query('TRUNCATE t');
      await db.query('INSERT INTO t SELECT * FROM seed');
      await db.query('VACUUM ANALYZE t');
      await db.query('CHECKPOINT');
      const lsn = (await db.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l;
      const [t0, c0] = [performance.now(), cpu()];
      await db.query('BEGIN');
      for (const s of statements) await db.query(s);
      await db.query('COMMIT');
      const [t1, c1] = [performance.now(), cpu()];
      const wal = await db.query<{ d: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1) AS d', [
        lsn,
      ]);
      const n = await db.query<{ n: string }>('SELECT count(*) AS n FROM t');
      if (Number(n.rows[0]!.n) !== rows) throw new Error(`${name}: ${n.rows[0]!.n} rows, not ${rows}`);
      got[i]!.wall.push((t1 - t0) / 1000);
      got[i]!.cpu.push(c1 - c0);
      got[i]!.wal.push(Number(wal.rows[0]!.d) / 1e6);
      console.error(
        `  turn ${turn + 1}: ${name}: ${((t1 - t0) / 1000).toFixed(2)} s, CPU ${(c1 - c0).toFixed(2)} s`,
      );
    }
  }
  const w = Math.max(...settings.map(([n]) => n.length));
  console.log(`\n${'statement'.padEnd(w)}  wall s  backend CPU s  min-max CPU s  WAL MB`);
  for (const [i, [name]] of settings.entries()) {
    const g = got[i]!;
    console.log(
      `${name.padEnd(w)}  ${median(g.wall).toFixed(2).padStart(6)}  ${median(g.cpu).toFixed(2).padStart(13)}  ` +
        `${`${Math.min(...g.cpu).toFixed(2)}-${Math.max(...g.cpu).toFixed(2)}`.padStart(13)}  ${median(g.wal).toFixed(0).padStart(6)}`,
    );
  }
} finally {
  await db.end().catch(() => {});
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
