// Shared test helpers: a fresh database per test file on the run's one PostgreSQL, a temp folder for input files,
// and the built CLI spawned as a process.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { inject } from 'vitest';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = join(ROOT, 'dist/src/cli.js');

export interface TestDb {
  dsn: string;
  name: string;
  client: pg.Client;
  query<T extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

let counter = 0;

/** A new database on the run's server, dropped by close(). */
export async function createTestDb(prefix = 't'): Promise<TestDb> {
  const admin = inject('adminDsn');
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter++}`
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_');
  const a = new pg.Client(admin);
  await a.connect();
  await a.query(`CREATE DATABASE "${name}"`);
  await a.end();
  const u = new URL(admin);
  u.pathname = `/${name}`;
  const dsn = u.toString();
  const client = new pg.Client(dsn);
  await client.connect();
  return {
    dsn,
    name,
    client,
    async query(sql, params) {
      return (await client.query(sql, params)).rows;
    },
    async close() {
      await client.end();
      const b = new pg.Client(admin);
      await b.connect();
      await b.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await b.end();
    },
  };
}

export async function tempDir(prefix = 'loader-test-'): Promise<{
  path: string;
  write(name: string, content: string | Buffer, opts?: { gzip?: boolean }): Promise<string>;
  remove(): Promise<void>;
}> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return {
    path,
    async write(name, content, opts) {
      const p = join(path, name);
      await mkdir(dirname(p), { recursive: true });
      await writeFile(p, opts?.gzip ? gzipSync(content) : content);
      return p;
    },
    remove: () => rm(path, { recursive: true, force: true }),
  };
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Spawns the built CLI; resolves when it exits. */
export function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface AuditRecord {
  file_path: string;
  status: string;
  mode: string;
  rows_read: string;
  rows_inserted: string;
  rows_updated: string;
  rows_skipped: string;
  rows_rejected: string;
  sub_batches: number;
  retries: number;
  error_code: string | null;
  error_message: string | null;
  file_sha256: string | null;
}

export async function auditRows(db: TestDb, schema = 'public'): Promise<AuditRecord[]> {
  return db.query<AuditRecord & pg.QueryResultRow>(`SELECT * FROM "${schema}".loader_audit ORDER BY id`);
}

/** Resolves once a loader COPY is running in this test's database, on a connection opened after `since` (so a
 * backend left by an earlier, killed run does not count). Bounded: gives up after `tries` polls. */
export async function waitForCopy(
  db: TestDb,
  since = new Date(0),
  tries = 2000,
  opts: { running?: boolean } = {},
): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    // `query` is a session's last statement: a COPY that has ended stays there until the next one, unless `running`
    const rows = await db.query(
      `SELECT 1 FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'loader' AND query ILIKE 'COPY%'
          AND backend_start >= $1 AND ($2::boolean IS NOT TRUE OR state = 'active')`,
      [since, opts.running ?? false],
    );
    if (rows.length > 0) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

/** Runs fn on a fresh connection to `dsn`, retried while the server is down or recovering (tests that restart
 * or crash their own server). */
export async function onFreshConnection<T>(dsn: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    const c = new pg.Client(dsn);
    c.on('error', () => {});
    try {
      await c.connect();
      try {
        return await fn(c);
      } finally {
        await c.end().catch(() => {});
      }
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
