// --dry-run: the plan names each file's format, dialect, columns, mode and skip, and the database is left exactly
// as it was: no audit table on a fresh database, no staging, no rows, no audit rows, no locks.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers.js';
import { csv, useEnv } from './support.js';

const env = useEnv('dryrun');
// pg_locks is the whole server's: other test files load into their own databases on it at the same time
const ADVISORY_HERE = `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;

const tables = () =>
  env.rows<{ relname: string }>(
    `SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'i', 'S') ORDER BY relname`,
  );

describe('--dry-run', () => {
  it('plans every file and writes nothing, not even the audit table', async () => {
    await env.db.query('CREATE TABLE ev (id int PRIMARY KEY, name text, amount numeric)');
    const before = await tables();
    const a = await env.dir.write('in/a.csv', csv('id,name,amount', [[1, 'x', 1.5]]));
    const b = await env.dir.write('in/b.csv.gz', 'id;name\n2;y\n3;z\n', { gzip: true });
    const bad = await env.dir.write('in/c.csv', csv('id,colour', [[4, 'red']]));
    const r = await runCli(['--dsn', env.db.dsn, '--table', 'ev', '--dry-run', join(env.dir.path, 'in/*')]);
    expect(r.code).toBe(1); // a file would fail
    expect(r.stdout).toContain('dry run, nothing written');
    expect(r.stdout).toContain('(upsert, key id)');
    expect(r.stdout).toMatch(
      new RegExp(
        `LOAD ${a}: CSV, delimiter ",", quote "\\\\"", header, UTF8, COPY binary \\(converted\\); 1 rows`,
      ),
    );
    expect(r.stdout).toMatch(new RegExp(`LOAD ${b}: CSV \\(gzip\\), delimiter ";"`));
    expect(r.stdout).toMatch(new RegExp(`FAIL ${bad}: .*colour.* \\[COLUMNS\\]`));
    expect(r.stdout).toContain('loader_audit would be created');
    expect(await tables()).toEqual(before);
    expect(await env.num(`SELECT count(*) FROM ev`)).toBe(0);
    expect(await env.num(`SELECT to_regclass('public.loader_audit') IS NULL`)).toBe(1);
  });

  it('plans an append of several sub-batches direct, and through staging with --no-direct', async () => {
    await env.db.query('CREATE TABLE routes (id int, v text)');
    const f = await env.dir.write(
      'routes.csv',
      csv(
        'id,v',
        Array.from({ length: 30 }, (_, i) => [i, `v${i}`]),
      ),
    );
    const args = ['--dsn', env.db.dsn, '--table', 'routes', '--batch-size', '10'];
    const direct = await runCli([...args, '--dry-run', f]);
    expect([direct.code, direct.stdout]).toEqual([
      0,
      expect.stringContaining('3 sub-batches, COPY straight into'),
    ]);
    const staged = await runCli([...args, '--dry-run', '--no-direct', f]);
    expect([staged.code, staged.stdout]).toEqual([0, expect.stringContaining('3 sub-batches, via staging')]);
    expect(await env.num('SELECT count(*) FROM routes')).toBe(0);
    // and both load the rows
    expect((await runCli([...args, '--no-direct', '-q', f])).code).toBe(0);
    expect((await runCli([...args, '--direct', '--force', '-q', f])).code).toBe(0);
    expect(await env.num('SELECT count(*) FROM routes')).toBe(60);
    expect(await env.num('SELECT count(DISTINCT id) FROM routes')).toBe(30);
  });

  it('names the files a run would skip as already loaded, and changes no row', async () => {
    await env.db.query('CREATE TABLE ap (id int, v text)');
    const a = await env.dir.write('ap/a.csv', csv('id,v', [[1, 'a']]));
    const b = await env.dir.write('ap/b.csv', csv('id,v', [[2, 'b']]));
    expect((await env.load('ap', [a])).exitCode).toBe(0);
    const audit = await env.num('SELECT count(*) FROM loader_audit');
    const r = await env.load('ap', [a, b], { dryRun: true });
    expect(r.exitCode).toBe(0);
    expect(r.files).toEqual([]);
    expect(r.plan?.mode).toBe('append');
    expect(r.plan?.auditTable).toBe(true);
    expect(r.plan?.files.map((f) => [f.action, f.reason?.code])).toEqual([
      ['skip', 'ALREADY_LOADED'],
      ['load', undefined],
    ]);
    expect(r.plan?.files[1]).toMatchObject({
      format: 'csv',
      rows: 1,
      route: 'direct',
      columns: [
        { source: 'id', target: 'id', type: 'integer' },
        { source: 'v', target: 'v', type: 'text' },
      ],
    });
    expect(await env.num('SELECT count(*) FROM loader_audit')).toBe(audit);
    expect(await env.num('SELECT count(*) FROM ap')).toBe(1);
    // --force: nothing would be skipped
    const forced = await env.load('ap', [a, b], { dryRun: true, force: true });
    expect(forced.plan?.files.map((f) => f.action)).toEqual(['load', 'load']);
  });

  it('tells a file another run holds now (from pg_locks, taking no lock) and plans Parquet', async () => {
    await env.db.query('CREATE TABLE pq (id bigint PRIMARY KEY, name text)');
    const instance = await DuckDBInstance.create(':memory:');
    const duck = await instance.connect();
    const p = join(env.dir.path, 'pq.parquet');
    await duck.run(
      `COPY (SELECT i::BIGINT AS id, 'n' || i AS name FROM range(10) t(i)) TO '${p}' (FORMAT parquet)`,
    );
    duck.closeSync();
    instance.closeSync();
    const held = await env.dir.write('pq/held.csv', csv('id,name', [[1, 'h']]));
    const sha = createHash('sha256')
      .update(await readFile(held))
      .digest('hex');
    const oid = await env.num(`SELECT 'pq'::regclass::oid::int8`);
    await env.db.query(`SELECT pg_advisory_lock(hashtextextended($1, 0))`, [`loader_file:${oid}:${sha}`]);
    try {
      const locks = await env.num(ADVISORY_HERE);
      const r = await env.load('pq', [p, held], { dryRun: true, mode: 'insert-only' });
      expect(r.plan?.files.map((f) => [f.path, f.action, f.reason?.code])).toEqual([
        [p, 'load', undefined],
        [held, 'skip', 'IN_PROGRESS'],
      ]);
      expect(r.plan?.files[0]).toMatchObject({
        format: 'parquet',
        encoding: 'binary',
        rows: 10,
        route: 'staging',
      });
      expect(r.plan?.mode).toBe('insert-only');
      expect(await env.num(ADVISORY_HERE)).toBe(locks);
      expect(await env.num('SELECT count(*) FROM pq')).toBe(0);
    } finally {
      await env.db.query('SELECT pg_advisory_unlock_all()');
    }
  });
});
