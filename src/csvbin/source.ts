// Where the CSV-to-binary converter is used, and its sub-batch sources. `--copy-format auto` (the default) sends a
// CSV file's sub-batches as COPY BINARY when every column's type is one the converter writes, the file is UTF-8
// and rows are not set aside one by one (reject-rows finds a bad row by COPY's own CSV line numbers). Each
// sub-batch is converted by a worker, the next one while the current one COPYs; a sub-batch the converter gives up
// on goes as its CSV bytes, unchanged. `binary` insists (a file whose columns it cannot write is an error); `text`
// never converts.
import { Readable } from 'node:stream';
import type { Piscina } from 'piscina';
import type { EncodeResult, PlanWork } from '../../workers/plan.js';
import { isUtf8, type CopyFormat } from '../config.js';
import type { BatchSource } from '../copy.js';
import type { Route } from '../feed.js';
import { LoaderError } from '../errors.js';
import type { CopyDialect, FileColumn } from '../merge.js';
import type { KeyField, KeyRange } from '../keyrange.js';
import { outSize, type CsvBinaryOptions } from './encode.js';
import { kindOf, type Kind } from './types.js';

export interface BinaryChoice {
  format: CopyFormat;
  onError: string;
  /** the session's TimeZone is UTC, so a timestamptz without an offset is UTC */
  utcSession: boolean;
}

/** The converter's options for a file, or undefined when its sub-batches go as CSV. */
export function binaryOptions(
  choice: BinaryChoice,
  dialect: CopyDialect,
  columns: FileColumn[],
  file: string,
): CsvBinaryOptions | undefined {
  if (choice.format === 'text') return undefined;
  const kinds: Kind[] = [];
  const why = (reason: string): undefined => {
    if (choice.format === 'binary')
      throw new LoaderError('USAGE', `--copy-format binary: ${reason}`, { file });
    return undefined;
  };
  if (choice.onError === 'reject-rows') return why('not with --on-error reject-rows');
  if (!isUtf8(dialect.encoding)) return why(`the file's encoding is ${dialect.encoding}, not UTF8`);
  for (const c of [dialect.delimiter, dialect.quote, dialect.escape])
    if (Buffer.byteLength(c, 'utf8') !== 1) return why(`${JSON.stringify(c)} is not a one-byte character`);
  for (const c of columns) {
    const k = kindOf(c.target?.type);
    if (k === undefined)
      return why(
        `column ${JSON.stringify(c.target!.name)} is of type ${c.target!.type}, which it cannot write`,
      );
    kinds.push(k);
  }
  const byte = (s: string): number => Buffer.from(s, 'utf8')[0]!;
  return {
    delimiter: byte(dialect.delimiter),
    quote: byte(dialect.quote),
    escape: byte(dialect.escape),
    nullBytes: Buffer.from(dialect.null, 'utf8'),
    kinds,
    utcSession: choice.utcSession,
  };
}

/** What a converted sub-batch's COPY reports: how the sub-batch went, and why not binary. */
export interface BinarySource extends BatchSource {
  format(): 'csv' | 'binary';
}

/** Wraps a CSV sub-batch's source: load() converts it (prefetch() starts that early), open() streams the binary
 * bytes, or the CSV bytes when the converter gave up; bytes() stays the CSV bytes (for error messages). */
export function binarySource(
  src: BatchSource,
  ctx: {
    workers: Piscina;
    path: string;
    gzip: boolean;
    options: CsvBinaryOptions;
    /** staging: the rows carry their sub-batch number and ordinal (CsvBinaryOptions.tag); read when converting */
    route?: Route;
    /** staging: the key whose range the converter reads (src/keyrange.ts, keyField) */
    key?: KeyField;
    signal: AbortSignal;
    /** the run's output buffers, reused */
    buffers?: BufferPool;
    onFallback(src: BatchSource, reason: string): void;
  },
  /** converted already, by the record scan (Route.scanConverts): used for the first COPY, converted again after */
  converted?: EncodeResult,
): BinarySource {
  let pending: Promise<EncodeResult> | undefined = converted && Promise.resolve(converted);
  let data: Uint8Array | undefined;
  let keys: KeyRange | undefined;
  let tagged = false; // as the conversion under way, or done, was asked (the scan's never are)
  const convert = (): Promise<EncodeResult> =>
    (pending ??= (async () => {
      let bytes: Uint8Array | undefined;
      if (ctx.gzip) {
        await src.load?.();
        bytes = await src.bytes();
      }
      const into = ctx.buffers?.take(outSize(src.batch.end - src.batch.start));
      tagged = ctx.route?.staging === true;
      const work: PlanWork = {
        op: 'encode',
        path: ctx.path,
        start: src.batch.start,
        end: src.batch.end,
        bytes,
        into,
        options: tagged ? { ...ctx.options, tag: src.batch.index, key: ctx.key } : ctx.options,
      };
      return received(
        (await ctx.workers.run(work, { signal: ctx.signal })) as EncodeResult,
        into,
        ctx.buffers,
      );
    })());
  return {
    batch: src.batch,
    prefetch: () => void convert().catch(() => {}),
    load: async () => {
      if (!converted?.ok) await src.load?.(); // converted by the scan: its CSV bytes (gzip: decompressed) unneeded
      const r = await convert();
      if (r.ok) {
        data = r.data;
        keys = r.keys;
      } else {
        data = undefined;
        keys = undefined;
        ctx.onFallback(
          src,
          r.record >= 0 ? `record ${r.record + 1}${col(r.column, ctx.options)}: ${r.reason}` : r.reason,
        );
      }
    },
    format: () => (data ? 'binary' : 'csv'),
    fromScan: () => data !== undefined && converted !== undefined,
    tagged: () => data !== undefined && tagged,
    keys: () => (data !== undefined ? keys : undefined),
    open: () =>
      data ? Readable.from([Buffer.from(data.buffer, data.byteOffset, data.byteLength)]) : src.open(),
    bytes: () => src.bytes(),
    release: () => {
      // its COPY is over: the buffer serves a later sub-batch
      if (data) ctx.buffers?.give(data.buffer);
      data = undefined;
      converted = undefined; // converted again (by a worker of its own) should a retry need it
      pending = undefined;
      src.release?.();
    },
  };
}

function col(c: number, o: CsvBinaryOptions): string {
  return c >= 0 && c < o.kinds.length ? `, field ${c + 1}` : '';
}

/** A worker's converted sub-batch as the main thread keeps it: bytes the worker left in the shared buffer `into`
 * viewed there, in the main thread's own handle on it; `into` given back at once when they are not in it. */
export function received(
  r: EncodeResult,
  into: SharedArrayBuffer | undefined,
  pool: BufferPool | undefined,
): EncodeResult {
  if (r.ok && r.shared !== undefined && into) {
    const { shared, ...rest } = r;
    return { ...rest, data: new Uint8Array(into, 0, shared) };
  }
  if (into) pool?.give(into);
  return r;
}

const MiB = 1 << 20;

/** Output buffers shared with the converter's workers, given back once their sub-batch's COPY is done: a run
 * reuses a few instead of allocating (page-faulting and collecting) one per sub-batch, and, shared, they never
 * change hands: the bytes a worker writes are read where they lie. */
export class BufferPool {
  private readonly free: SharedArrayBuffer[] = [];
  constructor(private readonly keep = 4) {}

  /** a free buffer of at least `min` bytes, or a new one */
  take(min: number): SharedArrayBuffer {
    const i = this.free.findIndex((b) => b.byteLength >= min);
    if (i >= 0) return this.free.splice(i, 1)[0]!;
    return new SharedArrayBuffer(Math.ceil(min / MiB) * MiB);
  }

  /** kept for a later sub-batch, up to `keep` of them (the largest); a worker's own buffer is not kept */
  give(b: ArrayBufferLike): void {
    if (!(b instanceof SharedArrayBuffer)) return;
    if (this.free.length < this.keep) {
      this.free.push(b);
      return;
    }
    let small = 0;
    for (let k = 1; k < this.free.length; k++)
      if (this.free[k]!.byteLength < this.free[small]!.byteLength) small = k;
    if (this.free[small]!.byteLength < b.byteLength) this.free[small] = b;
  }
}
