// --on-error reject-rows for Parquet: rows the encoder cannot write, rows COPY refuses (found by the tuple COPY
// reports, or by bisection of COPY BINARY tuples) and rows the merge refuses (bisection of staging) are set aside
// and the rest loads, by COPY BINARY and by the COPY text fallback, with one row group and with several. The
// rejects files hold the rows rendered as CSV and `row group G, row N` lines. Files written by parquet-wasm.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Int32, Table as ArrowTable, Utf8, tableToIPC, vectorFromArray } from 'apache-arrow';
import { Table, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import { describe, expect, it } from 'vitest';
import { auditRows, runCli } from '../helpers.js';
import { useEnv } from './support.js';

const env = useEnv('parquet_rejects');
const N = 30;

type Col = (number | string | null)[];

/** A Parquet file of N rows: id = i, qty = i, note = `n${i}` and any other columns given; `bad` overrides cells
 * by row. Ints are Int32, strings Utf8. `groupRows` rows per row group. */
async function parquet(
  name: string,
  bad: Record<number, Record<string, number | string | null>>,
  groupRows: number,
  extra: Record<string, (i: number) => number | string | null> = {},
): Promise<string> {
  const gen: Record<string, (i: number) => number | string | null> = {
    id: (i) => i,
    qty: (i) => i,
    note: (i) => `n${i}`,
    ...extra,
  };
  const cols: Record<string, ReturnType<typeof vectorFromArray>> = {};
  for (const [c, f] of Object.entries(gen)) {
    const values: Col = Array.from({ length: N }, (_, i) => (bad[i] && c in bad[i]! ? bad[i]![c]! : f(i)));
    const type = typeof f(0) === 'string' ? new Utf8() : new Int32();
    cols[c] = vectorFromArray(values, type as never);
  }
  const props = new WriterPropertiesBuilder().setMaxRowGroupSize(groupRows).build();
  const path = join(env.dir.path, name);
  const ipc = tableToIPC(new ArrowTable(cols), 'stream');
  await writeFile(path, writeParquet(Table.fromIPCStream(ipc), props));
  return path;
}

const ids = (bad: Record<number, unknown>): number[] =>
  Array.from({ length: N }, (_, i) => i).filter((i) => !(i in bad));

async function rejectsOf(dir: string, path: string): Promise<{ csv: string; log: string[] }> {
  const name = path.split('/').pop()!;
  return {
    csv: await readFile(join(dir, `${name}.rejects.csv`), 'utf8'),
    log: (await readFile(join(dir, `${name}.rejects.log`), 'utf8')).trim().split('\n'),
  };
}

/** `row group G, row N` of row i (0-based) with `groupRows` rows per group. */
const place = (i: number, groupRows: number): string =>
  `row group ${Math.floor(i / groupRows)}, row ${i + 1}`;

const SHAPES = [
  ['several row groups', 7],
  ['one row group', 1 << 20],
] as const;

describe('Parquet reject-rows, a row group in slices', () => {
  it('places the rows set aside in each slice of a group decoded once (--batch-size 7 on a group of 30)', async () => {
    const t = 'pq_slices';
    await env.db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, qty smallint NOT NULL, note varchar(5))`);
    // row 4: NOT NULL (COPY, slice 0); row 13: too long (COPY, slice 1); rows 25 and 29: out of range for
    // smallint (the encoder, slices 3 and 4)
    const bad = { 4: { qty: null }, 13: { note: 'much too long' }, 25: { qty: 40000 }, 29: { qty: -40000 } };
    const path = await parquet(`${t}.parquet`, bad, 1 << 20);
    const dir = join(env.dir.path, `rej-${t}`);
    const r = await env.load(t, [path], { onError: 'reject-rows', rejectsDir: dir, batchSize: 7 });
    expect(r.files[0]).toMatchObject({
      status: 'succeeded',
      rowsInserted: 26,
      rowsRejected: 4,
      subBatches: 5,
      parquet: { encoding: 'binary', rowGroups: 1 },
    });
    expect((await env.rows<{ id: number }>(`SELECT id FROM ${t} ORDER BY id`)).map((x) => x.id)).toEqual(
      ids(bad),
    );
    const out = await rejectsOf(dir, path);
    expect(out.csv).toBe(
      'id,qty,note\n"4",,"n4"\n"13","13","much too long"\n"25","40000","n25"\n"29","-40000","n29"\n',
    );
    expect(out.log.map((l) => l.split(', SQLSTATE')[0])).toEqual([
      `${path}: row group 0, row 5, column "qty"`,
      `${path}: row group 0, row 14, column "note"`,
      `${path}: row group 0, row 26, column "qty"`,
      `${path}: row group 0, row 30, column "qty"`,
    ]);
  });
});

describe.each(SHAPES)('Parquet reject-rows, %s', (shape, groupRows) => {
  const tag = groupRows === 7 ? 'g7' : 'g1';

  it('sets aside NOT NULL, too-long varchar and out-of-range rows at COPY time (COPY BINARY)', async () => {
    const t = `pq_copy_${tag}`;
    await env.db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, qty smallint NOT NULL, note varchar(5))`);
    const bad = { 4: { qty: null }, 13: { note: 'much too long' }, 25: { qty: 40000 } };
    const path = await parquet(`${t}.parquet`, bad, groupRows);
    const dir = join(env.dir.path, `rej-${t}`);
    const r = await env.load(t, [path], { onError: 'reject-rows', rejectsDir: dir, internalConcurrency: 3 });
    expect(r.exitCode).toBe(0);
    expect(r.files[0]).toMatchObject({
      status: 'succeeded',
      rowsRead: 30,
      rowsInserted: 27,
      rowsRejected: 3,
      parquet: { encoding: 'binary', rowGroups: groupRows === 7 ? 5 : 1 },
    });
    expect((await env.rows<{ id: number }>(`SELECT id FROM ${t} ORDER BY id`)).map((x) => x.id)).toEqual(
      ids(bad),
    );
    const out = await rejectsOf(dir, path);
    expect(out.csv).toBe('id,qty,note\n"4",,"n4"\n"13","13","much too long"\n"25","40000","n25"\n');
    expect(out.log).toHaveLength(3);
    expect(out.log[0]).toContain(`${path}: ${place(4, groupRows)}, column "qty", SQLSTATE 23502: `);
    expect(out.log[0]).toContain(
      `null value in column "qty" of relation "${t}" violates not-null constraint`,
    );
    expect(out.log[1]).toContain(`${path}: ${place(13, groupRows)}, column "note", SQLSTATE 22001: `);
    expect(out.log[1]).toContain('value too long for type character varying(5)');
    expect(out.log[2]).toContain(`${path}: ${place(25, groupRows)}, column "qty", SQLSTATE 22003: `);
    expect(out.log[2]).toContain('value 40000 is out of range for smallint');
    const [a] = (await auditRows(env.db)).filter((x) => x.file_path === path);
    expect([a?.status, a?.rows_read, a?.rows_inserted, a?.rows_rejected]).toEqual([
      'succeeded',
      '30',
      '27',
      '3',
    ]);
  });

  it('sets aside bad enum values, domain CHECK and NOT NULL violations on the COPY text fallback', async () => {
    const t = `pq_text_${tag}`;
    await env.db.query(`CREATE TYPE ${t}_mood AS ENUM ('sad', 'happy')`);
    await env.db.query(`CREATE DOMAIN ${t}_short AS text CHECK (length(VALUE) < 5)`);
    await env.db.query(
      `CREATE TABLE ${t} (id int PRIMARY KEY, qty int, mood ${t}_mood NOT NULL, note ${t}_short)`,
    );
    const bad = { 3: { mood: 'angry' }, 9: { note: 'far too long' }, 20: { mood: null } };
    const path = await parquet(`${t}.parquet`, bad, groupRows, { mood: (i) => (i % 2 ? 'sad' : 'happy') });
    const dir = join(env.dir.path, `rej-${t}`);
    const r = await env.load(t, [path], { onError: 'reject-rows', rejectsDir: dir });
    expect(r.files[0]).toMatchObject({
      status: 'succeeded',
      rowsInserted: 27,
      rowsRejected: 3,
      parquet: { encoding: 'text' },
    });
    expect((await env.rows<{ id: number }>(`SELECT id FROM ${t} ORDER BY id`)).map((x) => x.id)).toEqual(
      ids(bad),
    );
    expect(await env.num(`SELECT count(*) FROM ${t} WHERE mood = 'sad' AND id % 2 = 1`)).toBe(13); // 15 odd ids less 3 and 9
    const out = await rejectsOf(dir, path);
    expect(out.csv).toBe(
      'id,qty,note,mood\n"3","3","n3","angry"\n"9","9","far too long","sad"\n"20","20","n20",\n',
    );
    expect(out.log[0]).toContain(`${place(3, groupRows)}, column "mood", SQLSTATE 22P02: `);
    expect(out.log[1]).toContain(`${place(9, groupRows)}, column "note", SQLSTATE 23514: `);
    expect(out.log[2]).toContain(`${place(20, groupRows)}, column "mood", SQLSTATE 23502: `);
  });

  it('finds CHECK, unique and foreign-key violations at merge time (upsert), by bisection of staging', async () => {
    const t = `pq_merge_${tag}`;
    await env.db.query(`CREATE TABLE ${t}_parent (id int PRIMARY KEY)`);
    await env.db.query(`INSERT INTO ${t}_parent SELECT generate_series(0, 29)`);
    await env.db.query(
      `CREATE TABLE ${t} (id int PRIMARY KEY, qty int CHECK (qty < 100), note text UNIQUE,
                          ref int REFERENCES ${t}_parent)`,
    );
    // qty too big; note n2 repeats row 2's; ref 999 has no parent
    const bad = { 8: { qty: 500 }, 21: { note: 'n2' }, 15: { ref: 999 } };
    const path = await parquet(`${t}.parquet`, bad, groupRows, { ref: (i) => i });
    const dir = join(env.dir.path, `rej-${t}`);
    const r = await env.load(t, [path], { onError: 'reject-rows', rejectsDir: dir });
    expect(r.files[0]).toMatchObject({ status: 'succeeded', rowsInserted: 27, rowsRejected: 3 });
    expect((await env.rows<{ id: number }>(`SELECT id FROM ${t} ORDER BY id`)).map((x) => x.id)).toEqual(
      ids(bad),
    );
    const out = await rejectsOf(dir, path);
    expect(out.csv).toBe('id,qty,note,ref\n"8","500","n8","8"\n"15","15","n15","999"\n"21","21","n2","21"\n');
    expect(out.log[0]).toContain(`${path}: ${place(8, groupRows)}, SQLSTATE 23514: `);
    expect(out.log[1]).toContain(`${path}: ${place(15, groupRows)}, SQLSTATE 23503: `);
    expect(out.log[2]).toContain(`${path}: ${place(21, groupRows)}, SQLSTATE 23505: `);
    const [a] = (await auditRows(env.db)).filter((x) => x.file_path === path);
    expect([a?.status, a?.rows_rejected]).toEqual(['succeeded', '3']);
  });

  it('sets aside unique and foreign-key violations on append (straight into the table with one row group)', async () => {
    const t = `pq_append_${tag}`;
    await env.db.query(`CREATE TABLE ${t}_parent (id int PRIMARY KEY)`);
    await env.db.query(`INSERT INTO ${t}_parent SELECT generate_series(0, 29)`);
    await env.db.query(`CREATE TABLE ${t} (id int, qty int, note text, ref int REFERENCES ${t}_parent)`);
    await env.db.query(`CREATE UNIQUE INDEX ON ${t} (note)`);
    await env.db.query(`INSERT INTO ${t} VALUES (-1, -1, 'n5', NULL)`);
    // n5 is in the table already; n2 repeats row 2's; ref 999 has no parent (an AFTER trigger: COPY names no row)
    const bad = { 5: {}, 21: { note: 'n2' }, 27: { ref: 999 } };
    const path = await parquet(`${t}.parquet`, bad, groupRows, { ref: (i) => i });
    const dir = join(env.dir.path, `rej-${t}`);
    const r = await env.load(t, [path], { mode: 'append', onError: 'reject-rows', rejectsDir: dir });
    expect(r.files[0]).toMatchObject({ status: 'succeeded', rowsInserted: 27, rowsRejected: 3 });
    expect(
      (await env.rows<{ id: number }>(`SELECT id FROM ${t} WHERE id >= 0 ORDER BY id`)).map((x) => x.id),
    ).toEqual(ids(bad));
    const out = await rejectsOf(dir, path);
    expect(out.csv).toBe('id,qty,note,ref\n"5","5","n5","5"\n"21","21","n2","21"\n"27","27","n27","999"\n');
    expect(out.log.map((l) => /SQLSTATE (\w+)/.exec(l)?.[1])).toEqual(['23505', '23505', '23503']);
    expect(out.log[2]).toContain(`${path}: ${place(27, groupRows)}, `);
  });

  it('sets aside a unique violation on a column other than the key in insert-only mode', async () => {
    const t = `pq_insonly_${tag}`;
    await env.db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, qty int, note text UNIQUE)`);
    await env.db.query(`INSERT INTO ${t} VALUES (3, -3, 'old3')`);
    const bad = { 21: { note: 'n2' } };
    const path = await parquet(`${t}.parquet`, bad, groupRows);
    const dir = join(env.dir.path, `rej-${t}`);
    const r = await env.load(t, [path], { mode: 'insert-only', onError: 'reject-rows', rejectsDir: dir });
    // id 3 exists: skipped, not rejected
    expect(r.files[0]).toMatchObject({
      status: 'succeeded',
      rowsInserted: 28,
      rowsSkipped: 1,
      rowsRejected: 1,
    });
    expect(await env.num(`SELECT count(*) FROM ${t}`)).toBe(29);
    expect(await env.rows(`SELECT qty, note FROM ${t} WHERE id = 3`)).toEqual([{ qty: -3, note: 'old3' }]);
    const out = await rejectsOf(dir, path);
    expect(out.csv).toBe('id,qty,note\n"21","21","n2"\n');
    expect(out.log[0]).toContain(`${place(21, groupRows)}, SQLSTATE 23505: `);
  });

  it('fails the file past --max-rejects (a count or a percentage), with nothing landed', async () => {
    const t = `pq_max_${tag}`;
    await env.db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, qty int NOT NULL, note text)`);
    const path = await parquet(
      `${t}.parquet`,
      { 1: { qty: null }, 12: { qty: null }, 22: { qty: null } },
      groupRows,
    );
    const dir = join(env.dir.path, `rej-${t}`);
    for (const maxRejects of ['2', '5%']) {
      const r = await env.load(t, [path], { onError: 'reject-rows', maxRejects, rejectsDir: dir });
      expect(r.exitCode).toBe(1);
      expect(r.files[0]).toMatchObject({ status: 'failed', rowsInserted: 0, error: { code: 'DATA' } });
      expect(r.files[0]?.error?.message).toMatch(/more than --max-rejects .* last: row group \d+, row \d+/);
      expect(await env.num(`SELECT count(*) FROM ${t}`)).toBe(0);
    }
    const audit = (await auditRows(env.db)).filter((x) => x.file_path === path);
    expect(audit.map((x) => x.status)).toEqual(['failed', 'failed']);
    const ok = await env.load(t, [path], { onError: 'reject-rows', maxRejects: '10%', rejectsDir: dir });
    expect(ok.files[0]).toMatchObject({ status: 'succeeded', rowsRejected: 3, rowsInserted: 27 });
  });

  it(`names the row of a merge-time violation in abort-file mode (${shape})`, async () => {
    const t = `pq_abort_${tag}`;
    await env.db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, qty int CHECK (qty < 100), note text)`);
    const path = await parquet(`${t}.parquet`, { 19: { qty: 500 } }, groupRows);
    const r = await env.load(t, [path]);
    expect(r.exitCode).toBe(1);
    expect(r.files[0]?.error).toMatchObject({ code: 'DATA', line: 20 });
    expect(r.files[0]?.error?.message).toContain(place(19, groupRows));
    expect(await env.num(`SELECT count(*) FROM ${t}`)).toBe(0);
  });
});

describe('Parquet abort-file on the COPY text fallback', () => {
  it('names the row of a bad value, not the CSV line, when earlier values span lines', async () => {
    await env.db.query(`CREATE TYPE pq_lines_mood AS ENUM ('sad', 'happy')`);
    await env.db.query('CREATE TABLE pq_lines (id int, qty int, note text, mood pq_lines_mood)');
    const path = await parquet('pq_lines.parquet', { 20: { mood: 'angry' } }, 1 << 20, {
      note: (i) => `two\nlines ${i}`,
      mood: () => 'sad',
    });
    const r = await env.load('pq_lines', [path]);
    expect(r.files[0]?.parquet?.encoding).toBe('text');
    expect(r.files[0]?.error).toMatchObject({ code: 'DATA', line: 21, column: 'mood' });
    expect(await env.num('SELECT count(*) FROM pq_lines')).toBe(0);
  });
});

describe('Parquet reject-rows under --memory-limit', () => {
  it('renders the rejects under the byte budget too: each group admitted alone, nothing waits forever', async () => {
    await env.db.query('CREATE TABLE pq_mem (id int PRIMARY KEY, qty int NOT NULL, note text)');
    const bad = {
      2: { qty: null },
      9: { qty: null },
      16: { qty: null },
      23: { qty: null },
      29: { qty: null },
    };
    const path = await parquet('pq_mem.parquet', bad, 7);
    const dir = join(env.dir.path, 'rej-mem');
    const r = await env.load('pq_mem', [path], {
      onError: 'reject-rows',
      rejectsDir: dir,
      internalConcurrency: 4,
      memoryLimit: 1,
    });
    expect(r.files[0]).toMatchObject({
      status: 'succeeded',
      rowsRejected: 5,
      rowsInserted: 25,
      parquet: { rowGroups: 5, maxDecodesInFlight: 1 },
    });
    const out = await rejectsOf(dir, path);
    expect(out.csv).toBe(
      `id,qty,note\n${Object.keys(bad)
        .map((i) => `"${i}",,"n${i}"\n`)
        .join('')}`,
    );
    expect(out.log.map((l) => l.split(', column')[0])).toEqual(
      Object.keys(bad).map((i) => `${path}: ${place(Number(i), 7)}`),
    );
  });
});

describe('Parquet reject-rows through the CLI', () => {
  it('exits 0 with rows set aside, and 1 when --max-rejects is passed', async () => {
    await env.db.query('CREATE TABLE pq_cli (id int PRIMARY KEY, qty int NOT NULL, note text)');
    const path = await parquet('pq_cli.parquet', { 6: { qty: null }, 16: { qty: null } }, 10);
    const dir = join(env.dir.path, 'rej-cli');
    const args = [
      '--dsn',
      env.db.dsn,
      '--table',
      'pq_cli',
      '--on-error',
      'reject-rows',
      '--rejects-dir',
      dir,
    ];
    const over = await runCli([...args, '--max-rejects', '1', path]);
    expect(over.code).toBe(1);
    expect(await env.num('SELECT count(*) FROM pq_cli')).toBe(0);
    const ok = await runCli([...args, path]);
    expect(ok.code).toBe(0);
    expect(await env.num('SELECT count(*) FROM pq_cli')).toBe(28);
    const audit = (await auditRows(env.db)).filter((x) => x.file_path === path);
    expect(audit.map((x) => [x.status, x.rows_rejected])).toEqual([
      ['failed', '0'],
      ['succeeded', '2'],
    ]);
    expect((await rejectsOf(dir, path)).log.map((l) => l.split(', SQLSTATE')[0])).toEqual([
      `${path}: row group 0, row 7, column "qty"`,
      `${path}: row group 1, row 17, column "qty"`,
    ]);
  });
});
