// Faults between loaders and from the database: two loader processes upserting overlapping keys at once (no
// deadlock escapes, the result equals a serial load), backends of idle and claim-session connections terminated
// under a run (never a crash), and names that need quoting everywhere (schema, table, header names).
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { auditRows, runCli } from '../helpers.js';
import { useEnv } from './support.js';

const env = useEnv('faults');

/** A deterministic shuffle (seeded LCG), so a failure can be replayed. */
function shuffled(n: number, seed: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  let s = seed;
  for (let i = n - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

describe('two loader processes upserting overlapping keys at once', () => {
  it('never fails on a deadlock, and the table equals the files loaded one after another in commit order', async () => {
    await env.db.query('CREATE TABLE shared (id int PRIMARY KEY, v text)');
    const keys = 8_000;
    const contents = new Map<string, Map<number, string>>();
    const write = async (name: string, order: number[]): Promise<string> => {
      const m = new Map<number, string>();
      for (const k of order) m.set(k, `${name}:${k}`);
      const p = await env.dir.write(
        `shared/${name}.csv`,
        'id,v\n' + order.map((k) => `${k},${name}:${k}`).join('\n') + '\n',
      );
      contents.set(p, m);
      return p;
    };
    const asc = Array.from({ length: keys }, (_, i) => i);
    const p1 = [await write('p1a', asc), await write('p1b', shuffled(keys, 1)), await write('p1c', asc)];
    const p2 = [
      await write('p2a', [...asc].reverse()),
      await write('p2b', shuffled(keys, 2)),
      await write('p2c', shuffled(keys, 3)),
    ];
    const args = ['--dsn', env.db.dsn, '--table', 'shared', '--batch-size', '1000', '-c', '2', '-q'];
    const [r1, r2] = await Promise.all([runCli([...args, ...p1]), runCli([...args, ...p2])]);
    expect([r1.code, r2.code, r1.stderr + r2.stderr]).toEqual([0, 0, '']);
    // Replay: the succeeded files in the order their audit rows were written (a file that waited on another's
    // keys wrote its audit row after that one committed).
    const audit = (await auditRows(env.db)).filter((a) => a.file_path.includes('/shared/'));
    expect(audit.map((a) => a.status)).toEqual(Array(6).fill('succeeded'));
    const expected = new Map<number, string>();
    for (const a of audit) for (const [k, v] of contents.get(a.file_path)!) expected.set(k, v);
    const got = await env.rows<{ id: number; v: string }>('SELECT id, v FROM shared');
    expect(got.length).toBe(keys);
    expect(got.filter((r) => expected.get(r.id) !== r.v)).toEqual([]);
  });
});

describe('backends terminated under a run', () => {
  it("the claim session's and idle connections' errors never crash the process; every file loads once", async () => {
    await env.db.query('CREATE TABLE victims (id int PRIMARY KEY, v text)');
    const files: string[] = [];
    for (let f = 0; f < 8; f++) {
      const body = Array.from({ length: 5_000 }, (_, i) => `${f * 5_000 + i},v${i}`).join('\n');
      files.push(await env.dir.write(`victims/f${f}.csv`, `id,v\n${body}\n`));
    }
    const admin = new pg.Client(env.db.dsn);
    await admin.connect();
    let running = true;
    let killed = 0;
    let claimKilled = false;
    const killer = (async () => {
      // A few at a time, spaced: the claim session first (it holds advisory locks), then connections idle between
      // statements (checked out in a merge transaction, or idle in the pool).
      while (running && killed < 6) {
        const { rows } = await admin.query<{ ok: boolean; claim: boolean }>(
          `SELECT pg_terminate_backend(pid) AS ok, claim FROM (
             SELECT a.pid, EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory') AS claim
               FROM pg_stat_activity a
              WHERE a.application_name = 'loader' AND a.datname = current_database()
                AND a.backend_start < now() - interval '100 ms') s
            WHERE claim OR (SELECT state FROM pg_stat_activity WHERE pid = s.pid) IN ('idle', 'idle in transaction')
            ORDER BY claim DESC LIMIT 1`,
        );
        if (rows[0]?.ok) {
          killed++;
          claimKilled ||= rows[0].claim;
        }
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
    try {
      const r = await runCli([
        ...['--dsn', env.db.dsn, '--table', 'victims', '--batch-size', '1000', '--max-retries', '10'],
        ...files,
      ]);
      running = false;
      await killer;
      expect(killed).toBeGreaterThan(1);
      expect(claimKilled).toBe(true);
      expect(r.signal).toBeNull();
      expect(r.stderr).not.toMatch(/internal error|Uncaught|unhandled/i);
      expect(r.code).toBe(0);
      expect(await env.num('SELECT count(*) FROM victims')).toBe(40_000);
    } finally {
      running = false;
      await killer.catch(() => {});
      await admin.end();
    }
  });
});

describe('names that need quoting', () => {
  it('loads into "My Schema"."Ta""ble" with hostile header names, touching nothing else', async () => {
    await env.db.query(`
      CREATE TABLE victim (id int);
      CREATE SCHEMA "My Schema";
      CREATE TABLE "My Schema"."Ta""ble" (
        "Id" int PRIMARY KEY, "a""b" text, "x'); DROP TABLE victim; --" text, "$1" text, "sp ace" int,
        "loader.batch" text)`);
    const header = `Id,"a""b","x'); DROP TABLE victim; --",$1,sp ace,loader.batch`;
    const f1 = await env.dir.write('hostile/1.csv', `${header}\n1,"q""uote",'),x,7,b\n2,,,,,\n`);
    const f2 = await env.dir.write('hostile/2.csv', `${header}\n2,two,2,2,2,2\n3,three,3,3,3,3\n`);
    const r = await runCli([
      ...['--dsn', env.db.dsn, '--table', '"My Schema"."Ta""ble"', '--batch-size', '1', '--key', 'Id', '-q'],
      ...[f1, f2],
    ]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(await env.rows(`SELECT * FROM "My Schema"."Ta""ble" ORDER BY 1`)).toEqual([
      {
        Id: 1,
        'a"b': 'q"uote',
        "x'); DROP TABLE victim; --": "')",
        $1: 'x',
        'sp ace': 7,
        'loader.batch': 'b',
      },
      { Id: 2, 'a"b': 'two', "x'); DROP TABLE victim; --": '2', $1: '2', 'sp ace': 2, 'loader.batch': '2' },
      { Id: 3, 'a"b': 'three', "x'); DROP TABLE victim; --": '3', $1: '3', 'sp ace': 3, 'loader.batch': '3' },
    ]);
    expect(await env.num(`SELECT count(*) FROM pg_class WHERE relname = 'victim'`)).toBe(1);
    expect((await auditRows(env.db, 'My Schema')).map((a) => a.status)).toEqual(['succeeded', 'succeeded']);
  });
});
