// CSV rows converted to COPY BINARY by the workers (src/csvbin/): the same file loaded with --copy-format text
// (the server parses the CSV) and with the converter must give the very same rows, for every type the converter
// writes and for the values it leaves to the server; a sub-batch it cannot convert goes as CSV; errors the server
// finds in binary rows name the file's own line and column.
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { auditRows, runCli } from '../helpers.js';
import { useEnv, type LoadResult } from './support.js';

const env = useEnv('csvbin');

const COLUMNS =
  'i2 smallint, i4 integer, i8 bigint, f8 double precision, n numeric, n2 numeric(8,2), b boolean, d date, ' +
  'tz timestamptz, ts timestamp, tz3 timestamptz(3), u uuid, t text, vc varchar(10), ch char(4), j json, jb jsonb';
const NAMES = COLUMNS.split(', ').map((c) => c.split(' ')[0]!);

/** Every column as text (json compared as text, jsonb normalised), ordered, for comparing two tables. */
async function contents(table: string): Promise<string[]> {
  const rows = await env.rows<{ r: string }>(
    `SELECT (${NAMES.map((n) => `coalesce(${n}::text, '<null>')`).join(" || '|' || ")}) AS r FROM ${table} ORDER BY 1`,
  );
  return rows.map((x) => x.r);
}

/** One row per entry: each column gets the entry's value for it, or a plain default. */
function file(rows: Partial<Record<string, string>>[], eol = '\n'): string {
  const plain: Record<string, string> = {
    i2: '1',
    i4: '2',
    i8: '3',
    f8: '4.5',
    n: '6.7',
    n2: '8.9',
    b: 't',
    d: '2020-01-01',
    tz: '2020-01-01T00:00:00Z',
    ts: '2020-01-01 00:00:00',
    tz3: '2020-01-01 00:00:00Z',
    u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    t: 'x',
    vc: 'y',
    ch: 'z',
    j: '"{""a"":1}"',
    jb: '"{""b"": [1, 2]}"',
  };
  const lines = rows.map((r) => NAMES.map((n) => r[n] ?? plain[n]).join(','));
  return [NAMES.join(','), ...lines].map((l) => l + eol).join('');
}

/** Values the converter writes itself, one column at a time. */
const EXACT: Record<string, string[]> = {
  i2: ['0', '-32768', '32767', '007', '+5', '-0', ''],
  i4: ['-2147483648', '2147483647', '42', ''],
  i8: ['-9223372036854775808', '9223372036854775807', '123456789012345', '1234567890123456', '-1'],
  f8: [
    '0',
    '-0',
    '1.5',
    '123456.789012',
    '1e10',
    '1.7976931348623157e308',
    '5e-324',
    '2.2250738585072014e-308',
    '.5',
    '5.',
    '-0.000123',
    '+7',
    '123456789012345678',
    '1.5E-3',
  ],
  n: ['0', '-0.00', '123456789012345678901234567890.123456789', '.5', '5.', '0.0001', '10000', '-1.10'],
  n2: ['123.456', '-0.005', '999999.99', '0.1'],
  b: ['t', 'f', 'TRUE', 'False', 'yes', 'NO', 'on', 'off', '1', '0', 'y', 'N'],
  d: ['2020-02-29', '0001-01-01', '9999-12-31', '1999-12-31', '2000-01-01'],
  tz: [
    '2020-01-01T00:00:00Z',
    '2020-06-30 23:59:59.999999+05:30',
    '1900-01-01 00:00:00-0800',
    '2020-01-01 12:00:00',
    '2038-01-19T03:14:08.5+00',
    '0500-03-01 00:00:00+00',
    '9999-12-31 23:59:59.999999z',
  ],
  ts: ['2020-01-01 00:00:00', '2020-01-01T10:20:30.123', '1600-02-29 12:00:00', '0001-01-01 00:00:00'],
  tz3: ['2020-01-01 00:00:00.123456Z', '2020-01-01 00:00:00.9999Z'],
  u: ['A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'a0eebc999c0b4ef8bb6d6bb9bd380a11'],
  t: [
    '"a, ""quoted"" b"',
    '"line one\nline two"',
    '""',
    '',
    'é✓😀',
    `"${'long ""x"" '.repeat(40)}"`,
    '"crlf\r\ninside"',
    '"\\N"',
  ],
  vc: ['abc', '""', '"0123456789"'],
  ch: ['ab', '"a b "'],
  j: ['"[1, ""two"", {}]"', '3', '""""""'],
  jb: ['"{""z"": null,  ""a"": 1.50}"', 'true'],
};

/** Values the converter leaves to the server (their sub-batch goes as CSV): PostgreSQL accepts each. */
const ODD: Record<string, string[]> = {
  i4: [' 12', '12 '],
  i8: ['0x1F', '1_000'],
  f8: ['NaN', 'Infinity', '-inf', ' 1.5'],
  n: ['NaN', '1e5', '-Infinity'],
  b: ['tr', ' t'],
  d: ['Jan 5 2020', 'infinity', '2020-1-5'],
  tz: ['2020-01-01 00:00:00 UTC', 'epoch', '2020-01-01 00:00'],
  ts: ['2020-01-01 00:00:00+05', 'infinity'],
  u: ['{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'],
};

function spread(values: Record<string, string[]>): Partial<Record<string, string>>[] {
  return Object.entries(values).flatMap(([col, vs]) => vs.map((v) => ({ [col]: v })));
}

async function both(name: string, body: string | Buffer, opts: { batchSize: number; ext?: string }) {
  await env.db.query(`CREATE TABLE ${name}_text (${COLUMNS})`);
  await env.db.query(`CREATE TABLE ${name}_bin (${COLUMNS})`);
  const f = await env.dir.write(`${name}.${opts.ext ?? 'csv'}`, body);
  const text = await env.load(`${name}_text`, [f], { batchSize: opts.batchSize, copyFormat: 'text' });
  const bin = await env.load(`${name}_bin`, [f], { batchSize: opts.batchSize, force: true });
  return { text, bin };
}

function ok(r: LoadResult): LoadResult['files'][number] {
  expect(r.exitCode, JSON.stringify(r.files[0]?.error)).toBe(0);
  return r.files[0]!;
}

describe('the same rows as the server parsing the CSV', () => {
  it('writes every type it knows exactly as text COPY would, every sub-batch binary', async () => {
    const { text, bin } = await both('exact', file(spread(EXACT)), { batchSize: 7 });
    const t = ok(text);
    const b = ok(bin);
    expect(t.binarySubBatches ?? 0).toBe(0);
    expect(b.subBatches).toBeGreaterThan(5);
    expect(b.binarySubBatches).toBe(b.subBatches);
    expect(b.rowsInserted).toBe(spread(EXACT).length);
    expect(await contents('exact_bin')).toEqual(await contents('exact_text'));
  });

  it('sends a sub-batch holding a value it does not take as CSV, and the rows are still the same', async () => {
    // every odd value alone in a sub-batch of 3 (plain rows around it), so some sub-batches convert and some don't
    const rows = spread(ODD).flatMap((r) => [{}, r, {}]);
    const { text, bin } = await both('odd', file(rows), { batchSize: 3 });
    ok(text);
    const b = ok(bin);
    expect(b.subBatches).toBe(spread(ODD).length);
    expect(b.binarySubBatches ?? 0).toBe(0);
    const mixed = await both('mixed', file([...spread(ODD), ...spread(EXACT)]), { batchSize: 4 });
    const m = ok(mixed.bin);
    expect(m.binarySubBatches).toBeGreaterThan(0);
    expect(m.binarySubBatches).toBeLessThan(m.subBatches);
    expect(await contents('odd_bin')).toEqual(await contents('odd_text'));
    expect(await contents('mixed_bin')).toEqual(await contents('mixed_text'));
  });

  it('converts CRLF files, gzip files and a custom dialect (; delimiter, backslash escape, NULL string)', async () => {
    const crlf = await both('crlf', file(spread(EXACT), '\r\n'), { batchSize: 5 });
    ok(crlf.text);
    expect(ok(crlf.bin).binarySubBatches).toBe(ok(crlf.bin).subBatches);
    expect(await contents('crlf_bin')).toEqual(await contents('crlf_text'));

    const gz = await both('gz', gzipSync(file(spread(EXACT))), { batchSize: 6, ext: 'csv.gz' });
    ok(gz.text);
    expect(ok(gz.bin).binarySubBatches).toBe(ok(gz.bin).subBatches);
    expect(await contents('gz_bin')).toEqual(await contents('gz_text'));

    await env.db.query('CREATE TABLE dia_text (id int, v text, w text)');
    await env.db.query('CREATE TABLE dia_bin (id int, v text, w text)');
    const f = await env.dir.write(
      'dialect.csv',
      'id;v;w\n1;"a \\"q\\" b";NULL\n2;"back\\\\slash";\n3;"NULL";x\n4;"semi;colon";"new\nline"\n',
    );
    const o = { delimiter: ';', escape: '\\', null: 'NULL', batchSize: 2 };
    ok(await env.load('dia_text', [f], { ...o, copyFormat: 'text' }));
    const d = ok(await env.load('dia_bin', [f], { ...o, force: true }));
    expect(d.binarySubBatches).toBe(2);
    const q = 'SELECT id, v, w FROM ';
    expect(await env.rows(`${q}dia_bin ORDER BY id`)).toEqual(await env.rows(`${q}dia_text ORDER BY id`));
    expect(await env.rows(`${q}dia_bin ORDER BY id`)).toEqual([
      { id: 1, v: 'a "q" b', w: null },
      { id: 2, v: 'back\\slash', w: '' },
      { id: 3, v: 'NULL', w: 'x' },
      { id: 4, v: 'semi;colon', w: 'new\nline' },
    ]);
  });

  it('upserts through staging in binary: new keys inserted, existing ones updated', async () => {
    await env.db.query('CREATE TABLE ups (id bigint PRIMARY KEY, v text, at timestamptz)');
    const first = await env.dir.write(
      'ups1.csv',
      'id,v,at\n' +
        Array.from({ length: 30 }, (_, k) => `${k},a${k},2020-01-01T00:00:0${k % 10}Z\n`).join(''),
    );
    const second = await env.dir.write(
      'ups2.csv',
      'id,v,at\n' + Array.from({ length: 30 }, (_, k) => `${k + 15},b${k},2021-01-01 00:00:00+01\n`).join(''),
    );
    ok(await env.load('ups', [first], { batchSize: 4, internalConcurrency: 2 }));
    const r = ok(await env.load('ups', [second], { batchSize: 4, internalConcurrency: 2 }));
    expect(r.binarySubBatches).toBe(r.subBatches);
    expect([r.rowsInserted, r.rowsUpdated]).toEqual([15, 15]);
    expect(await env.num('SELECT count(*) FROM ups')).toBe(45);
    expect(await env.rows(`SELECT v, at::text FROM ups WHERE id IN (3, 20) ORDER BY id`)).toEqual([
      { v: 'a3', at: '2020-01-01 00:00:03+00' },
      { v: 'b5', at: '2020-12-31 23:00:00+00' },
    ]);
  });
});

// Past the detection sample, on the direct path with one sub-batch prepared ahead (the defaults), the record scan
// converts as it cuts (workers/plan.ts `convert`): one pass over the bytes, read 1 MB at a time, so records and
// quoted fields straddle the reads. Its sub-batches must be the plain scan's (text loads use it), its rows the
// server's parse, its errors the same lines.
describe('the record scan that converts (one pass, past the sample)', () => {
  /** `rows` repeated to about `mb` MB of CSV */
  function many(rows: Partial<Record<string, string>>[], mb: number): Partial<Record<string, string>>[] {
    const n = Math.ceil((mb * 2 ** 20) / file(rows).length);
    return Array.from({ length: n }, () => rows).flat();
  }
  const big = (rows: Partial<Record<string, string>>[], mb: number, eol = '\n') => file(many(rows, mb), eol);

  it('gives the rows the server parses, cut as the plain scan cuts, across 1 MB reads, LF and CRLF', async () => {
    for (const [name, eol] of [
      ['scan_lf', '\n'],
      ['scan_crlf', '\r\n'],
    ] as const) {
      const body = big(spread(EXACT), 3, eol);
      const { text, bin } = await both(name, body, { batchSize: 997 });
      const t = ok(text);
      const b = ok(bin);
      expect(b.subBatches, name).toBeGreaterThan(10);
      expect([b.scanConverted, b.binarySubBatches], name).toEqual([b.subBatches, b.subBatches]);
      expect(t.scanConverted, name).toBeUndefined(); // text: the plain scan
      expect([b.subBatches, b.rowsInserted], name).toEqual([t.subBatches, t.rowsInserted]);
      expect(await contents(`${name}_bin`), name).toEqual(await contents(`${name}_text`));
      // the text load's audit row, then the converted one's
      const audit = (await auditRows(env.db)).filter((a) => a.file_path.endsWith(`/${name}.csv`));
      const want = ['succeeded', t.rowsInserted, t.subBatches];
      expect(audit.map((a) => [a.status, Number(a.rows_inserted), a.sub_batches], name)).toEqual([
        want,
        want,
      ]);
    }
  });

  it('sends a sub-batch it gives up on as CSV, cut where the plain scan cuts it, and goes on converting', async () => {
    const rows = many(spread(EXACT), 2);
    // two odd values: one early in a sub-batch, one in the very last record
    rows[3000] = { n: '1e5', t: '"odd\nrecord"' };
    rows[rows.length - 1] = { b: ' t' };
    const { text, bin } = await both('scan_odd', file(rows), { batchSize: 1000 });
    const t = ok(text);
    const b = ok(bin);
    expect(b.subBatches).toBe(t.subBatches);
    expect(b.binarySubBatches).toBe(b.subBatches - 2);
    expect(b.scanConverted).toBe(b.subBatches - 2);
    expect(await contents('scan_odd_bin')).toEqual(await contents('scan_odd_text'));
  });

  it('names the same line as the server for a value it refuses in a late sub-batch, after a BOM', async () => {
    const rows = many([{ t: '"one\ntwo"' }, {}, { t: '"a ""b"" c"' }], 2);
    rows[rows.length - 400] = { vc: 'waytoolongforit' };
    const body = '\ufeff' + file(rows);
    const { text, bin } = await both('scan_err', body, { batchSize: 500 });
    expect([text.exitCode, bin.exitCode]).toEqual([1, 1]);
    const te = text.files[0]!.error!;
    const be = bin.files[0]!.error!;
    expect(te.line).toBe(body.slice(0, body.indexOf('waytoolongforit')).split('\n').length);
    expect(be).toMatchObject({ code: 'DATA', line: te.line, column: 'vc' });
    expect(be.message).toMatch(/value too long for type character varying\(10\)/);
    expect(await env.num('SELECT count(*) FROM scan_err_bin')).toBe(0);
  });

  it('fails a file whose last quote never closes, naming the line, with nothing landed', async () => {
    const body = big([{ t: '"x\ny"' }], 2) + file([{ t: '"open\nnever closed' }]).replace(/^.*\n/, '');
    const { text, bin } = await both('scan_open', body, { batchSize: 1000 });
    expect([text.exitCode, bin.exitCode]).toEqual([1, 1]);
    const line = body.slice(0, body.indexOf('"open')).split('\n').length;
    expect(bin.files[0]!.error).toMatchObject({ code: 'CSV', line });
    expect(bin.files[0]!.error).toEqual(text.files[0]!.error);
    expect(await env.num('SELECT count(*) FROM scan_open_bin')).toBe(0);
  });

  it('takes a record longer than several reads (a 3 MB quoted field) and a file without a last line break', async () => {
    const huge = `"${'wide, ""quoted"" text\n'.repeat(130_000)}"`; // about 3 MB, across three 1 MB reads
    const rows = many(spread(EXACT), 1);
    rows.splice(1500, 0, { t: huge, j: '"[""x""]"' });
    const body = file(rows).replace(/\n$/, '');
    const { text, bin } = await both('scan_huge', body, { batchSize: 1000 });
    const t = ok(text);
    const b = ok(bin);
    expect([b.scanConverted, b.subBatches]).toEqual([b.subBatches, t.subBatches]);
    expect(b.rowsInserted).toBe(rows.length);
    expect(await contents('scan_huge_bin')).toEqual(await contents('scan_huge_text'));
    expect(await env.num(`SELECT max(length(t)) FROM scan_huge_bin`)).toBe(huge.length - 2 - 2 * 130_000);
  });

  it('converts a gzip file in the one pass too (decompressed once, the bytes of a sub-batch per task)', async () => {
    const rows = many(spread(EXACT), 3);
    rows[5000] = { n: '1e5' }; // one sub-batch goes as CSV
    const { text, bin } = await both('scan_gz', gzipSync(file(rows, '\r\n')), {
      batchSize: 997,
      ext: 'csv.gz',
    });
    const t = ok(text);
    const b = ok(bin);
    expect(t.scanConverted).toBeUndefined();
    expect([b.subBatches, b.rowsInserted]).toEqual([t.subBatches, rows.length]);
    expect([b.scanConverted, b.binarySubBatches]).toEqual([b.subBatches - 1, b.subBatches - 1]);
    expect(await contents('scan_gz_bin')).toEqual(await contents('scan_gz_text'));
    // batch sizes far from the first guess (from the sample): tasks sent again with more bytes, or with fewer
    // and a sub-batch far longer than the ones before it (a 3 MB field): sent again with twice the bytes, and again
    const huge = { t: `"${'z'.repeat(3 << 20)}"` };
    const spike = [...rows.slice(0, 2500), huge, ...rows.slice(0, 2500)];
    for (const [name, batchSize, these] of [
      ['scan_gz_big', 20_000, rows],
      ['scan_gz_one', 1, rows.slice(0, 2000)],
      ['scan_gz_spike', 1000, spike],
    ] as const) {
      await env.db.query(`CREATE TABLE ${name} (${COLUMNS})`);
      const small = these;
      const f = await env.dir.write(`${name}.csv.gz`, gzipSync(file(small)));
      const r = ok(await env.load(name, [f], { batchSize }));
      expect([r.scanConverted, r.rowsInserted], name).toEqual([r.binarySubBatches, small.length]);
    }
  });

  it('fails a gzip file cut short or with an unterminated quote, naming it, with nothing landed', async () => {
    const whole = gzipSync(big([{ t: '"x\ny"' }], 2) + file([{ t: '"open' }]).replace(/^.*\n/, ''));
    const { text, bin } = await both('scan_gzq', whole, { batchSize: 1000, ext: 'csv.gz' });
    expect([text.exitCode, bin.exitCode]).toEqual([1, 1]);
    expect(bin.files[0]!.error).toEqual(text.files[0]!.error);
    expect(bin.files[0]!.error).toMatchObject({ code: 'CSV' });
    const gz = gzipSync(big(spread(EXACT), 2));
    const cut = await env.dir.write('scan_gzcut.csv.gz', gz.subarray(0, Math.floor(gz.length / 2)));
    const r = await env.load('scan_gzq_bin', [cut], { batchSize: 1000 });
    expect(r.exitCode).toBe(1);
    expect(r.files[0]!.error).toMatchObject({ code: 'READ' });
    expect(r.files[0]!.error!.message).toMatch(/gzip stream is corrupt or truncated/);
    expect(await env.num('SELECT count(*) FROM scan_gzq_bin')).toBe(0);
  });

  it('converts several ahead with --internal-concurrency 4; staging (parallel COPYs) keeps the plain scan', async () => {
    const f = await env.dir.write('scan_routes.csv', big(spread(EXACT), 1.5));
    await env.db.query(`CREATE TABLE scan_staging (${COLUMNS})`);
    await env.db.query(`CREATE TABLE scan_ahead (${COLUMNS})`);
    const staged = ok(
      await env.load('scan_staging', [f], { batchSize: 997, direct: false, internalConcurrency: 2 }),
    );
    expect(staged.scanConverted).toBeUndefined();
    expect(staged.binarySubBatches).toBe(staged.subBatches);
    const ahead = ok(await env.load('scan_ahead', [f], { batchSize: 997, internalConcurrency: 4 }));
    expect([ahead.scanConverted, ahead.binarySubBatches]).toEqual([ahead.subBatches, ahead.subBatches]);
    expect(ahead.subBatches).toBe(staged.subBatches);
    expect(await contents('scan_staging')).toEqual(await contents('scan_ahead'));
  });
});

describe("the converted bytes in the run's shared buffers", () => {
  // The workers write each sub-batch into a SharedArrayBuffer of the run's pool and the main thread COPYs it from
  // there; a buffer goes back to the pool once its COPY is done and serves a later sub-batch, of any file. Many
  // small sub-batches of four files at once (buffers of 1 MB, each used many times, several in use together): a
  // buffer handed out again too soon would show as rows of one sub-batch twice and another's missing.
  const distinct = (f: number, n: number) =>
    file(Array.from({ length: n }, (_, k) => ({ i8: String(f * 1_000_000 + k), t: `file ${f} row ${k}` })));

  it('keeps every row of several files converted at once, direct and staged', async () => {
    const files = await Promise.all(
      [0, 1, 2, 3].map((f) => env.dir.write(`shared_${f}.csv`, distinct(f, 3000))),
    );
    for (const t of ['shared_text', 'shared_direct', 'shared_staged'])
      await env.db.query(`CREATE TABLE ${t} (${COLUMNS})`);
    const text = await env.load('shared_text', files, { batchSize: 60, copyFormat: 'text' });
    expect(text.exitCode).toBe(0);
    const opts = { batchSize: 60, concurrency: 4, internalConcurrency: 3, force: true };
    const direct = await env.load('shared_direct', files, opts);
    const staged = await env.load('shared_staged', files, { ...opts, direct: false });
    for (const r of [direct, staged]) {
      expect(r.exitCode, JSON.stringify(r.files.map((f) => f.error))).toBe(0);
      for (const f of r.files) {
        expect(f.subBatches).toBe(50);
        expect(f.binarySubBatches).toBe(50);
      }
    }
    expect(direct.files.every((f) => f.scanConverted === 50)).toBe(true);
    const want = await contents('shared_text');
    expect(want).toHaveLength(12_000);
    expect(await contents('shared_direct')).toEqual(want);
    expect(await contents('shared_staged')).toEqual(want);
  });
});

describe('upsert of binary rows (tagged with their sub-batch and order by the converter)', () => {
  /** A file of id,v records (v: the tag, the id and the record's place in the file). */
  const keyed = (name: string, tag: string, ids: number[]) =>
    env.dir.write(name, 'id,v\n' + ids.map((i, k) => `${i},${tag}${i}.${k}\n`).join(''));

  it('upserts whatever order the keys come in: the last occurrence wins and the counts stay exact', async () => {
    await env.db.query('CREATE TABLE rise (id bigint PRIMARY KEY, v text)');
    await env.db.query(`INSERT INTO rise SELECT i, 'old' || i FROM generate_series(1, 40, 2) i`);
    const big = 2 ** 32; // across the 32-bit halves the converter compares keys by
    const cases: [string, number[], number, number, number][] = [
      // name, ids in file order, then inserted, updated, skipped
      ['rising.csv', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, big - 1, big, big + 1], 8, 5, 0],
      ['again.csv', [11, 12, 13, 14, 15, 16, 17, 18, 13, 19, 20, 21], 5, 6, 1], // 13 again, a later sub-batch
      ['within.csv', [22, 23, 23, 24, 25, 26, 27, 28], 4, 3, 1], // 23 twice in one sub-batch
      ['falling.csv', [36, 35, 34, 33, 32, 31, 30, 29], 4, 4, 0],
    ];
    for (const [name, ids, inserted, updated, skipped] of cases) {
      const f = await keyed(name, name[0]!, ids);
      const r = ok(await env.load('rise', [f], { batchSize: 4, internalConcurrency: 2 }));
      expect(r.binarySubBatches, name).toBe(r.subBatches);
      const [a] = (await auditRows(env.db)).filter((x) => x.file_path === f);
      expect([a?.rows_inserted, a?.rows_updated, a?.rows_skipped].map(Number), name).toEqual([
        inserted,
        updated,
        skipped,
      ]);
    }
    const v = async (id: number) =>
      (await env.rows<{ v: string }>(`SELECT v FROM rise WHERE id = ${id}`))[0]?.v;
    expect([await v(1), await v(big), await v(13), await v(23), await v(33), await v(39)]).toEqual([
      'r1.0',
      `r${big}.11`,
      'a13.8',
      'w23.2',
      'f33.3',
      'old39',
    ]);
    expect(await env.num('SELECT count(*) FROM rise')).toBe(20 + 8 + 5 + 4 + 4);
  });
});

describe('errors in binary rows', () => {
  /** A file whose record `bad` (0-based) holds `value` in column v; a multi-line field comes before it. */
  async function failing(
    name: string,
    ddl: string,
    value: string,
    { bad = 5, opts = {}, good = 'ok', multi = '"two\nlines"' } = {},
  ) {
    await env.db.query(`CREATE TABLE ${name} (${ddl})`);
    const recs = Array.from({ length: 8 }, (_, k) =>
      k === bad ? `${k},${value}` : k === 2 ? `${k},${multi}` : `${k},${good}`,
    );
    const f = await env.dir.write(`${name}.csv`, `id,v\n${recs.join('\n')}\n`);
    const r = await env.load(name, [f], { batchSize: 3, ...opts });
    expect(r.exitCode).toBe(1);
    expect(await env.num(`SELECT count(*) FROM ${name}`)).toBe(0);
    const audit = (await auditRows(env.db)).filter((a) => a.file_path === f);
    expect(audit.map((a) => a.status)).toEqual(['failed']);
    return r.files[0]!;
  }

  it('names the line and column of a value the server refuses (too long, bad json, bad UTF-8, NOT NULL)', async () => {
    // header line 1, records 0-1 on lines 2-3, record 2 on lines 4-5: record 5 starts on line 8
    const long = await failing('e_long', 'id int, v varchar(3)', 'toolong', { multi: '"a\nb"' });
    expect(long.error).toMatchObject({ code: 'DATA', line: 8, column: 'v' });
    expect(long.error!.message).toMatch(/value too long for type character varying\(3\)/);

    const json = await failing('e_json', 'id int, v json', '"{""a"":}"', {
      bad: 6,
      opts: { internalConcurrency: 2 },
      good: '1',
      multi: '"[1,\n2]"',
    });
    expect(json.error).toMatchObject({ code: 'DATA', line: 9, column: 'v' });
    expect(json.error!.message).toMatch(/invalid input syntax for type json/);

    await env.db.query('CREATE TABLE e_utf8 (id int, v text)');
    const bytes = Buffer.concat([
      Buffer.from('id,v\n1,ok\n2,"two\nlines"\n3,'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('\n'),
    ]);
    const f = await env.dir.write('e_utf8.csv', bytes);
    const u = await env.load('e_utf8', [f], { batchSize: 2 });
    expect(u.exitCode).toBe(1);
    expect(u.files[0]!.error).toMatchObject({ code: 'DATA', line: 5, column: 'v' });
    expect(await env.num('SELECT count(*) FROM e_utf8')).toBe(0);

    const nn = await failing('e_nn', 'id int, v text NOT NULL', '', { bad: 4 });
    expect(nn.error).toMatchObject({ code: 'DATA', line: 7, column: 'v' });
  });

  it('names the line of a duplicate key COPY finds in the direct path', async () => {
    await env.db.query('CREATE TABLE e_dup (id int, v text)');
    await env.db.query('CREATE UNIQUE INDEX ON e_dup (v)');
    const f = await env.dir.write('e_dup.csv', 'id,v\n1,a\n2,"b\nb"\n3,c\n4,a\n');
    const r = await env.load('e_dup', [f], { batchSize: 10, mode: 'append', direct: true });
    expect(r.exitCode).toBe(1);
    expect(r.files[0]!.error).toMatchObject({ code: 'DATA', line: 6 });
    expect(r.files[0]!.error!.message).toMatch(/duplicate key/);
    expect(await env.num('SELECT count(*) FROM e_dup')).toBe(0);
  });
});

describe('--copy-format', () => {
  it('binary fails a file with a column type the converter cannot write, naming it; text never converts', async () => {
    await env.db.query('CREATE TABLE cf (id int, span interval)');
    const f = await env.dir.write('cf.csv', 'id,span\n1,1 day\n');
    const bin = await env.load('cf', [f], { copyFormat: 'binary' });
    expect(bin.exitCode).toBe(1);
    expect(bin.files[0]!.error!.message).toMatch(/column "span" is of type interval/);
    expect(await env.num('SELECT count(*) FROM cf')).toBe(0);
    const auto = ok(await env.load('cf', [f]));
    expect(auto.binarySubBatches ?? 0).toBe(0);
    expect(await env.num('SELECT count(*) FROM cf')).toBe(1);

    await env.db.query('CREATE TABLE cf2 (id int, v text)');
    const g = await env.dir.write('cf2.csv', 'id,v\n1,a\n2,b\n');
    expect(ok(await env.load('cf2', [g], { copyFormat: 'text' })).binarySubBatches ?? 0).toBe(0);
    expect(ok(await env.load('cf2', [g], { copyFormat: 'binary', force: true })).binarySubBatches).toBe(1);
    // reject-rows finds bad rows by CSV line: it keeps the CSV
    expect(
      ok(await env.load('cf2', [g], { onError: 'reject-rows', force: true })).binarySubBatches ?? 0,
    ).toBe(0);
    expect(await env.num('SELECT count(*) FROM cf2')).toBe(6);
  });

  it('binary refuses reject-rows and a non-UTF8 encoding before anything is loaded', async () => {
    await env.db.query('CREATE TABLE cf3 (id int)');
    const f = await env.dir.write('cf3.csv', 'id\n1\n');
    await expect(env.load('cf3', [f], { copyFormat: 'binary', onError: 'reject-rows' })).rejects.toThrow(
      /--copy-format binary cannot be used with --on-error reject-rows/,
    );
    await expect(env.load('cf3', [f], { copyFormat: 'binary', encoding: 'LATIN1' })).rejects.toThrow(
      /needs UTF8/,
    );
    expect(await env.num('SELECT count(*) FROM cf3')).toBe(0);
  });
});

describe('--copy-format on the command line', () => {
  it('takes the flag and LOADER_COPY_FORMAT; a bad combination exits 2 and loads nothing', async () => {
    await env.db.query('CREATE TABLE cli_cf (id int, v text)');
    const f = await env.dir.write('cli_cf.csv', 'id,v\n1,a\n2,b\n');
    const base = ['--dsn', env.db.dsn, '--table', 'cli_cf', '--json'];
    const text = await runCli([...base, '--copy-format', 'text', f]);
    expect(text.code).toBe(0);
    expect(JSON.parse(text.stdout).jobs[0].files[0].binarySubBatches).toBe(0);
    const bin = await runCli([...base, '--force', f], { env: { LOADER_COPY_FORMAT: 'binary' } });
    expect(bin.code).toBe(0);
    expect(JSON.parse(bin.stdout).jobs[0].files[0].binarySubBatches).toBe(1);
    const bad = await runCli([...base, '--force', '--on-error', 'reject-rows', f], {
      env: { LOADER_COPY_FORMAT: 'binary' },
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--copy-format binary cannot be used with --on-error reject-rows/);
    expect((await runCli([...base, '--copy-format', 'fast', f])).code).toBe(2);
    expect(await env.num('SELECT count(*) FROM cli_cf')).toBe(4);
    const audit = (await auditRows(env.db)).filter((a) => a.file_path === f);
    expect(audit.map((a) => a.status)).toEqual(['succeeded', 'succeeded']);
  });
});
