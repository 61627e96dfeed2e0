// A file's sub-batches as they become known. For a CSV file the record scan runs in a worker and posts each
// sub-batch's byte range as soon as it is cut, so COPY starts after the first sub-batch instead of after the whole
// file; for Parquet (and small CSV files scanned at once) every sub-batch is known from the start. The sources
// stay in `sources` (byte ranges of the file: re-readable for a retry or a diagnosis), in order. A scan that fails
// late (an unterminated quote at the end) fails the iteration and end(): the file fails, and what was already
// COPYed into staging or into the file's transaction is rolled back with it.
import { MessageChannel } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import type {
  ConvertResult,
  ConvertTask,
  EncodeResult,
  PlanEnd,
  PlanMessage,
  PlanTask,
  PlanWork,
} from '../workers/plan.js';
import { outSize } from './csvbin/encode.js';
import { received, type BufferPool } from './csvbin/source.js';
import type { BatchSource } from './copy.js';
import { LoaderError } from './errors.js';
import { GzipRanges } from './gzip.js';
import type { ScanResult, SubBatchRange } from './scan.js';

export type ScanTotals = Omit<ScanResult, 'batches' | 'header'>;

/** Where a file's sub-batches go, decided once by file.ts (goesDirect()) before the first is prepared, and read by
 * what prepares them: the feed and Parquet's decode-ahead (how many ahead), CSV's conversion (tagged rows). */
export interface Route {
  /** sub-batches prepared ahead of the last one handed out: 1, or more on the direct path, where
   * --internal-concurrency sub-batches are in flight as one COPYing and the rest being prepared */
  ahead: number;
  /** the rows go to a staging table (binary rows then carry their sub-batch number and ordinal) */
  staging: boolean;
  /** CSV converted to COPY BINARY: the record scan converts each sub-batch as it cuts it (one pass over the bytes,
   * one worker task per sub-batch, in turn, up to `ahead` ahead), for sub-batches COPYed one after another (the
   * direct path) */
  scanConverts: boolean;
}

/** A file's route before file.ts decides it (a dry run never does). */
export function newRoute(): Route {
  return { ahead: 1, staging: false, scanConverts: false };
}

/** The scan that converts: where the first record starts (past the header), and how. */
export type ConvertStart = Pick<ConvertTask, 'path' | 'start' | 'line' | 'batchSize' | 'options'> & {
  /** output buffers given back after their COPY, written into again */
  buffers?: BufferPool;
  /** the file is gzip: decompressed here, once, and handed to the tasks */
  gzip?: boolean;
  /** a sub-batch's bytes, about (gzip: the first task's share) */
  estimate?: number;
};

/** A scan's end as the feed's: its totals, or its error (a CSV error names the line). */
function scanEnd(
  e: PlanEnd | Extract<ConvertResult, { ok: false }>,
  file: string,
): { totals?: ScanTotals; error?: Error } {
  if (e.ok) return { totals: e.scan };
  return { error: new LoaderError(e.kind === 'csv' ? 'CSV' : 'READ', e.message, { file, line: e.line }) };
}

export class BatchFeed {
  /** the sub-batches cut so far, in file order (all of them once end() has resolved) */
  readonly sources: BatchSource[] = [];
  private ended: { totals?: ScanTotals; error?: Error } | undefined;
  private wake: (() => void) | undefined;
  private readonly stop = new AbortController();
  private readonly settled: Promise<ScanTotals>;
  /** how many sub-batches have been handed out */
  private handed = 0;

  private constructor(
    /** a guess made before the scan: the file holds a single sub-batch (then staging buys nothing) */
    readonly singleBatch: boolean,
    private readonly route: Route,
  ) {
    this.settled = new Promise<ScanTotals>((resolve, reject) => {
      this.onEnd = (r) => (r.error ? reject(r.error) : resolve(r.totals!));
    });
    this.settled.catch(() => {}); // observed through end() or the iteration
  }
  private onEnd: (r: { totals?: ScanTotals; error?: Error }) => void = () => {};
  /** starts the scan; cleared once called */
  private start: (() => void) | undefined;
  private onCancel: (() => void) | undefined;

  private begin(): void {
    const s = this.start;
    this.start = undefined;
    s?.();
  }

  /** All sub-batches known already. */
  static of(sources: BatchSource[], totals: ScanTotals, route = newRoute()): BatchFeed {
    const f = new BatchFeed(sources.length <= 1, route);
    f.sources.push(...sources);
    f.finish({ totals });
    return f;
  }

  /** The record scan of a CSV file in a plan worker, started on first use (from() or end(): after the claim, so a
   * skipped file costs no scan); sub-batches arrive as the scan cuts them. With `convert`, on a route where the scan
   * converts (Route.scanConverts), they arrive converted instead, one worker task each (convertChain()). */
  static scan(
    workers: Piscina,
    task: Omit<PlanTask, 'port'>,
    file: string,
    source: (b: SubBatchRange, converted?: EncodeResult) => BatchSource,
    opts: { signal: AbortSignal; singleBatch: boolean; route?: Route; convert?: ConvertStart },
  ): BatchFeed {
    const f = new BatchFeed(opts.singleBatch, opts.route ?? newRoute());
    const signal = AbortSignal.any([opts.signal, f.stop.signal]);
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (m: PlanMessage) => {
      if ('batch' in m) {
        f.sources.push(source(m.batch));
        // among the next ones to be handed out: its preparation can start now
        if (f.sources.length <= f.handed + f.route.ahead) f.sources[f.sources.length - 1]!.prefetch?.();
        f.poke();
        return;
      }
      port1.close();
      f.finish(scanEnd(m.end, file));
    });
    f.onCancel = () => port1.close();
    f.start = () => {
      if (opts.convert && f.route.scanConverts) {
        port1.close();
        f.convertChain(workers, opts.convert, file, source, signal);
        return;
      }
      void workers
        .run({ op: 'plan', ...task, port: port2 } satisfies PlanWork, {
          transferList: [port2] as never,
          signal,
        })
        .catch((err: unknown) => {
          port1.close();
          f.finish({ error: err instanceof Error ? err : new Error(String(err)) });
        });
    };
    return f;
  }

  /** The scan that converts: sub-batch k+1 is cut and converted (one worker task, starting where k ended) once k
   * is handed out, so one sub-batch COPYs while the next is prepared, and no worker waits between them. */
  private convertChain(
    workers: Piscina,
    c: ConvertStart,
    file: string,
    source: (b: SubBatchRange, converted?: EncodeResult) => BatchSource,
    signal: AbortSignal,
  ): void {
    let at = c.start;
    let line = c.line;
    let size = outSize(c.estimate ?? 1 << 20); // then the last sub-batch's
    let records = 0;
    let running = false;
    // gzip: the decompressed bytes are handed to each task, about a sub-batch's worth (twice as many when short)
    const gz = c.gzip ? new GzipRanges(c.path) : undefined;
    let want = c.estimate ?? 1 << 20;
    const run = async (): Promise<Exclude<ConvertResult, { short: true }>> => {
      for (;;) {
        const into = c.buffers?.take(size);
        const given = gz ? await gz.take(at, at + want, at) : undefined; // kept from `at`: a short task asks again
        const work: PlanWork = {
          op: 'convert',
          path: c.path,
          start: at,
          line,
          index: this.sources.length,
          batchSize: c.batchSize,
          options: c.options,
          size,
          into,
          bytes: given?.bytes,
          last: given?.last,
        };
        const transferList = given ? [given.bytes.buffer] : [];
        const r = (await workers.run(work, { signal, transferList: transferList as never })) as ConvertResult;
        if (r.ok && !('short' in r) && r.cut)
          return { ...r, cut: { ...r.cut, result: received(r.cut.result, into, c.buffers) } };
        if (into) c.buffers?.give(into);
        if (!('short' in r)) return r;
        want *= 2;
      }
    };
    const next = (): void => {
      if (running || this.ended || this.sources.length >= this.handed + this.route.ahead) return;
      running = true;
      run().then(
        (r) => {
          running = false;
          if (!r.ok) return this.finish(scanEnd(r, file));
          if (r.cut) {
            this.sources.push(source(r.cut.batch, r.cut.result));
            records += r.cut.batch.records;
            const bytes = r.cut.batch.end - r.cut.batch.start;
            size = outSize(bytes);
            want = Math.ceil(bytes * 1.25) + (64 << 10);
          }
          at = r.next;
          line = r.nextLine;
          if (r.end) {
            gz?.close();
            return this.finish({ totals: { records, bytes: at } });
          }
          this.poke();
          next();
        },
        (err: unknown) => {
          running = false;
          gz?.close();
          this.finish({ error: err instanceof Error ? err : new Error(String(err)) });
        },
      );
    };
    this.pump = next;
    // cancelled between two tasks: nothing is running to fail the feed
    signal.addEventListener(
      'abort',
      () => {
        gz?.close();
        this.finish({ error: new Error('the file failed') });
      },
      { once: true },
    );
    next();
  }

  /** convertChain(): called as sub-batches are handed out */
  private pump: (() => void) | undefined;

  private finish(r: { totals?: ScanTotals; error?: Error }): void {
    if (this.ended) return;
    this.ended = r;
    this.onEnd(r);
    this.poke();
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** The scan's totals once it has ended; rejects with its error (a CSV error names the line). */
  end(): Promise<ScanTotals> {
    this.begin();
    return this.settled;
  }

  /** Stops a scan still running (the file failed): its worker is freed for other files. */
  cancel(): void {
    if (this.ended) return;
    if (this.start) {
      // never started (the file was skipped or failed before its first COPY)
      this.start = undefined;
      this.onCancel?.();
      this.finish({ error: new Error('the file failed') });
      return;
    }
    this.stop.abort(new Error('the file failed'));
  }

  /** The sub-batches from index `from` on, waiting for the scan to cut them; throws the scan's error. One iterator
   * may be shared by several consumers (an async generator hands out each item once). Handing out one starts
   * preparing the next (its conversion to binary), so that runs while this one COPYs. */
  async *from(from = 0): AsyncGenerator<BatchSource> {
    this.begin();
    for (let i = from; ;) {
      if (i < this.sources.length) {
        this.handed = Math.max(this.handed, i + 1);
        for (let j = i + 1; j <= i + this.route.ahead; j++) this.sources[j]?.prefetch?.();
        this.pump?.();
        yield this.sources[i++]!;
        continue;
      }
      if (this.ended) {
        if (this.ended.error) throw this.ended.error;
        if (i >= this.sources.length) return;
        continue;
      }
      await new Promise<void>((resolve) => {
        const prev = this.wake;
        this.wake = () => {
          prev?.();
          resolve();
        };
      });
    }
  }
}
