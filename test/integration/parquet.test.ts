// Parquet against the real PostgreSQL, with files written at test time by DuckDB (another engine than the
// parquet-wasm reader): every type mapping round-tripped (nulls included), many row groups decoded in parallel,
// the COPY text fallback, conversions refused before any row is sent, corrupt files, upsert, codecs, detection.
import { createHash } from 'node:crypto';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditRows } from '../helpers.js';
import { useDuck, useEnv } from './support.js';

const env = useEnv('parquet');
const duck = useDuck();

/** Writes the query's result as a Parquet file in the test folder. */
async function parquet(name: string, select: string, options = ''): Promise<string> {
  const path = join(env.dir.path, name);
  await duck.conn.run(`COPY (${select}) TO '${path}' (FORMAT parquet${options ? `, ${options}` : ''})`);
  return path;
}

/** Column name, DuckDB expression for rows 1 and 2 (row 3 is all NULL), PostgreSQL type, expected text. */
const MAPPINGS: [string, string, string, string, string, string, string][] = [
  ['b', 'true', 'false', 'BOOLEAN', 'boolean', 'true', 'false'],
  ['i8', '-128', '127', 'TINYINT', 'smallint', '-128', '127'],
  ['i16', '-32768', '32767', 'SMALLINT', 'smallint', '-32768', '32767'],
  ['i32', '-2147483648', '2147483647', 'INTEGER', 'integer', '-2147483648', '2147483647'],
  [
    'i64',
    '-9223372036854775808',
    '9223372036854775807',
    'BIGINT',
    'bigint',
    '-9223372036854775808',
    '9223372036854775807',
  ],
  ['u8', '0', '255', 'UTINYINT', 'smallint', '0', '255'],
  ['u16', '0', '65535', 'USMALLINT', 'integer', '0', '65535'],
  ['u32', '0', '4294967295', 'UINTEGER', 'bigint', '0', '4294967295'],
  ['u64', '0', '18446744073709551615', 'UBIGINT', 'numeric', '0', '18446744073709551615'],
  ['i64n', '-9223372036854775808', '42', 'BIGINT', 'numeric', '-9223372036854775808', '42'],
  ['f32', '1.5', '-3.25e10', 'FLOAT', 'real', '1.5', '-3.25e+10'],
  ['f64', '0.1', '-1.7976931348623157e308', 'DOUBLE', 'double precision', '0.1', '-1.7976931348623157e+308'],
  ['f64n', '0.1', '1e21', 'DOUBLE', 'numeric', '0.1', '1000000000000000000000'],
  ['i32f', '7', '-8', 'INTEGER', 'double precision', '7', '-8'],
  [
    'dec',
    '12345678901234.5678',
    '-0.0001',
    'DECIMAL(18,4)',
    'numeric(18,4)',
    '12345678901234.5678',
    '-0.0001',
  ],
  [
    'dec38',
    '1234567890123456789012345678.0123456789',
    '0',
    'DECIMAL(38,10)',
    'numeric',
    '1234567890123456789012345678.0123456789',
    '0.0000000000',
  ],
  ['decf', '2.50', '-1.25', 'DECIMAL(10,2)', 'double precision', '2.5', '-1.25'],
  ['s', `'héllo, "world"\nline'`, `''`, 'VARCHAR', 'text', 'héllo, "world"\nline', ''],
  ['sv', `'short'`, `'x'`, 'VARCHAR', 'varchar(20)', 'short', 'x'],
  ['sc', `'ab'`, `'abcde'`, 'VARCHAR', 'char(5)', 'ab', 'abcde'], // bpchar::text drops the padding
  ['sj', `'{"a": [1, 2]}'`, `'null'`, 'VARCHAR', 'json', '{"a": [1, 2]}', 'null'],
  ['sjb', `'{"b": 1, "a": 2}'`, `'[]'`, 'VARCHAR', 'jsonb', '{"a": 2, "b": 1}', '[]'],
  [
    'su',
    `'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'`,
    `'{A0EEBC999C0B4EF8BB6D6BB9BD380A12}'`,
    'VARCHAR',
    'uuid',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12',
  ],
  ['bin', `'\\x00\\xFF'::BLOB`, `''::BLOB`, 'BLOB', 'bytea', '\\x00ff', '\\x'],
  [
    'u',
    `'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'`,
    `'00000000-0000-0000-0000-000000000000'`,
    'UUID',
    'uuid',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    '00000000-0000-0000-0000-000000000000',
  ],
  ['d', `'2024-02-29'`, `'1900-01-01'`, 'DATE', 'date', '2024-02-29', '1900-01-01'],
  ['d2ts', `'2024-02-29'`, `'1969-12-31'`, 'DATE', 'timestamp', '2024-02-29 00:00:00', '1969-12-31 00:00:00'],
  [
    'ts',
    `'2024-01-01 01:02:03.123456'`,
    `'1960-06-30 23:59:59.000001'`,
    'TIMESTAMP',
    'timestamp',
    '2024-01-01 01:02:03.123456',
    '1960-06-30 23:59:59.000001',
  ],
  [
    'tsms',
    `'2024-01-01 01:02:03.123'`,
    `'2000-01-01 00:00:00'`,
    'TIMESTAMP_MS',
    'timestamp(3)',
    '2024-01-01 01:02:03.123',
    '2000-01-01 00:00:00',
  ],
  [
    'tss',
    `'2024-01-01 01:02:03'`,
    `'1999-12-31 23:59:59'`,
    'TIMESTAMP_S',
    'timestamp',
    '2024-01-01 01:02:03',
    '1999-12-31 23:59:59',
  ],
  [
    'tsns',
    `'2024-01-01 01:02:03.123456789'`,
    `'1969-12-31 23:59:59.999999999'`,
    'TIMESTAMP_NS',
    'timestamp',
    '2024-01-01 01:02:03.123456',
    '1969-12-31 23:59:59.999999',
  ],
  [
    'tstz',
    `'2024-01-01 01:02:03.123456+02'`,
    `'2024-07-01 00:00:00+00'`,
    'TIMESTAMPTZ',
    'timestamptz',
    '2023-12-31 23:02:03.123456+00',
    '2024-07-01 00:00:00+00',
  ],
  [
    'ts2tz',
    `'2024-01-01 01:02:03.5'`,
    `'2024-07-01 00:00:00'`,
    'TIMESTAMP',
    'timestamptz',
    '2024-01-01 01:02:03.5+00',
    '2024-07-01 00:00:00+00',
  ],
  [
    'tz2ts',
    `'2024-01-01 01:02:03+02'`,
    `'2024-07-01 00:00:00+00'`,
    'TIMESTAMPTZ',
    'timestamp',
    '2023-12-31 23:02:03',
    '2024-07-01 00:00:00',
  ],
  ['t', `'01:02:03.456789'`, `'23:59:59.999999'`, 'TIME', 'time', '01:02:03.456789', '23:59:59.999999'],
  ['l', '[1, NULL, 3]', '[]', 'INTEGER[]', 'integer[]', '{1,NULL,3}', '{}'],
  ['ls', `['a', 'b "q"', NULL]`, `['']`, 'VARCHAR[]', 'text[]', '{a,"b \\"q\\"",NULL}', '{""}'],
  [
    'lts',
    `['2024-01-01 00:00:00.000001'::TIMESTAMP]`,
    '[]',
    'TIMESTAMP[]',
    'timestamp[]',
    '{"2024-01-01 00:00:00.000001"}',
    '{}',
  ],
  ['lj', '[1, 2]', '[]', 'BIGINT[]', 'jsonb', '[1, 2]', '[]'],
  [
    'st',
    `{'a': 1, 'b': 'x', 'c': [1.5]}`,
    `{'a': NULL, 'b': 'y', 'c': []}`,
    'STRUCT(a INTEGER, b VARCHAR, c DOUBLE[])',
    'jsonb',
    '{"a": 1, "b": "x", "c": [1.5]}',
    '{"a": null, "b": "y", "c": []}',
  ],
  ['m', `MAP {'k': 1}`, `MAP {}`, 'MAP(VARCHAR, INTEGER)', 'json', '{"k":1}', '{}'],
  ['i2t', '42', '-1', 'INTEGER', 'text', '42', '-1'],
];

function mappingSelect(): string {
  const row = (k: 1 | 2): string =>
    `SELECT ${k} AS id, ` + MAPPINGS.map((m) => `CAST(${m[k]} AS ${m[3]}) AS ${m[0]}`).join(', ');
  const nulls = `SELECT 3 AS id, ` + MAPPINGS.map((m) => `CAST(NULL AS ${m[3]}) AS ${m[0]}`).join(', ');
  return `${row(1)} UNION ALL ${row(2)} UNION ALL ${nulls}`;
}

describe('Parquet type mapping', () => {
  it('round-trips every mapping by COPY BINARY, nulls in every type', async () => {
    await env.db.query(
      `CREATE TABLE types (id int PRIMARY KEY, ${MAPPINGS.map((m) => `${m[0]} ${m[4]}`).join(', ')})`,
    );
    const f = await parquet('types.parquet', mappingSelect());
    const r = await env.load('types', [f]);
    expect(r.files[0]?.error).toBeUndefined();
    expect(r.exitCode).toBe(0);
    expect(r.files[0]?.format).toBe('parquet');
    expect(r.files[0]?.parquet?.encoding).toBe('binary');
    const rows = await env.rows<Record<string, string | null>>(
      `SELECT id, ${MAPPINGS.map((m) => `${m[0]}::text AS ${m[0]}`).join(', ')} FROM types ORDER BY id`,
    );
    expect(rows).toHaveLength(3);
    const want = (k: 5 | 6 | null): Record<string, string | null> =>
      Object.fromEntries(MAPPINGS.map((m) => [m[0], k === null ? null : m[k]]));
    expect(rows.map(({ id: _id, ...rest }) => rest)).toEqual([want(5), want(6), want(null)]);
  });
});

describe('Parquet files', () => {
  it('reads --timezone for values without a zone into timestamptz and for instants into timestamp', async () => {
    await env.db.query('CREATE TABLE zones (id int, ts2tz timestamptz, tz2ts timestamp)');
    const f = await parquet(
      'zones.parquet',
      `SELECT 1 AS id, TIMESTAMP '2024-01-01 12:00:00' AS ts2tz, TIMESTAMPTZ '2024-07-01 12:00:00+00' AS tz2ts`,
    );
    const r = await env.load('zones', [f], { timezone: 'Europe/Paris' });
    expect(r.exitCode).toBe(0);
    expect(
      await env.rows(`SELECT (ts2tz AT TIME ZONE 'UTC')::text AS a, tz2ts::text AS b FROM zones`),
    ).toEqual([{ a: '2024-01-01 11:00:00', b: '2024-07-01 14:00:00' }]);
  });

  it('decodes many row groups on several threads at once (internalConcurrency 4), slicing large groups', async () => {
    await env.db.query(
      'CREATE TABLE many (id int, v text, x double precision, ts timestamp, n numeric(12,3))',
    );
    const f = await parquet(
      'many.parquet',
      `SELECT i::INT AS id, 'value number ' || i AS v, i * 0.5 AS x, TIMESTAMP '2024-01-01' + INTERVAL (i) SECOND AS ts,
              (i / 8)::DECIMAL(12,3) AS n FROM range(98304) t(i)`,
      'ROW_GROUP_SIZE 8192',
    );
    // 5 slices a group: a group's decode streams its slices a few ahead of the one COPY stream (the direct path),
    // so it holds its thread meanwhile, and the next groups decode on others
    const r = await env.load('many', [f], { internalConcurrency: 4, batchSize: 2000 });
    const file = r.files[0]!;
    expect(file.error).toBeUndefined();
    expect([file.parquet?.rowGroups, file.subBatches]).toEqual([12, 60]);
    // The workers' own clocks: at least two row groups were being decoded at the same instant, on different threads.
    expect(file.parquet?.maxDecodesInFlight).toBeGreaterThan(1);
    expect(file.parquet?.threads).toBeGreaterThan(1);
    expect(await env.num('SELECT count(*) FROM many')).toBe(98304);
    expect(await env.num('SELECT sum(x) FROM many')).toBe((98303 * 98304) / 4);
    // --batch-size smaller than a row group: each group is cut into slices (2048 = 1000 + 1000 + 48).
    await env.db.query('CREATE TABLE sliced (id int, v text)');
    const g = await parquet(
      'sliced.parquet',
      `SELECT i::INT AS id, 'v' || i AS v FROM range(6144) t(i)`,
      'ROW_GROUP_SIZE 2048',
    );
    const s = await env.load('sliced', [g], { internalConcurrency: 4, batchSize: 1000 });
    expect(s.files[0]?.subBatches).toBe(9);
    expect(await env.num('SELECT count(DISTINCT id) FROM sliced')).toBe(6144);
  });

  it('goes by COPY text when a target type has no binary encoder (enum, inet, interval, arrays of them)', async () => {
    await env.db.query(`CREATE TYPE mood AS ENUM ('sad', 'happy')`);
    await env.db.query(
      `CREATE TABLE fallback (id int, m mood, addr inet, iv interval, ms mood[], ts timestamptz, n numeric, s text, b bytea, l int[])`,
    );
    const f = await parquet(
      'fallback.parquet',
      `SELECT 1 AS id, 'happy' AS m, '10.0.0.1/32' AS addr, '1 day 02:00:00' AS iv, ['sad', NULL, 'happy'] AS ms,
              TIMESTAMP '2024-01-01 01:02:03.000004' AS ts, 1.5::DECIMAL(4,2) AS n, 'a,"b"' || chr(10) || 'c' AS s,
              '\\x01'::BLOB AS b, [1, NULL] AS l
       UNION ALL SELECT 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL`,
    );
    const r = await env.load('fallback', [f]);
    expect(r.files[0]?.error).toBeUndefined();
    expect(r.files[0]?.parquet?.encoding).toBe('text');
    expect(
      await env.rows(
        `SELECT m::text, addr::text, iv::text, ms::text, ts::text, n::text, s, b::text, l::text FROM fallback ORDER BY id`,
      ),
    ).toEqual([
      {
        m: 'happy',
        addr: '10.0.0.1/32',
        iv: '1 day 02:00:00',
        ms: '{sad,NULL,happy}',
        ts: '2024-01-01 01:02:03.000004+00',
        n: '1.50',
        s: 'a,"b"\nc',
        b: '\\x01',
        l: '{1,NULL}',
      },
      { m: null, addr: null, iv: null, ms: null, ts: null, n: null, s: null, b: null, l: null },
    ]);
  });

  it('fails a conversion that cannot work before any row is sent, naming column, Parquet type and target type', async () => {
    await env.db.query('CREATE TABLE refuse (id int, amount integer)');
    const f = await parquet('refuse.parquet', `SELECT 1 AS id, 1.5::DOUBLE AS amount`);
    const r = await env.load('refuse', [f]);
    const file = r.files[0]!;
    expect([file.status, file.error?.code, file.error?.column, file.subBatches]).toEqual([
      'failed',
      'COLUMNS',
      'amount',
      0,
    ]);
    expect(file.error?.message).toMatch(
      /column "amount": Parquet type Float64 cannot be loaded into integer/,
    );
    expect(await env.num('SELECT count(*) FROM refuse')).toBe(0);
    // A value out of the target's range fails in the worker, naming the row group, row and column.
    await env.db.query('CREATE TABLE narrow (id int, v smallint)');
    const g = await parquet(
      'narrow.parquet',
      `SELECT i::INT AS id, (i * 10)::INT AS v FROM range(5000) t(i)`,
    );
    const n = await env.load('narrow', [g]);
    expect([n.files[0]?.status, n.files[0]?.error?.code, n.files[0]?.error?.column]).toEqual([
      'failed',
      'DATA',
      'v',
    ]);
    expect(n.files[0]?.error?.message).toMatch(
      /row group 0, row 3278, column "v": value 32770 is out of range for smallint/,
    );
    expect(await env.num('SELECT count(*) FROM narrow')).toBe(0);
  });

  it('fails a truncated or corrupt Parquet file alone while the others load', async () => {
    await env.db.query('CREATE TABLE damaged (id int, v text)');
    const good = await parquet('d_good.parquet', `SELECT i::INT AS id, 'v' || i AS v FROM range(100) t(i)`);
    const bytes = await readFile(good);
    const truncated = join(env.dir.path, 'd_truncated.parquet');
    await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const garbage = join(env.dir.path, 'd_garbage.parquet');
    await writeFile(garbage, Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(300, 7), Buffer.from('PAR1')]));
    // Footer intact, data pages overwritten: the reader fails (or panics, ending its thread) on the row group.
    const pages = join(env.dir.path, 'd_pages.parquet');
    const smashed = Buffer.from(bytes);
    smashed.fill(0xab, 4, Math.floor(bytes.length / 2));
    await writeFile(pages, smashed);
    const r = await env.load('damaged', [good, truncated, garbage, pages]);
    expect(r.exitCode).toBe(1);
    const by = Object.fromEntries(r.files.map((x) => [x.path, x]));
    expect(by[good]?.status).toBe('succeeded');
    expect([by[truncated]?.status, by[truncated]?.error?.code]).toEqual(['failed', 'READ']);
    expect([by[garbage]?.status, by[garbage]?.error?.code]).toEqual(['failed', 'READ']);
    expect([by[pages]?.status, by[pages]?.error?.code]).toEqual(['failed', 'READ']);
    expect(await env.num('SELECT count(*) FROM damaged')).toBe(100);
    // every file's audit row has its content's sha256 (hashed by the main thread while a worker read the footer),
    // the ones that failed too
    const audit = await auditRows(env.db);
    for (const f of [good, truncated, garbage, pages]) {
      const want = createHash('sha256')
        .update(await readFile(f))
        .digest('hex');
      expect(audit.filter((a) => a.file_path === f).map((a) => a.file_sha256)).toEqual([want]);
    }
    // The worker threads survived: another file loads afterwards in the same run.
    const again = await parquet('d_again.parquet', `SELECT 1000 AS id, 'x' AS v`);
    const r2 = await env.load('damaged', [garbage, again], { concurrency: 1 });
    expect(Object.fromEntries(r2.files.map((x) => [x.path, x.status]))).toEqual({
      [garbage]: 'failed',
      [again]: 'succeeded',
    });
    expect(await env.num('SELECT count(*) FROM damaged WHERE id = 1000')).toBe(1);
  });

  it('upserts into a table with a primary key (last occurrence wins) and skips a file already loaded', async () => {
    await env.db.query('CREATE TABLE up (id int PRIMARY KEY, v text, n int)');
    const a = await parquet(
      'up_a.parquet',
      `SELECT i::INT AS id, 'a' || i AS v, i::INT AS n FROM range(1, 4) t(i)`,
    );
    const b = await parquet(
      'up_b.parquet',
      `SELECT * FROM (VALUES (2, 'b2', 20), (4, 'b4', 40), (2, 'b2-last', 21)) t(id, v, n)`,
    );
    const r = await env.load('up', [a, b]);
    expect(r.exitCode).toBe(0);
    expect(r.files.map((x) => [x.rowsInserted, x.rowsUpdated, x.rowsSkipped])).toEqual([
      [3, 0, 0],
      [1, 1, 1],
    ]);
    expect(await env.rows('SELECT id, v, n FROM up ORDER BY id')).toEqual([
      { id: 1, v: 'a1', n: 1 },
      { id: 2, v: 'b2-last', n: 21 },
      { id: 3, v: 'a3', n: 3 },
      { id: 4, v: 'b4', n: 40 },
    ]);
    const again = await env.load('up', [a]);
    expect([again.files[0]?.status, again.files[0]?.error?.code]).toEqual(['skipped', 'ALREADY_LOADED']);
    const audit = (await auditRows(env.db)).filter((x) => x.file_path === b);
    expect(audit.map((x) => [x.status, x.rows_read])).toEqual([['succeeded', '3']]);
  });

  it('upserts merged as the slices land: rising slices as they lie, one with a key twice or falling by DISTINCT ON', async () => {
    await env.db.query(`CREATE TABLE up_slices (id bigint PRIMARY KEY, v text);
      INSERT INTO up_slices SELECT i, 'old' FROM generate_series(4, 40, 4) i`);
    // slices of 10: 1-10; 11-19 with 15 twice (the later wins); 29 down to 20; 30-39
    const list = [...Array.from({ length: 15 }, (_, i) => i + 1), 15, 16, 17, 18, 19];
    list.push(
      ...Array.from({ length: 10 }, (_, i) => 29 - i),
      ...Array.from({ length: 10 }, (_, i) => 30 + i),
    );
    const f = await parquet(
      'up_slices.parquet',
      `SELECT id::BIGINT AS id, 'p' || id || '.' || k AS v FROM (SELECT unnest([${list.join(',')}]) AS id, ` +
        `unnest(range(${list.length})) AS k) ORDER BY k`,
    );
    const r = await env.load('up_slices', [f], { batchSize: 10, internalConcurrency: 2 });
    expect(r.exitCode).toBe(0);
    const v17 = (await env.num(`SELECT current_setting('server_version_num')::int`)) >= 170000;
    expect([r.files[0]?.mergedAsLanded, r.files[0]?.mergedBy, r.files[0]?.subBatches]).toEqual([
      true,
      v17 ? 'MERGE' : 'INSERT',
      4,
    ]);
    expect(r.files.map((x) => [x.rowsRead, x.rowsInserted, x.rowsUpdated, x.rowsSkipped])).toEqual([
      [40, 30, 9, 1],
    ]);
    const got = await env.rows<{ id: string; v: string }>(
      'SELECT id, v FROM up_slices WHERE id IN (1, 15, 16, 20, 29, 36, 39, 40) ORDER BY id',
    );
    expect(got.map((x) => `${x.id}=${x.v}`)).toEqual([
      '1=p1.0',
      '15=p15.15',
      '16=p16.16',
      '20=p20.29',
      '29=p29.20',
      '36=p36.36',
      '39=p39.39',
      '40=old',
    ]);
  });

  it('reads every codec DuckDB writes: uncompressed, snappy, gzip, zstd, brotli, lz4', async () => {
    await env.db.query('CREATE TABLE codecs (codec text, id int, v text)');
    const codecs = ['uncompressed', 'snappy', 'gzip', 'zstd', 'brotli', 'lz4', 'lz4_raw'];
    const files = [];
    for (const c of codecs) {
      files.push(
        await parquet(
          `codec_${c}.parquet`,
          `SELECT '${c}' AS codec, i::INT AS id, repeat('x', 50) || i AS v FROM range(3000) t(i)`,
          `COMPRESSION ${c}`,
        ),
      );
    }
    const r = await env.load('codecs', files);
    expect(r.files.map((x) => [x.path, x.status, x.error?.message])).toEqual(
      [...files].sort().map((p) => [p, 'succeeded', undefined]),
    );
    expect(await env.rows('SELECT codec, count(*)::int AS n FROM codecs GROUP BY 1 ORDER BY 1')).toEqual(
      [...codecs].sort().map((codec) => ({ codec, n: 3000 })),
    );
  });

  it('detects Parquet by its magic bytes whatever the file is called', async () => {
    await env.db.query('CREATE TABLE named (id int, v text)');
    const src = await parquet('named_src.parquet', `SELECT 7 AS id, 'seven' AS v`);
    const asCsv = join(env.dir.path, 'looks-like.csv');
    const bare = join(env.dir.path, 'no_extension');
    await copyFile(src, asCsv);
    await duck.conn.run(`COPY (SELECT 8 AS id, 'eight' AS v) TO '${bare}' (FORMAT parquet)`);
    const r = await env.load('named', [asCsv, bare]);
    expect(r.files.map((x) => [x.status, x.format])).toEqual([
      ['succeeded', 'parquet'],
      ['succeeded', 'parquet'],
    ]);
    expect(await env.rows('SELECT id, v FROM named ORDER BY id')).toEqual([
      { id: 7, v: 'seven' },
      { id: 8, v: 'eight' },
    ]);
  });
});
