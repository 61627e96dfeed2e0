// The record scan runs alongside the COPYs (src/feed.ts): sub-batches are handed out as the scan cuts them, before
// it has reached the end of the file. A CSV error found only late in the file (an unterminated quote in its last
// record) must still fail the file with nothing of it in the target, on the direct path (one transaction) and on
// the staging path (sub-batches already in staging), for plain and gzip files; a header longer than the detection
// sample is still found.
import { gzipSync } from 'node:zlib';
import { Piscina } from 'piscina';
import { afterAll, describe, expect, it } from 'vitest';
import { BatchFeed } from '../../src/feed.js';
import { auditRows, ROOT } from '../helpers.js';
import { useEnv } from './support.js';

const env = useEnv('streaming');

/** `id,note` rows, every 50th note on two lines; the last record opens a quote it never closes. Returns the body
 * and the line the broken record starts on. */
function lateUnterminated(n: number): { body: string; line: number } {
  const parts = ['id,note\n'];
  let line = 2;
  for (let i = 0; i < n; i++) {
    const multi = i % 50 === 0;
    parts.push(`${i},${multi ? `"note ${i}\nmore"` : `note ${i}`}\n`);
    line += multi ? 2 : 1;
  }
  parts.push(`${n},"never closed\n${'x'.repeat(100)}\n`);
  return { body: parts.join(''), line };
}

describe('a CSV error found late in the file', () => {
  for (const [name, opts] of [
    ['direct (one transaction)', { internalConcurrency: 1 }],
    ['staging (parallel sub-batches)', { internalConcurrency: 2, direct: false }],
  ] as const) {
    for (const gzip of [false, true]) {
      it(`fails the file with nothing landed: ${name}${gzip ? ', gzip' : ''}`, async () => {
        const table = `late_${opts.internalConcurrency}_${gzip ? 'gz' : 'plain'}`;
        await env.db.query(`CREATE TABLE ${table} (id int, note text)`);
        const { body, line } = lateUnterminated(30_000);
        const f = gzip
          ? await env.dir.write(`${table}.csv.gz`, gzipSync(body))
          : await env.dir.write(`${table}.csv`, body);
        const r = await env.load(table, [f], { batchSize: 1000, ...opts });
        expect(r.exitCode).toBe(1);
        expect(r.files[0]?.status).toBe('failed');
        expect(r.files[0]?.error?.code).toBe('CSV');
        expect(r.files[0]?.error?.line).toBe(line);
        expect(await env.num(`SELECT count(*) FROM ${table}`)).toBe(0);
        const [a] = (await auditRows(env.db)).filter((x) => x.file_path === f);
        expect([a?.status, a?.error_code, a?.rows_inserted]).toEqual(['failed', 'CSV', '0']);
        expect(a?.file_sha256).toMatch(/^[0-9a-f]{64}$/);
        expect(await env.num(`SELECT count(*) FROM pg_class WHERE relname LIKE 'loader_stg_%'`)).toBe(0);
      });
    }
  }
});

describe('the scan feed', () => {
  const pool = new Piscina({ filename: `${ROOT}/dist/workers/plan.js`, maxThreads: 1 });
  afterAll(() => pool.destroy());

  it('hands out the sub-batches cut before a late error, then throws it', async () => {
    const { body, line } = lateUnterminated(5_000);
    const f = await env.dir.write('feed.csv', body);
    const task = { path: f, gzip: false, quote: 34, escape: 34, batchSize: 1000, header: true, skipBytes: 0 };
    const feed = BatchFeed.scan(pool, task, f, (batch) => ({ batch }) as never, {
      signal: new AbortController().signal,
      singleBatch: false,
    });
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const s of feed.from(0)) seen.push(s.batch.records);
      })(),
    ).rejects.toMatchObject({ code: 'CSV', context: { line } });
    expect(seen).toEqual([1000, 1000, 1000, 1000, 1000]);
    await expect(feed.end()).rejects.toMatchObject({ code: 'CSV' });
  });

  it('shares one stream between lanes: each sub-batch once, in order, then the totals', async () => {
    const rows = Array.from({ length: 4_500 }, (_, i) => `${i},n${i}\n`).join('');
    const f = await env.dir.write('feed-ok.csv', `id,note\n${rows}`);
    const task = { path: f, gzip: false, quote: 34, escape: 34, batchSize: 1000, header: true, skipBytes: 0 };
    const feed = BatchFeed.scan(pool, task, f, (batch) => ({ batch }) as never, {
      signal: new AbortController().signal,
      singleBatch: false,
    });
    const it = feed.from(0);
    const got: number[] = [];
    await Promise.all(
      [0, 1, 2].map(async () => {
        for (let r = await it.next(); !r.done; r = await it.next()) got.push(r.value.batch.index);
      }),
    );
    expect(got.sort()).toEqual([0, 1, 2, 3, 4]);
    expect(await feed.end()).toMatchObject({ records: 4_500 });
    expect(feed.sources.map((s) => s.batch.records)).toEqual([1000, 1000, 1000, 1000, 500]);
  });
});

describe('a header longer than the detection sample', () => {
  // plain: no whole record in the sample, so no size guess: hashed and scanned in one task (3 sub-batches);
  // gzip: hashed first, the header read on past the sample, the sub-batches scanned alongside the COPYs.
  for (const gzip of [false, true]) {
    it(`is read past the sample and its columns mapped${gzip ? ' (gzip)' : ''}`, async () => {
      const table = `long_header_${gzip ? 'gz' : 'plain'}`;
      await env.db.query(`CREATE TABLE ${table} (id int, note text)`);
      const extra = `"${'h'.repeat(100_000)}"`;
      const rows = Array.from({ length: 3_000 }, (_, i) => `${i},note ${i},x\n`).join('');
      const body = `id,note,${extra}\n${rows}`;
      const f = gzip
        ? await env.dir.write(`${table}.csv.gz`, gzipSync(body))
        : await env.dir.write(`${table}.csv`, body);
      const r = await env.load(table, [f], { batchSize: 1000, ignoreExtraColumns: true });
      expect(r.exitCode).toBe(0);
      expect(r.files[0]?.subBatches).toBe(3);
      expect(await env.num(`SELECT count(*) FROM ${table}`)).toBe(3_000);
      expect(await env.rows(`SELECT note FROM ${table} WHERE id = 2999`)).toEqual([{ note: 'note 2999' }]);
    });
  }
});
