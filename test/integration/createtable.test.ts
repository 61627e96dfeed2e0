// --create-table: a missing table made from the first file (CSV types inferred, Parquet schema mapped), --key as
// its primary key, safe when two runs race, planned but not made by a dry run.
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers.js';
import { useEnv } from './support.js';

const env = useEnv('create');

const types = (table: string) =>
  env.rows<{ column_name: string; type: string }>(
    `SELECT attname AS column_name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
      WHERE attrelid = '${table}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
  );
const primaryKey = async (table: string) =>
  (
    await env.rows<{ cols: string[] }>(
      `SELECT array_agg(a.attname::text ORDER BY a.attnum) AS cols FROM pg_index i
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
        WHERE i.indrelid = '${table}'::regclass AND i.indisprimary`,
    )
  )[0]?.cols;

describe('--create-table from CSV', () => {
  it('infers each column type from the values, --key becomes the primary key, and the rows load', async () => {
    const body = [
      'id,big,amount,ratio,flag,day,at,uid,doc,note,mixed',
      '1,3000000000,1.50,1e3,true,2026-01-31,2026-01-31 10:00:00+01,8c4b1a0e-1f2d-4c3b-9a8e-7d6c5b4a3f21,"{""a"": 1}",hello,1',
      '2,,2,2.5e-1,f,2026-02-01,2026-02-01T00:00:00Z,9c4b1a0e-1f2d-4c3b-9a8e-7d6c5b4a3f21,[1],"with, comma",x',
      '3,4,,,,,,,,,',
    ].join('\n');
    const a = await env.dir.write('csv/a.csv', body + '\n');
    const b = await env.dir.write('csv/b.csv', 'id,note\n4,later file\n');
    const r = await runCli(['--dsn', env.db.dsn, '--table', 'made', '--create-table', '--key', 'id', a, b]);
    expect(r.code).toBe(0);
    expect(await types('made')).toEqual([
      { column_name: 'id', type: 'integer' },
      { column_name: 'big', type: 'bigint' },
      { column_name: 'amount', type: 'numeric' },
      { column_name: 'ratio', type: 'double precision' },
      { column_name: 'flag', type: 'boolean' },
      { column_name: 'day', type: 'date' },
      { column_name: 'at', type: 'timestamp with time zone' },
      { column_name: 'uid', type: 'uuid' },
      { column_name: 'doc', type: 'jsonb' },
      { column_name: 'note', type: 'text' },
      { column_name: 'mixed', type: 'text' },
    ]);
    expect(await primaryKey('made')).toEqual(['id']);
    expect(await env.num('SELECT count(*) FROM made')).toBe(4);
    expect(await env.rows('SELECT id, big, flag, doc, note FROM made WHERE id = 2')).toEqual([
      { id: 2, big: null, flag: false, doc: [1], note: 'with, comma' },
    ]);
    // upsert by the new key: loading a changed row again updates it
    const c = await env.dir.write('csv/c.csv', 'id,note\n1,changed\n');
    expect((await runCli(['--dsn', env.db.dsn, '--table', 'made', '--create-table', c])).code).toBe(0);
    expect(await env.rows('SELECT note FROM made WHERE id = 1')).toEqual([{ note: 'changed' }]);
  });

  it('a file without a header gets col1..colN (and --no-header is told apart by itself)', async () => {
    const f = await env.dir.write('nohdr/a.csv', '1,2026-01-01,x\n2,2026-01-02,y\n');
    const r = await env.load('nohdr', [f], { createTable: true });
    expect(r.exitCode).toBe(0);
    expect(await types('nohdr')).toEqual([
      { column_name: 'col1', type: 'integer' },
      { column_name: 'col2', type: 'date' },
      { column_name: 'col3', type: 'text' },
    ]);
    expect(await env.num('SELECT count(*) FROM nohdr')).toBe(2);
  });

  it('two runs racing to create the same table both succeed, and each row lands once', async () => {
    const files = [];
    for (let i = 0; i < 4; i++) files.push(await env.dir.write(`race/f${i}.csv`, `id,v\n${i},v${i}\n`));
    const [r1, r2] = await Promise.all([
      env.load('raced', files, { createTable: true, key: ['id'] }),
      env.load('raced', files, { createTable: true, key: ['id'] }),
    ]);
    expect(r1.exitCode).toBe(0);
    expect(r2.exitCode).toBe(0);
    expect(await env.num('SELECT count(*) FROM raced')).toBe(4);
    expect(r1.totals.succeeded + r2.totals.succeeded).toBe(4);
  });

  it('a dry run plans the table (and the files against it) without creating it', async () => {
    const f = await env.dir.write('dry/a.csv', 'id,name\n1,x\n');
    const r = await env.load('notyet', [f], { createTable: true, dryRun: true, key: ['id'] });
    expect(r.exitCode).toBe(0);
    expect(r.plan?.createTable).toBe(
      'CREATE TABLE IF NOT EXISTS "notyet" ("id" integer, "name" text, PRIMARY KEY ("id"))',
    );
    expect(r.plan?.mode).toBe('upsert');
    expect(r.plan?.files[0]?.action).toBe('load');
    expect(r.plan?.files[0]?.columns?.map((c) => c.type)).toEqual(['integer', 'text']);
    expect(await env.num(`SELECT to_regclass('notyet') IS NULL`)).toBe(1);
  });

  it('an existing table is left as it is', async () => {
    await env.db.query('CREATE TABLE kept (id bigint, name varchar(10))');
    const f = await env.dir.write('kept/a.csv', 'id,name\n1,x\n');
    expect((await env.load('kept', [f], { createTable: true })).exitCode).toBe(0);
    expect((await types('kept')).map((t) => t.type)).toEqual(['bigint', 'character varying(10)']);
  });
});

describe('--create-table from Parquet', () => {
  it('maps the Parquet schema to column types and loads the rows', async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const duck = await instance.connect();
    const p = join(env.dir.path, 'pq.parquet');
    await duck.run(`COPY (SELECT i::BIGINT AS id, i::INTEGER AS n, i::SMALLINT AS s, i / 4 AS d,
        (i * 1.25)::DECIMAL(10,2) AS dec, 'name ' || i AS name, i % 2 = 0 AS even,
        DATE '2026-01-01' + i::INTEGER AS day, TIMESTAMP '2026-01-01 10:00:00' AS ts,
        TIMESTAMPTZ '2026-01-01 10:00:00+00' AS tstz, uuid() AS u, [i, i + 1]::INTEGER[] AS arr,
        {'k': i} AS obj, 'x'::BLOB AS bin
      FROM range(5) t(i)) TO '${p}' (FORMAT parquet)`);
    duck.closeSync();
    instance.closeSync();
    const r = await env.load('"PqMade"', [p], { createTable: true, key: ['id'] });
    expect(r.files[0]?.error).toBeUndefined();
    expect(r.exitCode).toBe(0);
    expect(await types('"PqMade"')).toEqual([
      { column_name: 'id', type: 'bigint' },
      { column_name: 'n', type: 'integer' },
      { column_name: 's', type: 'smallint' },
      { column_name: 'd', type: 'double precision' },
      { column_name: 'dec', type: 'numeric(10,2)' },
      { column_name: 'name', type: 'text' },
      { column_name: 'even', type: 'boolean' },
      { column_name: 'day', type: 'date' },
      { column_name: 'ts', type: 'timestamp without time zone' },
      { column_name: 'tstz', type: 'timestamp with time zone' },
      { column_name: 'u', type: 'uuid' },
      { column_name: 'arr', type: 'integer[]' },
      { column_name: 'obj', type: 'jsonb' },
      { column_name: 'bin', type: 'bytea' },
    ]);
    expect(await primaryKey('"PqMade"')).toEqual(['id']);
    expect(await env.num('SELECT count(*) FROM "PqMade"')).toBe(5);
    expect(await env.rows(`SELECT dec::text, arr, obj FROM "PqMade" WHERE id = 2`)).toEqual([
      { dec: '2.50', arr: [2, 3], obj: { k: 2 } },
    ]);
  });
});
