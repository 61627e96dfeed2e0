// Preparing a file: detect its format, sniff the CSV dialect, hash it in a worker (sha256 alone, before any row is
// written), read the header and map its columns; then the record scan (in a worker, overlapped with the COPYs:
// src/feed.ts) cuts the sub-batches as byte sources (file slices, or a gzip stream decompressed once and cut in
// order). A file that fits in the detection sample is hashed and scanned at once, here. A file still being written
// is skipped, not loaded.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import type { EncodeResult, HashAndScanResult, HashResult, PlanTask, PlanWork } from '../workers/plan.js';
import { mapColumns } from './columns.js';
import type { BatchSource } from './copy.js';
import { detect, type Detected } from './detect.js';
import { LoaderError } from './errors.js';
import { BatchFeed, newRoute, type Route } from './feed.js';
import type { FileResult, RunContext } from './file.js';
import type { CopyDialect, FileColumn } from './merge.js';
import { prepareParquet, type ParquetSource } from './parquet/source.js';
import { isUtc } from './parquet/values.js';
import {
  CsvScanError,
  newlinesIn,
  RecordScanner,
  type ByteRange,
  type ScanResult,
  type SubBatchRange,
} from './scan.js';
import { GzipRanges } from './gzip.js';
import { decoderName, sniff } from './sniff.js';
import { binaryOptions, binarySource } from './csvbin/source.js';
import { keyField } from './keyrange.js';
import type { Logger } from 'pino';

/** A file that is not loaded, on purpose: already loaded, in progress elsewhere, still being written. */
export class SkipError extends LoaderError {
  constructor(
    readonly reason: 'ALREADY_LOADED' | 'IN_PROGRESS' | 'DUPLICATE' | 'CHANGING' | 'TOO_NEW',
    message: string,
  ) {
    super('SKIPPED', message);
    this.name = 'SkipError';
  }
}

export interface Prepared {
  detected: Detected;
  dialect: CopyDialect;
  /** Parquet: its row groups. CSV: only the header's range; the sub-batches and totals come through `feed` */
  scan: ScanResult;
  columns: FileColumn[];
  /** Parquet: sub-batches decoded by workers (CSV: cut from the file's bytes) */
  sources?: ParquetSource[];
  /** CSV: the sub-batches as the record scan cuts them (absent for an empty file) */
  feed?: BatchFeed;
  /** the header record's bytes, for the rejects file */
  headerBytes?: Buffer;
  /** CSV: 'binary' when its sub-batches are converted to COPY BINARY where their values allow (src/csvbin/) */
  copyFormat?: 'binary' | 'text';
  /** where the sub-batches go: file.ts sets it before the first is prepared */
  route: Route;
}

/** A file whose size or mtime moved since it was detected is still being written: not loaded now. Checked after
 * the hashing pass and again inside the commit's transaction, so what commits is what was hashed. */
export async function ensureUnchanged(path: string, d: Pick<Detected, 'bytes' | 'mtimeMs'>): Promise<void> {
  const st = await stat(path).catch(() => undefined);
  if (!st || st.size !== d.bytes || st.mtimeMs !== d.mtimeMs) {
    throw new SkipError(
      'CHANGING',
      st
        ? 'the file changed while it was being loaded (still being written?)'
        : 'the file disappeared while it was being loaded',
    );
  }
}

/** Detect, sniff, plan in a worker, parse the header and map columns. */
export async function prepare(
  ctx: Pick<RunContext, 'config' | 'target' | 'workers' | 'parquetWorkers' | 'buffers'> & { log?: Logger },
  path: string,
  res: FileResult,
  signal: AbortSignal,
): Promise<Prepared> {
  const { config, target } = ctx;
  const detected = await detect(path, config.fileType);
  res.format = detected.format;
  res.bytes = detected.bytes;
  const age = (Date.now() - detected.mtimeMs) / 1000;
  if (age < config.minAgeSeconds) {
    throw new SkipError(
      'TOO_NEW',
      `modified ${Math.max(0, age).toFixed(0)}s ago, less than --min-age ${config.minAgeSeconds}s: still being written?`,
    );
  }
  const route = newRoute();
  if (detected.format === 'parquet') {
    const pq = await prepareParquet(ctx, path, detected, res, signal, route);
    await ensureUnchanged(path, detected);
    return { ...pq, route };
  }
  const s = sniff(detected.sample, {
    delimiter: config.delimiter,
    quote: config.quote,
    escape: config.escape,
    header: config.header,
    encoding: decoderName(config.encoding),
    columns: target.columns.map((c) => c.name),
  });
  const dialect: CopyDialect = {
    delimiter: s.delimiter,
    quote: s.quote,
    escape: config.escape ?? s.quote,
    null: config.null,
    encoding: config.encoding,
  };
  const header = s.header ?? true;
  const task: Omit<PlanTask, 'port'> = {
    path,
    gzip: detected.gzip,
    quote: dialect.quote.charCodeAt(0),
    escape: dialect.escape.charCodeAt(0),
    batchSize: config.batchSize,
    header,
    skipBytes: s.bom ? 3 : 0,
  };
  // A file within the sample (not gzip: the sample is its bytes on disk) is hashed and scanned here at once; a file
  // of about one sub-batch in one worker task (nothing to overlap); a larger one is hashed first, then scanned
  // alongside its COPYs.
  const inSample = detected.sampleIsAll && !detected.gzip;
  const perRecord = bytesPerRecord(detected.sample, task);
  const oneBatch = !detected.gzip && detected.bytes <= perRecord * config.batchSize;
  let whole: ScanResult | undefined;
  if (inSample) {
    res.sha256 = createHash('sha256').update(detected.sample).digest('hex');
  } else if (oneBatch) {
    const work: PlanWork = { op: 'hashAndScan', ...task };
    const r = (await ctx.workers.run(work, { signal })) as HashAndScanResult;
    if (r.sha256) res.sha256 = r.sha256;
    if (!r.ok)
      throw new LoaderError(r.kind === 'csv' ? 'CSV' : 'READ', r.message, { file: path, line: r.line });
    whole = r.scan;
  } else {
    const work: PlanWork = { op: 'hash', path };
    const hashed = (await ctx.workers.run(work, { signal })) as HashResult;
    if (!hashed.ok) throw new LoaderError('READ', hashed.message, { file: path });
    res.sha256 = hashed.sha256;
  }
  await ensureUnchanged(path, detected);
  if (inSample) whole = scanAll(path, detected.sample, task);
  if (whole) res.rowsRead = whole.records;
  const headerRange = whole ? whole.header : header ? await findHeader(path, detected, task) : undefined;
  let headerFields: string[] | undefined;
  let headerBytes: Buffer | undefined;
  if (headerRange) {
    const bytes = await readRange(path, detected, headerRange.start, headerRange.end);
    headerBytes = bytes;
    const rows = parse(bytes.toString(decoderName(config.encoding)), {
      delimiter: dialect.delimiter,
      quote: dialect.quote,
      escape: dialect.escape,
      relax_column_count: true,
    }) as string[][];
    headerFields = rows[0] ?? [];
  }
  const scan: ScanResult = whole ?? { header: headerRange, batches: [], records: 0, bytes: 0 };
  const empty =
    detected.sampleIsAll && (whole ? whole.records === 0 : detected.sample.length <= task.skipBytes);
  if (!headerFields && empty) {
    // Empty file: nothing to map; load zero rows.
    return { detected, dialect, scan, columns: [], route };
  }
  const columns = mapColumns(
    headerFields,
    s.firstRecord.length,
    target,
    target.mode,
    config.ignoreExtraColumns,
    config.tableText,
  );
  const csvSources = sourceMaker(path, detected);
  // CSV rows as COPY BINARY, converted by workers, when the columns' types allow (src/csvbin/source.ts)
  const options = (config.connection as { options?: string }).options ?? '';
  const bin = binaryOptions(
    {
      format: config.copyFormat,
      onError: config.onError,
      // the DSN's options= (or PGOPTIONS) may set another TimeZone, which wins over --timezone
      utcSession: !/timezone/i.test(options) && isUtc(config.timezone),
    },
    dialect,
    columns,
    path,
  );
  const key = bin && keyField(target, columns);
  const sources = !bin
    ? csvSources
    : (b: SubBatchRange, converted?: EncodeResult) =>
        binarySource(
          csvSources(b),
          {
            workers: ctx.workers,
            path,
            gzip: detected.gzip,
            options: bin,
            route,
            key,
            signal,
            buffers: ctx.buffers,
            onFallback: (src, why) =>
              ctx.log?.debug({ file: path, batch: src.batch.index }, `sub-batch sent as CSV: ${why}`),
          },
          converted,
        );
  const feed = whole
    ? BatchFeed.of(
        whole.batches.map((b) => sources(b)),
        whole,
        route,
      )
    : BatchFeed.scan(ctx.workers, task, path, sources, {
        signal,
        singleBatch: false, // a file of about one sub-batch was scanned whole above
        route,
        // where the route lets it (file.ts), the scan converts too: the records from past the header on
        convert: bin
          ? {
              path,
              start: headerRange?.end ?? task.skipBytes,
              line: 1 + (headerBytes ? newlinesIn(headerBytes) : 0),
              batchSize: task.batchSize,
              options: bin,
              buffers: ctx.buffers,
              gzip: detected.gzip,
              estimate: Math.min(64 << 20, Math.ceil(perRecord * task.batchSize * 1.25) + (64 << 10)),
            }
          : undefined,
      });
  return { detected, dialect, scan, columns, headerBytes, feed, copyFormat: bin ? 'binary' : 'text', route };
}

/** The whole scan of a file held in memory (the detection sample); a CSV error names the line. */
function scanAll(path: string, buf: Buffer, task: Omit<PlanTask, 'port'>): ScanResult {
  const scanner = new RecordScanner(task);
  scanner.push(buf);
  try {
    return scanner.finish();
  } catch (err) {
    if (err instanceof CsvScanError)
      throw new LoaderError('CSV', err.message, { file: path, line: err.line });
    throw err;
  }
}

/** The header record's range: in the sample, or (a header longer than the sample) read on until it ends. */
async function findHeader(
  path: string,
  d: Detected,
  task: Omit<PlanTask, 'port'>,
): Promise<ByteRange | undefined> {
  const scanner = new RecordScanner(task);
  scanner.push(d.sample);
  if (scanner.headerRange() || d.sampleIsAll) return scanner.headerRange() ?? headerAtEnd(scanner);
  for await (const chunk of rangeStream(path, d.gzip, d.sample.length, Number.MAX_SAFE_INTEGER)) {
    scanner.push(chunk as Buffer);
    if (scanner.headerRange()) return scanner.headerRange();
  }
  return headerAtEnd(scanner);
}

/** A header that is the whole file, without a trailing newline; undefined inside an unterminated quote (the scan
 * reports that, with its line). */
function headerAtEnd(scanner: RecordScanner): ByteRange | undefined {
  try {
    return scanner.finish().header;
  } catch {
    return undefined;
  }
}

/** Bytes per record in the sample (its last, possibly cut, record left out). */
function bytesPerRecord(sample: Buffer, task: Omit<PlanTask, 'port'>): number {
  const scanner = new RecordScanner({ ...task, batchSize: 1, header: false });
  scanner.push(sample);
  const done = scanner.completed();
  return done.length > 0 ? done[done.length - 1]!.end / done.length : Number.POSITIVE_INFINITY;
}

async function readRange(path: string, d: Detected, start: number, end: number): Promise<Buffer> {
  if (!d.gzip && end <= d.sample.length) return d.sample.subarray(start, end);
  if (d.gzip && end <= d.sample.length) return d.sample.subarray(start, end);
  const chunks: Buffer[] = [];
  for await (const c of rangeStream(path, d.gzip, start, end)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A stream of decoded bytes [start, end): a file slice, or the gzip stream decompressed and cut. */
function rangeStream(path: string, gzip: boolean, start: number, end: number): Readable {
  if (end <= start) return Readable.from([]);
  if (!gzip) return createReadStream(path, { start, end: end - 1, highWaterMark: 1 << 20 });
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  const gz = raw.pipe(createGunzip());
  raw.on('error', (e) => gz.destroy(e));
  return Readable.from(
    (async function* () {
      let pos = 0;
      try {
        for await (const chunk of gz) {
          const c = chunk as Buffer;
          const s = Math.max(start - pos, 0);
          const e = Math.min(end - pos, c.length);
          if (e > s) yield c.subarray(s, e);
          pos += c.length;
          if (pos >= end) break;
        }
      } finally {
        gz.destroy();
        raw.destroy();
      }
    })(),
  );
}

/** The sub-batches' byte sources: file slices, or (gzip has no random access) one decompression pass that cuts them
 * in order; each is held in memory from its turn until its COPY is done (so a retry can resend it), so at most
 * --internal-concurrency are held. */
function sourceMaker(path: string, d: Detected): (batch: SubBatchRange) => BatchSource {
  if (!d.gzip) {
    return (batch) => ({
      batch,
      open: () => rangeStream(path, false, batch.start, batch.end),
      bytes: () => readRange(path, d, batch.start, batch.end),
    });
  }
  const content = new GzipRanges(path);
  return (batch) => {
    let buf: Buffer | undefined;
    const load = async (): Promise<Buffer> => (buf ??= (await content.take(batch.start, batch.end)).bytes);
    return {
      batch,
      load: async () => void (await load()),
      release: () => (buf = undefined),
      open: () => Readable.from([buf ?? Buffer.alloc(0)]),
      bytes: load,
    };
  };
}
