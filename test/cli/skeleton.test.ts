// The walking skeleton through the built command: rows land, audit rows are written, exit codes 0, 1 and 2.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRows, createTestDb, runCli, tempDir, type TestDb } from '../helpers.js';

let db: TestDb;
let dir: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  db = await createTestDb('cli');
  dir = await tempDir();
});
afterAll(async () => {
  await db.close();
  await dir.remove();
});

describe('loader CLI', () => {
  it('loads several files at once, writes an audit row per file and exits 0', async () => {
    await db.query('CREATE TABLE events (id int, name text, amount numeric(10,2))');
    const files = [];
    for (let f = 0; f < 5; f++) {
      const rows = Array.from({ length: 100 }, (_, i) => `${f * 100 + i},name ${i},${i}.25`);
      files.push(await dir.write(`many/part-${f}.csv`, `id,name,amount\n${rows.join('\n')}\n`));
    }
    const r = await runCli(['--dsn', db.dsn, '--table', 'events', `${dir.path}/many/*.csv`]);
    expect(r.code).toBe(0);
    const [{ n, s } = { n: '', s: '' }] = await db.query<{ n: string; s: string }>(
      'SELECT count(*) n, sum(amount) s FROM events',
    );
    expect(Number(n)).toBe(500);
    expect(Number(s)).toBe(Array.from({ length: 100 }, (_, i) => i + 0.25).reduce((a, b) => a + b) * 5);
    const audit = await auditRows(db);
    expect(audit.map((a) => a.file_path).sort()).toEqual(files.sort());
    expect(audit.every((a) => a.status === 'succeeded' && a.rows_inserted === '100')).toBe(true);
    expect(r.stdout).toMatch(/5 loaded, 0 failed/);
  });

  // Regression: a file larger than the detection sample, skipped as already loaded, left its record scan's message
  // port open, and the process never exited after printing its summary.
  it('exits after a re-run that skips a file larger than the detection sample', async () => {
    await db.query('CREATE TABLE big_skip (id int, name text)');
    const rows = Array.from({ length: 20_000 }, (_, i) => `${i},name ${i}`);
    const file = await dir.write('big-skip.csv', `id,name\n${rows.join('\n')}\n`);
    const args = ['--dsn', db.dsn, '--table', 'big_skip', file, '--batch-size', '2000'];
    expect((await runCli(args)).code).toBe(0);
    const again = await runCli(args, { timeoutMs: 30_000 });
    expect(again.signal).toBeNull();
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/0 loaded, 0 failed, 1 skipped/);
    const [{ n } = { n: '' }] = await db.query<{ n: string }>('SELECT count(*) n FROM big_skip');
    expect(Number(n)).toBe(20_000);
  });

  it('fails a file with a bad value: nothing of it lands, its audit row says failed, exit 1, others load', async () => {
    await db.query('CREATE TABLE t1 (id int, amount numeric)');
    const good = await dir.write('bad/a-good.csv', 'id,amount\n1,1\n2,2\n');
    const bad = await dir.write('bad/b-bad.csv', 'id,amount\n3,3\n4,four\n5,5\n');
    const r = await runCli(['--dsn', db.dsn, '--table', 't1', good, bad]);
    expect(r.code).toBe(1);
    expect((await db.query('SELECT id FROM t1 ORDER BY id')).map((x) => x.id)).toEqual([1, 2]);
    const audit = (await auditRows(db)).filter((a) => a.file_path === bad);
    expect(audit).toHaveLength(1);
    expect(audit[0]!.status).toBe('failed');
    expect(audit[0]!.error_code).toBe('DATA');
    expect(audit[0]!.error_message).toContain('line 3');
    expect(audit[0]!.error_message).toContain('amount');
    expect(r.stdout).toContain(bad);
  });

  it('exits 2 on an unknown option and on a missing --table', async () => {
    expect((await runCli(['--dsn', db.dsn, '--table', 't1', '--bogus', 'x.csv'])).code).toBe(2);
    expect((await runCli(['--dsn', db.dsn, 'x.csv'])).code).toBe(2);
    expect((await runCli(['--dsn', db.dsn, '--table', 't1', '--concurrency', 'many', 'x.csv'])).code).toBe(2);
  });

  it('exits 3 when the table does not exist, and never prints the password', async () => {
    await dir.write('x.csv', 'a\n1\n');
    const r = await runCli(['--dsn', db.dsn, '--table', 'no_such_table', `${dir.path}/x.csv`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('does not exist');
    const password = new URL(db.dsn).password;
    const wrong = new URL(db.dsn);
    wrong.password = 'not-the-password-xyz';
    const r2 = await runCli(['--dsn', wrong.toString(), '--table', 't1', `${dir.path}/x.csv`]);
    expect(r2.code).toBe(3);
    for (const out of [r.stdout, r.stderr, r2.stdout, r2.stderr]) {
      expect(out).not.toContain(password);
      expect(out).not.toContain('not-the-password-xyz');
    }
  });

  it('reads DATABASE_URL when --dsn is absent, and PG* variables when neither is set', async () => {
    await db.query('CREATE TABLE envt (id int)');
    const f = await dir.write('env/a.csv', 'id\n1\n');
    const r = await runCli(['--table', 'envt', f], { env: { DATABASE_URL: db.dsn } });
    expect(r.code).toBe(0);
    const u = new URL(db.dsn);
    const g = await dir.write('env/b.csv', 'id\n2\n');
    const r2 = await runCli(['--table', 'envt', g], {
      env: {
        DATABASE_URL: '',
        PGHOST: u.hostname,
        PGPORT: u.port,
        PGUSER: decodeURIComponent(u.username),
        PGPASSWORD: decodeURIComponent(u.password),
        PGDATABASE: u.pathname.slice(1),
      },
    });
    expect(r2.code).toBe(0);
    expect((await db.query('SELECT id FROM envt ORDER BY id')).map((x) => x.id)).toEqual([1, 2]);
  });

  it('takes a quoted glob pattern and a literal name with brackets', async () => {
    await db.query('CREATE TABLE globt (id int)');
    await dir.write('glob/[x].csv', 'id\n1\n');
    await dir.write('glob/y.csv', 'id\n2\n');
    const r = await runCli([
      '--dsn',
      db.dsn,
      '--table',
      'globt',
      `${dir.path}/glob/[x].csv`,
      `${dir.path}/glob/y*.csv`,
    ]);
    expect(r.code).toBe(0);
    expect((await db.query('SELECT id FROM globt ORDER BY id')).map((x) => x.id)).toEqual([1, 2]);
  });

  it('warns and exits 0 when no file matches', async () => {
    const r = await runCli(['--dsn', db.dsn, '--table', 't1', `${dir.path}/nothing-here/*.csv`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('no file matches');
  });
});

describe('-q', () => {
  it('prints nothing at all on success, and the failure on stdout and stderr otherwise', async () => {
    await db.query('CREATE TABLE quiet (id int)');
    const ok = await dir.write('quiet/ok.csv', 'id\n1\n');
    const r = await runCli(['--dsn', db.dsn, '--table', 'quiet', '-q', ok], {
      env: { LOADER_LOG_LEVEL: undefined },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('');
    const bad = await dir.write('quiet/bad.csv', 'id\nx\n');
    const r2 = await runCli(['--dsn', db.dsn, '--table', 'quiet', '-q', bad], {
      env: { LOADER_LOG_LEVEL: undefined },
    });
    expect(r2.code).toBe(1);
    expect(r2.stdout).toContain(bad);
    expect(r2.stderr).toContain(bad);
    expect((await db.query('SELECT id FROM quiet')).map((x) => x.id)).toEqual([1]);
  });
});
