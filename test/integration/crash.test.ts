// Crash recovery empties UNLOGGED staging tables. A backend killed with SIGKILL makes PostgreSQL restart every
// backend and reset unlogged relations, as after a crash; the loader must notice staging lost rows and copy those
// sub-batches again, never merge a partial file. Runs on its own server, since it crashes it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { load } from '../../dist/src/index.js';
import { startEmbedded, type EmbeddedServer } from '../../bench/embedded.js';
import { onFreshConnection, tempDir } from '../helpers.js';

let server: EmbeddedServer;
let dir: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  server = await startEmbedded({ fsync: 'off', restart_after_crash: 'on' });
  dir = await tempDir('loader-crash-');
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await dir?.remove();
});

function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  return onFreshConnection(server.dsn, fn);
}

describe('a server crash mid-load', () => {
  it('notices the emptied staging table and loads the file exactly', async () => {
    await admin((c) => c.query('CREATE TABLE crashed (id int PRIMARY KEY, v text)'));
    const n = 60_000;
    const body = 'id,v\n' + Array.from({ length: n }, (_, i) => `${i},value ${i}`).join('\n') + '\n';
    const f = await dir.write('crash.csv', body);
    let crashed = false;
    let done = false;
    // Once some sub-batches sit in staging, SIGKILL a backend: the postmaster resets every unlogged table.
    const crasher = (async () => {
      while (!crashed && !done) {
        await admin(async (c) => {
          const t = (
            await c.query<{ relname: string }>(
              `SELECT relname FROM pg_class WHERE relname LIKE 'loader_stg_%'`,
            )
          ).rows[0];
          const staged = t
            ? Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM "${t.relname}"`)).rows[0]?.n)
            : 0;
          if (staged >= 6_000) {
            const { rows } = await c.query<{ pid: number }>(`SELECT pg_backend_pid() AS pid`);
            process.kill(rows[0]!.pid, 'SIGKILL');
            crashed = true;
          }
        }).catch(() => {});
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const r = await load({
      dsn: server.dsn,
      table: 'crashed',
      files: [f],
      batchSize: 2_000,
      internalConcurrency: 1,
      maxRetries: 10,
    });
    done = true;
    await crasher;
    expect(crashed).toBe(true);
    expect(r.files[0]?.status).toBe('succeeded');
    expect(r.files[0]?.retries).toBeGreaterThan(0);
    const counts = await admin((c) =>
      c.query<{ n: string; d: string }>(`SELECT count(*) AS n, count(DISTINCT id) AS d FROM crashed`),
    );
    expect(Number(counts.rows[0]?.n)).toBe(n);
    expect(Number(counts.rows[0]?.d)).toBe(n);
  });
});
