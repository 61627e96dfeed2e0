// A Parquet row group's slices stream from its decode to the COPYs, a few ahead at most (workers/parquet.ts
// SLICES_AHEAD), instead of the whole group at once: the main thread's held slices stay bounded on both paths; a
// bad value in a late slice of a group, or a row the server refuses, fails the file naming its row, and the decode
// thread it held goes on to the next file. (A COPY killed mid-file: test/integration/retries.test.ts.)
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SLICES_AHEAD } from '../../workers/parquet.js';
import { useDuck, useEnv } from './support.js';

const env = useEnv('parquet_stream');
const duck = useDuck();

/** `n` rows (id, a padded text), in row groups of `group` rows. */
async function rowsFile(name: string, n: number, group: number, v = `'payload ' || repeat('x', 100) || i`) {
  const path = join(env.dir.path, name);
  await duck.conn.run(
    `COPY (SELECT i::INT AS id, ${v} AS v FROM range(${n}) t(i)) TO '${path}' (FORMAT parquet, ROW_GROUP_SIZE ${group})`,
  );
  return path;
}

describe('a row group streamed slice by slice', () => {
  it.each([
    ['direct', {}],
    ['staging', { direct: false }],
  ] as const)('%s: the main thread holds a few slices at once, not a group of 30', async (name, how) => {
    const table = `held_${name}`;
    await env.db.query(`CREATE TABLE ${table} (id int, v text)`);
    const f = await rowsFile(`${table}.parquet`, 60_000, 30_000);
    const r = await env.load(table, [f], { batchSize: 1_000, ...how });
    const file = r.files[0]!;
    expect([file.error, file.parquet?.rowGroups]).toEqual([undefined, 2]);
    expect(file.subBatches).toBeGreaterThanOrEqual(60); // DuckDB rounds its groups up to 2,048 rows
    // one group's window, and the next group's once the first one's decode is done
    expect(file.parquet?.maxSlicesHeld).toBeGreaterThanOrEqual(1);
    expect(file.parquet?.maxSlicesHeld).toBeLessThanOrEqual(2 * SLICES_AHEAD);
    expect(await env.num(`SELECT count(DISTINCT id) FROM ${table}`)).toBe(60_000);
    expect(await env.num(`SELECT count(*) FROM ${table}`)).toBe(60_000);
  });

  it('fails a file on a bad value in a late slice of a group, naming its row; the next file loads', async () => {
    await env.db.query('CREATE TABLE late_bad (id int, v smallint)');
    // one group of 40,000 rows in 40 slices; v overflows smallint from row 32,768 (slice 33) on
    const bad = await rowsFile('late_bad.parquet', 40_000, 40_000, 'i');
    const good = await rowsFile('late_good.parquet', 20_000, 20_000, '(i % 1000)');
    const r = await env.load('late_bad', [bad, good], { batchSize: 1_000, concurrency: 1 });
    const [b, g] = [r.files.find((x) => x.path === bad)!, r.files.find((x) => x.path === good)!];
    expect([b.status, b.error?.code, b.error?.column]).toEqual(['failed', 'DATA', 'v']);
    expect(b.error?.message).toMatch(
      /row group 0, row 32769, column "v": value 32768 is out of range for smallint/,
    );
    expect([g.status, g.rowsInserted]).toEqual(['succeeded', 20_000]);
    expect(await env.num('SELECT count(*) FROM late_bad')).toBe(20_000);
    expect(await env.num('SELECT count(*) FROM late_bad WHERE v >= 1000')).toBe(0);
    expect(r.exitCode).toBe(1);
  });

  it('stops a decode waiting on its slices when the server fails the file; its one thread goes on', async () => {
    await env.db.query('CREATE TABLE refused (id int CHECK (id < 5000), v text)');
    const bad = await rowsFile('refused_bad.parquet', 40_000, 40_000); // one group, 40 slices; slice 5 is refused
    const good = await rowsFile('refused_good.parquet', 4_000, 4_000);
    // one file at a time on one stream: a single decode thread, which the refused file's decode must give back
    const r = await env.load('refused', [bad, good], {
      batchSize: 1_000,
      concurrency: 1,
      internalConcurrency: 1,
    });
    const [b, g] = [r.files.find((x) => x.path === bad)!, r.files.find((x) => x.path === good)!];
    expect([b.status, b.error?.code]).toEqual(['failed', 'DATA']);
    expect(b.error?.message).toMatch(/refused_id_check/);
    expect([g.status, g.rowsInserted]).toEqual(['succeeded', 4_000]);
    expect(await env.num('SELECT count(*) FROM refused')).toBe(4_000);
  });
});
