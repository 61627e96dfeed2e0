// One row group's decode for all its sub-batches, main thread: a worker reads the group once and returns one COPY
// buffer per slice (--batch-size rows each). Reading a slice alone decompressed and decoded the whole group again
// in parquet-wasm: the bench's groups of 122,880 rows cut in 3 slices cost about 2x one read, and 1.2 s of the
// 4.5 s of CPU the decode of its 1,000,000 rows took. The group holds its share of --memory-limit (the footer's
// uncompressed size) from its decode until its last slice is released.
import type { DecodeResult, DecodeTask, EncodeReject } from '../../workers/parquet.js';
import type { Release } from '../budget.js';
import { LoaderError } from '../errors.js';
import type { ParquetPool } from './pool.js';

export type Decoded = Extract<DecodeResult, { ok: true }>;

/** A slice's bytes and the rows the encoder left out of it (reject-rows), 0-based in the slice. */
export interface SliceBytes {
  buf: Buffer;
  rejected: EncodeReject[];
}

export interface GroupContext {
  pool: ParquetPool;
  signal: AbortSignal;
  path: string;
  /** after each decode: the worker's clock, thread and memory */
  record: (r: Decoded) => void;
  /** bytes of the budget taken (+) or given back (-) */
  hold: (delta: number) => void;
}

export class GroupDecode {
  private readonly parts: (SliceBytes | undefined)[];
  /** a slice released since it was last asked for: a decode does not keep its bytes */
  private readonly released: boolean[];
  private giveBack: Release | undefined;
  private loading: Promise<SliceBytes[]> | undefined;

  constructor(
    private readonly ctx: GroupContext,
    /** the whole group: rows [offset, offset + limit), cut every `task.cut` rows */
    private readonly task: DecodeTask,
    /** the group's rows per slice, in order */
    private readonly sliceRows: number[],
    private readonly bytes: number,
  ) {
    this.parts = sliceRows.map(() => undefined);
    this.released = sliceRows.map(() => false);
  }

  /** Slice k's bytes: held ones, or a decode of the group (one however many slices ask, under the budget). */
  async get(k: number): Promise<SliceBytes> {
    this.released[k] = false;
    const held = this.parts[k];
    if (held) return held;
    const all = await (this.loading ??= this.run().finally(() => (this.loading = undefined)));
    return all[k]!;
  }

  /** Starts the group's decode ahead of need when the budget has room now (never waits for it). */
  warm(): void {
    if (this.loading || this.giveBack || this.ctx.signal.aborted) return;
    if (this.released.every((r) => r)) return; // all COPYed already
    const granted = this.ctx.pool.budget.tryAcquire(this.bytes);
    if (!granted) return;
    this.take(granted);
    // A failure is get()'s to report: the slice's turn decodes again (and fails again).
    this.loading = this.run().finally(() => (this.loading = undefined));
    this.loading.catch(() => {});
  }

  /** Slice k is COPYed (or the file failed): its bytes go, and the budget once no slice holds any. */
  release(k: number): void {
    this.released[k] = true;
    this.parts[k] = undefined;
    this.settle();
  }

  private take(r: Release): void {
    this.giveBack = r;
    this.ctx.hold(this.bytes);
  }

  /** gives the budget back when no slice holds bytes and no decode (other than the one ending: `ending`) runs */
  private settle(ending = false): void {
    if (!this.giveBack || (this.loading && !ending) || this.parts.some((p) => p)) return;
    this.giveBack();
    this.giveBack = undefined;
    this.ctx.hold(-this.bytes);
  }

  private async run(): Promise<SliceBytes[]> {
    const { pool, signal } = this.ctx;
    if (!this.giveBack) this.take(await pool.budget.acquire(this.bytes, signal));
    try {
      const all = await this.decode();
      all.forEach((p, k) => {
        if (!this.released[k] && !this.parts[k]) this.parts[k] = p; // a released slice's bytes are not kept
      });
      return all;
    } finally {
      this.settle(true);
    }
  }

  private async decode(): Promise<SliceBytes[]> {
    const { pool, signal, path } = this.ctx;
    const task = this.task;
    let r: DecodeResult;
    try {
      r = (await pool.run(task, { signal })) as DecodeResult;
    } catch (err) {
      // parquet-wasm panics inside its async reader escape the worker's try/catch and end the thread (Piscina
      // replaces it): a corrupt page. The file fails alone; a cancellation stays a cancellation.
      if (signal.aborted) throw err;
      throw new LoaderError(
        'READ',
        `row group ${task.rowGroup}: the Parquet reader failed (corrupt data?): ${(err as Error).message}`,
        { file: path },
        { cause: err },
      );
    }
    if (!r.ok) throw new LoaderError(r.code, r.message, { file: path, line: r.row, column: r.column });
    this.ctx.record(r);
    if (r.data.length !== this.sliceRows.length) {
      throw new LoaderError(
        'INTERNAL',
        `row group ${task.rowGroup}: ${r.data.length} slices decoded, ${this.sliceRows.length} expected`,
        { file: path },
      );
    }
    let first = task.firstRow;
    return r.data.map((d, k) => {
      const rows = this.sliceRows[k]!;
      const from = first;
      first += rows;
      return {
        buf: Buffer.from(d.buffer, d.byteOffset, d.byteLength),
        rejected: r.rejected
          .filter((x) => x.row >= from && x.row < from + rows)
          .map((x) => ({ ...x, row: x.row - from })),
      };
    });
  }
}
