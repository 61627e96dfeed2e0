// A Parquet file's plan on the main thread: hash + footer from a worker, columns mapped by name, types checked
// against the target (failing before any row is sent), and one BatchSource per row group (or slice of one) whose
// load() has a worker decode and encode it. file.ts then COPYs, merges and audits exactly as for CSV.
import { Readable } from 'node:stream';
import type { DecodeTask, EncodeReject, ParquetPlanResult, RenderResult } from '../../workers/parquet.js';
import type { Target } from '../catalog.js';
import { mapColumns } from '../columns.js';
import type { Config } from '../config.js';
import type { BatchSource } from '../copy.js';
import type { Route } from '../feed.js';
import type { Detected } from '../detect.js';
import { LoaderError } from '../errors.js';
import { sha256Of } from '../hash.js';
import type { CopyDialect, FileColumn } from '../merge.js';
import type { ScanResult, SubBatchRange } from '../scan.js';
import { keyField, keyRange, type KeyField } from '../keyrange.js';
import { GroupDecode, type Decoded, type GroupContext, type SliceBytes } from './group.js';
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
  /** the most decoded slices (sub-batches' COPY bytes) the main thread held at once for this file */
  maxSlicesHeld: number;
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
}

export const BINARY_DIALECT: CopyDialect = { ...TEXT_DIALECT, format: 'binary' };

export async function prepareParquet(
  ctx: ParquetContext,
  path: string,
  detected: Detected,
  res: { sha256: string | null; rowsRead: number; parquet?: ParquetStats },
  signal: AbortSignal,
  /** how many groups to decode ahead: read when a group's decode ends */
  route: Pick<Route, 'ahead'>,
): Promise<ParquetPrepared> {
  const { config, target } = ctx;
  const pool = ctx.parquetWorkers;
  if (!pool) throw new LoaderError('INTERNAL', 'no Parquet worker pool');
  // the hash here while a worker reads the footer (and, the first time, starts: its wasm and Arrow modules)
  const hashing = sha256Of(path, signal);
  hashing.catch(() => {}); // awaited below, whichever way the footer goes
  const planned = (await pool.run({ path }, { name: 'plan', signal })) as ParquetPlanResult;
  if (!planned.ok) {
    res.sha256 = await hashing.catch(() => null); // a file that is not Parquet still leaves its hash in the audit
    throw new LoaderError('READ', planned.message, { file: path });
  }
  res.sha256 = await hashing.catch((err: Error) => {
    throw signal.aborted ? err : new LoaderError('READ', err.message, { file: path });
  });
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
    maxSlicesHeld: 0,
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
  const groups: GroupDecode[] = [];
  let slicesHeld = 0;
  const countSlices = (delta: number): void => {
    slicesHeld += delta;
    stats.maxSlicesHeld = Math.max(stats.maxSlicesHeld, slicesHeld);
  };
  const gctx: GroupContext = { pool, signal, path, record, hold, slices: countSlices };
  // staging with a one-column integer key: each slice's key range, for the merge as landed (src/keyrange.ts)
  const key = plan.encoding === 'binary' ? keyField(target, columns) : undefined;
  let firstRow = 0;
  footer.rowGroups.forEach((g, rowGroup) => {
    const task: DecodeTask = {
      path,
      rowGroup,
      offset: 0,
      limit: g.rows,
      cut: config.batchSize,
      firstRow,
      plans: plan.columns,
      encoding: plan.encoding,
      timezone: config.timezone,
      rejecting: config.onError === 'reject-rows',
    };
    const slices: number[] = [];
    for (let offset = 0; offset < g.rows; offset += config.batchSize)
      slices.push(Math.min(config.batchSize, g.rows - offset));
    if (slices.length === 0) return;
    // The end of a group's decode warms the next group: decoded while this one's last slices are COPYed (one
    // decode of a group took less CPU than the server's COPY of it; more ahead only held more memory), often on the
    // same thread (one wasm heap). On the direct path, where one stream COPYs the groups in turn,
    // --internal-concurrency 4 decodes the next 3 at once (under --memory-limit).
    const ahead = (): void => {
      for (let j = next; j < next + route.ahead; j++) groups[j]?.warm();
    };
    const group = new GroupDecode(gctx, task, slices, g.bytes, ahead);
    const next = groups.push(group);
    slices.forEach((limit, k) => {
      const offset = k * config.batchSize;
      const batch: SubBatchRange = {
        index: sources.length,
        start: 0,
        end: 0,
        firstLine: firstRow + offset + 1, // for Parquet, "line" is the 1-based row number in the file
        records: limit,
      };
      // reject-rows renders rows of the slice alone, its share of the group's bytes admitted by --memory-limit
      const slice: DecodeTask = { ...task, offset, limit, cut: undefined, firstRow: firstRow + offset };
      const bytes = Math.ceil((g.bytes * limit) / g.rows);
      sources.push(sliceSource(group, k, slice, bytes, batch, gctx, key));
    });
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

/** A sub-batch: slice k of a row group, whose bytes its group's decode makes (load()), held until release(). */
function sliceSource(
  group: GroupDecode,
  k: number,
  task: DecodeTask,
  bytes: number,
  batch: SubBatchRange,
  ctx: GroupContext,
  key?: KeyField,
): ParquetSource {
  const { pool, signal, path, hold } = ctx;
  let held: SliceBytes | undefined;
  const load = async (): Promise<Buffer> => {
    held = await group.get(k);
    return held.buf;
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
      if (!held) throw new Error(`row group ${task.rowGroup}: not decoded`);
      return held;
    },
    render,
    load: async () => void (await load()),
    release: (copied) => {
      held = undefined;
      group.release(k, copied);
    },
    open: () => Readable.from([held?.buf ?? Buffer.alloc(0)]),
    keys: () => (held && key ? keyRange(held.buf, key) : undefined),
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
