// The staging path's merge as the sub-batches land (src/landed.ts): a file whose key rises through it is merged
// sub-batch by sub-batch while the others COPY, with the same rows, counts and audit row as the one merge; any
// other file (a key out of order, a constraint error, a failing sub-batch) falls back to the one merge or fails as
// before, with nothing of it left in the target and no staging table behind.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditRows } from '../helpers.js';
import { useEnv, type LoadResult } from './support.js';

const env = useEnv('landed');

function ok(r: LoadResult): LoadResult['files'][number] {
  expect(r.exitCode, JSON.stringify(r.files[0]?.error)).toBe(0);
  return r.files[0]!;
}

/** id,v records: v names the file's tag, the id and the record's place in the file. */
const keyed = (name: string, tag: string, ids: (number | string)[]) =>
  env.dir.write(name, 'id,v\n' + ids.map((i, k) => `${i},${tag}${i}.${k}\n`).join(''));

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function counts(file: string): Promise<number[]> {
  const [a] = (await auditRows(env.db)).filter((x) => x.file_path === file);
  return [a?.rows_read, a?.rows_inserted, a?.rows_updated, a?.rows_skipped].map(Number);
}

const stagingLeft = () => env.num(`SELECT count(*) FROM pg_tables WHERE tablename LIKE 'loader_stg%'`);

describe('merging as the sub-batches land', () => {
  it('merges a file whose key rises: the last occurrence wins, the counts are exact', async () => {
    await env.db.query('CREATE TABLE up_rise (id bigint PRIMARY KEY, v text)');
    await env.db.query(`INSERT INTO up_rise SELECT i, 'old' || i FROM generate_series(2, 400, 2) i`);
    // 1..300, with 146 twice in a row (in one sub-batch of 10: records 145 and 146, 0-based)
    const ids = [...range(1, 146), 146, ...range(147, 300)];
    const f = await keyed('rise.csv', 'r', ids);
    for (const copyFormat of ['auto', 'text'] as const) {
      const r = ok(
        await env.load('up_rise', [f], { batchSize: 10, internalConcurrency: 2, copyFormat, force: true }),
      );
      expect(r.mergedAsLanded, copyFormat).toBe(true);
      expect(r.mergedBy, copyFormat).toBe('MERGE');
      expect(r.subBatches).toBe(31);
    }
    const audits = (await auditRows(env.db)).filter((x) => x.file_path === f);
    // first load: 150 new odd keys, 150 even keys updated, the repeated 146 skipped; the second: all 300 updated
    expect(
      audits.map((a) => [a.rows_read, a.rows_inserted, a.rows_updated, a.rows_skipped].map(Number)),
    ).toEqual([
      [301, 150, 150, 1],
      [301, 0, 300, 1],
    ]);
    expect(await env.num('SELECT count(*) FROM up_rise')).toBe(350);
    const v = await env.rows<{ id: string; v: string }>(
      'SELECT id, v FROM up_rise WHERE id IN (1, 146, 147, 300, 302) ORDER BY id',
    );
    expect(v.map((x) => x.v)).toEqual(['r1.0', 'r146.146', 'r147.147', 'r300.300', 'old302']);
    expect(await stagingLeft()).toBe(0);
  });

  // The converter reads each sub-batch's key range (src/keyrange.ts): a sub-batch whose keys rise strictly is merged
  // as it lies, one with a key twice or out of order inside it by DISTINCT ON; the order between sub-batches is
  // checked from the ranges, exact past 2^53.
  it('merges rising sub-batches as they lie and the others by DISTINCT ON, in one file, with exact results', async () => {
    await env.db.query('CREATE TABLE up_mixed (id bigint PRIMARY KEY, v text)');
    await env.db.query(`INSERT INTO up_mixed SELECT i, 'old' || i FROM generate_series(-4, 60, 2) i`);
    const big = (d: number) => (9007199254740992n + BigInt(d)).toString();
    const ids = [
      ...range(-9, 0), // sub-batch 0: rising through zero
      ...[11, 12, 13, 14, 15, 15, 16, 17, 18, 19], // 1: 15 twice, the later wins
      ...range(21, 30).reverse(), // 2: falling inside, all above sub-batch 1
      ...range(31, 40), // 3: rising
      ...[big(1), big(3), big(2), big(4), big(6), big(5), big(7), big(9), big(8), big(10)], // 4: 2^53 + d, not rising
      ...[big(11), big(12), big(13), big(14), big(15), big(16), big(17), big(18), big(19), big(20)], // 5: rising
    ];
    const f = await keyed('mixed.csv', 'x', ids);
    const r = ok(await env.load('up_mixed', [f], { batchSize: 10, internalConcurrency: 2 }));
    expect([r.mergedAsLanded, r.mergedBy, r.subBatches]).toEqual([true, 'MERGE', 6]);
    // 59 distinct keys: -4, -2, 0, 12, 14, 16, 18, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40 were there (17 updated)
    expect(await counts(f)).toEqual([60, 42, 17, 1]);
    const v = await env.rows<{ id: string; v: string }>(
      `SELECT id::text, v FROM up_mixed WHERE id IN (-9, 0, 15, 21, 30, 40, 42, ${big(2)}, ${big(3)}, ${big(20)}) ORDER BY id`,
    );
    expect(v.map((x) => `${x.id}=${x.v}`)).toEqual([
      '-9=x-9.0',
      '0=x0.9',
      '15=x15.15',
      '21=x21.29',
      '30=x30.20',
      '40=x40.39',
      '42=old42',
      `${big(2)}=x${big(2)}.42`,
      `${big(3)}=x${big(3)}.41`,
      `${big(20)}=x${big(20)}.59`,
    ]);
    expect(await env.num('SELECT count(*) FROM up_mixed')).toBe(33 + 42);
    expect(await stagingLeft()).toBe(0);
  });

  it('paces the COPYs to the merge: a sub-batch starts at most --internal-concurrency past the one merging', async () => {
    // a slow merge (a statement trigger: INSERT ... ON CONFLICT then) that notes the staging tables made so far
    await env.db.query(`CREATE TABLE up_paced (id int PRIMARY KEY, v text);
      CREATE TABLE up_paced_seen (n serial, tables int);
      CREATE FUNCTION up_paced_f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        INSERT INTO up_paced_seen (tables) SELECT count(*) FROM pg_tables WHERE tablename LIKE 'loader_stg%';
        PERFORM pg_sleep(0.1); RETURN NULL; END $$;
      CREATE TRIGGER up_paced_t BEFORE INSERT ON up_paced FOR EACH STATEMENT EXECUTE FUNCTION up_paced_f()`);
    const f = await keyed('paced.csv', 'p', range(1, 120));
    const r = ok(await env.load('up_paced', [f], { batchSize: 10, internalConcurrency: 2 }));
    expect([r.mergedAsLanded, r.mergedBy, r.subBatches]).toEqual([true, 'INSERT', 12]);
    expect(await counts(f)).toEqual([120, 120, 0, 0]);
    // merging sub-batch k: staging and the tables of sub-batches 0 to k + 2 at most (unpaced, all 12 were there
    // by the second merge: a COPY of 10 rows takes milliseconds)
    const seen = (await env.rows<{ tables: number }>('SELECT tables FROM up_paced_seen ORDER BY n')).map(
      (x) => x.tables,
    );
    expect(seen).toHaveLength(12);
    seen.forEach((tables, k) => expect(tables, `merging sub-batch ${k}`).toBeLessThanOrEqual(k + 4));
    expect(seen[11]).toBe(13);
  });

  it('falls back to the one merge when a sub-batch starts at the key the one before ended with', async () => {
    await env.db.query('CREATE TABLE up_edge (id bigint PRIMARY KEY, v text)');
    await env.db.query(`INSERT INTO up_edge SELECT i, 'old' || i FROM generate_series(1, 30, 5) i`);
    const f = await keyed('edge.csv', 'e', [...range(1, 10), ...range(10, 19), ...range(20, 29)]);
    const r = ok(await env.load('up_edge', [f], { batchSize: 10, internalConcurrency: 2 }));
    expect(r.mergedAsLanded).toBeUndefined();
    expect(await counts(f)).toEqual([30, 23, 6, 1]);
    const v = await env.rows<{ v: string }>('SELECT v FROM up_edge WHERE id IN (9, 10, 11) ORDER BY id');
    expect(v.map((x) => x.v)).toEqual(['e9.8', 'e10.10', 'e11.11']);
  });

  it('merges the sub-batches past those with tables of their own from staging itself, the same way', async () => {
    await env.db.query('CREATE TABLE up_many (id bigint PRIMARY KEY, v text)');
    await env.db.query(`INSERT INTO up_many SELECT i, 'old' || i FROM generate_series(0, 1200, 3) i`);
    // 1..1000 in 101 sub-batches of 10 (BATCH_TABLES is 32), 805 twice in a row (sub-batch 80)
    const f = await keyed('many.csv', 'm', [...range(1, 805), 805, ...range(806, 1000)]);
    const r = ok(await env.load('up_many', [f], { batchSize: 10, internalConcurrency: 2 }));
    expect([r.mergedAsLanded, r.mergedBy, r.subBatches]).toEqual([true, 'MERGE', 101]);
    expect(await counts(f)).toEqual([1001, 667, 333, 1]);
    const v = await env.rows<{ v: string }>(
      'SELECT v FROM up_many WHERE id IN (3, 640, 805, 1000, 1200) ORDER BY id',
    );
    expect(v.map((x) => x.v)).toEqual(['m3.2', 'm640.639', 'm805.805', 'm1000.1000', 'old1200']);
    expect(await stagingLeft()).toBe(0);
    // a key back in a sub-batch past them: the one merge, the same result
    await env.db.query('TRUNCATE up_many');
    const g = await keyed('many-back.csv', 'n', [...range(1, 900), 7, 650, ...range(901, 1000)]);
    const back = ok(await env.load('up_many', [g], { batchSize: 10, internalConcurrency: 2 }));
    expect(back.mergedAsLanded).toBeUndefined();
    expect(await counts(g)).toEqual([1002, 1000, 0, 2]);
    const w = await env.rows<{ v: string }>('SELECT v FROM up_many WHERE id IN (7, 650, 651) ORDER BY id');
    expect(w.map((x) => x.v)).toEqual(['n7.900', 'n650.901', 'n651.650']);
    expect(await stagingLeft()).toBe(0);
  });

  it('falls back to the one merge when a key comes back in a later sub-batch, with the same result', async () => {
    await env.db.query('CREATE TABLE up_back (id bigint PRIMARY KEY, v text)');
    await env.db.query(`INSERT INTO up_back SELECT i, 'old' || i FROM generate_series(1, 100, 3) i`);
    // 1..100 rising, then 5 and 60 again: the later occurrence wins
    const f = await keyed('back.csv', 'b', [...range(1, 100), 5, 60]);
    const r = ok(await env.load('up_back', [f], { batchSize: 10, internalConcurrency: 2 }));
    expect(r.mergedAsLanded).toBeUndefined();
    expect(await counts(f)).toEqual([102, 66, 34, 2]);
    expect(
      (await env.rows<{ v: string }>('SELECT v FROM up_back WHERE id IN (5, 60, 61) ORDER BY id')).map(
        (x) => x.v,
      ),
    ).toEqual(['b5.100', 'b60.101', 'b61.60']);
    expect(await env.num('SELECT count(*) FROM up_back')).toBe(100);
  });

  it('falls back for a key falling through the file and for text keys out of order', async () => {
    await env.db.query('CREATE TABLE up_fall (id bigint PRIMARY KEY, v text)');
    const f = await keyed('fall.csv', 'f', range(1, 50).reverse());
    const r = ok(await env.load('up_fall', [f], { batchSize: 7 }));
    expect(r.mergedAsLanded).toBeUndefined();
    expect(await counts(f)).toEqual([50, 50, 0, 0]);
    // text keys: rising as the server compares them ('k10' < 'k9'), so the order check is the server's
    await env.db.query('CREATE TABLE up_text (id text PRIMARY KEY, v text)');
    const rising = range(100, 199).map((i) => `k${i}`);
    const t1 = await keyed('text_rise.csv', 't', rising);
    expect(ok(await env.load('up_text', [t1], { batchSize: 9 })).mergedAsLanded).toBe(true);
    const t2 = await keyed('text_mixed.csv', 'u', [...rising.slice(50), 'k2', ...rising.slice(0, 50)]);
    const r2 = ok(await env.load('up_text', [t2], { batchSize: 9 }));
    expect(r2.mergedAsLanded).toBeUndefined();
    expect(await counts(t2)).toEqual([101, 1, 100, 0]);
    expect(await env.num(`SELECT count(*) FROM up_text WHERE v LIKE 'u%'`)).toBe(101);
  });

  it('merges insert-only and staged appends as they land', async () => {
    await env.db.query('CREATE TABLE ins_only (id int PRIMARY KEY, v text)');
    await env.db.query(`INSERT INTO ins_only VALUES (5, 'keep'), (70, 'keep')`);
    const f = await keyed('ins.csv', 'i', range(1, 80));
    const r = ok(await env.load('ins_only', [f], { batchSize: 8, mode: 'insert-only' }));
    expect([r.mergedAsLanded, r.mergedBy]).toEqual([true, 'INSERT']);
    expect(await counts(f)).toEqual([80, 78, 0, 2]);
    expect(await env.num(`SELECT count(*) FROM ins_only WHERE v = 'keep'`)).toBe(2);
    await env.db.query('CREATE TABLE app_staged (id int, v text)');
    const a = await keyed('app.csv', 'a', [3, 1, 2, ...range(10, 60), 1]);
    const ra = ok(await env.load('app_staged', [a], { batchSize: 6, direct: false }));
    expect(ra.mergedAsLanded).toBe(true);
    expect(await counts(a)).toEqual([55, 55, 0, 0]);
    expect(await env.num('SELECT count(*) FROM app_staged WHERE id = 1')).toBe(2);
  });

  it('upserts by MERGE only where it gives what ON CONFLICT gives: not with triggers or a key of other equality', async () => {
    // a BEFORE INSERT trigger: ON CONFLICT fires it for every row proposed, updated ones too; MERGE would not
    await env.db.query(`CREATE TABLE up_trig (id bigint PRIMARY KEY, v text);
      CREATE TABLE up_trig_seen (n int);
      CREATE FUNCTION up_trig_f() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN INSERT INTO up_trig_seen VALUES (1); RETURN NEW; END $$;
      CREATE TRIGGER up_trig_t BEFORE INSERT ON up_trig FOR EACH ROW EXECUTE FUNCTION up_trig_f();
      INSERT INTO up_trig SELECT i, 'old' FROM generate_series(1, 60, 2) i;
      TRUNCATE up_trig_seen`);
    const f = await keyed('trig.csv', 'g', range(1, 60));
    const r = ok(await env.load('up_trig', [f], { batchSize: 7, internalConcurrency: 2 }));
    expect([r.mergedAsLanded, r.mergedBy]).toEqual([true, 'INSERT']);
    expect(await counts(f)).toEqual([60, 30, 30, 0]);
    expect(await env.num('SELECT count(*) FROM up_trig_seen')).toBe(60);
    // the only unique index on the key compares by text_pattern_ops, not the column's =: ON CONFLICT
    await env.db.query(`CREATE TABLE up_ops (id text NOT NULL, v text);
      CREATE UNIQUE INDEX ON up_ops (id text_pattern_ops);
      INSERT INTO up_ops SELECT 'k' || i, 'old' FROM generate_series(100, 160, 3) i`);
    const g = await keyed(
      'ops.csv',
      'o',
      range(100, 160).map((i) => `k${i}`),
    );
    const o = ok(await env.load('up_ops', [g], { batchSize: 7, key: ['id'], mode: 'upsert' }));
    expect([o.mergedAsLanded, o.mergedBy]).toEqual([true, 'INSERT']);
    expect(await counts(g)).toEqual([61, 40, 21, 0]);
    // the same with the default operator class: MERGE, the same counts and rows
    await env.db.query(`CREATE TABLE up_plain (id text NOT NULL, v text);
      CREATE UNIQUE INDEX ON up_plain (id);
      INSERT INTO up_plain SELECT 'k' || i, 'old' FROM generate_series(100, 160, 3) i`);
    const h = await keyed(
      'plain.csv',
      'o',
      range(100, 160).map((i) => `k${i}`),
    );
    const p = ok(await env.load('up_plain', [h], { batchSize: 7, key: ['id'], mode: 'upsert' }));
    expect([p.mergedAsLanded, p.mergedBy]).toEqual([true, 'MERGE']);
    expect(await counts(h)).toEqual([61, 40, 21, 0]);
    expect(await env.rows('SELECT * FROM up_plain EXCEPT SELECT * FROM up_ops')).toEqual([]);
    expect(await env.num('SELECT count(*) FROM up_plain')).toBe(61);
    // a deferrable key: ON CONFLICT refuses it as an arbiter, and MERGE is not used to get past that
    await env.db.query(`CREATE TABLE up_defer (id bigint PRIMARY KEY DEFERRABLE, v text);
      INSERT INTO up_defer VALUES (1, 'old')`);
    const d = await keyed('defer.csv', 'e', range(1, 30));
    const r2 = await env.load('up_defer', [d], { batchSize: 7, internalConcurrency: 2 });
    expect(r2.exitCode).toBe(1);
    expect(r2.files[0]?.error?.message).toMatch(/deferrable/);
    expect(await env.rows('SELECT * FROM up_defer')).toEqual([{ id: '1', v: 'old' }]);
    expect(await stagingLeft()).toBe(0);
  });

  it('upserts by MERGE into a GENERATED ALWAYS identity key (OVERRIDING SYSTEM VALUE), columns left out kept', async () => {
    await env.db.query(`CREATE TABLE up_ident (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text,
        w text DEFAULT 'dflt');
      INSERT INTO up_ident (id, v, w) OVERRIDING SYSTEM VALUE SELECT i, 'old', 'kept' FROM generate_series(1, 40, 4) i`);
    const f = await keyed('ident.csv', 'd', range(1, 40));
    const r = ok(await env.load('up_ident', [f], { batchSize: 6, internalConcurrency: 2 }));
    expect([r.mergedAsLanded, r.mergedBy]).toEqual([true, 'MERGE']);
    expect(await counts(f)).toEqual([40, 30, 10, 0]);
    expect(await env.rows('SELECT id, v, w FROM up_ident WHERE id IN (1, 2, 40) ORDER BY id')).toEqual([
      { id: '1', v: 'd1.0', w: 'kept' },
      { id: '2', v: 'd2.1', w: 'dflt' },
      { id: '40', v: 'd40.39', w: 'dflt' },
    ]);
  });

  it('two loaders upserting overlapping keys at once both load, every key once, whichever statement merged', async () => {
    // A MERGE meeting a key the other inserted meanwhile fails on the unique index: its file then goes by the one
    // merge (INSERT ... ON CONFLICT), which updates that key instead.
    await env.db.query('CREATE TABLE up_race (id bigint PRIMARY KEY, v text)');
    const a = await keyed('race_a.csv', 'a', range(1, 300));
    const b = await keyed('race_b.csv', 'b', range(151, 450));
    const [ra, rb] = await Promise.all([
      env.load('up_race', [a], { batchSize: 10, internalConcurrency: 2 }),
      env.load('up_race', [b], { batchSize: 10, internalConcurrency: 2 }),
    ]);
    ok(ra);
    ok(rb);
    // rows are met in key order by both, so neither waits for the other in a cycle: the first to commit went by MERGE
    expect([ra, rb].map((r) => r.files[0]?.mergedBy)).toContain('MERGE');
    expect(await env.num('SELECT count(*) FROM up_race')).toBe(450);
    expect(
      await env.num(`SELECT count(*) FROM up_race WHERE v LIKE 'a%' AND id <= 300`),
    ).toBeGreaterThanOrEqual(150);
    expect(
      await env.num(`SELECT count(*) FROM up_race WHERE v LIKE 'b%' AND id >= 151`),
    ).toBeGreaterThanOrEqual(150);
    const [ca, cb] = [await counts(a), await counts(b)];
    expect(ca[1]! + cb[1]!).toBe(450); // inserted: each key once
    expect(ca[2]! + cb[2]!).toBe(150); // updated: the 150 keys both files hold, by whichever came second
    expect(await stagingLeft()).toBe(0);
  });

  it('later files win in a run of several, each merged as it lands, in sorted path order', async () => {
    await env.db.query('CREATE TABLE up_two (id int PRIMARY KEY, v text)');
    const a = await keyed('two_a.csv', 'a', range(1, 200));
    const b = await keyed('two_b.csv', 'b', range(101, 300));
    const r = await env.load('up_two', [b, a], { batchSize: 10, concurrency: 2, internalConcurrency: 2 });
    expect(r.exitCode).toBe(0);
    expect(r.files.map((x) => x.mergedAsLanded)).toEqual([true, true]);
    expect(await counts(a)).toEqual([200, 200, 0, 0]);
    expect(await counts(b)).toEqual([200, 100, 100, 0]);
    expect(await env.num(`SELECT count(*) FROM up_two WHERE v LIKE 'b%'`)).toBe(200);
    expect(await env.num('SELECT count(*) FROM up_two')).toBe(300);
  });

  it('a constraint refusing a row of a late sub-batch: abort-file leaves nothing, reject-rows sets it aside', async () => {
    await env.db.query("CREATE TABLE up_check (id int PRIMARY KEY, v text CHECK (v <> 'c77.76'))");
    await env.db.query(`INSERT INTO up_check VALUES (1, 'old')`);
    const f = await keyed('check.csv', 'c', range(1, 120));
    const r = await env.load('up_check', [f], { batchSize: 10 });
    expect(r.exitCode).toBe(1);
    expect(r.files[0]?.error?.code).toBe('DATA');
    expect(r.files[0]?.error?.line).toBe(78);
    expect(await env.rows('SELECT id, v FROM up_check')).toEqual([{ id: 1, v: 'old' }]);
    const rejectsDir = join(env.dir.path, 'rejects');
    const rr = ok(await env.load('up_check', [f], { batchSize: 10, onError: 'reject-rows', rejectsDir }));
    expect(rr.rowsRejected).toBe(1);
    expect(await readFile(join(rejectsDir, 'check.csv.rejects.csv'), 'utf8')).toBe('id,v\n77,c77.76\n');
    expect(await env.num('SELECT count(*) FROM up_check')).toBe(119);
    expect(await stagingLeft()).toBe(0);
  });

  it('a bad record in a late sub-batch fails the file with nothing merged and no staging left', async () => {
    await env.db.query('CREATE TABLE up_bad (id int PRIMARY KEY, v text)');
    const ids: (number | string)[] = range(1, 200);
    ids[150] = 'x151';
    const f = await keyed('bad.csv', 'x', ids);
    const r = await env.load('up_bad', [f], { batchSize: 10, internalConcurrency: 2 });
    expect(r.exitCode).toBe(1);
    expect(r.files[0]?.error?.line).toBe(152);
    expect(await env.num('SELECT count(*) FROM up_bad')).toBe(0);
    expect(await stagingLeft()).toBe(0);
    const [a] = (await auditRows(env.db)).filter((x) => x.file_path === f);
    expect(a?.status).toBe('failed');
  });
});
