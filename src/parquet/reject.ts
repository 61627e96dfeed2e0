// --on-error reject-rows for Parquet: a sub-batch's rows the encoder could not write are set aside as the worker
// listed them; the rest goes to COPY through the same loop as CSV (src/reject.ts), cut into COPY BINARY tuples
// (each resent with the header and trailer) or, for the text fallback, into CSV records. A reject's place is its
// row group and its row in the file; its CSV text is rendered by a worker when the rejects file is written.
import type pg from 'pg';
import { LoaderError } from '../errors.js';
import {
  columnOf,
  copySegments,
  csvSegments,
  type Located,
  type Rejects,
  type Segments,
  type SegmentsJob,
} from '../reject.js';
import type { ParquetSource } from './source.js';
import { TEXT_DIALECT } from './text.js';
import { COPY_SIGNATURE } from './writer.js';

const TRAILER = Buffer.from([0xff, 0xff]);
const QUOTE = { quote: TEXT_DIALECT.quote.charCodeAt(0), escape: TEXT_DIALECT.escape.charCodeAt(0) };

/** A COPY BINARY stream cut into its parts: bytes [0, header) are the header; tuple k is [bounds[k],
 * bounds[k + 1]); the trailer follows the last tuple. */
export interface Tuples {
  header: number;
  bounds: number[];
}

/** Splits a COPY BINARY stream (signature, flags, header extension, tuples of an int16 field count then per field
 * an int32 length and its bytes, -1 for NULL, then the int16 -1 trailer) into tuples. Throws on a malformed one. */
export function splitTuples(buf: Uint8Array): Tuples {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const bad = (why: string, at: number): never => {
    throw new Error(`not a COPY BINARY stream: ${why} at byte ${at}`);
  };
  if (b.length < COPY_SIGNATURE.length + 8 || !b.subarray(0, COPY_SIGNATURE.length).equals(COPY_SIGNATURE))
    bad('no signature', 0);
  const ext = b.readInt32BE(COPY_SIGNATURE.length + 4);
  const header = COPY_SIGNATURE.length + 8 + ext;
  if (ext < 0 || header > b.length) bad('bad header extension', COPY_SIGNATURE.length + 4);
  const bounds = [header];
  let pos = header;
  for (;;) {
    if (pos + 2 > b.length) bad('no trailer', pos);
    const fields = b.readInt16BE(pos);
    if (fields === -1) break;
    if (fields < 0) bad(`field count ${fields}`, pos);
    pos += 2;
    for (let f = 0; f < fields; f++) {
      if (pos + 4 > b.length) bad('truncated tuple', pos);
      const len = b.readInt32BE(pos);
      if (len < -1) bad(`field length ${len}`, pos);
      pos += 4 + Math.max(len, 0);
      if (pos > b.length) bad('truncated field', pos);
    }
    bounds.push(pos);
  }
  if (pos + 2 !== b.length) bad('bytes after the trailer', pos + 2);
  return { header, bounds };
}

/** The `count` COPY BINARY tuples of `buf`: any run goes with the header and the trailer; COPY's `line N` is the
 * Nth tuple. The stream is split only when a part of it is asked for: the whole goes as it is. */
export function binarySegments(buf: Buffer, count: number): Segments {
  let tuples: Tuples | undefined;
  const split = (): Tuples => {
    tuples ??= splitTuples(buf);
    if (tuples.bounds.length - 1 !== count)
      throw new LoaderError('INTERNAL', `${tuples.bounds.length - 1} tuples encoded for ${count} rows`);
    return tuples;
  };
  return {
    count,
    payload: (lo, hi) => {
      if (lo === 0 && hi === count) return [buf];
      const { header, bounds } = split();
      return [buf.subarray(0, header), buf.subarray(bounds[lo]!, bounds[hi]!), TRAILER];
    },
    atLine: (_lo, _hi, line) => (line >= 1 ? line - 1 : undefined),
  };
}

/** Where a row of the slice (0-based) is: its row group and its row in the file (1-based); its text comes later. */
export function parquetLocator(source: ParquetSource): (row: number) => Located {
  return (row) => ({
    line: source.batch.firstLine + row,
    offset: source.batch.firstLine + row,
    raw: Buffer.alloc(0),
    rowGroup: source.rowGroup,
  });
}

export interface ParquetRejectingJob extends SegmentsJob {
  source: ParquetSource;
  rejects: Rejects;
}

/** COPYs a decoded Parquet sub-batch (after load()), setting aside the rows the encoder left out and those
 * PostgreSQL refuses. Returns the rows loaded and the slice's rows (0-based) in the order they were loaded. */
export async function copyParquetRejecting(
  client: pg.ClientBase,
  job: ParquetRejectingJob,
): Promise<{ rows: number; sent: number[] }> {
  const { batch } = job.source;
  const { buf, rejected } = job.source.decoded();
  const locate = parquetLocator(job.source);
  for (const e of rejected) {
    job.rejects.add({
      batch: batch.index,
      record: e.row,
      ...locate(e.row),
      column: e.column,
      sqlState: e.sqlState,
      message: e.message,
    });
  }
  // The rows the bytes hold, in order: the slice's rows less those the encoder left out.
  const left = new Set(rejected.map((e) => e.row));
  const kept: number[] = [];
  for (let r = 0; r < batch.records; r++) if (!left.has(r)) kept.push(r);
  const segs = job.source.encoding === 'binary' ? binarySegments(buf, kept.length) : csvSegments(buf, QUOTE);
  if (segs.count !== kept.length) {
    throw new LoaderError(
      'INTERNAL',
      `row group ${job.source.rowGroup}: ${segs.count} records encoded for ${kept.length} rows`,
    );
  }
  const r = await copySegments(client, job, segs, (k, err) =>
    job.rejects.add({
      batch: batch.index,
      record: kept[k]!,
      ...locate(kept[k]!),
      column: columnOf(err),
      sqlState: err.code,
      message: err.message,
    }),
  );
  return { rows: r.rows, sent: r.sent.map((k) => kept[k]!) };
}
