// The tuner against the user's own server (`npm run bench -- --dsn --table FILES`): it loads a scratch copy of the
// table, never the table itself, drops its scratch schema, and reports every setting with the same-turn pairs of an
// A/B; a usage error exits 2 before it touches the server.
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onPath } from '../../bench/baselines.js';
import { BENCH_TABLE_DDL, writeDataset } from '../../bench/dataset.js';
import { CLI, ROOT, createTestDb, tempDir, type TestDb } from '../helpers.js';

const E2E = join(ROOT, 'dist/bench/e2e.js');
let db: TestDb;
let dir: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  db = await createTestDb('bench');
  dir = await tempDir();
});
afterAll(async () => {
  await db.close();
  await dir.remove();
});

function bench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // cwd: the tuner writes its generated data under .bench/ there
    const child = spawn(process.execPath, [E2E, ...args], {
      cwd: dir.path,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Report {
  scenarios: {
    name: string;
    results: { name: string; kind: string; times: number[] }[];
    pairs: { a: string; b: string; turns: number; faster: number }[];
  }[];
}

describe('npm run bench against your own table', () => {
  it('upserts a scratch copy of it, leaves the table and the schema as they were, pairs the A/B turns', async () => {
    await db.query(BENCH_TABLE_DDL('events'));
    await db.query(`INSERT INTO events (id, label) VALUES (1, 'kept'), (2, 'kept'), (3, 'kept')`);
    const file = join(dir.path, 'events.csv');
    await writeDataset([file], 2_000);
    const json = join(dir.path, 'bench.json');
    const r = await bench([
      '--dsn',
      db.dsn,
      '--table',
      'public.events',
      '--mode',
      'upsert',
      '--internal-concurrency',
      '1',
      '--runs',
      '2',
      '--base-cli',
      CLI,
      '--json',
      json,
      file,
    ]);
    expect(r.code, r.stderr).toBe(0);
    // the user's table: its three rows, untouched; nothing of the tuner left in the database
    expect(await db.query(`SELECT id::int, label FROM events ORDER BY id`)).toEqual([
      { id: 1, label: 'kept' },
      { id: 2, label: 'kept' },
      { id: 3, label: 'kept' },
    ]);
    expect(await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'loader_bench%'`)).toEqual([]);
    expect(await db.query(`SELECT relname FROM pg_class WHERE relname LIKE 'loader_%'`)).toEqual([]);
    const report = JSON.parse(await readFile(json, 'utf8')) as Report;
    const sc = report.scenarios[0]!;
    expect(sc.name).toBe('custom');
    const names = sc.results.map((x) => x.name);
    expect(names).toContain('loader batch=50000 internal=1');
    expect(names).toContain('base batch=50000 internal=1');
    // and the hand-written way (psql \copy into staging + ON CONFLICT) when psql is on PATH
    expect(names.filter((n) => !n.startsWith('loader ') && !n.startsWith('base '))).toEqual(
      onPath('psql') ? ['psql \\copy to staging + ON CONFLICT'] : [],
    );
    for (const x of sc.results) expect(x.times).toHaveLength(2);
    expect(sc.pairs).toEqual([
      expect.objectContaining({
        a: 'loader batch=50000 internal=1',
        b: 'base batch=50000 internal=1',
        turns: 2,
      }),
    ]);
    expect(r.stdout).toMatch(
      /loader batch=50000 internal=1 against base batch=50000 internal=1: faster in [0-2] of 2 turns, \d+\.\d\d s \(\d+%\) (faster|slower) on average/,
    );
  });

  it('runs the base build with the same route as the loader: --no-direct for a staged append', async () => {
    // a stand-in for another build's CLI that notes its arguments (and loads nothing)
    const seen = join(dir.path, 'base-args.txt');
    const fake = join(dir.path, 'fake-cli.mjs');
    await writeFile(
      fake,
      `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(seen)}, process.argv.slice(2).join(' ') + '\\n');\n`,
    );
    await db.query(BENCH_TABLE_DDL('appended'));
    const file = join(dir.path, 'appended.csv');
    await writeDataset([file], 500);
    const r = await bench([
      '--dsn',
      db.dsn,
      '--table',
      'public.appended',
      '--mode',
      'append',
      '--internal-concurrency',
      '2',
      '--direct',
      'off,on',
      '--runs',
      '1',
      '--base-cli',
      fake,
      file,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const lines = (await readFile(seen, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines.filter((l) => l.includes('--no-direct'))).toHaveLength(1); // the staged setting
    expect(lines.filter((l) => / --direct( |$)/.test(l))).toHaveLength(1); // the direct one
    expect(await db.query(`SELECT count(*)::int AS n FROM appended`)).toEqual([{ n: 0 }]);
  });

  it('exits 2 on a usage error, naming it, before it reaches the server', async () => {
    const r = await bench(['--dsn', 'postgres://nobody@127.0.0.1:1/none', '--table', 'public.events']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--table needs --dsn and the files to load');
    const bad = await bench(['--runs', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--runs takes whole numbers');
  });
});
