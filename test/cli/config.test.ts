// --config FILE through the built command: several jobs into several tables in one run, the exit code the worst
// of the jobs, one summary per job, a job that cannot start not stopping the others, validation before anything.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRows, createTestDb, runCli, tempDir, type TestDb } from '../helpers.js';

let db: TestDb;
let dir: Awaited<ReturnType<typeof tempDir>>;
const count = async (t: string) => Number((await db.query(`SELECT count(*) n FROM ${t}`))[0]!.n);

beforeAll(async () => {
  db = await createTestDb('jobs');
  dir = await tempDir();
  await db.query('CREATE TABLE events (id int PRIMARY KEY, v text)');
  await db.query('CREATE TABLE users (id int, name text)');
  await dir.write('tree/events/2026/01/a.csv', 'id,v\n1,a\n2,b\n');
  await dir.write('tree/events/2026/02/b.csv', 'id;v\n3;c\n');
  await dir.write('tree/users/u.csv', 'id,name\n1,ann\n');
});
afterAll(async () => {
  await db.close();
  await dir.remove();
});

describe('--config', () => {
  it('runs the jobs one after another; a job that cannot start does not stop the next; exit is the worst', async () => {
    const cfg = join(dir.path, 'loader.json');
    await writeFile(
      cfg,
      JSON.stringify({
        dsn: db.dsn,
        concurrency: 2,
        jobs: [
          { name: 'events', files: `${dir.path}/tree/events/**/*.csv`, table: 'events', key: ['id'] },
          { name: 'missing', files: `${dir.path}/tree/users/*.csv`, table: 'no_such_table' },
          { name: 'users', files: [`${dir.path}/tree/users/*.csv`], table: 'public.users', mode: 'append' },
        ],
      }),
    );
    const r = await runCli(['--config', cfg]);
    expect(r.code).toBe(3);
    expect(await count('events')).toBe(3);
    expect(await count('users')).toBe(1);
    expect(r.stdout).toMatch(/^loader: job events: 2 files into "public"."events" \(upsert\): 2 loaded/m);
    expect(r.stdout).toMatch(/^loader: job users: 1 file into "public"."users" \(append\): 1 loaded/m);
    expect(r.stderr).toMatch(/loader: job missing: table no_such_table does not exist.* \[TARGET\]/);
    const audit = await auditRows(db);
    expect(audit.filter((a) => a.status === 'succeeded')).toHaveLength(3);

    // Flags on the command line win over the file: --dry-run for every job writes nothing.
    await dir.write('tree/users/v.csv', 'id,name\n2,bob\n');
    const dry = await runCli(['--config', cfg, '--dry-run']);
    expect(dry.code).toBe(3);
    expect(dry.stdout).toMatch(/^loader: job users: dry run, nothing written/m);
    expect(await count('users')).toBe(1);
    expect(await auditRows(db)).toHaveLength(audit.length);

    // A flag on the command line wins over the job too: users has no key, so --mode insert-only cannot start.
    const ok = join(dir.path, 'ok.json');
    await writeFile(
      ok,
      JSON.stringify({
        dsn: db.dsn,
        jobs: [{ files: `${dir.path}/tree/users/*.csv`, table: 'users', mode: 'append' }],
      }),
    );
    const forced = await runCli(['--config', ok, '--mode', 'insert-only']);
    expect(forced.code).toBe(3);
    expect(forced.stderr).toContain('--mode insert-only needs a key');
    const again = await runCli(['--config', ok]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/2 files into "public"."users" \(append\): 1 loaded, 0 failed, 1 skipped/);
    expect(await count('users')).toBe(2);
  });

  it('validates the whole file before any job runs: exit 2 naming the job and the key', async () => {
    const cfg = join(dir.path, 'bad.json');
    await writeFile(
      cfg,
      JSON.stringify({
        dsn: db.dsn,
        jobs: [
          { files: `${dir.path}/tree/users/*.csv`, table: 'users', force: true },
          { name: 'typo', files: 'x.csv', table: 'users', 'batch-sise': 10 },
        ],
      }),
    );
    const before = await count('users');
    const r = await runCli(['--config', cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('job 2 ("typo"): unknown key "batch-sise"');
    expect(await count('users')).toBe(before);
    expect((await runCli(['--config', cfg, '--table', 'users'])).code).toBe(2);
    expect((await runCli(['--config', join(dir.path, 'nope.json')])).code).toBe(2);
  });
});
