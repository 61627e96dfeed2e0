// CSV dialects against the real PostgreSQL: quoting, BOM, CRLF, empty files, gzip, sniffed and explicit
// delimiters, NULL versus empty string, non-ASCII text, header handling and non-UTF-8 encodings.
import { describe, expect, it } from 'vitest';
import { auditRows, runCli } from '../helpers.js';
import { csv, useEnv } from './support.js';

const env = useEnv('dialects');

/** A fresh (id int, v text) table. */
async function table(name: string): Promise<void> {
  await env.db.query(`CREATE TABLE ${name} (id int, v text)`);
}

async function values(name: string): Promise<(string | null)[]> {
  return (await env.rows<{ v: string | null }>(`SELECT v FROM ${name} ORDER BY id`)).map((r) => r.v);
}

describe('quoting and line endings', () => {
  it('keeps quoted newlines, commas and doubled quotes inside fields', async () => {
    await table('quoting');
    const f = await env.dir.write(
      'quoting.csv',
      'id,v\n1,"a, b"\n2,"line one\nline two\r\nline three"\n3,"say ""hi"""\n4,plain\n',
    );
    const r = await env.load('quoting', [f], { batchSize: 2 });
    expect(r.exitCode).toBe(0);
    expect(await values('quoting')).toEqual([
      'a, b',
      'line one\nline two\r\nline three',
      'say "hi"',
      'plain',
    ]);
  });

  it('skips a UTF-8 BOM before the header', async () => {
    await table('bom');
    const f = await env.dir.write('bom.csv', Buffer.from('\uFEFFid,v\n1,x\n2,y\n', 'utf8'));
    const r = await env.load('bom', [f]);
    expect(r.exitCode).toBe(0);
    expect(await env.rows('SELECT id, v FROM bom ORDER BY id')).toEqual([
      { id: 1, v: 'x' },
      { id: 2, v: 'y' },
    ]);
  });

  it('reads CRLF line endings without leaving \\r in the last field', async () => {
    await table('crlf');
    const f = await env.dir.write(
      'crlf.csv',
      csv(
        'id,v',
        [
          [1, 'a'],
          [2, 'b'],
          [3, '"c"'],
        ],
        '\r\n',
      ),
    );
    const r = await env.load('crlf', [f], { batchSize: 2 });
    expect(r.exitCode).toBe(0);
    expect(await values('crlf')).toEqual(['a', 'b', 'c']);
  });
});

describe('empty input', () => {
  it('loads a 0-byte file and a header-only file as 0 rows, each with a succeeded audit row', async () => {
    await table('empty');
    const zero = await env.dir.write('empty/a-zero.csv', '');
    const headerOnly = await env.dir.write('empty/b-header.csv', 'id,v\n');
    const r = await env.load('empty', [zero, headerOnly]);
    expect(r.exitCode).toBe(0);
    expect(r.files.map((x) => x.status)).toEqual(['succeeded', 'succeeded']);
    expect(await env.num('SELECT count(*) FROM empty')).toBe(0);
    const audit = (await auditRows(env.db))
      .filter((a) => a.file_path.includes('/empty/'))
      .sort((a, b) => a.file_path.localeCompare(b.file_path));
    expect(audit.map((a) => [a.file_path, a.status, a.rows_inserted])).toEqual([
      [zero, 'succeeded', '0'],
      [headerOnly, 'succeeded', '0'],
    ]);
  });

  it('loads a 0-byte file and a header-only file in upsert mode (regression: INTERNAL on a 0-byte file)', async () => {
    await env.db.query('CREATE TABLE empty_pk (id int PRIMARY KEY, v text)');
    const zero = await env.dir.write('empty_pk/a-zero.csv', '');
    const headerOnly = await env.dir.write('empty_pk/b-header.csv', 'id,v\r\n');
    const r = await env.load('empty_pk', [zero, headerOnly]);
    expect(r.mode).toBe('upsert');
    expect(r.files.map((x) => [x.status, x.error?.code])).toEqual([
      ['succeeded', undefined],
      ['succeeded', undefined],
    ]);
    expect(r.exitCode).toBe(0);
    expect(await env.num('SELECT count(*) FROM empty_pk')).toBe(0);
  });
});

describe('gzip', () => {
  const rows = Array.from({ length: 25 }, (_, i) => [i, `"row ${i}\nsecond line"`]);

  it('loads .csv.gz in several sub-batches', async () => {
    await table('gz');
    const f = await env.dir.write('gz/a.csv.gz', csv('id,v', rows), { gzip: true });
    const r = await env.load('gz', [f], { batchSize: 4, internalConcurrency: 3 });
    expect(r.exitCode).toBe(0);
    expect(await env.num('SELECT count(*) FROM gz')).toBe(25);
    expect(await env.num(`SELECT count(*) FROM gz WHERE v = 'row ' || id || E'\\nsecond line'`)).toBe(25);
    const [a] = (await auditRows(env.db)).filter((x) => x.file_path === f);
    expect(a?.status).toBe('succeeded');
    expect(a?.sub_batches).toBe(7);
  });

  it('detects gzip by its magic bytes when the file is named .csv', async () => {
    await table('gzmagic');
    const f = await env.dir.write('gz/disguised.csv', csv('id,v', rows), { gzip: true });
    const r = await env.load('gzmagic', [f], { batchSize: 10 });
    expect(r.exitCode).toBe(0);
    expect(r.files[0]?.subBatches).toBe(3);
    expect(await env.num('SELECT count(DISTINCT id) FROM gzmagic')).toBe(25);
  });
});

describe('delimiters and quotes', () => {
  it.each([
    ['semicolon', ';'],
    ['tab', '\t'],
    ['pipe', '|'],
  ])('sniffs the %s delimiter', async (name, d) => {
    const t = `delim_${name}`;
    await env.db.query(`CREATE TABLE ${t} (id int, v text, w text)`);
    const body = `id${d}v${d}w\n1${d}a,b${d}x\n2${d}"c${d}d"${d}y\n`;
    const f = await env.dir.write(`delim/${name}.csv`, body);
    const r = await env.load(t, [f]);
    expect(r.exitCode).toBe(0);
    expect(await env.rows(`SELECT id, v, w FROM ${t} ORDER BY id`)).toEqual([
      { id: 1, v: 'a,b', w: 'x' },
      { id: 2, v: `c${d}d`, w: 'y' },
    ]);
  });

  it('takes an explicit --delimiter, --quote and --escape (backslash) from the command line', async () => {
    await table('explicit');
    const f = await env.dir.write('explicit.csv', "id;v\n1;'it\\'s; fine'\n2;'a \\\\ b'\n3;plain\n");
    const r = await runCli([
      ...['--dsn', env.db.dsn, '--table', 'explicit'],
      ...['--delimiter', ';', '--quote', "'", '--escape', '\\', f],
    ]);
    expect(r.code).toBe(0);
    expect(await values('explicit')).toEqual(["it's; fine", 'a \\ b', 'plain']);
  });

  it('handles backslash-escaped double quotes with sub-batches cut inside the escapes', async () => {
    await table('bsl');
    const body = 'id,v\n' + Array.from({ length: 9 }, (_, i) => `${i},"q \\"${i}\\" \\\\\n x"\n`).join('');
    const f = await env.dir.write('bsl.csv', body);
    const r = await env.load('bsl', [f], { escape: '\\', batchSize: 2 });
    expect(r.exitCode).toBe(0);
    expect(await values('bsl')).toEqual(Array.from({ length: 9 }, (_, i) => `q "${i}" \\\n x`));
  });
});

describe('NULL and empty strings', () => {
  it('loads an unquoted empty field as NULL and a quoted "" as the empty string', async () => {
    await env.db.query('CREATE TABLE nulls (id int, v text, n int)');
    const f = await env.dir.write('nulls.csv', 'id,v,n\n1,,\n2,"",5\n3,x,\n');
    const r = await env.load('nulls', [f]);
    expect(r.exitCode).toBe(0);
    expect(await env.rows('SELECT id, v, n FROM nulls ORDER BY id')).toEqual([
      { id: 1, v: null, n: null },
      { id: 2, v: '', n: 5 },
      { id: 3, v: 'x', n: null },
    ]);
  });

  it("--null 'NA' makes NA the NULL marker and an unquoted empty field an empty string", async () => {
    await env.db.query('CREATE TABLE nulls_na (id int, v text, n int)');
    const f = await env.dir.write('nulls_na.csv', 'id,v,n\n1,NA,NA\n2,,7\n3,"NA",8\n');
    const r = await runCli(['--dsn', env.db.dsn, '--table', 'nulls_na', '--null', 'NA', f]);
    expect(r.code).toBe(0);
    expect(await env.rows('SELECT id, v, n FROM nulls_na ORDER BY id')).toEqual([
      { id: 1, v: null, n: null },
      { id: 2, v: '', n: 7 },
      { id: 3, v: 'NA', n: 8 },
    ]);
  });
});

describe('text and encodings', () => {
  it('keeps non-ASCII text (accents, CJK, emoji) intact', async () => {
    await table('unicode');
    const texts = ['café é', '日本語テキスト', '🚀 launch 👩‍👩‍👧', 'Ærøskøbing'];
    const f = await env.dir.write(
      'unicode.csv',
      csv(
        'id,v',
        texts.map((t, i) => [i, `"${t}"`]),
      ),
    );
    const r = await env.load('unicode', [f], { batchSize: 1 });
    expect(r.exitCode).toBe(0);
    expect(await values('unicode')).toEqual(texts);
  });

  it('--encoding LATIN1 turns byte 0xE9 into é', async () => {
    await table('latin1');
    const body = Buffer.concat([
      Buffer.from('id,v\n1,caf'),
      Buffer.from([0xe9]),
      Buffer.from('\n2,na'),
      Buffer.from([0xef]),
      Buffer.from('ve\n'),
    ]);
    const f = await env.dir.write('latin1.csv', body);
    const r = await runCli(['--dsn', env.db.dsn, '--table', 'latin1', '--encoding', 'LATIN1', f]);
    expect(r.code).toBe(0);
    expect(await values('latin1')).toEqual(['café', 'naïve']);
  });

  it('fails a latin1 file read as UTF-8 (the default) with a DATA error, loading nothing', async () => {
    await table('latin1_wrong');
    const f = await env.dir.write(
      'latin1_wrong.csv',
      Buffer.concat([Buffer.from('id,v\n1,caf'), Buffer.from([0xe9]), Buffer.from('\n')]),
    );
    const r = await env.load('latin1_wrong', [f]);
    expect(r.exitCode).toBe(1);
    expect(r.files[0]?.error?.code).toBe('DATA');
    expect(await env.num('SELECT count(*) FROM latin1_wrong')).toBe(0);
  });
});

describe('headers', () => {
  it('--no-header maps fields by position, even when the first record looks like a header', async () => {
    await env.db.query('CREATE TABLE nohdr (id text, v text)');
    const f = await env.dir.write('nohdr.csv', 'id,v\n1,x\n');
    const r = await runCli(['--dsn', env.db.dsn, '--table', 'nohdr', '--no-header', f]);
    expect(r.code).toBe(0);
    expect(await env.rows('SELECT id, v FROM nohdr ORDER BY id')).toEqual([
      { id: '1', v: 'x' },
      { id: 'id', v: 'v' },
    ]);
  });

  it('sniffs a header by its column names, and its absence when no field names a column', async () => {
    await env.db.query('CREATE TABLE sniffed (id int, v text)');
    const withHeader = await env.dir.write('sniff/a.csv', 'v,id\nx,1\n');
    const without = await env.dir.write('sniff/b.csv', '2,y\n3,z\n');
    const r = await env.load('sniffed', [withHeader, without]);
    expect(r.exitCode).toBe(0);
    expect(await env.rows('SELECT id, v FROM sniffed ORDER BY id')).toEqual([
      { id: 1, v: 'x' },
      { id: 2, v: 'y' },
      { id: 3, v: 'z' },
    ]);
  });
});
