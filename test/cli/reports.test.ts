// The operator's side of the built command: --json on stdout (summary on stderr), --report, --metrics-file kept
// across a failed run, progress off a terminal (plain lines) and on one (a pseudo-terminal from script(1)),
// `loader status`, --help and --version, options from LOADER_* variables.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../dist/src/index.js';
import { auditRows, CLI, createTestDb, ROOT, runCli, tempDir, type TestDb } from '../helpers.js';

let db: TestDb;
let dir: Awaited<ReturnType<typeof tempDir>>;
let big: string;

beforeAll(async () => {
  db = await createTestDb('reports');
  dir = await tempDir();
  // big enough that a load takes many times the shortest progress interval used below
  const lines = Array.from({ length: 150_000 }, (_, i) => `${i},name ${i},${i % 1000}.5`);
  big = await dir.write('big/big.csv', `id,name,amount\n${lines.join('\n')}\n`);
});
afterAll(async () => {
  await db.close();
  await dir.remove();
});

const env = { LOADER_LOG_LEVEL: undefined };

describe('--json and --report', () => {
  it('prints the JSON report alone on stdout, the summary on stderr, and writes the same to --report', async () => {
    await db.query('CREATE TABLE j (id int PRIMARY KEY, v text)');
    const good = await dir.write('j/a.csv', 'id,v\n1,a\n2,b\n1,c\n');
    const bad = await dir.write('j/b.csv', 'id,v\n3,x\nnope,y\n');
    const report = join(dir.path, 'report.json');
    const r = await runCli(['--dsn', db.dsn, '--table', 'j', '--json', '--report', report, good, bad], {
      env,
    });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as Report;
    expect(out).toMatchObject({ version: 1, exitCode: 1, error: null });
    expect(out.jobs).toHaveLength(1);
    const job = out.jobs[0]!;
    expect(job).toMatchObject({ target: '"public"."j"', mode: 'upsert', exitCode: 1 });
    expect(job.runId).toMatch(/^[0-9a-f-]{36}$/);
    const [a, b] = job.files as [Report['jobs'][0]['files'][0], Report['jobs'][0]['files'][0]];
    expect(a).toMatchObject({ path: good, status: 'succeeded', format: 'csv', rowsRead: 3, rowsInserted: 2 });
    expect(a.rowsSkipped).toBe(1);
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(a.error).toBeNull();
    expect(b).toMatchObject({ path: bad, status: 'failed', error: { code: 'DATA', line: 3, column: 'id' } });
    expect(out.totals).toMatchObject({ files: 2, succeeded: 1, failed: 1, rowsInserted: 2 });
    expect(r.stderr).toMatch(/1 loaded, 1 failed/);
    expect(JSON.parse(await readFile(report, 'utf8'))).toEqual(out);
    expect((await db.query('SELECT id FROM j ORDER BY id')).map((x) => x.id)).toEqual([1, 2]);
  });

  it('reports a run that could not start as JSON too, with exit 3, and -q keeps stdout to the JSON', async () => {
    const f = await dir.write('j/c.csv', 'id\n1\n');
    const r = await runCli(['--dsn', db.dsn, '--table', 'no_such', '--json', '-q', f], { env });
    expect(r.code).toBe(3);
    const out = JSON.parse(r.stdout) as Report;
    expect(out).toMatchObject({ version: 1, exitCode: 3, jobs: [], error: { code: 'TARGET' } });
    expect(out.error!.message).toContain('no_such');
    expect(r.stdout).not.toContain(new URL(db.dsn).password);
    const u = await runCli(['--dsn', db.dsn, '--table', 'j', '--json', '--batch-size', '0', f], { env });
    expect(u.code).toBe(2);
    expect(JSON.parse(u.stdout)).toMatchObject({ exitCode: 2, jobs: [], error: { code: 'USAGE' } });
  });
});

describe('--metrics-file', () => {
  const sample = (text: string, name: string, labels: string): number | undefined => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
    return line === undefined ? undefined : Number(line.split(' ')[1]);
  };

  it('advances the last success only when nothing failed, atomically, leaving no temp file', async () => {
    await db.query('CREATE TABLE m (id int)');
    const mdir = join(dir.path, 'metrics');
    const metrics = join(mdir, 'loader.prom');
    await dir.write('metrics/keep', '');
    const ok = await dir.write('m/ok.csv', 'id\n1\n2\n');
    const r = await runCli(['--dsn', db.dsn, '--table', 'm', '--metrics-file', metrics, '-q', ok], { env });
    expect(r.code).toBe(0);
    const first = await readFile(metrics, 'utf8');
    expect(first).toContain('# TYPE loader_last_success_timestamp_seconds gauge');
    const t1 = sample(first, 'loader_last_success_timestamp_seconds', 'table="public.m"');
    expect(t1).toBeGreaterThan(Date.now() / 1000 - 600);
    expect(sample(first, 'loader_last_run_rows', 'table="public.m",kind="inserted"')).toBe(2);
    expect(sample(first, 'loader_last_run_files', 'table="public.m",status="succeeded"')).toBe(1);

    // a failed run keeps the earlier last success (back-dated here, so "advanced" would show)
    const { writeFile } = await import('node:fs/promises');
    await writeFile(metrics, first.replace(`table="public.m"} ${t1}`, 'table="public.m"} 12345'));
    const bad = await dir.write('m/bad.csv', 'id\nx\n');
    const r2 = await runCli(['--dsn', db.dsn, '--table', 'm', '--metrics-file', metrics, '-q', bad], { env });
    expect(r2.code).toBe(1);
    const second = await readFile(metrics, 'utf8');
    expect(sample(second, 'loader_last_success_timestamp_seconds', 'table="public.m"')).toBe(12345);
    expect(sample(second, 'loader_last_run_files', 'table="public.m",status="failed"')).toBe(1);
    expect(sample(second, 'loader_last_run_exit_code', 'table="public.m"')).toBe(1);

    // a good run advances it again
    const ok2 = await dir.write('m/ok2.csv', 'id\n3\n');
    expect(
      (await runCli(['--dsn', db.dsn, '--table', 'm', '--metrics-file', metrics, '-q', ok2], { env })).code,
    ).toBe(0);
    const third = await readFile(metrics, 'utf8');
    expect(sample(third, 'loader_last_success_timestamp_seconds', 'table="public.m"')).toBeGreaterThan(12345);
    expect((await readdir(mdir)).sort()).toEqual(['keep', 'loader.prom']);
  });
});

describe('progress', () => {
  it('off a terminal: plain progress log lines every --progress-interval, no escape codes', async () => {
    await db.query('CREATE TABLE p (id int, name text, amount numeric)');
    const r = await runCli(
      ['--dsn', db.dsn, '--table', 'p', '--batch-size', '20000', '--progress-interval', '0.05', big],
      { env },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('\x1b');
    const progress = r.stderr
      .split('\n')
      .filter((l) => l.includes('"progress"'))
      .map((l) => JSON.parse(l) as { msg: string; progress: { files: number; bytes: number } });
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]!.msg).toMatch(
      /^progress: [01]\/1 files, .* of .* \(\d+%\), [\d,]+ rows, [\d,]+ rows\/s/,
    );
    expect(progress[0]!.progress).toMatchObject({ files: 1 });
    expect(await db.query('SELECT count(*)::int AS n FROM p')).toEqual([{ n: 150_000 }]);
  });

  it('none under -q or --no-progress', async () => {
    await db.query('CREATE TABLE pq (id int, name text, amount numeric)');
    const q = await runCli(['--dsn', db.dsn, '--table', 'pq', '-q', '--progress-interval', '0.05', big], {
      env,
    });
    expect(q.code).toBe(0);
    expect(q.stderr).toBe('');
    expect(q.stdout).toBe('');
    const n = await runCli(
      ['--dsn', db.dsn, '--table', 'pq', '--force', '--no-progress', '--progress-interval', '0.05', big],
      { env },
    );
    expect(n.code).toBe(0);
    expect(n.stderr).not.toContain('progress');
  });

  const hasScript = spawnSync('script', ['--version']).status === 0;
  it.skipIf(!hasScript)(
    'on a terminal: a live display redrawn in place, coloured unless NO_COLOR',
    async () => {
      await db.query('CREATE TABLE pt (id int, name text, amount numeric)');
      // longer than `big`: a load of it can end (0.3 s) before the 200 ms redraw shows any progress
      const n = 1_000_000;
      const rows = Array.from({ length: n }, (_, i) => `${i},name ${i},${i % 1000}.5`);
      const bigger = await dir.write('big/bigger.csv', `id,name,amount\n${rows.join('\n')}\n`);
      const tty = (table: string, extra: NodeJS.ProcessEnv) =>
        execFileSync(
          'script',
          [
            '-qec',
            `"${process.execPath}" "${CLI}" --dsn '${db.dsn}' --table ${table} --batch-size 20000 --force '${bigger}'`,
            '/dev/null',
          ],
          {
            cwd: ROOT,
            env: { ...process.env, LOADER_LOG_LEVEL: 'warn', COLUMNS: '100', ...extra },
            encoding: 'utf8',
          },
        );
      const color = tty('pt', { NO_COLOR: undefined, FORCE_COLOR: undefined });
      expect(color).toContain('\x1b[J'); // the display is erased before each redraw
      expect(color).toContain('[\x1b[32m#');
      expect(color).toMatch(/ETA/);
      expect(color).toMatch(/1 loaded, 0 failed/);
      const plain = tty('pt', { NO_COLOR: '1', FORCE_COLOR: undefined });
      expect(plain).toContain('\x1b[J');
      expect(plain).not.toContain('\x1b[32m');
      expect(plain).toMatch(/\[[#-]+\] +\d+%/);
      expect(await db.query('SELECT count(*)::int AS n FROM pt')).toEqual([{ n: 2 * n }]);
    },
  );
});

describe('loader status', () => {
  it('lists recent audit rows of one table or of every schema, within --since, as text or JSON', async () => {
    await db.query('CREATE SCHEMA other; CREATE TABLE other.s (id int); CREATE TABLE s (id int)');
    const a = await dir.write('s/a.csv', 'id\n1\n');
    const b = await dir.write('s/b.csv', 'id\nbad\n');
    expect((await runCli(['--dsn', db.dsn, '--table', 's', '-q', a, b], { env })).code).toBe(1);
    expect((await runCli(['--dsn', db.dsn, '--table', 'other.s', '-q', a], { env })).code).toBe(0);
    // one old row that --since 24h leaves out
    await db.query(`UPDATE other.loader_audit SET finished_at = now() - interval '3 days'`);

    const t = await runCli(['status', '--dsn', db.dsn, '--table', 's']);
    expect(t.code).toBe(0);
    const lines = t.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^FINISHED \(UTC\) +STATUS +TABLE +FILE/);
    expect(lines).toHaveLength(4);
    expect(t.stdout).toContain(a);
    expect(t.stdout).toMatch(/failed +public\.s .*DATA: /);
    expect(lines.at(-1)).toMatch(/^2 files since .*: 1 succeeded, 1 failed$/);

    const all = await runCli(['status', '--dsn', db.dsn, '--since', '7d', '--json']);
    expect(all.code).toBe(0);
    const out = JSON.parse(all.stdout) as { version: number; rows: { target: string; status: string }[] };
    expect(out.version).toBe(1);
    const targets = out.rows.map((r) => r.target);
    expect(targets).toContain('other.s');
    expect(targets).toContain('public.s');
    const recent = JSON.parse((await runCli(['status', '--dsn', db.dsn, '--json'])).stdout) as typeof out;
    expect(recent.rows.map((r) => r.target)).not.toContain('other.s');
    const failed = JSON.parse(
      (await runCli(['status', '--dsn', db.dsn, '--status', 'failed', '--json'])).stdout,
    ) as typeof out;
    expect(failed.rows.every((r) => r.status === 'failed')).toBe(true);
    expect(failed.rows.length).toBeGreaterThan(0);
    const audit = await auditRows(db);
    expect(audit.length).toBeGreaterThan(0);
  });

  it('leaves out, with a warning, a schema whose loader_audit the role may not read', async () => {
    await db.query(`CREATE ROLE status_viewer LOGIN PASSWORD 'viewer-pw'`);
    await db.query('GRANT SELECT ON public.loader_audit TO status_viewer');
    const u = new URL(db.dsn);
    u.username = 'status_viewer';
    u.password = 'viewer-pw';
    const r = await runCli(['status', '--dsn', u.toString(), '--since', '7d', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { rows: { target: string }[] };
    expect(out.rows.length).toBeGreaterThan(0);
    expect(out.rows.every((x) => x.target !== 'other.s')).toBe(true);
    expect(r.stderr).toContain('schema other left out');
    expect((await runCli(['status', '--dsn', u.toString(), '--table', 'other.s'])).code).toBe(3);
    await db.query('REVOKE ALL ON public.loader_audit FROM status_viewer; DROP ROLE status_viewer');
  });

  it('exits 2 on a bad --since and 3 without a connection, never printing the password', async () => {
    expect((await runCli(['status', '--dsn', db.dsn, '--since', '3x'])).code).toBe(2);
    const wrong = new URL(db.dsn);
    wrong.password = 'secret-xyz-123';
    const r = await runCli(['status', '--dsn', wrong.toString()]);
    expect(r.code).toBe(3);
    expect(r.stderr + r.stdout).not.toContain('secret-xyz-123');
  });
});

describe('--help, --version, LOADER_* variables', () => {
  it('--help names options with their defaults and variables, the status command and cron examples', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const s of [
      'env: DATABASE_URL',
      'env: LOADER_CONCURRENCY',
      'env: LOADER_BATCH_SIZE',
      'env: LOADER_METRICS_FILE',
      'default: 30, env: LOADER_PROGRESS_INTERVAL',
      '--json',
      '--no-color',
      'loader status',
      '15 2 * * *',
    ]) {
      expect(r.stdout.replace(/\s+/g, ' ')).toContain(s);
    }
    const s = await runCli(['status', '--help']);
    expect(s.code).toBe(0);
    expect(s.stdout).toContain('--since');
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('takes options from LOADER_* variables, flags first', async () => {
    await db.query('CREATE TABLE ev (id int)');
    const f = await dir.write('ev/a.csv', `id\n${Array.from({ length: 25 }, (_, i) => i).join('\n')}\n`);
    const r = await runCli(['-q', f], {
      env: { ...env, DATABASE_URL: db.dsn, LOADER_TABLE: 'ev', LOADER_BATCH_SIZE: '10' },
    });
    expect(r.code).toBe(0);
    const g = await dir.write('ev/b.csv', `id\n${Array.from({ length: 25 }, (_, i) => i).join('\n')}\n1\n`);
    const r2 = await runCli(['-q', '--batch-size', '5', g], {
      env: { ...env, DATABASE_URL: db.dsn, LOADER_TABLE: 'ev', LOADER_BATCH_SIZE: '10' },
    });
    expect(r2.code).toBe(0);
    const audit = await auditRows(db);
    expect(audit.find((x) => x.file_path === f)!.sub_batches).toBe(3);
    expect(audit.find((x) => x.file_path === g)!.sub_batches).toBe(6);
    expect(
      (await runCli(['-q', f], { env: { ...env, DATABASE_URL: db.dsn, LOADER_BATCH_SIZE: 'x' } })).code,
    ).toBe(2);
  });
});
