// The pool budget against what the role allows: a role with a small connection limit still loads everything,
// with concurrency lowered to fit, and a busy server's "too many clients" (53300) is retried.
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { load } from '../../dist/src/index.js';
import { auditRows, createTestDb, tempDir, type TestDb } from '../helpers.js';

let db: TestDb;
let dir: Awaited<ReturnType<typeof tempDir>>;
const role = `loader_limited_${process.pid}`;

beforeAll(async () => {
  db = await createTestDb('pool');
  dir = await tempDir();
  await db.query(`CREATE ROLE ${role} LOGIN PASSWORD 'limited-pw' CONNECTION LIMIT 3`);
  await db.query(`GRANT ALL ON SCHEMA public TO ${role}`);
});
afterAll(async () => {
  await db.close();
  const admin = new pg.Client(inject('adminDsn'));
  await admin.connect();
  await admin.query(`DROP ROLE IF EXISTS ${role}`);
  await admin.end();
  await dir.remove();
});

describe('pool sizing', () => {
  it('fits concurrency to a role connection limit of 3 and loads every file', async () => {
    await db.query(`CREATE TABLE pooled (id int PRIMARY KEY, v text)`);
    await db.query(`ALTER TABLE pooled OWNER TO ${role}`);
    const files: string[] = [];
    for (let f = 0; f < 6; f++) {
      const rows = Array.from({ length: 500 }, (_, i) => `${f * 500 + i},v${i}`).join('\n');
      files.push(await dir.write(`p${f}.csv`, `id,v\n${rows}\n`));
    }
    const u = new URL(db.dsn);
    u.username = role;
    u.password = 'limited-pw';
    const warnings: { wanted?: number; available?: number; concurrency?: number }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) });
    const result = await load(
      { dsn: u.toString(), table: 'pooled', files, concurrency: 4, internalConcurrency: 4, batchSize: 100 },
      { logger },
    );
    expect(result.exitCode).toBe(0);
    expect((await db.query(`SELECT count(*)::int AS n FROM pooled`))[0]!.n).toBe(3000);
    expect((await auditRows(db)).filter((a) => a.status === 'succeeded')).toHaveLength(6);
    // The fit was logged with its numbers: 4 x 4 + 5 wanted, at most 3 available.
    expect(warnings.some((w) => w.wanted === 21 && (w.available ?? 99) <= 3 && w.concurrency === 1)).toBe(
      true,
    );
  });
});
