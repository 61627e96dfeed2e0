// --on-error reject-rows: rows that cannot load are set aside with their raw bytes and the reason, the rest
// loads. At COPY time the bad record is found by the line COPY reports (by bisection when it reports none) and
// the sub-batch is sent again around it; at merge time (unique, foreign-key, CHECK violations) the bad staging
// row is found by bisection under savepoints, and mapped back to its record through its order in the sub-batch.
// Parquet (src/parquet/reject.ts) uses the same loops with its own cutting of the COPY bytes and its own places.
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { classifyError, LoaderError } from './errors.js';
import { BATCH_COL, ORD_COL, mergeSql, type FileColumn } from './merge.js';
import type { Target } from './catalog.js';
import type { Mode } from './config.js';
import { recordAtLine, scanBuffer, type ScanOptions, type SubBatchRange } from './scan.js';
import { quoteIdent } from './sql.js';

export interface Reject {
  batch: number;
  /** the record's 0-based ordinal in its sub-batch */
  record: number;
  /** the file line the record starts on (Parquet: the 1-based row in the file) */
  line: number;
  /** byte offset of the record in the (decompressed) file (Parquet: the row, for the order) */
  offset: number;
  /** the record's bytes (Parquet: empty, rendered as CSV when the rejects are written) */
  raw: Buffer;
  /** Parquet: the row group, 0-based as in messages */
  rowGroup?: number;
  column?: string;
  sqlState?: string;
  message: string;
}

export interface RejectLimit {
  /** at most this many rows */
  count?: number;
  /** at most this percentage of the file's rows */
  percent?: number;
}

/** A record's place in the file and its bytes. */
export type Located = Pick<Reject, 'line' | 'offset' | 'raw' | 'rowGroup'>;

/** Where a reject is, for messages: `line N` (CSV) or `row group G, row N` (Parquet). */
export function placeOf(r: Pick<Reject, 'line' | 'rowGroup'>): string {
  return r.rowGroup !== undefined ? `row group ${r.rowGroup}, row ${r.line}` : `line ${r.line}`;
}

/** Parses --max-rejects: "N" or "N%". */
export function parseMaxRejects(text: string): RejectLimit {
  const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(text.trim());
  if (!m) throw new Error(`--max-rejects takes N or N%, got ${JSON.stringify(text)}`);
  const n = Number(m[1]);
  if (m[2]) {
    if (n > 100) throw new Error(`--max-rejects ${text}: a percentage is at most 100%`);
    return { percent: n };
  }
  if (!Number.isInteger(n)) throw new Error(`--max-rejects ${text}: a count is a whole number`);
  return { count: n };
}

/** The rejects of one file, by sub-batch (a retried sub-batch starts its list again). */
export class Rejects {
  private readonly byBatch = new Map<number, Reject[]>();
  constructor(
    private readonly file: string,
    private readonly limit: RejectLimit,
    private readonly totalRecords: number,
    /** the staging table's name in server messages, and the target's to show instead */
    relation?: { actual: string; shown: string },
  ) {
    // the staging table's, or a sub-batch's own table's under it (<staging>_<k>)
    if (relation) {
      const name = new RegExp(
        `${relation.actual.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:_[0-9]+)?(?![0-9A-Za-z_$])`,
        'g',
      );
      this.rename = (m) => m.replace(name, () => relation.shown);
    }
  }

  private readonly rename: (message: string) => string = (m) => m;

  get size(): number {
    let n = 0;
    for (const l of this.byBatch.values()) n += l.length;
    return n;
  }

  resetBatch(batch: number): void {
    this.byBatch.delete(batch);
  }

  /** Records a reject; throws a DATA error once the file has more rejects than the limit allows. */
  add(r: Reject): void {
    r.message = this.rename(r.message);
    const list = this.byBatch.get(r.batch);
    if (list) list.push(r);
    else this.byBatch.set(r.batch, [r]);
    const n = this.size;
    const max = Math.min(
      this.limit.count ?? Number.POSITIVE_INFINITY,
      this.limit.percent !== undefined
        ? (this.limit.percent / 100) * this.totalRecords
        : Number.POSITIVE_INFINITY,
    );
    if (n > max) {
      const shown = this.limit.percent !== undefined ? `${this.limit.percent}%` : String(this.limit.count);
      throw new LoaderError(
        'DATA',
        `more than --max-rejects ${shown} rows rejected (${n} so far); last: ${placeOf(r)}${r.column ? `, column ${JSON.stringify(r.column)}` : ''}: ${r.message}`,
        { file: this.file, line: r.line, column: r.column, sqlState: r.sqlState },
      );
    }
  }

  list(): Reject[] {
    return [...this.byBatch.values()].flat().sort((a, b) => a.offset - b.offset);
  }

  /** Writes <dir>/<file>.rejects.csv (the header, then each rejected record's original bytes) and
   * <dir>/<file>.rejects.log (one line each: file line, byte offset, column, SQLSTATE, message). Parquet rejects
   * are rendered first, a sub-batch at a time, by `render(batch, records)`. */
  async write(
    dir: string,
    header: Buffer | undefined,
    render?: (batch: number, records: number[]) => Promise<Buffer[]>,
  ): Promise<{ csv: string; log: string } | undefined> {
    const all = this.list();
    if (all.length === 0) return undefined;
    if (render) {
      for (const [batch, rs] of this.byBatch) {
        const todo = rs.filter((r) => r.rowGroup !== undefined).sort((a, b) => a.record - b.record);
        if (todo.length === 0) continue;
        const out = await render(
          batch,
          todo.map((r) => r.record),
        );
        todo.forEach((r, i) => (r.raw = out[i] ?? r.raw));
      }
    }
    await mkdir(dir, { recursive: true });
    const name = basename(this.file);
    const csv = join(dir, `${name}.rejects.csv`);
    const log = join(dir, `${name}.rejects.log`);
    const parts = header ? [header] : [];
    for (const r of all)
      parts.push(
        r.raw.length > 0 && r.raw[r.raw.length - 1] === 10
          ? r.raw
          : Buffer.concat([r.raw, Buffer.from('\n')]),
      );
    await writeFile(csv, Buffer.concat(parts));
    const lines = all.map(
      (r) =>
        `${this.file}: ${r.rowGroup !== undefined ? placeOf(r) : `line ${r.line}, byte ${r.offset}`}${r.column ? `, column ${JSON.stringify(r.column)}` : ''}, ` +
        `SQLSTATE ${r.sqlState ?? '?'}: ${r.message.replace(/\s+/g, ' ')}`,
    );
    await writeFile(log, lines.join('\n') + '\n');
    return { csv, log };
  }
}

interface RecordSpan {
  start: number;
  end: number;
  firstLine: number;
}

function records(buf: Buffer, quote: Pick<ScanOptions, 'quote' | 'escape'>): RecordSpan[] {
  return scanBuffer(buf, { ...quote, batchSize: 1, header: false }).batches.map((b) => ({
    start: b.start,
    end: b.end,
    firstLine: b.firstLine,
  }));
}

function lineOf(err: pg.DatabaseError): number | undefined {
  const m = /\bline (\d+)\b/.exec(err.where ?? '');
  return m?.[1] ? Number(m[1]) : undefined;
}

/** The column a COPY error names: binary COPY's context has no value after it (`line 3, column x`). */
export function columnOf(err: pg.DatabaseError): string | undefined {
  return err.column ?? /column ([^:]+?)(?::|$)/m.exec(err.where ?? '')?.[1];
}

/** The records of one COPY input, so that any run of them can be sent again on its own. */
export interface Segments {
  count: number;
  /** the COPY input of records [lo, hi) */
  payload(lo: number, hi: number): Buffer[];
  /** the record (0-based, from lo) that COPY's `line N` in that input points at */
  atLine(lo: number, hi: number, line: number): number | undefined;
}

/** CSV records, cut by the quote-aware scanner; COPY's line is mapped through their first lines. */
export function csvSegments(
  buf: Buffer,
  quote: Pick<ScanOptions, 'quote' | 'escape'>,
): Segments & { recs: RecordSpan[] } {
  const recs = records(buf, quote);
  const seg = (lo: number, hi: number): Buffer => buf.subarray(recs[lo]!.start, recs[hi - 1]!.end);
  return {
    recs,
    count: recs.length,
    payload: (lo, hi) => [seg(lo, hi)],
    atLine: (lo, hi, line) => recordAtLine(seg(lo, hi), line, quote)?.ordinal,
  };
}

export interface SegmentsJob {
  sql: string;
  /** inside a transaction (the direct path): each attempt under a savepoint */
  savepoints: boolean;
  signal: AbortSignal;
}

/** COPYs records, setting aside (through `reject`) those PostgreSQL refuses: by the line COPY reports, else by
 * bisection. Returns the rows loaded and the ordinals of the records sent, in the order they were loaded. */
export async function copySegments(
  client: pg.ClientBase,
  job: SegmentsJob,
  segs: Segments,
  reject: (ordinal: number, err: pg.DatabaseError) => void,
): Promise<{ rows: number; sent: number[] }> {
  const sent: number[] = [];
  let rows = 0;
  // Segments of record ordinals [lo, hi) still to send, in file order (a stack: the last pushed goes first).
  const stack: [number, number][] = [[0, segs.count]];
  while (stack.length > 0) {
    const [lo, hi] = stack.pop()!;
    if (lo >= hi) continue;
    try {
      if (job.savepoints) await client.query('SAVEPOINT loader_segment');
      const stream = client.query(copyFrom(job.sql));
      await pipeline(Readable.from(segs.payload(lo, hi)), stream, { signal: job.signal });
      if (job.savepoints) await client.query('RELEASE SAVEPOINT loader_segment');
      rows += stream.rowCount;
      for (let k = lo; k < hi; k++) sent.push(k);
    } catch (err) {
      if (job.savepoints) await client.query('ROLLBACK TO SAVEPOINT loader_segment').catch(() => {});
      if (!(err instanceof pg.DatabaseError) || classifyError(err) !== 'reject') throw err;
      const rel = lineOf(err);
      const at = rel !== undefined ? segs.atLine(lo, hi, rel) : undefined;
      if (at !== undefined && at < hi - lo) {
        const bad = lo + at;
        reject(bad, err);
        // File order: the records before the bad one first, then those after it.
        stack.push([bad + 1, hi], [lo, bad]);
      } else if (hi - lo === 1) {
        reject(lo, err);
      } else {
        const mid = lo + Math.floor((hi - lo) / 2);
        stack.push([mid, hi], [lo, mid]);
      }
    }
  }
  return { rows, sent };
}

/** Where each CSV record of a sub-batch is in the file, and its bytes. */
function csvLocator(batch: SubBatchRange, buf: Buffer, recs: RecordSpan[]): (ordinal: number) => Located {
  return (ordinal) => {
    const r = recs[ordinal];
    return {
      line: batch.firstLine + (r?.firstLine ?? 1) - 1,
      offset: batch.start + (r?.start ?? 0),
      raw: r ? Buffer.from(buf.subarray(r.start, r.end)) : Buffer.alloc(0),
    };
  };
}

/** A CSV sub-batch's records, for finding a merge-time reject's line and bytes. */
export function csvRecords(
  batch: SubBatchRange,
  buf: Buffer,
  quote: Pick<ScanOptions, 'quote' | 'escape'>,
): (ordinal: number) => Located {
  return csvLocator(batch, buf, records(buf, quote));
}

export interface CopyRejectingJob extends SegmentsJob {
  batch: SubBatchRange;
  buf: Buffer;
  quote: Pick<ScanOptions, 'quote' | 'escape'>;
  rejects: Rejects;
}

/** COPYs a CSV sub-batch, setting aside the records PostgreSQL rejects. Returns the rows loaded and the ordinals
 * of the records sent, in the order they were loaded (the staging order maps back through it). */
export async function copyRejecting(
  client: pg.ClientBase,
  job: CopyRejectingJob,
): Promise<{ rows: number; sent: number[] }> {
  const segs = csvSegments(job.buf, job.quote);
  const locate = csvLocator(job.batch, job.buf, segs.recs);
  return copySegments(client, job, segs, (ordinal, err) =>
    job.rejects.add({
      batch: job.batch.index,
      record: ordinal,
      ...locate(ordinal),
      column: columnOf(err),
      sqlState: err.code,
      message: err.message,
    }),
  );
}

export interface MergeRejectingJob {
  target: Target;
  stagingSql: string;
  columns: FileColumn[];
  mode: Mode;
  rejects: Rejects;
  /** the record ordinals of a sub-batch in the order they were loaded into staging, and where each record is */
  batchOf(index: number): Promise<{ sent: number[]; locate(ordinal: number): Located }>;
  /** find the first bad row only and throw it (abort-file mode), instead of setting rows aside */
  firstOnly: boolean;
}

/** Merges staging into the target inside the caller's transaction, bisecting under savepoints to set aside the
 * rows that violate a constraint. Returns the rows inserted and updated. */
export async function mergeRejecting(
  client: pg.ClientBase,
  job: MergeRejectingJob,
): Promise<{ inserted: number; updated: number }> {
  const b = quoteIdent(BATCH_COL);
  const o = quoteIdent(ORD_COL);
  const { rows } = await client.query<{ b: number; o: string }>(
    `SELECT ${b} AS b, ${o} AS o FROM ${job.stagingSql} ORDER BY 1, 2`,
  );
  const ids = rows.map((r) => [r.b, Number(r.o)] as const);
  // Ordinal of each staging row within its sub-batch, before anything is removed.
  const rank = new Map<string, number>();
  const seen = new Map<number, number>();
  for (const [bb, oo] of ids) {
    const k = seen.get(bb) ?? 0;
    rank.set(`${bb}:${oo}`, k);
    seen.set(bb, k + 1);
  }
  const key =
    job.mode === 'append' || (job.mode === 'replace' && !job.target.key) ? undefined : job.target.key;
  if (key) {
    // Only a key's last occurrence is merged: remove the earlier ones so that any slice merges what the whole would.
    const cols = key.map((k) => quoteIdent(job.columns.find((c) => c.target?.name === k)!.stagingName));
    await client.query(
      `DELETE FROM ${job.stagingSql} s USING ${job.stagingSql} l
        WHERE ${cols.map((c) => `l.${c} = s.${c}`).join(' AND ')} AND (l.${b}, l.${o}) > (s.${b}, s.${o})`,
    );
  }
  await client.query(`CREATE INDEX ON ${job.stagingSql} (${b}, ${o})`);
  // and on the sub-batches' own tables under it (merged as they landed, until that stopped: src/landed.ts)
  const { rows: kids } = await client.query<{ t: string }>(
    `SELECT inhrelid::regclass::text AS t FROM pg_inherits WHERE inhparent = $1::regclass`,
    [job.stagingSql],
  );
  for (const k of kids) await client.query(`CREATE INDEX ON ${k.t} (${b}, ${o})`);
  let inserted = 0;
  let updated = 0;
  const attempt = async (lo: number, hi: number): Promise<void> => {
    if (lo >= hi) return;
    await client.query('SAVEPOINT loader_merge');
    try {
      const res = await client.query<{ inserted: string; updated: string }>(
        mergeSql(job.target, job.stagingSql, job.columns, job.mode, { from: ids[lo]!, to: ids[hi - 1]! }),
      );
      await client.query('RELEASE SAVEPOINT loader_merge');
      inserted += Number(res.rows[0]?.inserted ?? 0);
      updated += Number(res.rows[0]?.updated ?? 0);
    } catch (err) {
      await client.query('ROLLBACK TO SAVEPOINT loader_merge');
      if (!(err instanceof pg.DatabaseError) || classifyError(err) !== 'reject') throw err;
      if (hi - lo === 1) {
        const [bb, oo] = ids[lo]!;
        const { sent, locate } = await job.batchOf(bb);
        const ordinal = sent[rank.get(`${bb}:${oo}`) ?? 0] ?? 0;
        const at = locate(ordinal);
        const column = err.column ?? undefined;
        const detail = err.detail ? ` (${err.detail})` : '';
        if (job.firstOnly) {
          throw new LoaderError(
            'DATA',
            `${placeOf(at)}${column ? `, column ${JSON.stringify(column)}` : ''}: ${err.message}${detail}`,
            {
              line: at.line,
              column,
              sqlState: err.code,
            },
            { cause: err },
          );
        }
        job.rejects.add({
          batch: bb,
          record: ordinal,
          ...at,
          column,
          sqlState: err.code,
          message: `${err.message}${detail}`,
        });
        return;
      }
      const mid = lo + Math.floor((hi - lo) / 2);
      await attempt(lo, mid);
      await attempt(mid, hi);
    }
  };
  await attempt(0, ids.length);
  return { inserted, updated };
}
