// One sub-batch's COPY: its own pooled connection, its bytes streamed unchanged (CSV needs no re-encoding), retried
// on transient errors. Before a retry the sub-batch's rows are deleted from staging, so a COPY whose commit was
// unclear never leaves duplicates. A data error is mapped from COPY's `line N` back to the file's own line.
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse/sync';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { withClient } from './db.js';
import { LoaderError, adviceFor, classifyError, sqlStateOf } from './errors.js';
import { BATCH_COL, BATCH_SETTING, type CopyDialect } from './merge.js';
import { withRetry } from './retry.js';
import type { KeyRange } from './keyrange.js';
import { recordAtLine, recordAtOrdinal, type SubBatchRange } from './scan.js';
import { quoteIdent } from './sql.js';

export interface BatchSource {
  batch: SubBatchRange;
  /** a stream of the sub-batch's bytes; called again for each attempt */
  open(): Readable;
  /** the sub-batch's bytes, for diagnosing an error */
  bytes(): Promise<Buffer>;
  /** makes the bytes available before open() (gzip: decompressed in order); release() lets them go; `copied`: its
   * COPY is done and answered, so no write of the bytes is pending and their memory may be freed at once */
  load?(): Promise<void>;
  release?(copied?: boolean): void;
  /** starts making the bytes ready (a CSV sub-batch's conversion to binary) before its turn */
  prefetch?(): void;
  /** after load(): the form open() streams (default csv, or what the COPY statement says) */
  format?(): 'csv' | 'binary';
  /** after load(): binary rows that end with their sub-batch number and ordinal (CopyJob.taggedSql) */
  tagged?(): boolean;
  /** after load(): binary bytes the record scan converted (Route.scanConverts), not a conversion of their own */
  fromScan?(): boolean;
  /** after load(): the range of the sub-batch's one-column integer key, when its converter read it (keyField) */
  keys?(): KeyRange | undefined;
}

export interface CopyJob {
  pool: pg.Pool;
  /** the COPY statement */
  sql: string;
  /** the COPY statement for a sub-batch that load() made binary */
  binarySql?: string;
  /** staging: the binary COPY statement naming the batch and ord columns too, for a tagged() sub-batch */
  taggedSql?: string;
  /** staging table (quoted): set means rows are tagged with the sub-batch number and deleted before a retry */
  staging?: string;
  /** run on the connection before each attempt (the sub-batch's own staging table made, if not there yet) */
  before?: string;
  source: BatchSource;
  retries: number;
  signal: AbortSignal;
  onRetry: (err: Error, attempt: number) => void;
}

/** Streams one sub-batch into the table on its own connection; returns the rows COPY reported. */
export async function copyBatch(job: CopyJob): Promise<number> {
  return withRetry((attempt) => withClient(job.pool, (client) => copyOn(client, job, attempt > 1)), {
    retries: job.retries,
    signal: job.signal,
    onRetry: job.onRetry,
  });
}

/** COPY on a given client (inside the caller's transaction, for the direct path). */
export async function copyOn(
  client: pg.ClientBase,
  job: Omit<CopyJob, 'pool'>,
  isRetry: boolean,
): Promise<number> {
  if (job.before) await client.query(job.before);
  if (job.staging) await tagBatch(client, job.staging, job.source.batch.index, isRetry);
  const binary = job.binarySql !== undefined && job.source.format?.() === 'binary';
  const tagged = binary && job.source.tagged?.() === true;
  if (tagged && job.taggedSql === undefined)
    throw new LoaderError('INTERNAL', 'a sub-batch converted for staging was sent elsewhere');
  const stream = client.query(copyFrom(tagged ? job.taggedSql! : binary ? job.binarySql! : job.sql));
  await pipeline(job.source.open(), stream, { signal: job.signal });
  return stream.rowCount;
}

/** Before a sub-batch's COPY into staging: on a retry, delete what an unclear earlier attempt may have left; then
 * tag the session so the staging rows carry the sub-batch number. */
export async function tagBatch(
  client: pg.ClientBase,
  staging: string,
  index: number,
  isRetry: boolean,
): Promise<void> {
  if (isRetry) await client.query(`DELETE FROM ${staging} WHERE ${quoteIdent(BATCH_COL)} = $1`, [index]);
  await client.query(`SELECT set_config($1, $2, false)`, [BATCH_SETTING, String(index)]);
}

export interface DataErrorContext {
  file: string;
  dialect: CopyDialect;
  /** file column names in COPY order */
  columns: string[];
  /** staging or target relation name as it appears in server messages, and the name to show instead */
  relation?: { shown: string; actual: string };
  /** Parquet: a line is a row of the file, and a record of the COPY text fallback may span lines */
  rows?: boolean;
}

/** Turns a COPY data error into one clear line: file, the record's first line, column, value, reason. */
export async function describeCopyError(
  err: unknown,
  source: BatchSource,
  ctx: DataErrorContext,
): Promise<LoaderError> {
  if (!(err instanceof pg.DatabaseError) || classifyError(err) !== 'reject') {
    if (err instanceof LoaderError) return err;
    if (classifyError(err) === 'retry') {
      const m = (err as Error).message;
      return new LoaderError('CONNECTION', `gave up after retries: ${m}`, { file: ctx.file }, { cause: err });
    }
    const sqlState = sqlStateOf(err);
    const advice = adviceFor(sqlState);
    return new LoaderError(
      'DATABASE',
      `${(err as Error).message}${advice ? ` (${advice})` : ''}`,
      { file: ctx.file, sqlState },
      { cause: err },
    );
  }
  // COPY's own context line (a type's input function may add its own first, e.g. "JSON data, line 1: ...")
  const where = err.where?.split('\n').find((l) => l.startsWith('COPY ')) ?? err.where ?? '';
  const m = /\bline (\d+)(?:, column ([^:]+?))?(?::|$)/m.exec(where);
  let line: number | undefined;
  let column = err.column ?? m?.[2];
  let value: string | undefined;
  if (m?.[1]) {
    const rel = Number(m[1]);
    const quote = { quote: ctx.dialect.quote.charCodeAt(0), escape: ctx.dialect.escape.charCodeAt(0) };
    try {
      const buf = await source.bytes();
      // COPY BINARY counts tuples: line N is the sub-batch's record N
      const rec =
        source.format?.() === 'binary' ? recordAtOrdinal(buf, rel - 1, quote) : recordAtLine(buf, rel, quote);
      line = source.batch.firstLine + (rec ? (ctx.rows ? rec.ordinal + 1 : rec.firstLine) : rel) - 1;
      if (rec && column) {
        const idx = ctx.columns.indexOf(column);
        const fields = parse(buf.subarray(rec.start, rec.end), {
          delimiter: ctx.dialect.delimiter,
          quote: ctx.dialect.quote,
          escape: ctx.dialect.escape,
          relax_column_count: true,
          relax_quotes: true,
        }) as string[][];
        if (idx >= 0) value = fields[0]?.[idx];
      }
    } catch {
      line = source.batch.firstLine + rel - 1;
    }
  }
  let reason = err.message;
  if (ctx.relation) reason = reason.split(ctx.relation.actual).join(ctx.relation.shown);
  if (err.code === '22021') reason += " (name the file's encoding with --encoding, e.g. --encoding LATIN1)";
  if (column === undefined && err.code === '23502') column = /column "([^"]+)"/.exec(err.message)?.[1];
  const parts = [
    line !== undefined ? `line ${line}` : undefined,
    column !== undefined ? `column ${JSON.stringify(column)}` : undefined,
  ];
  const shownValue =
    value !== undefined && !reason.includes(value.slice(0, 40))
      ? ` (value ${JSON.stringify(value.length > 80 ? value.slice(0, 80) + '…' : value)})`
      : '';
  const where2 = parts.filter(Boolean).join(', ');
  return new LoaderError(
    'DATA',
    `${where2 ? where2 + ': ' : ''}${reason}${shownValue}`,
    {
      file: ctx.file,
      line,
      column,
      value,
      sqlState: err.code,
    },
    { cause: err },
  );
}
