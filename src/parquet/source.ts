// A Parquet file's plan on the main thread: hash + footer from a worker, columns mapped by name, types checked
// against the target (failing before any row is sent), and one BatchSource per row group (or slice of one) whose
// load() has a worker decode and encode it. file.ts then COPYs, merges and audits exactly as for CSV.
import { Readable } from 'node:stream';
import type {
  DecodeResult,
  DecodeTask,
  EncodeReject,
  ParquetPlanResult,
  RenderResult,
} from '../../workers/parquet.js';
import type { Target } from '../catalog.js';
import { mapColumns } from '../columns.js';
import type { Config } from '../config.js';
import type { BatchSource } from '../copy.js';
import type { Detected } from '../detect.js';
import { LoaderError } from '../errors.js';
import type { CopyDialect, FileColumn } from '../merge.js';
import type { ScanResult, SubBatchRange } from '../scan.js';
import { planFile, type ColumnPlan } from './mapping.js';
import type { ParquetPool } from './pool.js';
import { TEXT_DIALECT } from './text.js';
import { checkZone } from './values.js';

/** What a Parquet file's load did, in its FileResult. */
export interface ParquetStats {
  /** 'binary': COPY BINARY; 'text': the CSV fallback (a target type the binary encoder does not write) */
  encoding: 'binary' | 'text';
  rowGroups: number;
  /** the most decodes that ran at once on worker threads, from the workers' own clocks */
  maxDecodesInFlight: number;
  /** distinct worker threads that decoded the file */
  threads: number;
  /** worker threads replaced after decoding this file's row groups, their wasm memory past the mark */
  recycledThreads: number;
  /** the most row-group bytes (uncompressed, from the footer) this file held at once under --memory-limit */
  maxBytesInFlight: number;
}

export interface ParquetContext {
  config: Config;
  target: Target;
  parquetWorkers?: ParquetPool;
}

export interface ParquetPrepared {
  detected: Detected;
  dialect: CopyDialect;
  scan: ScanResult;
  columns: FileColumn[];
  sources: ParquetSource[];
  /** the file's column names as a CSV header line, for the rejects file */
  headerBytes: Buffer;
}

/** A Parquet sub-batch: a BatchSource whose bytes a worker encodes, plus what reject-rows needs of it. */
export interface ParquetSource extends BatchSource {
  /** 0-based, as in messages */
  rowGroup: number;
  encoding: 'binary' | 'text';
  /** after load(): the COPY bytes and the rows the encoder left out (reject-rows), 0-based in the slice */
  decoded(): { buf: Buffer; rejected: EncodeReject[] };
  /** rows of the slice (0-based) as CSV records, decoded again by a worker under the memory budget */
  render(rows: number[]): Promise<Buffer[]>;
  /** starts decoding ahead of load() when the budget has room now; nothing once the sub-batch was released */
  warm(): void;
}

export const BINARY_DIALECT: CopyDialect = { ...TEXT_DIALECT, format: 'binary' };

export async function prepareParquet(
  ctx: ParquetContext,
  path: string,
  detected: Detected,
  res: { sha256: string | null; rowsRead: number; parquet?: ParquetStats },
  signal: AbortSignal,
): Promise<ParquetPrepared> {
  const { config, target } = ctx;
  const pool = ctx.parquetWorkers;
  if (!pool) throw new LoaderError('INTERNAL', 'no Parquet worker pool');
  const planned = (await pool.run({ path }, { name: 'plan', signal })) as ParquetPlanResult;
  if (planned.sha256) res.sha256 = planned.sha256;
  if (!planned.ok) throw new LoaderError('READ', planned.message, { file: path });
  const { footer } = planned;
  res.rowsRead = footer.rows;
  const names = footer.fields.map((f) => f.name);
  const columns = mapColumns(
    names,
    names.length,
    target,
    target.mode,
    config.ignoreExtraColumns,
    config.tableText,
  );
  const plan = planFile(footer.fields, columns);
  if (needsZone(plan.columns) && config.timezone) {
    try {
      checkZone(config.timezone);
    } catch {
      throw new LoaderError(
        'COLUMNS',
        `--timezone ${config.timezone} is not a time zone this loader can convert Parquet timestamps in; ` +
          `use an IANA name (Europe/Paris) or UTC`,
      );
    }
  }
  const stats: ParquetStats = {
    encoding: plan.encoding,
    rowGroups: footer.rowGroups.length,
    maxDecodesInFlight: 0,
    threads: 0,
    recycledThreads: 0,
    maxBytesInFlight: 0,
  };
  res.parquet = stats;
  const intervals: [number, number][] = [];
  const threads = new Set<number>();
  const record = (r: Decoded): void => {
    intervals.push([r.startedAt, r.finishedAt]);
    threads.add(r.threadId);
    stats.threads = threads.size;
    stats.maxDecodesInFlight = maxOverlap(intervals);
    if (pool.recycle(r.threadId, r.wasmBytes)) stats.recycledThreads++;
  };
  let bytesHeld = 0;
  const hold = (delta: number): void => {
    bytesHeld += delta;
    stats.maxBytesInFlight = Math.max(stats.maxBytesInFlight, bytesHeld);
  };

  const sources: ParquetSource[] = [];
  let firstRow = 0;
  footer.rowGroups.forEach((g, rowGroup) => {
    for (let offset = 0; offset < g.rows; offset += config.batchSize) {
      const limit = Math.min(config.batchSize, g.rows - offset);
      // --memory-limit admits the slice by its share of the group's uncompressed size
      const bytes = g.rows > 0 ? Math.ceil((g.bytes * limit) / g.rows) : 0;
      const batch: SubBatchRange = {
        index: sources.length,
        start: 0,
        end: 0,
        firstLine: firstRow + offset + 1, // for Parquet, "line" is the 1-based row number in the file
        records: limit,
      };
      const task: DecodeTask = {
        path,
        rowGroup,
        offset,
        limit,
        firstRow: firstRow + offset,
        plans: plan.columns,
        encoding: plan.encoding,
        timezone: config.timezone,
        rejecting: config.onError === 'reject-rows',
      };
      const next = sources.length + 1;
      const ahead = (): void => {
        for (const s of sources.slice(next, next + pool.threads)) s.warm();
      };
      sources.push(decodeSource(pool, task, bytes, batch, signal, record, hold, path, ahead));
    }
    firstRow += g.rows;
  });
  const scan: ScanResult = {
    batches: sources.map((s) => s.batch),
    records: footer.rows,
    bytes: detected.bytes,
  };
  return {
    detected,
    dialect: plan.encoding === 'binary' ? BINARY_DIALECT : { ...TEXT_DIALECT },
    scan,
    columns,
    sources,
    headerBytes: Buffer.from(columns.map((c) => csvField(c.source)).join(',') + '\n'),
  };
}

function csvField(s: string): string {
  return /[",\r\n]|^\s|\s$|^$/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

type Decoded = Extract<DecodeResult, { ok: true }>;

/** A sub-batch whose bytes a worker makes: admitted by the run's byte budget, decoded and encoded on load(), held
 * (with its share of the budget) until release(). load() also warms the next sub-batches (`ahead`, one per decode
 * thread), so that the workers decode while this one is COPYed: without it decode and COPY took turns. */
function decodeSource(
  pool: ParquetPool,
  task: DecodeTask,
  bytes: number,
  batch: SubBatchRange,
  signal: AbortSignal,
  record: (r: Decoded) => void,
  hold: (delta: number) => void,
  path: string,
  ahead: () => void,
): ParquetSource {
  let buf: Buffer | undefined;
  let rejected: EncodeReject[] = [];
  let giveBack: (() => void) | undefined;
  let released = false;
  const release = (): void => {
    released = true;
    buf = undefined;
    if (!giveBack) return;
    giveBack();
    giveBack = undefined;
    hold(-bytes);
  };
  let loading: Promise<Buffer> | undefined; // one decode (and one share of the budget) however many callers
  const load = (): Promise<Buffer> => {
    released = false;
    ahead();
    return (loading ??= admitAndDecode().finally(() => (loading = undefined)));
  };
  const warm = (): void => {
    if (released || buf || loading || giveBack || signal.aborted) return;
    const granted = pool.budget.tryAcquire(bytes);
    if (!granted) return;
    giveBack = granted;
    hold(bytes);
    // A failure is load()'s to report: it decodes again (and fails again) when the sub-batch's turn comes.
    loading = admitAndDecode().finally(() => (loading = undefined));
    loading.catch(() => {});
  };
  const admitAndDecode = async (): Promise<Buffer> => {
    if (buf) return buf;
    if (!giveBack) {
      giveBack = await pool.budget.acquire(bytes, signal);
      hold(bytes);
    }
    let b: Buffer;
    try {
      b = await decode();
    } catch (err) {
      release();
      throw err;
    }
    if (!released) buf = b; // released while decoding (the file failed): nothing keeps the bytes
    return b;
  };
  const decode = async (): Promise<Buffer> => {
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
    if (!r.ok) {
      throw new LoaderError(r.code, r.message, { file: path, line: r.row, column: r.column });
    }
    record(r);
    rejected = r.rejected.map((x) => ({ ...x, row: x.row - task.firstRow }));
    return Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength);
  };
  const render = async (rows: number[]): Promise<Buffer[]> => {
    const back = await pool.budget.acquire(bytes, signal);
    hold(bytes);
    try {
      const r = (await pool.run({ ...task, rows }, { name: 'render', signal })) as RenderResult;
      if (!r.ok) throw new LoaderError('READ', r.message, { file: path });
      return r.records.map((x) => Buffer.from(x));
    } finally {
      back();
      hold(-bytes);
    }
  };
  return {
    batch,
    rowGroup: task.rowGroup,
    encoding: task.encoding,
    decoded: () => {
      if (!buf) throw new Error(`row group ${task.rowGroup}: not decoded`);
      return { buf, rejected };
    },
    render,
    warm,
    load: async () => void (await load()),
    release,
    open: () => Readable.from([buf ?? Buffer.alloc(0)]),
    // Binary bytes cannot be re-read as CSV records: the error keeps COPY's row number instead.
    bytes: async () => {
      if (task.encoding === 'binary') throw new Error('binary COPY: no record text');
      return load();
    },
  };
}

function needsZone(plans: ColumnPlan[]): boolean {
  return plans.some((p) => p.info?.kind === 'timestamp' || p.info?.kind === 'date');
}

/** The most intervals that overlap at one instant. */
export function maxOverlap(intervals: [number, number][]): number {
  const events = intervals.flatMap(([s, e]) => [
    [s, 1],
    [e, -1],
  ]);
  events.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let cur = 0;
  let max = 0;
  for (const [, d] of events) max = Math.max(max, (cur += d!));
  return max;
}
