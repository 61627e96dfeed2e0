// Least privilege: every mode runs as a role holding exactly the grants the README lists for it, and nothing
// more; `loader check` reports what is missing before any data moves.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { auditRows, runCli } from '../helpers.js';
import { csv, useEnv } from './support.js';

const env = useEnv('privileges');
const role = `loader_lp_${process.pid}`;
let dsn: string;

beforeAll(async () => {
  await env.db.query(`CREATE ROLE ${role} LOGIN PASSWORD 'lp-pw'`);
  await env.db.query(`REVOKE ALL ON SCHEMA public FROM PUBLIC`);
  const u = new URL(env.db.dsn);
  u.username = role;
  u.password = 'lp-pw';
  dsn = u.toString();
});
afterAll(async () => {
  const admin = new pg.Client(inject('adminDsn'));
  await admin.connect();
  await env.db.query(`DROP OWNED BY ${role} CASCADE`).catch(() => {});
  await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
  await admin.end();
});

const rows = (from: number, n: number, tag: string): (string | number)[][] =>
  Array.from({ length: n }, (_, i) => [from + i, `${tag}${from + i}`]);

describe('each mode with exactly its grants', () => {
  it('staging modes, the audit table created by the role: append, upsert, insert-only, replace', async () => {
    await env.db.query(`
      CREATE SCHEMA lp;
      GRANT USAGE, CREATE ON SCHEMA lp TO ${role};
      CREATE TABLE lp.app (n serial, id int, v text);
      GRANT INSERT ON lp.app TO ${role};
      GRANT USAGE ON SEQUENCE lp.app_n_seq TO ${role};
      CREATE TABLE lp.up (id int PRIMARY KEY, v text, at int GENERATED ALWAYS AS IDENTITY);
      GRANT SELECT, INSERT, UPDATE ON lp.up TO ${role};
      CREATE TABLE lp.ins (id int PRIMARY KEY, v text);
      GRANT SELECT, INSERT ON lp.ins TO ${role};
      CREATE TABLE lp.rep (id int, v text);
      GRANT INSERT, TRUNCATE ON lp.rep TO ${role};
      INSERT INTO lp.up (id, v) VALUES (1, 'old'); INSERT INTO lp.ins VALUES (1, 'old'); INSERT INTO lp.rep VALUES (0, 'old')`);
    const a = await env.dir.write('lp/a.csv', csv('id,v', rows(1, 3000, 'a')));
    const b = await env.dir.write('lp/b.csv', csv('id,v', rows(2000, 3000, 'b')));
    const opts = { dsn, batchSize: 1000, internalConcurrency: 2, direct: false }; // append through staging too
    const v17 = (await env.num(`SELECT current_setting('server_version_num')::int`)) >= 170000;
    const by = v17 ? 'MERGE' : 'INSERT';
    for (const [table, mode] of [
      ['lp.app', 'append'],
      ['lp.up', 'upsert'],
      ['lp.ins', 'insert-only'],
      ['lp.rep', 'replace'],
    ] as const) {
      const r = await env.load(table, [a, b], { ...opts, mode });
      expect([table, r.files.map((f) => f.error?.message ?? f.status)]).toEqual([
        table,
        ['succeeded', 'succeeded'],
      ]);
      // the upsert merged as it landed with exactly these grants: by MERGE where the server has it
      if (mode === 'upsert') expect(r.files.map((f) => f.mergedBy)).toEqual([by, by]);
    }
    expect(await env.num('SELECT count(*) FROM lp.app')).toBe(6000);
    expect(await env.num('SELECT count(DISTINCT n) FROM lp.app')).toBe(6000);
    expect(await env.num('SELECT count(*) FROM lp.up')).toBe(4999);
    expect(await env.num(`SELECT count(*) FROM lp.up WHERE v LIKE 'b%'`)).toBe(3000);
    expect(await env.num(`SELECT count(*) FROM lp.ins WHERE v = 'old'`)).toBe(1);
    expect(await env.num('SELECT count(*) FROM lp.ins')).toBe(4999);
    expect(await env.num('SELECT count(*) FROM lp.rep')).toBe(6000);
    expect((await auditRows(env.db, 'lp')).every((x) => x.status === 'succeeded')).toBe(true);
  });

  it('direct append into a schema where the role may not create, with an audit table it was given', async () => {
    await env.db.query(`
      CREATE SCHEMA lpd;
      CREATE TABLE lpd.seed (id int);
      CREATE TABLE lpd.dir (id int, v text);`);
    // The audit table exists already (made by a load as its owner), the role gets rows in it.
    const seed = await env.dir.write('lpd/seed.csv', 'id\n1\n');
    expect((await env.load('lpd.seed', [seed])).exitCode).toBe(0);
    await env.db.query(`
      GRANT USAGE ON SCHEMA lpd TO ${role};
      GRANT INSERT ON lpd.dir TO ${role};
      GRANT SELECT, INSERT ON lpd.loader_audit TO ${role};`);
    const f = await env.dir.write('lpd/d.csv', csv('id,v', rows(1, 5000, 'd')));
    const r = await env.load('lpd.dir', [f], { dsn, batchSize: 1000, direct: true });
    expect(r.files.map((x) => x.error?.message ?? x.status)).toEqual(['succeeded']);
    expect(await env.num('SELECT count(*) FROM lpd.dir')).toBe(5000);
  });
});

describe('loader check', () => {
  it('exits 0 when the role has what the mode needs, and reports the server and the audit table', async () => {
    // lp.up and its grants come from the first test of this file.
    const r = await runCli(['check', '--dsn', dsn, '--table', 'lp.up', '--mode', 'upsert']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^server: PostgreSQL \d+/m);
    expect(r.stdout).toMatch(/^audit table: "lp"\."loader_audit" exists$/m);
    expect(r.stdout).not.toMatch(/^missing:/m);
  });

  it('exits 1 with one line per missing grant, before any data moves', async () => {
    await env.db.query(`
      CREATE SCHEMA lpc; GRANT USAGE ON SCHEMA lpc TO ${role};
      CREATE TABLE lpc.t (n serial, id int PRIMARY KEY, v text); GRANT INSERT ON lpc.t TO ${role}`);
    const r = await runCli(['check', '--dsn', dsn, '--table', 'lpc.t', '--mode', 'upsert']);
    expect(r.code).toBe(1);
    const missing = r.stdout.split('\n').filter((l) => l.startsWith('missing:'));
    expect(missing.map((l) => l.replace(/ \(GRANT .*\)$/, '')).sort()).toEqual(
      [
        'missing: CREATE (to create the audit table) on schema "lpc"',
        'missing: SELECT on "lpc"."t"',
        'missing: UPDATE on "lpc"."t"',
        'missing: USAGE on sequence lpc.t_n_seq',
      ].sort(),
    );
    // Granting what it printed makes the check pass.
    for (const l of missing) await env.db.query(/\((GRANT .*)\)$/.exec(l)![1]!);
    const again = await runCli(['check', '--dsn', dsn, '--table', 'lpc.t', '--mode', 'upsert']);
    expect(again.code).toBe(0);
    expect(await env.num(`SELECT count(*) FROM lpc.t`)).toBe(0);
  });

  it('exits 3 when the server cannot be reached, 2 on a usage error', async () => {
    const u = new URL(dsn);
    u.port = '1';
    const r = await runCli(['check', '--dsn', u.toString(), '--table', 't', '--connect-timeout', '2']);
    expect(r.code).toBe(3);
    expect(r.stderr).not.toContain('lp-pw');
    expect((await runCli(['check', '--dsn', dsn])).code).toBe(2);
  });
});
