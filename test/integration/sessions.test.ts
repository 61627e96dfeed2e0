// Settings a role or database imposes on its sessions (ALTER ROLE ... SET): a short statement_timeout,
// lock_timeout or idle timeout must not cut loader's COPY or merge short. loader starts every session with its own
// settings; when one still fires (set in the DSN's options=), the file fails with advice naming the setting.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { auditRows } from '../helpers.js';
import { csv, useEnv } from './support.js';

const env = useEnv('sessions');
const role = `loader_timeouts_${process.pid}`;
const password = 'timeouts-pw';
let dsn: string;

beforeAll(async () => {
  const major = inject('pgMajor');
  await env.db.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
  await env.db.query(`GRANT ALL ON SCHEMA public TO ${role}`);
  // 1 ms: any COPY, merge or pause between statements of a transaction would hit them.
  for (const s of ['statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout'])
    await env.db.query(`ALTER ROLE ${role} SET ${s} = '1ms'`);
  // idle_session_timeout: a pooled connection idle between files
  await env.db.query(`ALTER ROLE ${role} SET idle_session_timeout = '1ms'`);
  if (major >= 17) await env.db.query(`ALTER ROLE ${role} SET transaction_timeout = '1ms'`);
  const u = new URL(env.db.dsn);
  u.username = role;
  u.password = password;
  dsn = u.toString();
});
afterAll(async () => {
  const admin = new pg.Client(inject('adminDsn'));
  await admin.connect();
  await admin.query(`DROP OWNED BY ${role} CASCADE`).catch(() => {});
  await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
  await admin.end();
});

function rows(n: number, from = 0, tag = 'v'): (string | number)[][] {
  return Array.from({ length: n }, (_, i) => [from + i, `${tag}${from + i}`]);
}

describe("a role's short timeouts", () => {
  it('are overridden: staging upsert, direct append and replace all load', async () => {
    // The role really has them (a session of its own would be ended by its 1 ms idle_session_timeout).
    const [set] = await env.db.query<{ c: string[] }>(
      `SELECT setconfig AS c FROM pg_db_role_setting WHERE setrole = $1::regrole`,
      [role],
    );
    expect(set?.c).toContain('statement_timeout=1ms');
    expect(set?.c).toContain('idle_in_transaction_session_timeout=1ms');

    await env.db.query(
      `CREATE TABLE sess_up (id int PRIMARY KEY, v text); CREATE TABLE sess_app (id int, v text);
       ALTER TABLE sess_up OWNER TO ${role}; ALTER TABLE sess_app OWNER TO ${role}`,
    );
    const files = [];
    for (let f = 0; f < 3; f++)
      files.push(await env.dir.write(`up/${f}.csv`, csv('id,v', rows(20_000, f * 10_000, `f${f}`))));
    const up = await load('sess_up', files, { batchSize: 4_000, internalConcurrency: 2, concurrency: 2 });
    expect(up.exitCode).toBe(0);
    expect(await env.num('SELECT count(*) FROM sess_up')).toBe(40_000);
    expect(await env.num(`SELECT count(*) FROM sess_up WHERE v = 'f2' || id`)).toBe(20_000);

    const app = await load('sess_app', files, { batchSize: 4_000, direct: true });
    expect(app.exitCode).toBe(0);
    expect(await env.num('SELECT count(*) FROM sess_app')).toBe(60_000);

    const rep = await load('sess_app', [files[0]!], { mode: 'replace', batchSize: 4_000 });
    expect(rep.exitCode).toBe(0);
    expect(await env.num('SELECT count(*) FROM sess_app')).toBe(20_000);
    const audit = await auditRows(env.db);
    expect(audit.filter((a) => a.status !== 'succeeded')).toEqual([]);
  });

  it("fails the file with advice naming the setting when the DSN's options= sets it", async () => {
    await env.db.query(`CREATE TABLE sess_dsn (id int, v text); ALTER TABLE sess_dsn OWNER TO ${role}`);
    const f = await env.dir.write('dsn.csv', csv('id,v', rows(50_000)));
    const u = new URL(dsn);
    u.searchParams.set('options', '-c statement_timeout=1ms');
    const r = await load('sess_dsn', [f], { batchSize: 10_000, dsn: u.toString(), maxRetries: 0 }).catch(
      (e: Error) => e,
    );
    // The 1 ms may cut the run's own set-up short (exit 3) or the file (exit 1): either way, named.
    const message = r instanceof Error ? r.message : (r.files[0]?.error?.message ?? '');
    if (!(r instanceof Error)) expect(r.files[0]?.status).toBe('failed');
    expect(message).toContain('statement_timeout');
    expect(await env.num('SELECT count(*) FROM sess_dsn')).toBe(0);
  });
});

function load(table: string, files: string[], opts: Parameters<typeof env.load>[2] = {}) {
  return env.load(table, files, { dsn, ...opts });
}
