// Piscina worker for Parquet: `plan` reads the file's footer (the main thread hashes the file meanwhile); `decode`
// (the default) opens the file itself, reads ONE row group (or a range of it) with parquet-wasm, once, and encodes
// it for COPY (binary, or the CSV fallback) from the target's types, in one buffer per slice of `cut` rows (the
// sub-batches), each posted to the main thread (transferred) as soon as it is encoded, a few ahead of the COPYs at
// most. Errors come back as data.
// Set-up is paid once per thread, not per task: the wasm module is instantiated when this module loads, and the
// last file opened (its footer parsed) stays open for the thread's next row group of the same file.
import './thread.js'; // first: its start-up runs before the rest is compiled
import { stat } from 'node:fs/promises';
import { threadId, type MessagePort } from 'node:worker_threads';
import type { Data, RecordBatch, Schema, Table } from 'apache-arrow';
import { wasmMemory, type FFIData, type ParquetFile, type RecordBatch as WasmBatch } from 'parquet-wasm';
import { arrow } from '../src/parquet/arrow.js';
import { BinaryEncoder, EncodeError } from '../src/parquet/binary.js';
import { importBatch } from '../src/parquet/ffi.js';
import type { ColumnPlan } from '../src/parquet/mapping.js';
import { arrowSchema, openParquet, readFooter, type Footer } from '../src/parquet/schema.js';
import { CsvEncoder } from '../src/parquet/text.js';

export interface ParquetPlanTask {
  path: string;
}

export type ParquetPlanResult = { ok: true; footer: Footer } | { ok: false; message: string };

export interface DecodeTask {
  path: string;
  rowGroup: number;
  /** range of the row group: rows [offset, offset + limit) */
  offset: number;
  limit: number;
  /** rows per COPY buffer (a sub-batch); default: the whole range in one */
  cut?: number;
  /** 0-based row number, in the file, of the slice's first row (for messages) */
  firstRow: number;
  plans: ColumnPlan[];
  encoding: 'binary' | 'text';
  timezone: string;
  /** reject-rows: a row whose value cannot be encoded is left out and listed in `rejected`, the rest encoded */
  rejecting?: boolean;
}

/** decode's task: each slice is posted on `port` as soon as it is encoded (a SliceMessage), at most
 * SLICES_AHEAD of them not yet given back by the main thread (`sync`). */
export interface StreamTask extends DecodeTask {
  port: MessagePort;
  /** Int32Array over it: [0] slices the main thread is done with (it counts up and notifies), [1] 1: stop */
  sync: SharedArrayBuffer;
}

/** One slice's COPY bytes; `rejected` rows are 0-based in the file. */
export interface SliceMessage {
  k: number;
  data: Uint8Array;
  rejected: EncodeReject[];
}

/** Slices posted and not yet given back, at most: one COPYing, one ready for the next COPY. The next is encoded
 * only then, so a row group never sits whole in memory (it did: a group's slices, the next group's, both wasm
 * heaps; 575 MB of peak RSS for the bench's ~60 MB row groups). */
export const SLICES_AHEAD = 2;

/** A row the encoder left out under reject-rows; `row` is 0-based in the file. */
export interface EncodeReject {
  row: number;
  column: string;
  message: string;
  sqlState: string;
}

/** reject-rows: render rows of a slice as CSV records (PostgreSQL's text forms) for the rejects file. */
export interface RenderTask extends DecodeTask {
  /** 0-based rows within the slice */
  rows: number[];
}

export type RenderResult = { ok: true; records: string[] } | { ok: false; message: string };

export type DecodeResult =
  | {
      ok: true;
      /** slices posted (SliceMessage), one per `cut` rows, in order */
      slices: number;
      /** the main thread gave every slice back before the end: the decode stopped there */
      stopped: boolean;
      rows: number;
      threadId: number;
      startedAt: number;
      finishedAt: number;
      /** this thread's wasm memory after the task: it never shrinks, so the main thread recycles a thread past a mark */
      wasmBytes: number;
    }
  | { ok: false; code: 'READ' | 'DATA'; message: string; row?: number; column?: string };

const now = (): number => performance.timeOrigin + performance.now();

/** The footer (the file's hash is the main thread's, read meanwhile: src/parquet/source.ts). */
export async function plan(task: ParquetPlanTask): Promise<ParquetPlanResult> {
  try {
    const { file } = await openCached(task.path); // kept open: this thread likely decodes the file's first row group
    return { ok: true, footer: readFooter(file) };
  } catch (err) {
    closeCached();
    return { ok: false, message: `cannot read the Parquet footer: ${errText(err)}` };
  }
}

/** The thread's open file: a file's row groups mostly come to the same few threads, and opening one parses its
 * footer again (about 15 ms). Keyed by size and mtime too, so a rewritten file is opened afresh. */
let open: { key: string; file: ParquetFile; schema: () => Schema } | undefined;

async function openCached(path: string): Promise<{ file: ParquetFile; schema: () => Schema }> {
  const st = await stat(path);
  const key = `${path}\0${st.size}\0${st.mtimeMs}`;
  if (open?.key === key) return open;
  closeCached();
  const file = await openParquet(path);
  let schema: Schema | undefined;
  open = { key, file, schema: () => (schema ??= arrowSchema(file)) };
  return open;
}

function closeCached(): void {
  open?.file.free();
  open = undefined;
}

/** The range's rows as an Arrow table (one record batch: batchSize = the range). */
async function readSlice(task: DecodeTask): Promise<Table> {
  const { file } = await openCached(task.path);
  const table = await file.read({
    rowGroups: [task.rowGroup],
    offset: task.offset,
    limit: task.limit,
    batchSize: Math.max(task.limit, 1),
  });
  return arrow.tableFromIPC(table.intoIPCStream()); // intoIPCStream consumes (frees) the wasm table
}

/** The range's rows as parquet-wasm record batches of `cut` rows, read as a stream: the group is decompressed
 * once, and each batch's memory can go once it is encoded (measured on the bench's groups: the CPU of one read()
 * of the group, with about 70 MB of wasm heap instead of 97). */
async function streamSlice(
  task: DecodeTask,
  cut: number,
): Promise<{ batches: AsyncIterable<WasmBatch>; schema: Schema }> {
  const { file, schema } = await openCached(task.path);
  const stream = (await file.stream({
    rowGroups: [task.rowGroup],
    offset: task.offset,
    limit: task.limit,
    batchSize: cut,
  })) as ReadableStream<WasmBatch> & AsyncIterable<WasmBatch>;
  return { batches: stream, schema: schema() };
}

/** A wasm batch as an Arrow JS batch: its buffers viewed in the wasm memory (ffi.ts), or, for what that does not
 * read, through an IPC stream copied out. The views die with `free()` or any wasm call that grows the memory, so
 * the caller uses the batch and frees it before it next awaits. */
function importWasm(b: WasmBatch, schema: Schema): { batches: RecordBatch[]; free: () => void } {
  let ffi: FFIData | undefined;
  try {
    ffi = b.toFFI();
    const batch = importBatch(wasmMemory().buffer, ffi.arrayAddr(), ffi.schemaAddr(), schema);
    const exported = ffi;
    return {
      batches: [batch],
      free: () => {
        exported.free();
        b.free();
      },
    };
  } catch {
    ffi?.free(); // not read in place (an ImportError, or a type parquet-wasm does not export): through IPC
  }
  return { batches: arrow.tableFromIPC(b.intoIPCStream()).batches, free: () => {} }; // frees the wasm batch
}

/** Each plan's column of a record batch (undefined: an ignored column). */
function columnsOf(task: DecodeTask, batch: RecordBatch): (Data | undefined)[] {
  return task.plans.map((p) =>
    p.info && p.target ? (batch.getChild(p.info.name)?.data[0] as Data | undefined) : undefined,
  );
}

/** Waits until slice `k` may be encoded (fewer than SLICES_AHEAD before it not given back); false: stop. */
function mayEncode(sync: Int32Array, k: number): boolean {
  for (;;) {
    if (Atomics.load(sync, 1) !== 0) return false;
    const done = Atomics.load(sync, 0);
    if (k - done < SLICES_AHEAD) return true;
    Atomics.wait(sync, 0, done, 250);
  }
}

export default async function decode(task: StreamTask): Promise<DecodeResult> {
  const startedAt = now();
  const cut = Math.max(task.cut ?? task.limit, 1);
  const sync = new Int32Array(task.sync);
  const { port } = task;
  let batches: AsyncIterable<WasmBatch>;
  let schema: Schema;
  try {
    ({ batches, schema } = await streamSlice(task, cut));
  } catch (err) {
    closeCached(); // a reader that failed is not trusted with the next row group
    return { ok: false, code: 'READ', message: `row group ${task.rowGroup}: ${errText(err)}` };
  }
  try {
    const encoder = (): BinaryEncoder | CsvEncoder =>
      task.encoding === 'binary'
        ? new BinaryEncoder(task.plans, task.timezone, task.rejecting)
        : new CsvEncoder(task.plans, task.timezone, task.rejecting);
    let slices = 0;
    let enc = encoder();
    let inSlice = 0;
    const endSlice = (): void => {
      const data = enc.finish();
      const rejected = enc.rejected.map((e): EncodeReject => ({
        row: e.row,
        column: e.column,
        message: e.message,
        sqlState: e.sqlState,
      }));
      port.postMessage({ k: slices++, data, rejected } satisfies SliceMessage, [data.buffer as ArrayBuffer]);
      enc = encoder();
      inSlice = 0;
    };
    let done = 0;
    let stopped = false;
    read: for await (const wasmBatch of batches) {
      // Imported, encoded and freed with no await in between (the views into the wasm memory, importWasm).
      const imported = importWasm(wasmBatch, schema);
      try {
        for (const batch of imported.batches) {
          // Batches come `cut` rows long; should one straddle two slices, it is cut (Arrow slices share the buffers).
          for (let at = 0; at < batch.numRows;) {
            if (inSlice === 0 && !mayEncode(sync, slices)) {
              stopped = true;
              break read;
            }
            const n = Math.min(batch.numRows - at, cut - inSlice);
            const part = n === batch.numRows ? batch : batch.slice(at, at + n);
            enc.add(columnsOf(task, part), n, task.firstRow + done);
            done += n;
            at += n;
            inSlice += n;
            if (inSlice === cut) endSlice();
          }
        }
      } finally {
        imported.free();
      }
    }
    if (!stopped && (inSlice > 0 || slices === 0)) endSlice();
    return {
      ok: true,
      slices,
      stopped,
      rows: done,
      threadId,
      startedAt,
      finishedAt: now(),
      wasmBytes: wasmMemory().buffer.byteLength,
    };
  } catch (err) {
    if (err instanceof EncodeError) {
      return {
        ok: false,
        code: 'DATA',
        message: `row group ${task.rowGroup}, row ${err.row + 1}, column ${JSON.stringify(err.column)}: ${err.message}`,
        row: err.row + 1,
        column: err.column,
      };
    }
    closeCached(); // a reader that failed is not trusted with the next row group
    return { ok: false, code: 'READ', message: `row group ${task.rowGroup}: ${errText(err)}` };
  }
}

export async function render(task: RenderTask): Promise<RenderResult> {
  try {
    const table = await readSlice(task);
    const enc = new CsvEncoder(task.plans, task.timezone);
    const records: string[] = [];
    let done = 0;
    for (const batch of table.batches) {
      const mine = task.rows.filter((r) => r >= done && r < done + batch.numRows).map((r) => r - done);
      records.push(...enc.render(columnsOf(task, batch), mine));
      done += batch.numRows;
    }
    return { ok: true, records };
  } catch (err) {
    closeCached();
    return { ok: false, message: `row group ${task.rowGroup}: ${errText(err)}` };
  }
}

function errText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
