// The server itself misbehaving, on a server of this file's own (it is restarted): a fast and an immediate
// restart mid-run (connections refused, 57P01 admin shutdown, 57P03 starting up; crash recovery empties the
// UNLOGGED staging), and a server with few connections (the pool is fitted, 53300 is retried).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startEmbedded, type EmbeddedServer } from '../../bench/embedded.js';
import { onFreshConnection, runCli, tempDir } from '../helpers.js';

let server: EmbeddedServer;
let dir: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  server = await startEmbedded({ fsync: 'off', max_connections: '20' });
  dir = await tempDir('loader-server-');
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await dir?.remove();
});

/** A query on a fresh connection, retried while the server is down or recovering. */
function admin<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  return onFreshConnection(server.dsn, async (c) => (await c.query<T>(sql, params)).rows);
}

async function copying(): Promise<boolean> {
  for (let i = 0; i < 3000; i++) {
    const r = await admin(
      `SELECT 1 FROM pg_stat_activity WHERE application_name = 'loader' AND query ILIKE 'COPY%'`,
    );
    if (r.length > 0) return true;
    await new Promise((res) => setTimeout(res, 10));
  }
  return false;
}

function body(file: number, n: number): string {
  return 'id,v\n' + Array.from({ length: n }, (_, i) => `${file * n + i},value ${i}`).join('\n') + '\n';
}

describe.each(['SIGINT', 'SIGQUIT'] as const)('a server restart mid-run (%s)', (signal) => {
  it('is retried through; every file lands exactly once or not at all, and the exit code says which', async () => {
    const table = `restart_${signal.toLowerCase()}`;
    await admin(`CREATE TABLE ${table} (id int, v text)`); // no key: a doubled row would show
    // Long enough that the restart lands mid-run on a loaded machine: an append goes direct (no staging), and at
    // 30,000 or 60,000 rows a file's COPY could end before the restart came.
    const n = 200_000;
    const files = await Promise.all([0, 1, 2].map((f) => dir.write(`${table}/f${f}.csv`, body(f, n))));
    const run = runCli(
      [
        ...['--dsn', server.dsn, '--table', table, '--batch-size', '2000', '--max-retries', '10'],
        ...['--concurrency', '2', '--connect-timeout', '5', '--stall-timeout', '5', '-q'],
        ...files,
      ],
      { timeoutMs: 120_000 },
    );
    expect(await copying()).toBe(true);
    await server.restart(signal, 700);
    const r = await run;
    expect(r.signal).toBeNull();
    const audit = await admin<{ file_path: string; status: string; retries: number }>(
      `SELECT file_path, status, retries FROM loader_audit WHERE file_path LIKE $1 ORDER BY id`,
      [`%/${table}/%`],
    );
    let expected = 0;
    for (const [i, f] of files.entries()) {
      const got = await admin<{ n: string; d: string }>(
        `SELECT count(*) AS n, count(DISTINCT id) AS d FROM ${table} WHERE id >= $1 AND id < $2`,
        [i * n, (i + 1) * n],
      );
      const status = audit.filter((a) => a.file_path === f).map((a) => a.status);
      if (status.includes('succeeded')) {
        expect(status).toEqual(['succeeded']);
        expect([Number(got[0]?.n), Number(got[0]?.d)]).toEqual([n, n]);
        expected++;
      } else {
        expect(Number(got[0]?.n)).toBe(0); // failed (or its audit row could not be written): nothing of it
      }
    }
    expect(r.code).toBe(expected === files.length ? 0 : 1);
    // With this retry budget the restart is ridden out, and it did hit the run.
    expect(expected).toBe(files.length);
    expect(audit.reduce((a, x) => a + x.retries, 0)).toBeGreaterThan(0);
  });
});

describe('a server with few connections left', () => {
  it('fits the pool to them, rides out "too many clients" (53300) and loads every file', async () => {
    const role = `loader_few_${process.pid}`;
    await admin(`CREATE ROLE ${role} LOGIN PASSWORD 'few-pw'`);
    await admin(`CREATE TABLE few (id int, v text); ALTER TABLE few OWNER TO ${role}`);
    await admin(`GRANT CREATE ON SCHEMA public TO ${role}`);
    // the restart tests above created the audit table as the superuser
    await admin(`DO $$ BEGIN
      IF to_regclass('loader_audit') IS NOT NULL THEN GRANT SELECT, INSERT ON loader_audit TO ${role}; END IF;
    END $$`);
    const u = new URL(server.dsn);
    u.username = role;
    u.password = 'few-pw';
    const n = 20_000;
    const files = await Promise.all([0, 1, 2, 3].map((f) => dir.write(`few/f${f}.csv`, body(f, n))));
    // max_connections 20, 3 reserved for superusers: 12 held here leave the role about 5.
    const held: pg.Client[] = [];
    const open = async (dsn: string): Promise<pg.Client> => {
      const c = new pg.Client(dsn);
      c.on('error', () => {});
      await c.connect();
      return c;
    };
    for (let i = 0; i < 12; i++) held.push(await open(server.dsn));
    const filler: pg.Client[] = [];
    try {
      const { load } = await import('../../dist/src/index.js');
      const { pino } = await import('pino');
      const warnings: { concurrency?: number; internalConcurrency?: number }[] = [];
      const logger = pino({ level: 'warn' }, { write: (l: string) => void warnings.push(JSON.parse(l)) });
      const run = load(
        {
          dsn: u.toString(),
          table: 'few',
          files,
          concurrency: 4,
          internalConcurrency: 2,
          batchSize: 2_000,
          maxRetries: 8,
        },
        { logger },
      ).then((r) => r);
      const since = new Date();
      let seen = false;
      for (let i = 0; i < 1000 && !seen; i++) {
        const { rows } = await held[0]!.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name = 'loader' AND query ILIKE 'COPY%'
              AND backend_start >= $1`,
          [since],
        );
        seen = rows.length > 0;
        if (!seen) await new Promise((r) => setTimeout(r, 10));
      }
      expect(seen).toBe(true);
      // Every loader connection dies, and the slots they held are taken at once: its reconnects get 53300.
      await held[0]!.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'loader'`,
      );
      let full = false;
      while (!full && filler.length < 20) {
        try {
          filler.push(await open(u.toString()));
        } catch (err) {
          full = (err as { code?: string }).code === '53300';
          if (!full) throw err;
        }
      }
      expect(full).toBe(true);
      await new Promise((r) => setTimeout(r, 1_500));
      for (const c of filler.splice(0)) await c.end();
      const r = await run;
      expect(r.files.map((f) => f.error?.message ?? f.status)).toEqual(files.map(() => 'succeeded'));
      expect(r.exitCode).toBe(0);
      expect(r.files.every((f) => f.status === 'succeeded')).toBe(true);
      expect(r.files.reduce((a, f) => a + f.retries, 0)).toBeGreaterThan(0);
      const [c] = await held[0]!
        .query<{ n: string; d: string }>(`SELECT count(*) AS n, count(DISTINCT id) AS d FROM few`)
        .then((x) => x.rows);
      expect([Number(c?.n), Number(c?.d)]).toEqual([4 * n, 4 * n]);
      // The pool was fitted to what was left (4 x 2 + 5 wanted).
      expect(warnings.some((w) => (w.concurrency ?? 4) * (w.internalConcurrency ?? 2) < 8)).toBe(true);
    } finally {
      for (const c of [...filler, ...held]) await c.end().catch(() => {});
    }
  });
});
