// The run's output buffers (src/csvbin/source.ts): SharedArrayBuffers the converting workers write into and the
// main thread COPYs from, given back once their sub-batch is done; received() views a worker's result in them.
import { describe, expect, it } from 'vitest';
import { BufferPool, received } from '../../src/csvbin/source.js';
import { CsvBinaryEncoder, type CsvBinaryOptions } from '../../src/csvbin/encode.js';
import { Kind } from '../../src/csvbin/types.js';
import type { EncodeResult } from '../../workers/plan.js';

const MiB = 1 << 20;

describe('BufferPool', () => {
  it('hands out shared buffers of whole MiB, the free ones first when they are large enough', () => {
    const pool = new BufferPool(2);
    const a = pool.take(10);
    expect(a).toBeInstanceOf(SharedArrayBuffer);
    expect(a.byteLength).toBe(MiB);
    expect(pool.take(MiB + 1).byteLength).toBe(2 * MiB);
    pool.give(a);
    expect(pool.take(5 * MiB).byteLength).toBe(5 * MiB); // the free one is too small: a new one
    expect(pool.take(MiB)).toBe(a); // and it is still there for a sub-batch it fits
    expect(pool.take(MiB)).not.toBe(a); // once taken, not handed out again until given back
  });

  it('keeps at most `keep` free buffers, the largest, and never a worker own (not shared) buffer', () => {
    const pool = new BufferPool(2);
    const [one, two, three] = [1, 2, 3].map((n) => pool.take(n * MiB));
    pool.give(one!);
    pool.give(two!);
    pool.give(three!); // full: three takes the place of the smallest
    pool.give(new ArrayBuffer(8 * MiB));
    expect(pool.take(3 * MiB)).toBe(three);
    expect(pool.take(2 * MiB)).toBe(two);
    expect(pool.take(MiB)).not.toBe(one);
  });
});

describe('received', () => {
  const options: CsvBinaryOptions = {
    delimiter: 44,
    quote: 34,
    escape: 34,
    nullBytes: new Uint8Array(0),
    kinds: [Kind.Int4],
  };

  it('views the bytes a worker left in the shared buffer, and gives the buffer back when they are not in it', () => {
    const pool = new BufferPool(4);
    const into = pool.take(100);
    const out = new CsvBinaryEncoder(options).encode(Buffer.from('1\n2\n3\n'), into);
    if (!out.ok) throw new Error(out.reason);
    expect(out.data.buffer).toBe(into);
    const wire: EncodeResult = { ...out, data: new Uint8Array(0), shared: out.data.byteLength };
    const r = received(wire, into, pool);
    if (!r.ok) throw new Error('not ok');
    expect(r.data.buffer).toBe(into);
    expect(Buffer.from(r.data)).toEqual(Buffer.from(out.data));
    expect(r.shared).toBeUndefined();
    expect(pool.take(100)).not.toBe(into); // still in use: not back in the pool

    const other = pool.take(100);
    const own = { ok: true, data: new Uint8Array(8), rows: 1 } as EncodeResult; // outgrew it: its own bytes
    expect(received(own, other, pool)).toBe(own);
    expect(pool.take(100)).toBe(other); // given back at once
    const fell = { ok: false, record: 0, column: 0, reason: 'x' } as EncodeResult;
    const third = pool.take(100);
    received(fell, third, pool);
    expect(pool.take(100)).toBe(third);
  });
});
