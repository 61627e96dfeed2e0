// Parquet that DuckDB does not write, written at test time by apache-arrow + parquet-wasm's writer: dictionary-
// encoded strings and large strings (LargeUtf8); and --memory-limit (row groups admitted by their footer size, a
// group larger than the limit admitted alone) and the recycling of worker threads past a wasm memory mark.
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import {
  Dictionary,
  Int32,
  LargeUtf8,
  Table as ArrowTable,
  Utf8,
  tableToIPC,
  vectorFromArray,
} from 'apache-arrow';
import { Table, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import { describe, expect, it } from 'vitest';
import { int96Parquet } from './int96.js';
import { useEnv } from './support.js';

const env = useEnv('parquet_arrow');

/** Writes an Arrow table as Parquet with parquet-wasm (dictionary pages on, `groupRows` rows per row group). */
async function write(name: string, table: ArrowTable, groupRows = 1 << 20): Promise<string> {
  const props = new WriterPropertiesBuilder()
    .setDictionaryEnabled(true)
    .setMaxRowGroupSize(groupRows)
    .build();
  const path = join(env.dir.path, name);
  await writeFile(path, writeParquet(Table.fromIPCStream(tableToIPC(table, 'stream')), props));
  return path;
}

describe('Parquet written by parquet-wasm', () => {
  it('loads dictionary-encoded and large strings into text, enums and jsonb, nulls included', async () => {
    await env.db.query(`CREATE TYPE colour AS ENUM ('red', 'green', 'blue')`);
    await env.db.query('CREATE TABLE strs (id int, d text, de colour, l text, lj jsonb)');
    const colours = ['red', 'green', null, 'red', 'blue', 'blue'];
    const table = new ArrowTable({
      id: vectorFromArray([1, 2, 3, 4, 5, 6], new Int32()),
      d: vectorFromArray(colours, new Dictionary(new Utf8(), new Int32())),
      de: vectorFromArray(colours, new Dictionary(new Utf8(), new Int32())),
      l: vectorFromArray(['héllo', null, '', 'a,"b"\nc', 'x'.repeat(300), 'z'], new LargeUtf8()),
      lj: vectorFromArray(['{"a": 1}', '[]', null, '"s"', '2', 'null'], new LargeUtf8()),
    });
    expect(table.schema.fields.map((f) => String(f.type))).toEqual([
      'Int32',
      'Dictionary<Int32, Utf8>',
      'Dictionary<Int32, Utf8>',
      'LargeUtf8',
      'LargeUtf8',
    ]);
    // Row groups of 4 rows: the second group carries its own dictionary.
    const f = await write('strings.parquet', table, 4);
    const r = await env.load('strs', [f]);
    expect(r.files[0]?.error).toBeUndefined();
    expect([r.files[0]?.parquet?.rowGroups, r.files[0]?.parquet?.encoding]).toEqual([2, 'text']); // enum: by text
    const rows = await env.rows('SELECT d, de::text, l, lj::text FROM strs ORDER BY id');
    expect(rows).toEqual([
      { d: 'red', de: 'red', l: 'héllo', lj: '{"a": 1}' },
      { d: 'green', de: 'green', l: null, lj: '[]' },
      { d: null, de: null, l: '', lj: null },
      { d: 'red', de: 'red', l: 'a,"b"\nc', lj: '"s"' },
      { d: 'blue', de: 'blue', l: 'x'.repeat(300), lj: '2' },
      { d: 'blue', de: 'blue', l: 'z', lj: 'null' },
    ]);
    // Without the enum column the same strings go by COPY BINARY.
    await env.db.query('CREATE TABLE strs_bin (id int, d text, l text, lj jsonb)');
    const b = await env.load('strs_bin', [f], { ignoreExtraColumns: true });
    expect([b.files[0]?.error, b.files[0]?.parquet?.encoding]).toEqual([undefined, 'binary']);
    expect(await env.rows('SELECT d, l FROM strs_bin WHERE id IN (3, 5) ORDER BY id')).toEqual([
      { d: null, l: '' },
      { d: 'blue', l: 'x'.repeat(300) },
    ]);
  });
});

describe('--memory-limit and worker recycling', () => {
  const groups = 6;
  const groupRows = 2000;
  let file = '';
  const fresh = async (name: string): Promise<void> => {
    await env.db.query(`CREATE TABLE ${name} (id int, v text)`);
    if (file) return;
    const n = groups * groupRows;
    const ids = Array.from({ length: n }, (_, i) => i);
    const table = new ArrowTable({
      id: vectorFromArray(ids, new Int32()),
      v: vectorFromArray(
        Array.from(ids, (i) => `row ${i} ${'x'.repeat(40)}`),
        new Utf8(),
      ),
    });
    file = await write('groups.parquet', table, groupRows);
  };

  it('loads a file whose row groups are each larger than the limit, one group in flight at a time', async () => {
    await fresh('tiny_limit');
    const r = await env.load('tiny_limit', [file], { internalConcurrency: 4, memoryLimit: 1 });
    const f = r.files[0]!;
    expect([f.error, f.parquet?.rowGroups, f.parquet?.maxDecodesInFlight]).toEqual([undefined, groups, 1]);
    expect(await env.num('SELECT count(DISTINCT id) FROM tiny_limit')).toBe(groups * groupRows);
  });

  it('keeps fewer row groups in flight under a small limit than under the default', async () => {
    await fresh('roomy');
    const roomy = await env.load('roomy', [file], { internalConcurrency: 4 });
    // Under the default 1GB, --internal-concurrency 4 holds four groups (~117 KiB each in the footer) at once.
    expect(roomy.files[0]?.parquet?.maxBytesInFlight).toBeGreaterThan(3 * 110_000);
    await env.db.query('CREATE TABLE tight (id int, v text)');
    // ~1.5 groups' worth: a second group waits until the first is COPYed, so decodes never overlap.
    const tight = await env.load('tight', [file], { internalConcurrency: 4, memoryLimit: '170KB' });
    const t = tight.files[0]!;
    expect([t.error, t.parquet?.maxDecodesInFlight]).toEqual([undefined, 1]);
    expect(t.parquet?.maxBytesInFlight).toBeLessThanOrEqual(170 * 1024);
    expect(await env.num('SELECT count(*) FROM tight')).toBe(groups * groupRows);
  });

  it('decodes the next row groups while one is COPYed, on the direct path too (internal concurrency 1)', async () => {
    await fresh('ahead');
    const r = await env.load('ahead', [file], { internalConcurrency: 1 });
    const f = r.files[0]!;
    expect(f.error).toBeUndefined();
    // The direct path COPYs one group at a time; more than one held means later groups were decoded meanwhile.
    expect(f.parquet?.maxBytesInFlight).toBeGreaterThan(1.5 * 117 * 1024);
    expect(await env.num('SELECT count(DISTINCT id) FROM ahead')).toBe(groups * groupRows);
  });

  it('replaces a worker thread whose wasm memory passed the mark, and the load goes on', async () => {
    await fresh('recycled');
    const r = await env.load('recycled', [file], { internalConcurrency: 4, wasmMemoryMarkBytes: 1 });
    const f = r.files[0]!;
    expect(f.error).toBeUndefined();
    // Every task passes a 1-byte mark, so its thread is replaced after it: more threads ran the groups than the pool
    // ever holds at once (2 on 2 cores). Not one per group: Piscina may hand a thread its next task before the main
    // thread has read the last result and terminated it (ParquetPool.run), and then that thread runs two.
    expect(f.parquet?.recycledThreads).toBeGreaterThanOrEqual(Math.min(groups, f.parquet!.threads) - 1);
    expect(f.parquet?.threads).toBeGreaterThan(Math.min(availableParallelism(), 4));
    expect(await env.num('SELECT count(DISTINCT id) FROM recycled')).toBe(groups * groupRows);
  });
});

describe('INT96 timestamps', () => {
  it('loads Spark INT96 timestamps (nanoseconds truncated) into timestamp and timestamptz, nulls included', async () => {
    await env.db.query('CREATE TABLE legacy (id int, ts timestamp, tstz timestamptz)');
    const ns = (iso: string, extraNs: bigint): bigint => BigInt(Date.parse(iso)) * 1_000_000n + extraNs;
    const values = [ns('2024-01-01T01:02:03.123Z', 456_789n), null, ns('1960-06-30T23:59:59Z', 1_000n)];
    const path = join(env.dir.path, 'int96.parquet');
    await writeFile(path, int96Parquet([1, 2, 3], { ts: values, tstz: values }));
    const r = await env.load('legacy', [path]);
    expect([r.files[0]?.error, r.files[0]?.parquet?.encoding]).toEqual([undefined, 'binary']);
    expect(await env.rows('SELECT ts::text, tstz::text FROM legacy ORDER BY id')).toEqual([
      { ts: '2024-01-01 01:02:03.123456', tstz: '2024-01-01 01:02:03.123456+00' },
      { ts: null, tstz: null },
      { ts: '1960-06-30 23:59:59.000001', tstz: '1960-06-30 23:59:59.000001+00' },
    ]);
  });
});
