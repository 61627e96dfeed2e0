// The run's Parquet decoding resources, main thread: the Piscina pool of workers/parquet.js, the --memory-limit
// byte budget that admits row groups, and the recycling of threads whose wasm memory (which never shrinks) passed
// a mark: the main thread terminates such a thread after its task and Piscina starts a fresh one when needed.
import type { TransferListItem } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { ByteBudget } from '../budget.js';

const MIN_MARK = 64 * 2 ** 20;
/** a rerun can land on a thread that is itself about to be recycled; a real failure is rerun at most this often */
const MAX_RERUNS = 10;

export interface ParquetPoolOptions {
  filename: string;
  maxThreads: number;
  memoryLimitBytes: number;
  /** default: the memory limit shared by the threads, at least 64 MiB */
  wasmMemoryMarkBytes?: number;
}

/** A task and what it transfers to the worker. */
export interface Transferring {
  task: unknown;
  transferList: TransferListItem[];
}

export class ParquetPool {
  readonly pool: Piscina;
  readonly budget: ByteBudget;
  /** a thread whose wasm memory passed this many bytes is replaced after its task */
  readonly mark: number;
  /** threads terminated for their memory */
  recycled = 0;
  /** of those, threads not yet gone: Piscina may still hand them a task */
  private exiting = 0;

  constructor(o: ParquetPoolOptions) {
    this.pool = new Piscina({
      filename: o.filename,
      maxThreads: o.maxThreads,
      minThreads: 0,
      idleTimeout: 5_000,
    });
    this.budget = new ByteBudget(o.memoryLimitBytes);
    this.mark = o.wasmMemoryMarkBytes ?? Math.max(MIN_MARK, Math.floor(o.memoryLimitBytes / o.maxThreads));
  }

  /** pool.run, run again when a thread this pool recycled may have taken the task down with it: Piscina can hand
   * a thread its next task before the main thread has read the previous result and terminated the thread, or
   * while the terminated thread is still exiting. A task that fails for itself fails again and is reported.
   * A task given as a function is made afresh for each attempt (what it transfers, a MessagePort, goes once). */
  async run(task: unknown, opts: { name?: string; signal?: AbortSignal }): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      const before = this.recycled;
      const exiting = this.exiting > 0;
      const made = typeof task === 'function' ? (task as () => Transferring)() : { task, transferList: [] };
      try {
        return await this.pool.run(made.task, { ...opts, transferList: made.transferList } as never);
      } catch (err) {
        if (opts.signal?.aborted || (this.recycled === before && !exiting) || attempt >= MAX_RERUNS)
          throw err;
      }
    }
  }

  /** After a task: terminates its thread when its wasm memory passed the mark. True when it did. */
  recycle(threadId: number, wasmBytes: number): boolean {
    if (wasmBytes <= this.mark) return false;
    const worker = this.pool.threads.find((w) => w.threadId === threadId);
    if (!worker) return false;
    this.recycled++;
    this.exiting++;
    worker.once('exit', () => this.exiting--);
    void worker.terminate();
    return true;
  }

  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}
