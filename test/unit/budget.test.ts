// --memory-limit: the byte budget that admits Parquet row groups (FIFO, a group larger than the limit alone,
// cancellable), the size parser, and the option's validation.
import { describe, expect, it } from 'vitest';
import { ByteBudget, parseSize } from '../../src/budget.js';
import { resolveConfig } from '../../src/config.js';
import { LoaderError } from '../../src/errors.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('ByteBudget', () => {
  it('admits up to the limit, then waits for releases, first come first served', async () => {
    const b = new ByteBudget(100);
    const r1 = await b.acquire(60);
    const r2 = await b.acquire(40);
    const order: string[] = [];
    const p3 = b.acquire(50).then((r) => (order.push('50'), r));
    const p4 = b.acquire(10).then((r) => (order.push('10'), r)); // fits now, but queued behind the 50
    await tick();
    expect([order, b.bytesInFlight]).toEqual([[], 100]);
    r1();
    r1(); // idempotent
    const r3 = await p3;
    const r4 = await p4;
    expect([order, b.bytesInFlight, b.peak]).toEqual([['50', '10'], 100, 100]);
    r2();
    r3();
    r4();
    expect(b.bytesInFlight).toBe(0);
  });

  it('admits something larger than the whole limit alone, when nothing else is in flight', async () => {
    const b = new ByteBudget(100);
    const small = await b.acquire(30);
    let big = false;
    const p = b.acquire(500).then((r) => ((big = true), r));
    await tick();
    expect(big).toBe(false);
    small();
    const rBig = await p;
    expect([big, b.bytesInFlight]).toEqual([true, 500]);
    let after = false;
    const q = b.acquire(1).then((r) => ((after = true), r));
    await tick();
    expect(after).toBe(false); // nothing joins the oversized one
    rBig();
    (await q)();
  });

  it('gives up waiting when the signal aborts, and lets those behind it in', async () => {
    const b = new ByteBudget(100);
    const r1 = await b.acquire(90);
    const ac = new AbortController();
    const waiting = b.acquire(50, ac.signal);
    const behind = b.acquire(10);
    ac.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    (await behind)();
    r1();
    expect(b.bytesInFlight).toBe(0);
  });

  it('tryAcquire: takes bytes only when they fit now with nobody waiting, and never alone past the limit', async () => {
    const b = new ByteBudget(100);
    const r1 = b.tryAcquire(60);
    expect([r1 !== undefined, b.bytesInFlight]).toEqual([true, 60]);
    expect(b.tryAcquire(50)).toBeUndefined(); // does not fit
    const waiting = b.acquire(50);
    expect(b.tryAcquire(10)).toBeUndefined(); // fits, but someone waits
    r1!();
    (await waiting)();
    expect(b.tryAcquire(500)).toBeUndefined(); // larger than the limit: only acquire() admits it alone
    b.tryAcquire(100)!();
    expect(b.bytesInFlight).toBe(0);
  });
});

describe('--memory-limit', () => {
  it('reads sizes in binary units', () => {
    expect([
      parseSize('512MB'),
      parseSize('2GB'),
      parseSize('1.5 GiB'),
      parseSize('64k'),
      parseSize('1000'),
    ]).toEqual([512 * 2 ** 20, 2 * 2 ** 30, 1.5 * 2 ** 30, 64 * 1024, 1000]);
    expect([parseSize('lots'), parseSize('-1GB'), parseSize('5 XB'), parseSize('')]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('defaults to 1GB and names the option when it is not a size', () => {
    const opts = { table: 't', files: ['a.parquet'] };
    expect(resolveConfig(opts, {}).memoryLimitBytes).toBe(2 ** 30);
    expect(resolveConfig({ ...opts, memoryLimit: '256MB' }, {}).memoryLimitBytes).toBe(256 * 2 ** 20);
    expect(resolveConfig({ ...opts, memoryLimit: 4096 }, {}).memoryLimitBytes).toBe(4096);
    for (const bad of ['lots', '0', 0, -5, 1.5]) {
      let err: unknown;
      try {
        resolveConfig({ ...opts, memoryLimit: bad }, {});
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(LoaderError);
      expect([(err as LoaderError).code, (err as LoaderError).message]).toEqual([
        'USAGE',
        expect.stringContaining('--memory-limit'),
      ]);
    }
  });
});
