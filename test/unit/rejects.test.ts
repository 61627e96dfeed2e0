import { describe, expect, it } from 'vitest';
import { Rejects, parseMaxRejects } from '../../src/reject.js';

describe('Rejects', () => {
  it("shows the target's name for the staging table's and its sub-batches' tables in server messages", () => {
    const r = new Rejects('f.csv', parseMaxRejects('100'), 10, {
      actual: 'loader_stg_0123456789ab_3',
      shown: 'orders',
    });
    const add = (batch: number, message: string): void =>
      r.add({ batch, record: 0, line: batch + 2, offset: 0, raw: Buffer.alloc(0), message });
    add(0, 'null value in column "qty" of relation "loader_stg_0123456789ab_3" violates not-null constraint');
    add(
      1,
      'null value in column "qty" of relation "loader_stg_0123456789ab_3_12" violates not-null constraint',
    );
    add(2, 'relation "loader_stg_0123456789ab_30" is another file\'s');
    expect(r.list().map((x) => x.message)).toEqual([
      'null value in column "qty" of relation "orders" violates not-null constraint',
      'null value in column "qty" of relation "orders" violates not-null constraint',
      'relation "loader_stg_0123456789ab_30" is another file\'s',
    ]);
  });
});
