import { describe, it, expect } from 'vitest';
import { planPool } from '../../src/db.js';

describe('planPool', () => {
  it('sizes concurrency x internal + 5 when nothing limits it', () => {
    expect(planPool(4, 2)).toEqual({ concurrency: 4, internalConcurrency: 2, poolSize: 13 });
    expect(planPool(1, 1)).toEqual({ concurrency: 1, internalConcurrency: 1, poolSize: 6 });
    expect(planPool(16, 4)).toEqual({ concurrency: 16, internalConcurrency: 4, poolSize: 69 });
  });

  it('keeps the plan when it fits the available connections, exactly or with room', () => {
    expect(planPool(4, 2, 100)).toEqual({ concurrency: 4, internalConcurrency: 2, poolSize: 13 });
    expect(planPool(4, 2, 13)).toEqual({ concurrency: 4, internalConcurrency: 2, poolSize: 13 });
  });

  it('lowers file concurrency first', () => {
    expect(planPool(4, 2, 12)).toEqual({ concurrency: 3, internalConcurrency: 2, poolSize: 11 });
    expect(planPool(10, 4, 30)).toEqual({ concurrency: 6, internalConcurrency: 4, poolSize: 29 });
    expect(planPool(4, 2, 7)).toEqual({ concurrency: 1, internalConcurrency: 2, poolSize: 7 });
  });

  it('then lowers internal concurrency once one file at a time is not enough', () => {
    expect(planPool(4, 2, 6)).toEqual({ concurrency: 1, internalConcurrency: 1, poolSize: 6 });
    expect(planPool(2, 8, 9)).toEqual({ concurrency: 1, internalConcurrency: 4, poolSize: 9 });
  });

  it('never goes below one file, one COPY and a pool of two', () => {
    expect(planPool(4, 2, 3)).toEqual({ concurrency: 1, internalConcurrency: 1, poolSize: 3 });
    expect(planPool(4, 2, 1)).toEqual({ concurrency: 1, internalConcurrency: 1, poolSize: 2 });
  });

  it('the pool never exceeds what is available (above the floor of two)', () => {
    for (let avail = 2; avail <= 40; avail++) {
      for (const [c, i] of [
        [1, 1],
        [4, 2],
        [8, 3],
        [3, 8],
      ] as const) {
        const p = planPool(c, i, avail);
        expect(p.poolSize).toBeLessThanOrEqual(avail);
        expect(p.concurrency).toBeGreaterThanOrEqual(1);
        expect(p.concurrency).toBeLessThanOrEqual(c);
        expect(p.internalConcurrency).toBeGreaterThanOrEqual(1);
        expect(p.internalConcurrency).toBeLessThanOrEqual(i);
        if (avail >= 6) expect(p.concurrency * p.internalConcurrency + 5).toBeLessThanOrEqual(avail);
        if (p.internalConcurrency < i) expect(p.concurrency).toBe(1);
      }
    }
  });
});
