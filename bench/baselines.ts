// The ways to load without loader, as child-process specs for the tuner: psql \copy (one session, or a shell loop
// of one psql per file), the hand-written upsert (\copy into a staging table, then INSERT ... ON CONFLICT DO
// UPDATE, in one transaction), a plain pg-copy-streams pipe, and pgloader. Passwords go by environment, not argv.
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildSpec } from './measure.js';

export interface CopyTarget {
  /** quoted, schema-qualified */
  sql: string;
  /** quoted file columns, in file order */
  columns: string[];
  /** quoted key columns (upsert) */
  key: string[];
  delimiter: string;
}

export const onPath = (cmd: string): boolean => spawnSync(cmd, ['--version']).status === 0;

/** libpq's PG* variables for a postgres:// URL (so psql and friends never see the password in argv). */
export function pgEnv(dsn: string): NodeJS.ProcessEnv {
  if (!/^postgres(ql)?:\/\//.test(dsn)) return { PGDATABASE: dsn };
  const u = new URL(dsn);
  const env: NodeJS.ProcessEnv = {
    PGHOST: decodeURIComponent(u.hostname),
    PGPORT: u.port || '5432',
    PGUSER: decodeURIComponent(u.username),
    PGDATABASE: decodeURIComponent(u.pathname.slice(1)) || decodeURIComponent(u.username),
  };
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  const ssl = u.searchParams.get('sslmode');
  if (ssl) env.PGSSLMODE = ssl;
  return env;
}

const lit = (s: string): string => `'${s.replaceAll("'", "''")}'`;

export function copyWith(t: CopyTarget): string {
  return `(FORMAT csv, HEADER true${t.delimiter === ',' ? '' : `, DELIMITER ${lit(t.delimiter)}`})`;
}

/** The COPY statement for a pipe from STDIN. */
export const copySql = (t: CopyTarget): string =>
  `COPY ${t.sql} (${t.columns.join(',')}) FROM STDIN WITH ${copyWith(t)}`;

function copyLine(t: CopyTarget, into: string, file: string): string {
  const from = file.endsWith('.gz') ? `PROGRAM ${lit(`gzip -dc ${lit(file)}`)}` : lit(file);
  return `\\copy ${into} (${t.columns.join(',')}) FROM ${from} WITH ${copyWith(t)}`;
}

const psql = (script: string, env: NodeJS.ProcessEnv): ChildSpec => ({
  cmd: 'psql',
  args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', script],
  env,
  pollRss: true,
});

/** `psql \copy` of the files, one after another in one session. */
export async function psqlCopy(
  dir: string,
  tag: string,
  t: CopyTarget,
  files: string[],
  env: NodeJS.ProcessEnv,
): Promise<ChildSpec> {
  const script = join(dir, `psql-${tag}.sql`);
  await writeFile(script, files.map((f) => copyLine(t, t.sql, f)).join('\n') + '\n');
  return psql(script, env);
}

/** The hand-written upsert: one transaction, \copy into an UNLOGGED staging table, INSERT ... ON CONFLICT DO UPDATE. */
export async function psqlUpsert(
  dir: string,
  t: CopyTarget,
  staging: string,
  files: string[],
  env: NodeJS.ProcessEnv,
): Promise<ChildSpec> {
  const rest = t.columns.filter((c) => !t.key.includes(c));
  const set = rest.length
    ? `DO UPDATE SET ${rest.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}`
    : 'DO NOTHING';
  const cols = t.columns.join(',');
  const script = join(dir, 'psql-upsert.sql');
  await writeFile(
    script,
    [
      'BEGIN;',
      `CREATE UNLOGGED TABLE ${staging} (LIKE ${t.sql} INCLUDING DEFAULTS);`,
      ...files.map((f) => copyLine(t, staging, f)),
      `INSERT INTO ${t.sql} (${cols}) SELECT ${cols} FROM ${staging} ON CONFLICT (${t.key.join(',')}) ${set};`,
      `DROP TABLE ${staging};`,
      'COMMIT;',
    ].join('\n') + '\n',
  );
  return psql(script, env);
}

/** A shell loop starting one psql per file: how many cron jobs load a folder of small files. */
export async function shellLoop(
  dir: string,
  t: CopyTarget,
  files: string[],
  env: NodeJS.ProcessEnv,
): Promise<ChildSpec> {
  const script = join(dir, 'loop.sh');
  await writeFile(
    script,
    `for f in "$@"; do psql -X -q -v ON_ERROR_STOP=1 -c "\\\\copy $BENCH_TARGET FROM '$f' WITH $BENCH_WITH" || exit 1; done\n`,
  );
  return {
    cmd: 'sh',
    args: [script, ...files],
    env: { ...env, BENCH_TARGET: `${t.sql} (${t.columns.join(',')})`, BENCH_WITH: copyWith(t) },
  };
}

/** The plain Node pipe (pipe.ts) through rss.js, so its peak RSS is its own. */
export function pipe(
  rssJs: string,
  pipeJs: string,
  t: CopyTarget,
  files: string[],
  dsn: string,
  rssFile: string,
): ChildSpec {
  return {
    cmd: process.execPath,
    args: [rssJs, pipeJs, copySql(t), ...files],
    env: { DATABASE_URL: dsn },
    rssFile,
  };
}

/** pgloader's command-line CSV mode, one file. Not run here (pgloader is not on this machine's PATH): untested. */
export function pgloader(t: CopyTarget, schema: string, table: string, file: string, dsn: string): ChildSpec {
  const u = new URL(dsn);
  const password = decodeURIComponent(u.password);
  u.password = '';
  u.searchParams.set('tablename', `${schema}.${table}`);
  return {
    cmd: 'pgloader',
    args: [
      '--type',
      'csv',
      '--field',
      t.columns.map((c) => c.replace(/^"|"$/g, '')).join(','),
      '--with',
      'skip header = 1',
      '--with',
      `fields terminated by '${t.delimiter}'`,
      '--with',
      `fields optionally enclosed by '"'`,
      '--with',
      'fields escaped by double-quote',
      file,
      u.toString(),
    ],
    env: password ? { PGPASSWORD: password } : {},
    pollRss: true,
  };
}
