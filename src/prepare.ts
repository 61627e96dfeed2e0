// Preparing a file: detect its format, sniff the CSV dialect, plan it in a worker (sha256 + record-aligned
// sub-batches), read the header and map its columns; then the sub-batches as byte sources (file slices, or a gzip
// stream decompressed once and cut in order). A file still being written is skipped, not loaded.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import type { PlanResult, PlanTask } from '../workers/plan.js';
import { mapColumns } from './columns.js';
import type { BatchSource } from './copy.js';
import { detect, type Detected } from './detect.js';
import { LoaderError } from './errors.js';
import type { FileResult, RunContext } from './file.js';
import type { CopyDialect, FileColumn } from './merge.js';
import { prepareParquet, type ParquetSource } from './parquet/source.js';
import type { ScanResult, SubBatchRange } from './scan.js';
import { decoderName, sniff } from './sniff.js';

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
  scan: ScanResult;
  columns: FileColumn[];
  /** Parquet: sub-batches decoded by workers (CSV: cut from the file's bytes) */
  sources?: ParquetSource[];
  /** the header record's bytes, for the rejects file */
  headerBytes?: Buffer;
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
  ctx: Pick<RunContext, 'config' | 'target' | 'workers' | 'parquetWorkers'>,
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
  if (detected.format === 'parquet') {
    const pq = await prepareParquet(ctx, path, detected, res, signal);
    await ensureUnchanged(path, detected);
    return pq;
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
  const task: PlanTask = {
    path,
    gzip: detected.gzip,
    quote: dialect.quote.charCodeAt(0),
    escape: dialect.escape.charCodeAt(0),
    batchSize: config.batchSize,
    header,
    skipBytes: s.bom ? 3 : 0,
  };
  const planned = (await ctx.workers.run(task, { signal })) as PlanResult;
  if (planned.sha256) res.sha256 = planned.sha256;
  if (!planned.ok) {
    throw new LoaderError(planned.kind === 'csv' ? 'CSV' : 'READ', planned.message, {
      file: path,
      line: planned.line,
    });
  }
  res.sha256 = planned.sha256;
  res.rowsRead = planned.scan.records;
  await ensureUnchanged(path, detected);
  let headerFields: string[] | undefined;
  let headerBytes: Buffer | undefined;
  if (header && planned.scan.header) {
    const bytes = await readRange(path, detected, planned.scan.header.start, planned.scan.header.end);
    headerBytes = bytes;
    const rows = parse(bytes.toString(decoderName(config.encoding)), {
      delimiter: dialect.delimiter,
      quote: dialect.quote,
      escape: dialect.escape,
      relax_column_count: true,
    }) as string[][];
    headerFields = rows[0] ?? [];
  }
  if (!headerFields && planned.scan.records === 0) {
    // Empty file: nothing to map; load zero rows.
    return { detected, dialect, scan: planned.scan, columns: [] };
  }
  const columns = mapColumns(
    headerFields,
    s.firstRecord.length,
    target,
    target.mode,
    config.ignoreExtraColumns,
    config.tableText,
  );
  return { detected, dialect, scan: planned.scan, columns, headerBytes };
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

export function batchSources(path: string, prep: Prepared): BatchSource[] {
  if (!prep.detected.gzip) {
    return prep.scan.batches.map((batch: SubBatchRange) => ({
      batch,
      open: () => rangeStream(path, false, batch.start, batch.end),
      bytes: () => readRange(path, prep.detected, batch.start, batch.end),
    }));
  }
  // gzip has no random access: one decompression pass cuts the sub-batches in order; each is held in memory from
  // its turn until its COPY is done (so a retry can resend it), so at most --internal-concurrency are held.
  const splitter = new GzipSplitter(path);
  return prep.scan.batches.map((batch: SubBatchRange) => {
    let buf: Buffer | undefined;
    const load = async (): Promise<Buffer> => (buf ??= await splitter.take(batch.start, batch.end));
    return {
      batch,
      load: async () => void (await load()),
      release: () => (buf = undefined),
      open: () => Readable.from([buf ?? Buffer.alloc(0)]),
      bytes: load,
    };
  });
}

/** Decompresses a gzip file once, handing out consecutive byte ranges of its content in order. */
class GzipSplitter {
  private it: AsyncIterator<Buffer> | undefined;
  private pending: Buffer = Buffer.alloc(0);
  private pos = 0; // decoded offset of pending[0]
  private chain: Promise<unknown> = Promise.resolve();
  constructor(private readonly path: string) {}

  private open(): void {
    const raw = createReadStream(this.path, { highWaterMark: 1 << 20 });
    const gz = raw.pipe(createGunzip());
    raw.on('error', (e) => gz.destroy(e));
    this.pending = Buffer.alloc(0);
    this.pos = 0;
    this.it = gz[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  take(start: number, end: number): Promise<Buffer> {
    const run = this.chain.then(async () => {
      // A range behind the stream (a retry after its bytes were released): decompress again from the start.
      if (!this.it || start < this.pos) {
        await this.it?.return?.();
        this.open();
      }
      const it = this.it!;
      const parts: Buffer[] = [];
      while (this.pos < end) {
        if (this.pending.length === 0) {
          const r = await it.next();
          if (r.done) break;
          this.pending = r.value;
        }
        const from = Math.max(start - this.pos, 0);
        const to = Math.min(end - this.pos, this.pending.length);
        if (to > from) parts.push(this.pending.subarray(from, to));
        this.pending = this.pending.subarray(to);
        this.pos += to;
      }
      return Buffer.concat(parts);
    });
    this.chain = run.catch(() => {});
    return run;
  }
}
