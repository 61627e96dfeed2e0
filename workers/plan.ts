// Piscina worker for CSV files. `hash`: the sha256 of the bytes on disk, alone (about 1.5 GB/s here, read
// synchronously: hashFile; the skip-by-hash claim needs it before any row is written). `plan`: the
// quote-aware record scan, cutting the file into record-aligned sub-batches (of the decompressed bytes, for gzip)
// and posting each on the task's port as soon as it is cut, so the sub-batches COPY while the scan goes on.
// `convert`: the next sub-batch cut and converted to COPY BINARY in one pass (the converter finds the records' ends
// itself), for a file whose sub-batches are COPYed in order (the direct path). `encode`: one sub-batch converted to
// COPY BINARY. Errors come back as data.
import './thread.js'; // first: its start-up runs before the rest is compiled
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import type { MessagePort } from 'node:worker_threads';
import { createGunzip } from 'node:zlib';
import { open } from 'node:fs/promises';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { CsvBinaryEncoder, type CsvBinaryOptions, type CsvBinaryOutcome } from '../src/csvbin/encode.js';
import { CsvScanError, newlinesIn, RecordScanner, type ScanResult, type SubBatchRange } from '../src/scan.js';

export interface HashTask {
  path: string;
}

/** The worker's one entry point: piscina loads a named export with require() on first use in each thread, and a
 * second name loaded while the first is still loading crashed Node 20.20 (an assertion in require(esm)); so the
 * task says what to do instead. */
export type PlanWork =
  | ({ op: 'hash' } & HashTask)
  | ({ op: 'hashAndScan' } & Omit<PlanTask, 'port'>)
  | ({ op: 'plan' } & PlanTask)
  | ({ op: 'convert' } & ConvertTask)
  | ({ op: 'encode' } & EncodeTask);

export default function run(
  work: PlanWork,
): Promise<HashResult | HashAndScanResult | EncodeResult | ConvertResult | void> {
  if (work.op === 'encode') return encodeBatch(work);
  if (work.op === 'convert') return convertBatch(work);
  return work.op === 'hash' ? hash(work) : work.op === 'hashAndScan' ? hashAndScan(work) : plan(work);
}

export type HashResult =
  { ok: true; sha256: string; fileBytes: number } | { ok: false; kind: 'read'; message: string };

export interface PlanTask {
  path: string;
  gzip: boolean;
  quote: number;
  escape: number;
  batchSize: number;
  header: boolean;
  skipBytes: number;
  /** receives a PlanMessage for each sub-batch as it is cut, then one with `end` */
  port: MessagePort;
}

/** The end of a plan: the scan's totals (its batches were posted one by one before), or why it failed. */
export type PlanEnd =
  | { ok: true; scan: Omit<ScanResult, 'batches'>; batches: number }
  | { ok: false; kind: 'csv' | 'read'; message: string; line?: number };

export type PlanMessage = { batch: SubBatchRange } | { end: PlanEnd };

/** The hash's read buffer, one per thread, used again by every file it hashes. */
let hashBuffer: Buffer | undefined;

/** A file's sha256 and size, read synchronously into one buffer used again (a worker has nothing else to do
 * meanwhile): 0.6 of the CPU time of a read stream's fresh 1 MB chunks, measured over the bench's 8 files (182
 * against 290 to 304 ms for 269 MB). The main thread's, which must not block, is src/hash.ts. */
function hashFile(path: string): { sha256: string; fileBytes: number } {
  const h = createHash('sha256');
  const buf = (hashBuffer ??= Buffer.allocUnsafeSlow(256 << 10));
  let fileBytes = 0;
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(n === buf.length ? buf : buf.subarray(0, n));
      fileBytes += n;
    }
  } finally {
    closeSync(fd);
  }
  return { sha256: h.digest('hex'), fileBytes };
}

async function hash(task: HashTask): Promise<HashResult> {
  try {
    return { ok: true, ...hashFile(task.path) };
  } catch (err) {
    return { ok: false, kind: 'read', message: (err as Error).message };
  }
}

/** `plan`'s scan without a port: sha256 and the whole scan in one pass, for a file of about one sub-batch (nothing
 * to overlap: one task instead of two). */
async function hashAndScan(task: Omit<PlanTask, 'port'>): Promise<HashAndScanResult> {
  const h = createHash('sha256');
  let fileBytes = 0;
  const onRaw = (chunk: Buffer): void => {
    h.update(chunk);
    fileBytes += chunk.length;
  };
  const r = await scanFile(task, onRaw, () => {});
  const sha256 = h.digest('hex');
  return r.ok ? { ...r, sha256, fileBytes } : r.kind === 'csv' ? { ...r, sha256, fileBytes } : r;
}

export type HashAndScanResult =
  | { ok: true; sha256: string; fileBytes: number; scan: ScanResult }
  | { ok: false; kind: 'csv' | 'read'; message: string; line?: number; sha256?: string; fileBytes?: number };

async function plan(task: PlanTask): Promise<void> {
  const { port } = task;
  try {
    const r = await scanFile(task, undefined, (batch) => port.postMessage({ batch } satisfies PlanMessage));
    const end: PlanEnd = r.ok
      ? { ok: true, scan: { records: r.scan.records, bytes: r.scan.bytes }, batches: r.scan.batches.length }
      : r;
    port.postMessage({ end } satisfies PlanMessage);
  } finally {
    port.close();
  }
}

/** Reads the file (raw bytes to onRaw), scans the decoded bytes, hands each sub-batch to onBatch as it is cut. */
async function scanFile(
  task: Omit<PlanTask, 'port'>,
  onRaw: ((chunk: Buffer) => void) | undefined,
  onBatch: (b: SubBatchRange) => void,
): Promise<{ ok: true; scan: ScanResult } | Extract<PlanEnd, { ok: false }>> {
  const scanner = new RecordScanner(task);
  let sent = 0;
  const flushNew = (): void => {
    const done = scanner.completed();
    while (sent < done.length) onBatch(done[sent++]!);
  };
  try {
    const raw = createReadStream(task.path, { highWaterMark: 1 << 20 });
    if (onRaw) raw.on('data', (chunk) => onRaw(chunk as Buffer));
    const decoded = task.gzip ? raw.pipe(createGunzip()) : raw;
    if (task.gzip) raw.on('error', (err) => decoded.destroy(err));
    for await (const chunk of decoded) {
      scanner.push(chunk as Buffer);
      flushNew();
    }
    const scan = scanner.finish();
    flushNew();
    return { ok: true, scan };
  } catch (err) {
    if (err instanceof CsvScanError) return { ok: false, kind: 'csv', message: err.message, line: err.line };
    const e = err as NodeJS.ErrnoException;
    const what =
      task.gzip && e.code?.startsWith('Z_')
        ? `gzip stream is corrupt or truncated (${e.message})`
        : e.message;
    return { ok: false, kind: 'read', message: what };
  }
}

/** `convert`: the next sub-batch of a file, from `start` (a record's first byte, on physical line `line`): the record
 * scan and the conversion in one pass, the converter finding where records end itself. One task per sub-batch, in
 * order (each starts where the last ended), so no thread waits for a COPY between them. */
export interface ConvertTask {
  path: string;
  start: number;
  line: number;
  /** the sub-batch's number */
  index: number;
  batchSize: number;
  options: CsvBinaryOptions;
  /** the output's first size (the last sub-batch's), and a buffer to write into when it holds that, shared with
   * the main thread (the run's BufferPool) */
  size: number;
  into?: SharedArrayBuffer;
  /** gzip (no reading at an offset): the decompressed bytes from `start` on, handed in; `last`: they run to the
   * file's end (else a sub-batch that runs past them comes back `short`, to be sent again with more) */
  bytes?: Uint8Array;
  last?: boolean;
}

export type ConvertResult =
  | {
      ok: true;
      /** the sub-batch cut (undefined: no record left) and its bytes converted, or why it goes as CSV */
      cut?: { batch: SubBatchRange; result: EncodeResult };
      /** where the next sub-batch starts, and its line */
      next: number;
      nextLine: number;
      /** the file ends at `next` */
      end: boolean;
    }
  | { ok: true; short: true }
  | Extract<PlanEnd, { ok: false }>;

/** The bytes handed in (ConvertTask.bytes) ended inside the sub-batch. */
class Short extends Error {}

/** Bytes read at a time by `convert`. */
const READ_CHUNK = 1 << 20;

/** A window on a file's bytes from `pos`: filled chunk by chunk, dropped from the front as they are converted. */
class Window {
  /** the last task's buffer, used again (fresh 2 MB per task cost their pages' first touch) */
  private static spare: Buffer | undefined;
  buf = Window.take();
  len = 0;
  eof = false;
  constructor(
    /** reads up to `length` bytes at file offset `position` into buf at `offset`: how many (0: the end) */
    private readonly read: (buf: Buffer, offset: number, length: number, position: number) => Promise<number>,
    public pos: number,
  ) {}

  async fill(): Promise<void> {
    if (this.len + READ_CHUNK > this.buf.length) {
      const next = Buffer.allocUnsafeSlow(Math.max(2 * this.buf.length, this.len + READ_CHUNK));
      this.buf.copy(next, 0, 0, this.len);
      this.buf = next;
    }
    const bytesRead = await this.read(this.buf, this.len, READ_CHUNK, this.pos + this.len);
    if (bytesRead === 0) this.eof = true;
    this.len += bytesRead;
  }

  private static take(): Buffer {
    const b = Window.spare ?? Buffer.allocUnsafeSlow(2 * READ_CHUNK);
    Window.spare = undefined;
    return b;
  }

  /** Gives the buffer back for the thread's next task (nothing of it is held after the task). */
  release(): void {
    Window.spare = this.buf;
  }

  drop(n: number): void {
    this.buf.copyWithin(0, n, this.len);
    this.pos += n;
    this.len -= n;
  }
}

async function convertBatch(task: ConvertTask): Promise<ConvertResult> {
  const { options } = task;
  let fd: number | undefined;
  let w: Window | undefined;
  try {
    let read: (buf: Buffer, offset: number, length: number, position: number) => Promise<number>;
    const given = task.bytes;
    if (given) {
      read = (buf, offset, length, position) => {
        const from = position - task.start;
        const n = Math.min(length, given.length - from);
        if (n <= 0 && !task.last) throw new Short();
        if (n <= 0) return Promise.resolve(0);
        buf.set(given.subarray(from, from + n), offset);
        return Promise.resolve(n);
      };
    } else {
      // read synchronously: the thread has nothing else to do meanwhile, and a read through libuv's pool costs two
      // thread hand-offs per chunk
      const f = (fd = openSync(task.path, 'r'));
      read = (buf, offset, length, position) => Promise.resolve(readSync(f, buf, offset, length, position));
    }
    w = new Window(read, task.start);
    await w.fill();
    if (w.len === 0) return { ok: true, next: task.start, nextLine: task.line, end: true };
    const enc = new CsvBinaryEncoder(options);
    const batch: SubBatchRange = {
      index: task.index,
      start: task.start,
      end: 0,
      firstLine: task.line,
      records: 0,
    };
    enc.begin(task.size, task.into); // the writer grows past it if need be
    let step = enc.more(w.buf, 0, w.len, task.batchSize, w.eof);
    while (step.kind === 'more') {
      w.drop(step.at); // bytes converted are let go: the window holds a chunk or two, not the sub-batch
      await w.fill();
      step = enc.more(w.buf, 0, w.len, task.batchSize, w.eof);
    }
    let line = task.line;
    let result: EncodeResult;
    let cut: number;
    if (step.kind === 'rows') {
      result = { ok: true, data: enc.finish(), rows: enc.rows };
      cut = step.at;
      batch.records = enc.rows;
      line += enc.rows + enc.newlines;
    } else {
      // Not converted: the sub-batch goes as its CSV bytes, cut by the record scan from the record given up on.
      enc.finish();
      line += step.record + enc.newlines;
      const rest = await scanOn(w, step.at, task.batchSize - step.record, {
        quote: options.quote,
        escape: options.escape,
        firstLine: line,
      });
      result = { ok: false, record: step.record, column: step.column, reason: step.reason };
      cut = rest.end;
      batch.records = step.record + rest.records;
      line += newlinesIn(w.buf, step.at, rest.end);
    }
    batch.end = w.pos + cut;
    const end = w.eof && cut === w.len;
    result = sendBack(result, task.into);
    const out: ConvertResult = { ok: true, cut: { batch, result }, next: batch.end, nextLine: line, end };
    return result.ok && result.shared === undefined
      ? (move({ [transferableSymbol]: [result.data.buffer], [valueSymbol]: out }) as unknown as ConvertResult)
      : out;
  } catch (err) {
    if (err instanceof Short) return { ok: true, short: true };
    if (err instanceof CsvScanError) return { ok: false, kind: 'csv', message: err.message, line: err.line };
    return { ok: false, kind: 'read', message: (err as Error).message };
  } finally {
    w?.release();
    if (fd !== undefined) closeSync(fd);
  }
}

/** The record scan from `from` in the window, reading on, until it has cut `want` records (or the file ends):
 * where they end in the window, and how many there were. An unterminated quote throws CsvScanError. */
async function scanOn(
  w: Window,
  from: number,
  want: number,
  opts: { quote: number; escape: number; firstLine: number },
): Promise<{ end: number; records: number }> {
  const scanner = new RecordScanner({ ...opts, batchSize: want, header: false });
  for (let fed = from; ;) {
    scanner.push(w.buf.subarray(fed, w.len));
    fed = w.len;
    const done = scanner.completed()[0];
    if (done) return { end: from + done.end, records: done.records };
    if (w.eof) {
      const last = scanner.finish().batches[0];
      return last ? { end: from + last.end, records: last.records } : { end: from, records: 0 };
    }
    await w.fill();
  }
}

/** `encode`: one sub-batch of CSV records converted to COPY BINARY (src/csvbin/encode.ts), read from the file
 * itself or (gzip) handed in. The bytes come back in the shared buffer handed in (or, outgrowing it, transferred),
 * not copied. */
export interface EncodeTask {
  path: string;
  start: number;
  end: number;
  /** the sub-batch's bytes when the file cannot be read at an offset (gzip) */
  bytes?: Uint8Array;
  /** a buffer to write into, shared with the main thread (the run's BufferPool) */
  into?: SharedArrayBuffer;
  options: CsvBinaryOptions;
}

export type EncodeResult = CsvBinaryOutcome | { ok: false; record: -1; column: -1; reason: string };

let readBuffer = Buffer.alloc(0);

async function encodeBatch(task: EncodeTask): Promise<EncodeResult> {
  let buf: Buffer;
  if (task.bytes) buf = Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength);
  else {
    // one read buffer per thread, kept: a fresh one per sub-batch cost page faults and collections
    if (readBuffer.length < task.end - task.start) readBuffer = Buffer.allocUnsafeSlow(task.end - task.start);
    buf = readBuffer.subarray(0, task.end - task.start);
    try {
      const fh = await open(task.path, 'r');
      try {
        let got = 0;
        while (got < buf.length) {
          const { bytesRead } = await fh.read(buf, got, buf.length - got, task.start + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        if (got < buf.length) return { ok: false, record: -1, column: -1, reason: 'the file got shorter' };
      } finally {
        await fh.close();
      }
    } catch (err) {
      return { ok: false, record: -1, column: -1, reason: (err as Error).message };
    }
  }
  const out = sendBack(new CsvBinaryEncoder(task.options).encode(buf, task.into), task.into);
  if (!out.ok || out.shared !== undefined) return out;
  return move({ [transferableSymbol]: [out.data.buffer], [valueSymbol]: out }) as unknown as EncodeResult;
}

const NO_DATA = new Uint8Array(0);

/** A converted sub-batch on its way back: bytes written into the task's shared buffer stay there (the main thread
 * views them in its own handle on it: no transfer, and nothing new for its collector, where each sub-batch's bytes
 * arriving as a buffer of their own had counted as fresh external memory and brought on a full collection every few
 * sub-batches); bytes that outgrew it go transferred, as their own buffer. */
function sendBack<T extends CsvBinaryOutcome>(r: T, into: SharedArrayBuffer | undefined): T {
  if (!r.ok || !into || r.data.buffer !== into) return r;
  return { ...r, data: NO_DATA, shared: r.data.byteLength };
}
