// The network between loader and PostgreSQL misbehaving, through a TCP proxy in the test (127.0.0.1 only): every
// connection cut mid-COPY, every open connection frozen (sockets open, nothing moving), a server that accepts and
// never answers. Each ends either with the file loaded exactly (retried) or failed cleanly within the timeouts and
// the retry budget: never a hang (the test's own timeout would catch one).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRows, waitForCopy } from '../helpers.js';
import { startProxy, type Proxy } from '../proxy.js';
import { LoaderError } from './support.js';
import { useEnv, type LoadResult } from './support.js';

const env = useEnv('network');
let proxy: Proxy;
let dsn: string;

beforeAll(async () => {
  const u = new URL(env.db.dsn);
  proxy = await startProxy(u.hostname, Number(u.port));
  dsn = proxy.via(env.db.dsn);
});
afterAll(async () => {
  await proxy?.close();
});

/** `id,payload` rows, about 150 bytes each. */
function rows(n: number): string {
  const pad = 'x'.repeat(120);
  const out = ['id,payload'];
  for (let i = 0; i < n; i++) out.push(`${i},${pad}${i}`);
  return out.join('\n') + '\n';
}

async function expectExact(table: string, n: number): Promise<void> {
  expect(await env.num(`SELECT count(*) FROM ${table}`)).toBe(n);
  expect(await env.num(`SELECT count(DISTINCT id) FROM ${table}`)).toBe(n);
}

const quick = { connectTimeoutMs: 2_000, stallTimeoutMs: 1_000 };

/** Cuts the connections once a COPY runs and again 300 ms later; the run must still succeed, having retried. */
async function cutTwice(run: Promise<LoadResult>, since: Date): Promise<LoadResult> {
  expect(await waitForCopy(env.db, since)).toBe(true);
  expect(proxy.cut()).toBeGreaterThan(0);
  await new Promise((r) => setTimeout(r, 300));
  proxy.cut();
  const r = await run;
  expect(r.exitCode).toBe(0);
  expect(r.files[0]?.retries).toBeGreaterThan(0);
  return r;
}

describe('connections cut mid-stream', () => {
  it('retries the cut sub-batches and merges: the table holds the file exactly once', async () => {
    await env.db.query('CREATE TABLE cut (id int PRIMARY KEY, payload text)');
    const n = 100_000;
    const f = await env.dir.write('cut.csv', rows(n));
    proxy.mode = 'pass';
    const since = new Date();
    await cutTwice(env.load('cut', [f], { dsn, batchSize: 2_500, maxRetries: 8, ...quick }), since);
    await expectExact('cut', n);
    const [a] = (await auditRows(env.db)).filter((x) => x.file_path === f);
    expect([a?.status, a?.rows_inserted]).toEqual(['succeeded', String(n)]);
  });

  it('upsert: a cut sub-batch is deleted from staging by its number (written by the converter) and COPYed again', async () => {
    await env.db.query('CREATE TABLE cut_up (id int PRIMARY KEY, payload text)');
    await env.db.query(`INSERT INTO cut_up SELECT i, 'old' FROM generate_series(0, 99999, 2) i`);
    const n = 100_000;
    const f = await env.dir.write('cut_up.csv', rows(n));
    proxy.mode = 'pass';
    const since = new Date();
    const run = env.load('cut_up', [f], {
      dsn,
      mode: 'upsert',
      batchSize: 2_500,
      internalConcurrency: 2,
      maxRetries: 8,
      ...quick,
    });
    const r = await cutTwice(run, since);
    expect(r.files[0]?.binarySubBatches).toBe(r.files[0]?.subBatches);
    await expectExact('cut_up', n);
    expect(await env.num(`SELECT count(*) FROM cut_up WHERE payload = 'old'`)).toBe(0);
    const [a] = (await auditRows(env.db)).filter((x) => x.file_path === f);
    expect([a?.status, a?.rows_inserted, a?.rows_updated]).toEqual([
      'succeeded',
      String(n / 2),
      String(n / 2),
    ]);
  });
});

describe('connections frozen mid-COPY (open, nothing moving)', () => {
  it('the stall watchdog drops them and the retries load the file exactly', async () => {
    await env.db.query('CREATE TABLE frozen (id int, payload text)');
    const n = 100_000;
    const f = await env.dir.write('frozen.csv', rows(n));
    proxy.mode = 'pass';
    const since = new Date();
    const run = env.load('frozen', [f], { dsn, batchSize: 5_000, maxRetries: 8, ...quick });
    expect(await waitForCopy(env.db, since)).toBe(true);
    expect(proxy.freeze()).toBeGreaterThan(0); // the COPYs, the claim session, idle pooled connections
    const r = await run;
    expect(r.exitCode).toBe(0);
    expect(r.files[0]?.retries).toBeGreaterThan(0);
    await expectExact('frozen', n);
  });
});

describe('a server that accepts connections and never answers', () => {
  it('fails the run within --connect-timeout (exit 3: could not start)', async () => {
    await env.db.query('CREATE TABLE never (id int, payload text)');
    const f = await env.dir.write('never.csv', rows(10));
    proxy.mode = 'silent';
    try {
      const err = await env.load('never', [f], { dsn, ...quick }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(LoaderError);
      expect((err as LoaderError).code).toBe('CONNECTION');
    } finally {
      proxy.mode = 'pass';
      proxy.cut();
    }
  });

  it('goes silent mid-run: the file fails within the retry budget, nothing of it lands', async () => {
    await env.db.query('CREATE TABLE silent (id int PRIMARY KEY, payload text)');
    const n = 100_000;
    const f = await env.dir.write('silent.csv', rows(n));
    proxy.mode = 'pass';
    const since = new Date();
    const run = env.load('silent', [f], { dsn, batchSize: 5_000, maxRetries: 2, ...quick });
    try {
      expect(await waitForCopy(env.db, since)).toBe(true);
      proxy.mode = 'silent';
      proxy.freeze();
      const r = await run;
      expect(r.exitCode).toBe(1);
      expect(r.files[0]?.status).toBe('failed');
      expect(r.files[0]?.error?.code).toBe('CONNECTION');
    } finally {
      proxy.mode = 'pass';
      proxy.cut();
    }
    expect(await env.num('SELECT count(*) FROM silent')).toBe(0);
  });
});
