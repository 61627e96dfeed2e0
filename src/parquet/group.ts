// One row group's decode for all its sub-batches, main thread: a worker reads the group once and posts one COPY
// buffer per slice (--batch-size rows each) as soon as it is encoded, at most SLICES_AHEAD not yet COPYed (the
// worker waits on a shared counter for the rest). Reading a slice alone decompressed and decoded the whole group
// again in parquet-wasm: the bench's groups of 122,880 rows cut in 3 slices cost about 2x one read, and 1.2 s of the
// 4.5 s of CPU the decode of its 1,000,000 rows took. Holding a whole group's slices (and the next group's) took
// the bench's ~60 MB groups to 575 MB of peak RSS. The group holds its share of --memory-limit (the footer's
// uncompressed size) from its decode until its last slice is released.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type {
  DecodeResult,
  DecodeTask,
  EncodeReject,
  SliceMessage,
  StreamTask,
} from '../../workers/parquet.js';
import type { Release } from '../budget.js';
import { LoaderError } from '../errors.js';
import type { ParquetPool, Transferring } from './pool.js';

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
  /** decoded slices held in this thread: one more (+1) or one fewer (-1) */
  slices?: (delta: number) => void;
}

/** The decode running now: what it has posted, and the counter the worker waits on. */
interface Run {
  promise: Promise<void>;
  /** slices posted so far (each kept, or dropped when nobody wanted it) */
  arrived: number;
  /** Int32Array [slices given back, stop] shared with the worker (of the attempt now going) */
  sync: Int32Array;
  /** woken on each slice (the run's end is its promise) */
  waiters: Set<() => void>;
  /** over, and whether it stopped early (every slice given back) */
  ended: boolean;
  stopped: boolean;
}

export class GroupDecode {
  private readonly parts: (SliceBytes | undefined)[];
  /** not wanted now: released since it was last asked for (a decode does not keep its bytes) */
  private readonly released: boolean[];
  /** slice k's bytes came from the run now going, and are still to be given back to it */
  private readonly owed: boolean[];
  private giveBack: Release | undefined;
  private run: Run | undefined;

  constructor(
    private readonly ctx: GroupContext,
    /** the whole group: rows [offset, offset + limit), cut every `task.cut` rows */
    private readonly task: DecodeTask,
    /** the group's rows per slice, in order */
    private readonly sliceRows: number[],
    private readonly bytes: number,
    /** after a decode of every slice: start the next groups' */
    private readonly onDone: () => void = () => {},
  ) {
    this.parts = sliceRows.map(() => undefined);
    this.released = sliceRows.map(() => false);
    this.owed = sliceRows.map(() => false);
  }

  /** Slice k's bytes: held ones, or from a decode of the group (one however many slices ask, under the budget). */
  async get(k: number): Promise<SliceBytes> {
    this.released[k] = false;
    for (;;) {
      const held = this.parts[k];
      if (held) return held;
      let run = this.run;
      if (run && run.arrived > k) {
        // this decode is past slice k (it was released meanwhile: a retry): a new one reads the group again
        this.stop(run);
        await run.promise.catch(() => {});
        continue;
      }
      run ??= this.start();
      const next = new Promise<void>((resolve) => run.waiters.add(resolve));
      await Promise.race([run.promise, next]); // a failed decode throws here
      if (run.ended && !run.stopped && run.arrived <= k && !this.parts[k]) {
        throw new LoaderError('INTERNAL', `row group ${this.task.rowGroup}: slice ${k} was not decoded`, {
          file: this.ctx.path,
        });
      }
    }
  }

  /** Starts the group's decode ahead of need when the budget has room now (never waits for it). */
  warm(): void {
    if (this.run || this.giveBack || this.ctx.signal.aborted) return;
    if (this.released.every((r) => r)) return; // all COPYed already
    const granted = this.ctx.pool.budget.tryAcquire(this.bytes);
    if (!granted) return;
    this.take(granted);
    // A failure is get()'s to report: the slice's turn decodes again (and fails again).
    this.start().promise.catch(() => {});
  }

  /** Slice k is COPYed (or the file failed): its bytes go, and the budget once no slice holds any. `copied`: its
   * COPY was answered, so its memory is freed now, not at a garbage collection (slices arriving one by one left up
   * to 89 MB of them waiting for one in the main thread, and about 0.8 s more of its CPU per 3M rows). */
  release(k: number, copied = false): void {
    this.released[k] = true;
    const part = this.parts[k];
    if (part) {
      this.ctx.slices?.(-1);
      if (copied) discard(part.buf.buffer as ArrayBuffer);
    }
    this.parts[k] = undefined;
    const run = this.run;
    if (run && this.owed[k]) {
      this.owed[k] = false;
      this.giveBackSlice(run);
    }
    if (run && this.released.every((r) => r)) this.stop(run); // nobody wants the rest
    this.settle();
  }

  private take(r: Release): void {
    this.giveBack = r;
    this.ctx.hold(this.bytes);
  }

  /** gives the budget back when no slice holds bytes and no decode runs */
  private settle(): void {
    if (!this.giveBack || this.run || this.parts.some((p) => p)) return;
    this.giveBack();
    this.giveBack = undefined;
    this.ctx.hold(-this.bytes);
  }

  private giveBackSlice(run: Run): void {
    Atomics.add(run.sync, 0, 1);
    Atomics.notify(run.sync, 0);
  }

  private stop(run: Run): void {
    Atomics.store(run.sync, 1, 1);
    Atomics.notify(run.sync, 0);
  }

  private start(): Run {
    const sync = new Int32Array(new SharedArrayBuffer(8));
    const run: Run = {
      promise: Promise.resolve(),
      arrived: 0,
      sync,
      waiters: new Set(),
      ended: false,
      stopped: false,
    };
    this.run = run;
    // get() races its slice's arrival with this promise: its end (a failure included) wakes every waiter
    run.promise = this.decode(run).finally(() => {
      run.ended = true;
      if (this.run === run) this.run = undefined;
      this.owed.fill(false);
      this.settle();
    });
    return run;
  }

  private async decode(run: Run): Promise<void> {
    const { pool, signal, path } = this.ctx;
    if (!this.giveBack) this.take(await pool.budget.acquire(this.bytes, signal));
    const task = this.task;
    const ports: MessagePort[] = [];
    let allArrived: () => void = () => {};
    let expected = Infinity;
    const onSlice = (m: SliceMessage): void => {
      const rows = this.sliceRows[m.k] ?? 0;
      const from = task.firstRow + m.k * (task.cut ?? task.limit);
      run.arrived = Math.max(run.arrived, m.k + 1);
      if (!this.released[m.k] && !this.parts[m.k]) {
        this.parts[m.k] = {
          buf: Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength),
          rejected: m.rejected
            .filter((x) => x.row >= from && x.row < from + rows)
            .map((x) => ({ ...x, row: x.row - from })),
        };
        this.owed[m.k] = true;
        this.ctx.slices?.(1);
      } else {
        this.giveBackSlice(run); // not wanted (COPYed already, or the file is done): the worker goes on
      }
      const waiters = [...run.waiters];
      run.waiters.clear();
      for (const w of waiters) w();
      if (run.arrived >= expected) allArrived();
    };
    // each attempt (the pool runs a task again when a recycled thread took it down) has its own port and counter
    const attempt = (): Transferring => {
      const { port1, port2 } = new MessageChannel();
      port1.on('message', onSlice);
      ports.push(port1);
      const stopped = Atomics.load(run.sync, 1);
      run.sync = new Int32Array(new SharedArrayBuffer(8));
      Atomics.store(run.sync, 1, stopped);
      this.owed.fill(false); // a slice of an attempt that died is kept, and owed to nobody
      const work: StreamTask = { ...task, port: port2, sync: run.sync.buffer as SharedArrayBuffer };
      return { task: work, transferList: [port2] };
    };
    let r: DecodeResult;
    try {
      r = (await pool.run(attempt, { signal })) as DecodeResult;
      // the slices travel on their own port: the last ones may come after the task's result
      if (r.ok && run.arrived < r.slices) {
        expected = r.slices;
        await new Promise<void>((resolve) => (allArrived = resolve));
      }
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
    } finally {
      for (const p of ports) p.close();
    }
    if (!r.ok) throw new LoaderError(r.code, r.message, { file: path, line: r.row, column: r.column });
    this.ctx.record(r);
    run.stopped = r.stopped;
    if (r.stopped) return;
    if (r.slices !== this.sliceRows.length) {
      throw new LoaderError(
        'INTERNAL',
        `row group ${task.rowGroup}: ${r.slices} slices decoded, ${this.sliceRows.length} expected`,
        { file: path },
      );
    }
    this.onDone();
  }
}

/** Frees an ArrayBuffer's memory now: moved into a message that nobody reads, then dropped with its channel. Only
 * for bytes no pending I/O reads (a socket write keeps a reference, not a copy). */
function discard(ab: ArrayBuffer): void {
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(null, [ab]);
  port1.close();
  port2.close();
}
