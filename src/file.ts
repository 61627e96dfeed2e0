// One file's way through: detect, hash (in a worker), claim (skip if already loaded), map columns, COPY its
// sub-batches (cut by a record scan running alongside) in parallel into its staging table, then merge + audit in
// one transaction.
// The file is all or nothing; whatever happens, it leaves an audit row.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Piscina } from 'piscina';
import type { Logger } from 'pino';
import { alreadyLoaded, auditExists, insertAudit, type AuditRow, type FileStatus } from './audit.js';
import { runBounded } from './bounded.js';
import type { Target } from './catalog.js';
import { STAGING_PREFIX, runKey, type Claims } from './claim.js';
import type { Config } from './config.js';
import { redact } from './config.js';
import { copyBatch, copyOn, describeCopyError, tagBatch, type BatchSource } from './copy.js';
import { withClient, inTransaction } from './db.js';
import { LoaderError, adviceFor, classifyError, sqlStateOf } from './errors.js';
import { BatchFeed } from './feed.js';
import { BATCH_TABLES, batchIndexDdl, LandedMerge, mergesAsLanded, NotMerged } from './landed.js';
import {
  BATCH_COL,
  ORD_COL,
  batchNumber,
  batchTableDdl,
  copySql,
  dropStagingSql,
  mergeSql,
  stagingDdl,
  type FileColumn,
} from './merge.js';
import type { ParquetPool } from './parquet/pool.js';
import type { ParquetStats } from './parquet/source.js';
import { ensureUnchanged, prepare, SkipError, type Prepared } from './prepare.js';
import { FileProgress, type ProgressListener } from './progress.js';
import { withRetry } from './retry.js';
import { Rejects, copyRejecting, csvRecords } from './reject.js';
import { copyParquetRejecting, parquetLocator } from './parquet/reject.js';
import { qualified } from './sql.js';
import type { BufferPool } from './csvbin/source.js';
import { dropStaging, identity, incompleteBatches, mergeOrBisect, stagingExists } from './staging.js';

export interface FileResult {
  path: string;
  status: FileStatus;
  format: 'csv' | 'parquet' | 'unknown';
  sha256: string | null;
  bytes: number;
  rowsRead: number;
  rowsInserted: number;
  rowsUpdated: number;
  rowsSkipped: number;
  rowsRejected: number;
  subBatches: number;
  retries: number;
  durationMs: number;
  error?: { code: string; message: string; line?: number; column?: string };
  /** CSV files: how many sub-batches were converted to COPY BINARY (the others went as CSV) */
  binarySubBatches?: number;
  /** CSV: sub-batches COPYed as the record scan converted them (Route.scanConverts), not converted again */
  scanConverted?: number;
  /** staging path: merged sub-batch by sub-batch as they landed (src/landed.ts), not in one statement at the end */
  mergedAsLanded?: boolean;
  /** merged as landed: by MERGE (an upsert where the target allows it) or by INSERT (... ON CONFLICT) */
  mergedBy?: 'MERGE' | 'INSERT';
  /** Parquet files: COPY encoding, row groups, decodes in flight at once */
  parquet?: ParquetStats;
  /** --archive-dir / --error-dir: where the file was moved, or why it could not be */
  movedTo?: string;
  moveError?: string;
}

export interface RunContext {
  config: Config;
  pool: pg.Pool;
  workers: Piscina;
  /** decodes Parquet row groups (workers/parquet.js) within the run's --memory-limit */
  parquetWorkers?: ParquetPool;
  target: Target;
  runId: string;
  log: Logger;
  internalConcurrency: number;
  signal: AbortSignal;
  /** resolves when every earlier file (in sorted path order) has finished: merges commit in that order */
  mergeTurn(index: number): Promise<void>;
  claims: Claims;
  /** progress events (src/progress.ts); undefined when nobody listens */
  progress?: ProgressListener;
  /** output buffers of the CSV-to-binary conversion, reused across the run's sub-batches */
  buffers?: BufferPool;
}

/** A file whose rows sit in staging, waiting for the run's replace transaction. */
export interface StagedFile {
  result: FileResult;
  audit: AuditRow;
  stagingSql: string;
  columns: FileColumn[];
  /** writes the file's rejects files once the run's replace has committed */
  writeRejects(): Promise<void>;
}

/** Whether a file skips staging: an append whose columns all exist, unless --no-direct asks for staging for a file of
 * several sub-batches and several streams. */
export function goesDirect(
  target: Pick<Target, 'mode'>,
  columns: FileColumn[],
  singleBatch: boolean,
  internalConcurrency: number,
  config: Pick<Config, 'direct'>,
): boolean {
  return (
    target.mode === 'append' &&
    columns.every((c) => c.target) &&
    (singleBatch || internalConcurrency === 1 || config.direct)
  );
}

/** A file's result before anything is known of it. */
export function newResult(path: string, status: FileStatus = 'failed'): FileResult {
  return {
    path,
    status,
    format: 'unknown',
    sha256: null,
    bytes: 0,
    rowsRead: 0,
    rowsInserted: 0,
    rowsUpdated: 0,
    rowsSkipped: 0,
    rowsRejected: 0,
    subBatches: 0,
    retries: 0,
    durationMs: 0,
  };
}

/** The audit row for a file's result as it stands (status and error included). Error messages in results are
 * already redacted. */
export function auditRow(ctx: RunContext, res: FileResult, loadId: string, startedAt: Date): AuditRow {
  const { config, target } = ctx;
  return {
    runId: ctx.runId,
    loadId,
    path: res.path,
    sha256: res.sha256,
    bytes: res.bytes,
    format: res.format,
    targetOid: target.oid,
    targetSchema: target.schema,
    targetTable: target.table,
    mode: target.mode,
    status: res.status,
    forced: config.force || target.mode === 'replace',
    rowsRead: res.rowsRead,
    rowsInserted: res.rowsInserted,
    rowsUpdated: res.rowsUpdated,
    rowsSkipped: res.rowsSkipped,
    rowsRejected: res.rowsRejected,
    subBatches: res.subBatches,
    retries: res.retries,
    startedAt,
    finishedAt: new Date(),
    errorCode: res.error?.code ?? null,
    errorMessage: res.error?.message ?? null,
    host: config.host,
    loaderVersion: config.version,
  };
}

export async function loadFile(
  ctx: RunContext,
  path: string,
  index: number,
): Promise<{ result: FileResult; staged?: StagedFile }> {
  const { config, target, log } = ctx;
  const started = new Date();
  const loadId = randomUUID();
  const res = newResult(path);
  const audit = (): AuditRow => auditRow(ctx, res, loadId, started);
  /** The audit row of a file that did not load; a failure to write it is logged, never thrown. */
  const auditNotLoaded = (): Promise<void> =>
    withClient(ctx.pool, (c) => insertAudit(c, target.schema, audit())).catch((e: Error) =>
      log.error({ file: path }, `could not write the audit row: ${redact(e.message, config.secrets)}`),
    );
  const stagingName = `${STAGING_PREFIX}${runKey(ctx.runId)}_${index}`;
  const stagingSql = qualified(target.schema, stagingName);
  let stagingCreated = false;
  let claimed: string | undefined;
  const fileAbort = new AbortController();
  const onRunAbort = (): void => fileAbort.abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', onRunAbort, { once: true });
  const signal = fileAbort.signal;
  let held: BatchSource[] = []; // released in finally: a failed file gives back the memory budget it holds
  let feed: BatchFeed | undefined;
  let landed: LandedMerge | undefined;
  try {
    const prep = await prepare(ctx, path, res, signal);
    // CSV: the sub-batches arrive as the scan cuts them (sources grows until feed.end()); Parquet: all known. Set
    // before the claim: a skipped file's feed is cancelled in finally, or its scan's message port keeps the
    // process alive after the run.
    feed = prep.feed ?? BatchFeed.of(prep.sources ?? [], prep.scan, prep.route);
    if (target.mode !== 'replace' && res.sha256) {
      const claim = await ctx.claims.claimFile(target.oid, res.sha256);
      if (claim === 'other-run')
        throw new SkipError('IN_PROGRESS', 'another run is loading this content now');
      if (claim === 'this-run')
        throw new SkipError('DUPLICATE', 'a file with the same content is in this run');
      claimed = res.sha256;
    }
    if (!config.force && target.mode !== 'replace' && res.sha256) {
      const prev = await withRetry(
        () => withClient(ctx.pool, (c) => alreadyLoaded(c, target.schema, target.oid, res.sha256!)),
        { retries: config.maxRetries, signal },
      );
      if (prev) {
        throw new SkipError(
          'ALREADY_LOADED',
          `already loaded into ${target.sql} by run ${prev.runId} at ${prev.finishedAt.toISOString()} (use --force to load again)`,
        );
      }
    }
    const sources = feed.sources;
    held = sources;
    const progress =
      ctx.progress &&
      new FileProgress(ctx.progress, index, path, prep.feed ? undefined : prep.scan.batches, res.bytes, {
        gzip: prep.detected.gzip,
      });
    const fileColumns = prep.columns.map((c) => c.stagingName);
    // reject-rows: records (Parquet rows) PostgreSQL refuses are set aside; their order in staging maps merge
    // errors back.
    const rejecting = config.onError === 'reject-rows';
    // --max-rejects N% needs the file's record count: under reject-rows the CSV scan ends before the first COPY.
    const records = rejecting && prep.feed ? (await prep.feed.end()).records : prep.scan.records;
    const rejects = new Rejects(path, config.maxRejects, records, {
      actual: stagingName,
      shown: target.table,
    });
    const sent = new Map<number, number[]>();
    const quote = { quote: prep.dialect.quote.charCodeAt(0), escape: prep.dialect.escape.charCodeAt(0) };
    /** One sub-batch under reject-rows (its rejects start over: this may be a retry). */
    const copySettingAside = async (
      client: pg.ClientBase,
      sql: string,
      source: BatchSource,
      savepoints: boolean,
    ) => {
      rejects.resetBatch(source.batch.index);
      const pq = prep.sources?.[source.batch.index];
      if (pq) return copyParquetRejecting(client, { sql, source: pq, rejects, savepoints, signal });
      const buf = await source.bytes();
      return copyRejecting(client, { sql, batch: source.batch, buf, quote, rejects, savepoints, signal });
    };
    const onRetry = (err: Error, attempt: number): void => {
      res.retries++;
      log.warn(
        { file: path, attempt, err: redact(err.message, config.secrets) },
        'transient error, retrying',
      );
    };
    // Staging buys parallel sub-batches at the price of a second pass (INSERT ... SELECT): on 2 cores one file
    // appended direct took 0.54 of the staging path's time (README "Performance"), so an append goes straight into
    // the target unless --no-direct asks for staging.
    const direct = goesDirect(target, prep.columns, feed.singleBatch, ctx.internalConcurrency, config);
    // Direct: --internal-concurrency still counts the sub-batches in flight, one COPYing and the next ones
    // converted (CSV) or decoded (Parquet row groups) meanwhile. Staging: that many COPY at once, each one ahead.
    prep.route.ahead = direct ? Math.max(1, ctx.internalConcurrency - 1) : 1;
    prep.route.staging = !direct;
    // One COPY stream: a CSV file converted to binary is cut and converted in one pass, one sub-batch after another
    // (the record scan and the conversion each read every byte; together they cost one reading less). One thread
    // converts faster than the server takes binary rows on one stream (here 120 against 55 MB/s), so parallel
    // conversions buy nothing there: measured with --internal-concurrency 4, one pass took 5.6 to 6.1 s against 6.7
    // to 7.1 s, with 200 MB of peak RSS against 290 to 350.
    prep.route.scanConverts = direct;
    if (direct) {
      // Append without staging: the sub-batches are COPYed one after another straight into the target inside the
      // file's one transaction (one connection; no second pass on the server).
      const copy = copySql(target.sql, fileColumns, prep.dialect);
      const binarySql = copySql(target.sql, fileColumns, { ...prep.dialect, format: 'binary' });
      await withRetry(
        (attempt) =>
          withClient(ctx.pool, async (client) => {
            if (attempt > 1 && (await auditExists(client, target.schema, loadId))) return; // the COMMIT had landed
            await inTransaction(client, async () => {
              let counted = 0;
              for await (const source of feed!.from(0)) {
                await source.load?.();
                if (rejecting) {
                  counted += (await copySettingAside(client, copy, source, true)).rows;
                } else {
                  counted += await copyOn(
                    client,
                    { sql: copy, binarySql, source, retries: 0, signal, onRetry },
                    false,
                  ).catch(async (err) => {
                    // A lost connection is the whole transaction's to retry (withRetry below), not a data error.
                    if (classifyError(err) === 'retry') throw err;
                    throw await describeCopyError(err, source, {
                      file: path,
                      dialect: prep.dialect,
                      columns: fileColumns,
                      rows: !!prep.sources,
                    });
                  });
                }
                tallyFormat(res, source);
                source.release?.(true);
                progress?.done(source.batch);
              }
              progress?.finish();
              res.rowsRejected = rejects.size;
              res.rowsRead = counted + res.rowsRejected;
              res.rowsInserted = counted;
              res.subBatches = sources.length;
              await ensureUnchanged(path, prep.detected);
              res.status = 'succeeded';
              await insertAudit(client, target.schema, audit());
            });
          }),
        { retries: config.maxRetries, signal, onRetry },
      );
      await writeRejects(ctx, path, rejects, prep);
      log.info({ file: path, rows: res.rowsInserted, rejected: res.rowsRejected }, 'loaded');
      return { result: finish(res, started) };
    }

    // Staging path: create, COPY sub-batches in parallel, verify, merge + audit in one transaction; the merge runs
    // sub-batch by sub-batch as they land when it can (src/landed.ts), else once the last one has.
    const asLanded = mergesAsLanded(target, prep.columns, target.mode);
    let startTime = '';
    await withRetry(
      (attempt) =>
        withClient(ctx.pool, async (c) => {
          // A retry after an unclear CREATE: the table may be there, empty.
          if (attempt > 1) await c.query(dropStagingSql(stagingSql));
          await c.query(stagingDdl(stagingSql, prep.columns));
          stagingCreated = true;
          if (asLanded) await c.query(batchIndexDdl(stagingSql));
          startTime =
            (await c.query<{ t: string }>(`SELECT pg_postmaster_start_time()::text AS t`)).rows[0]?.t ?? '';
        }),
      { retries: config.maxRetries, signal, onRetry },
    );
    /** Where sub-batch k's rows go: merging as they land, a table of its own under staging (batchTableDdl), for
     * the first BATCH_TABLES; `read`: where the merge of sub-batch k alone reads it. */
    const batchTable = (k: number): { name: string; sql: string; read: string; ddl?: string } => {
      if (!asLanded || k >= BATCH_TABLES)
        return { name: stagingName, sql: stagingSql, read: `ONLY ${stagingSql}` };
      const name = `${stagingName}_${batchNumber(k)}`;
      const sql = qualified(target.schema, name);
      return { name, sql, read: sql, ddl: batchTableDdl(stagingSql, sql, k) };
    };
    const copyStatements = (tableSql: string) => ({
      copy: copySql(tableSql, fileColumns, prep.dialect),
      binarySql: copySql(tableSql, fileColumns, { ...prep.dialect, format: 'binary' }),
      taggedSql: copySql(tableSql, [...fileColumns, BATCH_COL, ORD_COL], {
        ...prep.dialect,
        format: 'binary',
      }),
    });
    const counts = new Map<number, number>();
    /** The checks, counts and audit row that end the merge transaction, whichever way it merged. */
    const settle = async (
      client: pg.ClientBase,
      merged: { inserted: number; updated: number },
    ): Promise<void> => {
      res.rowsInserted = merged.inserted;
      res.rowsUpdated = merged.updated;
      res.rowsRejected = rejects.size;
      res.rowsSkipped = res.rowsRead - res.rowsInserted - res.rowsUpdated - res.rowsRejected;
      await ensureUnchanged(path, prep.detected);
      res.status = 'succeeded';
      await insertAudit(client, target.schema, audit());
      await client.query(dropStagingSql(stagingSql));
    };
    const loaded = async (): Promise<FileResult> => {
      await writeRejects(ctx, path, rejects, prep);
      log.info(
        {
          file: path,
          inserted: res.rowsInserted,
          updated: res.rowsUpdated,
          skipped: res.rowsSkipped,
          rejected: res.rowsRejected,
        },
        'loaded',
      );
      return finish(res, started);
    };
    /** Crash recovery empties UNLOGGED tables: after a restart or any retry, the sub-batches not whole in staging. */
    const lostBatches = async (client: pg.ClientBase): Promise<number[]> => {
      const now = (await client.query<{ t: string }>(`SELECT pg_postmaster_start_time()::text AS t`)).rows[0]
        ?.t;
      return now !== startTime || res.retries > 0 ? incompleteBatches(client, stagingSql, counts) : [];
    };
    landed = asLanded
      ? new LandedMerge({
          pool: ctx.pool,
          target,
          stagingSql,
          batchSql: (k) => batchTable(k).read,
          columns: prep.columns,
          mode: target.mode,
          turn: () => ctx.mergeTurn(index),
          finish: async (client, merged) => {
            const lost = await lostBatches(client);
            if (lost.length > 0) throw new NotMerged(`sub-batches ${lost.join(', ')} not whole in staging`);
            await settle(client, merged);
          },
        })
      : undefined;
    const copyOne = async (source: BatchSource): Promise<void> => {
      await landed?.room(source.batch.index, ctx.internalConcurrency, signal);
      const into = batchTable(source.batch.index);
      const { copy, binarySql, taggedSql } = copyStatements(into.sql);
      try {
        await source.load?.();
        const n = rejecting
          ? await withRetry(
              (attempt) =>
                withClient(ctx.pool, async (client) => {
                  if (into.ddl) await client.query(into.ddl);
                  await tagBatch(client, into.sql, source.batch.index, attempt > 1);
                  const r = await copySettingAside(client, copy, source, false);
                  sent.set(source.batch.index, r.sent);
                  return r.rows;
                }),
              { retries: config.maxRetries, signal, onRetry },
            )
          : await copyBatch({
              pool: ctx.pool,
              sql: copy,
              binarySql,
              taggedSql,
              staging: into.sql,
              before: into.ddl,
              source,
              retries: config.maxRetries,
              signal,
              onRetry,
            });
        counts.set(source.batch.index, n);
        landed?.land(source.batch.index, source.keys?.());
        tallyFormat(res, source);
        source.release?.(true);
        progress?.done(source.batch);
      } catch (err) {
        throw await describeCopyError(err, source, {
          file: path,
          dialect: prep.dialect,
          columns: fileColumns,
          relation: { actual: into.name, shown: target.table },
          rows: !!prep.sources,
        });
      }
    };
    await runBounded(feed.from(0), ctx.internalConcurrency, fileAbort, copyOne);
    await feed.end();
    progress?.finish();
    res.subBatches = sources.length;
    res.rowsRejected = rejects.size;
    res.rowsRead = [...counts.values()].reduce((a, b) => a + b, 0) + res.rowsRejected;

    if (target.mode === 'replace') {
      res.status = 'succeeded';
      return {
        result: res,
        staged: {
          result: res,
          audit: audit(),
          stagingSql,
          columns: prep.columns,
          writeRejects: () => writeRejects(ctx, path, rejects, prep),
        },
      };
    }

    if (landed) {
      landed.end(sources.length);
      const merged = await landed.done;
      const reason = landed.reason ?? '';
      const statement = landed.statement;
      landed = undefined;
      if (merged) {
        stagingCreated = false;
        res.mergedAsLanded = true;
        res.mergedBy = statement;
        return { result: await loaded() };
      }
      log.debug(
        { file: path, reason: redact(reason, config.secrets) },
        'merging as landed stopped: one merge now',
      );
    }
    await ctx.mergeTurn(index);
    const merge = mergeSql(target, stagingSql, prep.columns, target.mode);
    for (let round = 0; ; round++) {
      const lost = await withRetry(
        (attempt) =>
          withClient(ctx.pool, async (client) => {
            // COMMIT had landed (a retry, or the merge as landed lost its connection at COMMIT)
            if ((attempt > 1 || asLanded) && (await auditExists(client, target.schema, loadId))) return [];
            return inTransaction(client, async () => {
              const missing = await lostBatches(client);
              if (missing.length > 0) return missing;
              const merged = await mergeOrBisect(client, merge, {
                target,
                stagingSql,
                columns: prep.columns,
                mode: target.mode,
                rejects,
                firstOnly: !rejecting,
                batchOf: async (b) => {
                  const source = sources.find((x) => x.batch.index === b)!;
                  const order = sent.get(b) ?? identity(source.batch.records);
                  const pq = prep.sources?.[b];
                  if (pq) return { sent: order, locate: parquetLocator(pq) };
                  return { sent: order, locate: csvRecords(source.batch, await source.bytes(), quote) };
                },
              });
              await settle(client, merged);
              stagingCreated = false;
              return [];
            });
          }),
        { retries: config.maxRetries, signal, onRetry },
      );
      if (lost.length === 0) break;
      if (round >= 1) {
        throw new LoaderError(
          'STAGING_LOST',
          `staging rows of sub-batches ${lost.join(', ')} were lost twice (server restarts?)`,
        );
      }
      log.warn(
        { file: path, batches: lost },
        'staging lost rows (server restart?): copying those sub-batches again',
      );
      await withRetry(
        async () => {
          if (!(await stagingExists(ctx.pool, stagingSql)))
            await withClient(ctx.pool, (c) => c.query(stagingDdl(stagingSql, prep.columns)));
        },
        { retries: config.maxRetries, signal, onRetry },
      );
      await runBounded(
        sources.filter((s) => lost.includes(s.batch.index)),
        ctx.internalConcurrency,
        fileAbort,
        copyOne,
      );
    }
    return { result: await loaded() };
  } catch (caught) {
    if (caught instanceof SkipError) {
      res.status = 'skipped';
      res.rowsRead = res.rowsInserted = res.rowsUpdated = res.rowsSkipped = res.subBatches = 0;
      res.error = { code: caught.reason, message: caught.message };
      log.info({ file: path, code: caught.reason }, `skipped ${path}: ${caught.message}`);
      await auditNotLoaded();
      return { result: finish(res, started) };
    }
    const err = toLoaderError(caught, ctx.signal.aborted, ctx.signal.reason);
    const unique = (caught as { constraint?: string }).constraint === 'loader_audit_once';
    if (unique) {
      // Another run committed the same content first: the database's guarantee did its job.
      res.status = 'skipped';
      res.rowsInserted = res.rowsUpdated = 0;
      res.error = { code: 'ALREADY_LOADED', message: 'loaded by another run meanwhile' };
    } else {
      res.status = err.code === 'CANCELLED' ? 'cancelled' : 'failed';
      res.rowsInserted = res.rowsUpdated = res.rowsSkipped = 0;
      res.error = {
        code: err.code,
        message: redact(err.message, config.secrets),
        line: err.context.line,
        column: err.context.column,
      };
    }
    if (res.status !== 'skipped') log.error({ file: path, code: err.code }, `${path}: ${res.error.message}`);
    await auditNotLoaded();
    return { result: finish(res, started) };
  } finally {
    feed?.cancel();
    // before the staging is dropped: the merge as landed holds it until it has rolled back
    if (landed) await landed.stop();
    for (const s of held) s.release?.();
    ctx.signal.removeEventListener('abort', onRunAbort);
    if (claimed) await ctx.claims.releaseFile(target.oid, claimed);
    if (stagingCreated && target.mode !== 'replace') await dropStaging(ctx.pool, stagingSql);
    if (stagingCreated && target.mode === 'replace' && res.status !== 'succeeded')
      await dropStaging(ctx.pool, stagingSql);
  }
}

async function writeRejects(
  ctx: RunContext,
  path: string,
  rejects: Rejects,
  prep: Pick<Prepared, 'headerBytes' | 'sources'>,
): Promise<void> {
  if (rejects.size === 0) return;
  // Parquet rows are rendered as CSV by a worker, reading their slice again.
  const render = prep.sources && ((b: number, rows: number[]) => prep.sources![b]!.render(rows));
  // The file's rows have committed: a rejects file that cannot be written is logged, not a failed file.
  const out = await rejects.write(ctx.config.rejectsDir, prep.headerBytes, render).catch((e: Error) => {
    ctx.log.error({ file: path }, `${path}: could not write the rejects files: ${e.message}`);
  });
  if (!out) return;
  ctx.log.warn(
    { file: path, rejected: rejects.size, ...out },
    `${path}: ${rejects.size} rows rejected, written to ${out.csv}`,
  );
}

/** CSV: counts the sub-batches that went as COPY BINARY (src/csvbin/). */
function tallyFormat(res: FileResult, source: BatchSource): void {
  if (source.format?.() === 'binary') res.binarySubBatches = (res.binarySubBatches ?? 0) + 1;
  if (source.fromScan?.()) res.scanConverted = (res.scanConverted ?? 0) + 1;
}

function finish(res: FileResult, started: Date): FileResult {
  res.durationMs = Date.now() - started.getTime();
  return res;
}

export function toLoaderError(err: unknown, cancelled: boolean, reason?: unknown): LoaderError {
  if (cancelled) {
    const why = reason instanceof Error ? `: ${reason.message}` : '';
    return new LoaderError('CANCELLED', `cancelled, rolled back${why}`, {}, { cause: err });
  }
  if (err instanceof LoaderError) return err;
  const e = err as Error & { code?: string; detail?: string };
  const cls = classifyError(err);
  if (cls === 'reject') {
    return new LoaderError(
      'DATA',
      `merge: ${e.message}${e.detail ? ` (${e.detail})` : ''}`,
      { sqlState: e.code },
      { cause: err },
    );
  }
  if (cls === 'retry')
    return new LoaderError('CONNECTION', `gave up after retries: ${e.message}`, {}, { cause: err });
  const sqlState = sqlStateOf(err);
  const advice = adviceFor(sqlState);
  return new LoaderError(
    sqlState ? 'DATABASE' : 'INTERNAL',
    `${e.message ?? String(err)}${advice ? ` (${advice})` : ''}`,
    { sqlState },
    { cause: err },
  );
}
