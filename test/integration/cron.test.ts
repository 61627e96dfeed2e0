// Safe to re-run from cron: overlapping runs load each file once, a file still being written is left for the
// next run, and staging tables left by a crashed run are dropped, never those of a run still alive.
import { createHash } from 'node:crypto';
import { appendFile, utimes } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { auditRows, waitForCopy } from '../helpers.js';
import { csv, useEnv } from './support.js';

const env = useEnv('cron');

function rows(from: number, n: number): (string | number)[][] {
  return Array.from({ length: n }, (_, i) => [from + i, `v${from + i}`]);
}

describe('overlapping runs', () => {
  it('two runs at once on the same files load each file exactly once', async () => {
    await env.db.query('CREATE TABLE overlap (id int, v text)');
    const files: string[] = [];
    for (let f = 0; f < 6; f++)
      files.push(await env.dir.write(`overlap/f${f}.csv`, csv('id,v', rows(f * 3000, 3000))));
    const [a, b] = await Promise.all([
      env.load('overlap', files, { batchSize: 500, concurrency: 2 }),
      env.load('overlap', files, { batchSize: 500, concurrency: 3 }),
    ]);
    expect(a.exitCode).toBe(0);
    expect(b.exitCode).toBe(0);
    expect(await env.num('SELECT count(*) FROM overlap')).toBe(18_000);
    expect(await env.num('SELECT count(DISTINCT id) FROM overlap')).toBe(18_000);
    const audit = (await auditRows(env.db)).filter((r) => r.file_path.includes('/overlap/'));
    for (const f of files) {
      const mine = audit.filter((r) => r.file_path === f);
      expect(mine.filter((r) => r.status === 'succeeded')).toHaveLength(1);
      expect(mine.filter((r) => r.status === 'skipped')).toHaveLength(1);
    }
    // Whichever way each race went, the skipped side says why.
    for (const r of audit.filter((x) => x.status === 'skipped')) {
      expect(['IN_PROGRESS', 'ALREADY_LOADED']).toContain(r.error_code);
    }
  });

  it('skips a second file with the same content in the same run', async () => {
    await env.db.query('CREATE TABLE twins (id int, v text)');
    const body = csv('id,v', rows(1, 100));
    const a = await env.dir.write('twins/a.csv', body);
    const b = await env.dir.write('twins/b.csv', body);
    const r = await env.load('twins', [a, b]);
    expect(r.exitCode).toBe(0);
    expect(await env.num('SELECT count(*) FROM twins')).toBe(100);
    expect(r.files.map((f) => f.status).sort()).toEqual(['skipped', 'succeeded']);
  });
});

describe('files still being written', () => {
  it('skips a file younger than --min-age with exit 0, and loads it once it is old enough', async () => {
    await env.db.query('CREATE TABLE young (id int, v text)');
    const f = await env.dir.write('young.csv', csv('id,v', rows(1, 10)));
    const r = await env.load('young', [f], { minAgeSeconds: 60 });
    expect(r.exitCode).toBe(0);
    expect(r.files[0]?.status).toBe('skipped');
    expect(r.files[0]?.error?.code).toBe('TOO_NEW');
    expect(await env.num('SELECT count(*) FROM young')).toBe(0);
    const past = new Date(Date.now() - 120_000);
    await utimes(f, past, past);
    const r2 = await env.load('young', [f], { minAgeSeconds: 60 });
    expect(r2.files[0]?.status).toBe('succeeded');
    expect(await env.num('SELECT count(*) FROM young')).toBe(10);
  });

  it('does not commit a file that grows while it is loaded', async () => {
    await env.db.query('CREATE TABLE growing (id int, v text)');
    const f = await env.dir.write('growing.csv', csv('id,v', rows(1, 60_000)));
    // Append as soon as the COPY is under way; the commit re-checks size and mtime and backs out.
    const watcher = (async () => {
      await waitForCopy(env.db);
      await appendFile(f, '999999,late\n');
    })();
    const r = await env.load('growing', [f], { batchSize: 2000, internalConcurrency: 1 });
    await watcher;
    expect(r.exitCode).toBe(0);
    expect(r.files[0]?.status).toBe('skipped');
    expect(r.files[0]?.error?.code).toBe('CHANGING');
    expect(await env.num('SELECT count(*) FROM growing')).toBe(0);
    const [a] = (await auditRows(env.db)).filter((x) => x.file_path === f);
    expect([a?.status, a?.error_code]).toEqual(['skipped', 'CHANGING']);
  });
});

describe('leftover staging tables', () => {
  it('drops those of a crashed run and keeps those of a run still alive', async () => {
    await env.db.query('CREATE TABLE leftover (id int, v text)');
    await env.db.query('CREATE UNLOGGED TABLE loader_stg_0123456789ab_0 (id int)');
    await env.db.query('CREATE UNLOGGED TABLE loader_stg_0123456789ab_1 (id int)');
    // a sub-batch's own table under its file's (merged as they landed): dropped first, the file's after it
    await env.db.query(
      'CREATE UNLOGGED TABLE loader_stg_0123456789ab_1_4 () INHERITS (loader_stg_0123456789ab_1)',
    );
    await env.db.query('CREATE UNLOGGED TABLE loader_stg_fedcba987654_0 (id int)');
    // A live run holds its run lock; this session plays that run.
    await env.db.query(`SELECT pg_advisory_lock(hashtextextended('loader_run:fedcba987654', 0))`);
    const f = await env.dir.write('leftover.csv', csv('id,v', rows(1, 5)));
    const r = await env.load('leftover', [f]);
    expect(r.exitCode).toBe(0);
    const left = await env.rows<{ relname: string }>(
      `SELECT relname FROM pg_class WHERE relname LIKE 'loader_stg_%' ORDER BY 1`,
    );
    expect(left.map((x) => x.relname)).toEqual(['loader_stg_fedcba987654_0']);
    await env.db.query(`SELECT pg_advisory_unlock(hashtextextended('loader_run:fedcba987654', 0))`);
    await env.db.query('DROP TABLE loader_stg_fedcba987654_0');
  });
});

describe('the claim and the database guarantee', () => {
  it('skips at once, as IN_PROGRESS, a file whose content another session has claimed', async () => {
    await env.db.query('CREATE TABLE claimed (id int, v text)');
    const body = csv('id,v', rows(1, 50));
    const f = await env.dir.write('claimed.csv', body);
    const sha = createHash('sha256').update(body).digest('hex');
    const [{ oid } = { oid: 0 }] = await env.rows<{ oid: number }>(
      `SELECT 'claimed'::regclass::oid::int8::float8 AS oid`,
    );
    await env.db.query(`SELECT pg_advisory_lock(hashtextextended($1, 0))`, [`loader_file:${oid}:${sha}`]);
    try {
      const r = await env.load('claimed', [f]);
      expect(r.exitCode).toBe(0);
      expect(r.files[0]).toMatchObject({ status: 'skipped', error: { code: 'IN_PROGRESS' } });
      expect(await env.num('SELECT count(*) FROM claimed')).toBe(0);
    } finally {
      await env.db.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [`loader_file:${oid}:${sha}`]);
    }
    expect((await env.load('claimed', [f])).files[0]?.status).toBe('succeeded');
  });

  it('rolls a file back as skipped when another run commits the same content first (the unique index)', async () => {
    await env.db.query('CREATE TABLE raced (id int, v text)');
    const body = csv('id,v', rows(1, 50));
    const f = await env.dir.write('raced.csv', body);
    const sha = createHash('sha256').update(body).digest('hex');
    // Plays the other run: as this file's rows go in, a succeeded audit row for the same content appears in the
    // same transaction, just as a concurrent commit would make the merge's own audit insert collide.
    await env.db.query(`CREATE FUNCTION raced_other_run() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO loader_audit (run_id, load_id, file_path, file_sha256, file_bytes, format, target_oid, target_schema,
          target_table, mode, status, started_at, finished_at, duration_ms, host, loader_version)
        VALUES (gen_random_uuid(), gen_random_uuid(), 'elsewhere', '${sha}', 0, 'csv', 'raced'::regclass, 'public',
          'raced', 'append', 'succeeded', now(), now(), 0, 'other-host', 'x');
        RETURN NULL;
      END $$`);
    await env.db.query(
      `CREATE TRIGGER other_run AFTER INSERT ON raced FOR EACH STATEMENT EXECUTE FUNCTION raced_other_run()`,
    );
    const r = await env.load('raced', [f]);
    expect(r.exitCode).toBe(0);
    expect(r.files[0]).toMatchObject({ status: 'skipped', error: { code: 'ALREADY_LOADED' } });
    expect(await env.num('SELECT count(*) FROM raced')).toBe(0);
    const audit = (await auditRows(env.db)).filter((a) => a.file_path === f);
    expect(audit.map((a) => a.status)).toEqual(['skipped']);
  });
});
