// src/parquet/filebytes.ts: the Blob parquet-wasm reads a file through. Its slices must read what a real
// file-backed Blob reads; parquet-wasm must read a file through it exactly as through openAsBlob, every row group;
// and each buffer it hands out is emptied once parquet-wasm has copied it (a buffer emptied before that copy would
// leave the reader no bytes: the comparison below would fail).
import { openAsBlob } from 'node:fs';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { ParquetFile } from 'parquet-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arrow } from '../../src/parquet/arrow.js';
import { fileBytes, type FileBytes } from '../../src/parquet/filebytes.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'loader-filebytes-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** fileBytes(path), its slices' buffers recorded as they are handed out */
function recorded(path: string): { blob: FileBytes; handed: ArrayBuffer[] } {
  const handed: ArrayBuffer[] = [];
  const wrap = (b: FileBytes): FileBytes => ({
    get size() {
      return b.size;
    },
    slice: (s, e) => wrap(b.slice(s, e)),
    // the very promise, not one that resolves later: parquet-wasm must copy on the reads' own timing
    arrayBuffer: () => {
      const p = b.arrayBuffer();
      void p.then((ab) => handed.push(ab));
      return p;
    },
  });
  return { blob: wrap(fileBytes(path)), handed };
}

describe('fileBytes', () => {
  it('slices as a file-backed Blob does, negative and out-of-range bounds included', async () => {
    const path = join(dir, 'bytes.bin');
    const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7) % 251));
    await writeFile(path, data);
    const real = await openAsBlob(path);
    const mine = fileBytes(path);
    expect(mine.size).toBe(real.size);
    const cases: [number | undefined, number | undefined][] = [
      [undefined, undefined],
      [0, 5000],
      [10, 20],
      [4990, 9999],
      [-100, undefined],
      [-100, -50],
      [300, 200],
      [-9999, 3],
      [5000, 5001],
    ];
    for (const [s, e] of cases) {
      const want = new Uint8Array(await real.slice(s, e).arrayBuffer());
      const got = new Uint8Array(await mine.slice(s, e).arrayBuffer());
      expect([s, e, Buffer.from(got).equals(Buffer.from(want))]).toEqual([s, e, true]);
      expect(mine.slice(s, e).size).toBe(real.slice(s, e).size);
    }
    // fractions truncate (the Blob spec's ToIntegerOrInfinity; Node's file Blob aborts the process on them)
    expect(Buffer.from(await mine.slice(1.7, 9.2).arrayBuffer()).equals(data.subarray(1, 9))).toBe(true);
    // a slice of a slice
    const inner = new Uint8Array(await mine.slice(100, 900).slice(50, -50).arrayBuffer());
    expect(Buffer.from(inner).equals(data.subarray(150, 850))).toBe(true);
  });

  it('fails a read when the file changed size since it was opened', async () => {
    const path = join(dir, 'grows.bin');
    await writeFile(path, Buffer.alloc(1000, 1));
    const blob = fileBytes(path);
    await appendFile(path, Buffer.alloc(10, 2));
    await expect(blob.slice(0, 100).arrayBuffer()).rejects.toThrow(/changed size while being read/);
  });

  it('gives parquet-wasm every row group as openAsBlob does, each buffer emptied after its copy', async () => {
    const path = join(dir, 'groups.parquet');
    const duck = await DuckDBInstance.create(':memory:');
    const conn = await duck.connect();
    try {
      await conn.run(
        `COPY (SELECT range AS id, 'row ' || range || repeat('x', (range % 50)::INTEGER) AS label, range / 3.0 AS v
         FROM range(20000)) TO '${path}' (FORMAT parquet, ROW_GROUP_SIZE 4096)`,
      );
    } finally {
      conn.closeSync();
      duck.closeSync();
    }
    const rows = async (file: ParquetFile, group: number): Promise<unknown[]> => {
      const t = arrow.tableFromIPC((await file.read({ rowGroups: [group] })).intoIPCStream());
      return t
        .toArray()
        .map((r) => JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}` : v)));
    };
    const theirs = await ParquetFile.fromFile(await openAsBlob(path));
    const { blob, handed } = recorded(path);
    const mine = await ParquetFile.fromFile(blob as unknown as Blob);
    const groups = mine.metadata().numRowGroups();
    expect(groups).toBeGreaterThanOrEqual(4);
    let total = 0;
    for (let g = groups - 1; g >= 0; g--) {
      const want = await rows(theirs, g);
      const got = await rows(mine, g);
      expect(got).toEqual(want);
      total += got.length;
    }
    expect(total).toBe(20000);
    await nextTurn();
    expect(handed.length).toBeGreaterThanOrEqual(groups); // the footer's reads, then each group's
    expect(handed.map((b) => b.byteLength)).toEqual(handed.map(() => 0));
    theirs.free();
    mine.free();
  });
});
