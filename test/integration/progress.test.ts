// Progress events through the library's load(): per file they add up to the file's bytes on disk and its records,
// each file finishes once with the result load() returns, for the staging, direct, gzip and Parquet paths, for
// skipped, failed and cancelled files; a listener that throws never fails the load.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { load, type LoadOptions, type ProgressEvent } from '../../dist/src/index.js';
import { csv, useEnv } from './support.js';

const env = useEnv('progress');

async function loadWithEvents(table: string, files: string[], opts: Partial<LoadOptions> = {}) {
  const events: ProgressEvent[] = [];
  const result = await load(
    { dsn: env.db.dsn, table, files, ...opts },
    { onProgress: (e) => events.push(structuredClone(e)) },
  );
  return { events, result };
}

/** Per file: the sums of its progress events and its one file-finished event. */
function perFile(events: ProgressEvent[]) {
  const by = new Map<
    string,
    { bytes: number; rows: number; started: number; finished: unknown[]; last?: number }
  >();
  const get = (p: string) => {
    if (!by.has(p)) by.set(p, { bytes: 0, rows: 0, started: 0, finished: [] });
    return by.get(p)!;
  };
  for (const e of events) {
    if (e.type === 'file-started') get(e.path).started++;
    if (e.type === 'file-progress') {
      const f = get(e.path);
      f.bytes += e.bytes;
      f.rows += e.rows;
      expect(e.bytesDone).toBe(f.bytes);
      expect(e.rowsDone).toBe(f.rows);
    }
    if (e.type === 'file-finished') get(e.path).finished.push(e.result);
  }
  return by;
}

const rows = (from: number, n: number) => Array.from({ length: n }, (_, i) => [from + i, `name ${from + i}`]);

describe('progress events', () => {
  it('add up to each file (staging and direct, plain and gzip) and end with the final results', async () => {
    await env.db.query('CREATE TABLE up (id int PRIMARY KEY, name text)');
    const a = await env.dir.write('a.csv', csv('id,name', rows(0, 1000)));
    const b = await env.dir.write('b.csv.gz', csv('id,name', rows(1000, 777)), { gzip: true });
    const { events, result } = await loadWithEvents('up', [a, b], { batchSize: 100, internalConcurrency: 2 });
    expect(result.exitCode).toBe(0);
    expect(await env.num('SELECT count(*) FROM up')).toBe(1777);

    const start = events[0]!;
    expect(start).toMatchObject({ type: 'run-started', mode: 'upsert', files: 2 });
    const sizes = [(await stat(a)).size, (await stat(b)).size];
    expect(start.type === 'run-started' && start.bytes).toBe(sizes[0]! + sizes[1]!);

    const by = perFile(events);
    for (const [i, path] of [a, b].entries()) {
      const f = by.get(path)!;
      const r = result.files.find((x) => x.path === path)!;
      expect(f.started).toBe(1);
      expect(f.bytes).toBe(sizes[i]);
      expect(f.bytes).toBe(r.bytes);
      expect(f.rows).toBe(r.rowsRead);
      expect(f.finished).toEqual([r]);
    }
    expect(by.get(a)!.rows).toBe(1000);
    expect(events.filter((e) => e.type === 'file-progress' && e.path === a)).toHaveLength(10);
    expect(events.at(-1)!.type).toBe('file-finished');

    // append with --direct: one transaction, the sub-batches one after another
    await env.db.query('CREATE TABLE ap (id int, name text)');
    const d = await loadWithEvents('ap', [a], { batchSize: 300, direct: true });
    expect(d.result.files[0]!.status).toBe('succeeded');
    const fd = perFile(d.events).get(a)!;
    expect(fd.bytes).toBe(sizes[0]);
    expect(fd.rows).toBe(1000);
    expect(d.events.filter((e) => e.type === 'file-progress')).toHaveLength(4);
  });

  it('adds up for Parquet (by row group share) and replace (finished after the run transaction)', async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const duck = await instance.connect();
    const p = join(env.dir.path, 'p.parquet');
    await duck.run(
      `COPY (SELECT i::INT AS id, 'v' || i AS name FROM range(5000) t(i)) TO '${p}' (FORMAT parquet, ROW_GROUP_SIZE 1000)`,
    );
    duck.closeSync();
    instance.closeSync();
    await env.db.query('CREATE TABLE pq (id int PRIMARY KEY, name text)');
    const { events, result } = await loadWithEvents('pq', [p], { mode: 'replace' });
    expect(result.exitCode).toBe(0);
    const f = perFile(events).get(p)!;
    expect(f.bytes).toBe((await stat(p)).size);
    expect(f.rows).toBe(5000);
    expect(f.finished).toEqual([result.files[0]]);
    expect(result.files[0]!.rowsInserted).toBe(5000);
  });

  it('finishes skipped and failed files once, without progress, and survives a listener that throws', async () => {
    await env.db.query('CREATE TABLE sk (id int, name text)');
    const ok = await env.dir.write('sk/ok.csv', csv('id,name', rows(0, 10)));
    const bad = await env.dir.write('sk/bad.csv', 'id,name\n1,x\nnope,y\n');
    await loadWithEvents('sk', [ok]);
    const { events, result } = await loadWithEvents('sk', [ok, bad]);
    expect(result.files.map((r) => r.status)).toEqual(['failed', 'skipped']); // sorted: bad.csv, ok.csv
    const by = perFile(events);
    expect(by.get(ok)!.finished).toEqual([result.files[1]]);
    expect(by.get(ok)!.bytes).toBe(0);
    expect(by.get(bad)!.finished).toEqual([result.files[0]]);

    let calls = 0;
    const r = await load(
      { dsn: env.db.dsn, table: 'sk', files: [ok], force: true },
      {
        onProgress: () => {
          calls++;
          throw new Error('listener bug');
        },
      },
    );
    expect(r.exitCode).toBe(0);
    expect(r.files[0]!.status).toBe('succeeded');
    expect(calls).toBe(1);
    expect(await env.num('SELECT count(*) FROM sk')).toBe(20);
  });

  it('finishes every file as cancelled under an aborted signal', async () => {
    await env.db.query('CREATE TABLE ca (id int, name text)');
    const x = await env.dir.write('ca/x.csv', csv('id,name', rows(0, 10)));
    const y = await env.dir.write('ca/y.csv', csv('id,name', rows(10, 10)));
    const abort = new AbortController();
    abort.abort(new Error('stop'));
    const { events, result } = await loadWithEvents('ca', [x, y], { signal: abort.signal });
    expect(result.exitCode).toBe(130);
    const finished = events.filter((e) => e.type === 'file-finished');
    expect(finished.map((e) => e.type === 'file-finished' && e.result.status)).toEqual([
      'cancelled',
      'cancelled',
    ]);
    expect(await env.num('SELECT count(*) FROM ca')).toBe(0);
  });
});
