// One file's way through: detect, plan (hash + record scan in a worker), claim (skip if already loaded), map
// columns, COPY its sub-batches in parallel into its staging table, then merge + audit in one transaction.
// The file is all or nothing; whatever happens, it leaves an audit row.
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import type pg from 'pg';
import type { Piscina } from 'piscina';
import type { Logger } from 'pino';
import type { PlanResult, PlanTask } from '../workers/plan.js';
import { alreadyLoaded, auditExists, insertAudit, type AuditRow, type FileStatus } from './audit.js';
import type { Target } from './catalog.js';
import { STAGING_PREFIX, runKey, type Claims } from './claim.js';
import { mapColumns } from './columns.js';
import { prepareParquet, type ParquetStats } from './parquet/source.js';
import type { Config } from './config.js';
import { redact } from './config.js';
import { copyBatch, copyOn, describeCopyError, tagBatch, type BatchSource } from './copy.js';
import { withClient, inTransaction } from './db.js';
import { detect, type Detected } from './detect.js';
import { LoaderError, classifyError, sqlStateOf } from './errors.js';
import { BATCH_COL, copySql, mergeSql, stagingDdl, type CopyDialect, type FileColumn } from './merge.js';
import { withRetry } from './retry.js';
import { Rejects, copyRejecting, mergeRejecting, type MergeRejectingJob } from './reject.js';
import type { ScanResult, SubBatchRange } from './scan.js';
import { decoderName, sniff } from './sniff.js';
import { qualified, quoteIdent } from './sql.js';

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
  /** Parquet files: COPY encoding, row groups, decodes in flight at once */
  parquet?: ParquetStats;
}

export interface RunContext {
  config: Config;
  pool: pg.Pool;
  workers: Piscina;
  /** decodes Parquet row groups (workers/parquet.js); sized for --internal-concurrency decodes at once */
  parquetWorkers?: Piscina;
  target: Target;
  runId: string;
  log: Logger;
  internalConcurrency: number;
  signal: AbortSignal;
  /** resolves when every earlier file (in sorted path order) has finished: merges commit in that order */
  mergeTurn(index: number): Promise<void>;
  claims: Claims;
}

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

/** A file whose rows sit in staging, waiting for the run's replace transaction. */
export interface StagedFile {
  result: FileResult;
  audit: AuditRow;
  stagingSql: string;
  columns: FileColumn[];
}

interface Prepared {
  detected: Detected;
  dialect: CopyDialect;
  scan: ScanResult;
  columns: FileColumn[];
  /** Parquet: sub-batches decoded by workers (CSV: cut from the file's bytes) */
  sources?: BatchSource[];
  /** the header record's bytes, for the rejects file */
  headerBytes?: Buffer;
}

export async function loadFile(
  ctx: RunContext,
  path: string,
  index: number,
): Promise<{ result: FileResult; staged?: StagedFile }> {
  const { config, target, log } = ctx;
  const started = new Date();
  const loadId = randomUUID();
  const res: FileResult = {
    path,
    status: 'failed',
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
  const audit = (status: FileStatus, err?: LoaderError): AuditRow => ({
    runId: ctx.runId,
    loadId,
    path,
    sha256: res.sha256,
    bytes: res.bytes,
    format: res.format,
    targetOid: target.oid,
    targetSchema: target.schema,
    targetTable: target.table,
    mode: target.mode,
    status,
    forced: config.force || target.mode === 'replace',
    rowsRead: res.rowsRead,
    rowsInserted: res.rowsInserted,
    rowsUpdated: res.rowsUpdated,
    rowsSkipped: res.rowsSkipped,
    rowsRejected: res.rowsRejected,
    subBatches: res.subBatches,
    retries: res.retries,
    startedAt: started,
    finishedAt: new Date(),
    errorCode: err?.code ?? null,
    errorMessage: err ? redact(err.message, config.secrets) : null,
    host: config.host,
    loaderVersion: config.version,
  });
  const stagingName = `${STAGING_PREFIX}${runKey(ctx.runId)}_${index}`;
  const stagingSql = qualified(target.schema, stagingName);
  let stagingCreated = false;
  let claimed: string | undefined;
  const fileAbort = new AbortController();
  const onRunAbort = (): void => fileAbort.abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', onRunAbort, { once: true });
  const signal = fileAbort.signal;
  try {
    const prep = await prepare(ctx, path, res, signal);
    if (target.mode !== 'replace' && res.sha256) {
      const claim = await ctx.claims.claimFile(target.oid, res.sha256);
      if (claim === 'other-run')
        throw new SkipError('IN_PROGRESS', 'another run is loading this content now');
      if (claim === 'this-run')
        throw new SkipError('DUPLICATE', 'a file with the same content is in this run');
      claimed = res.sha256;
    }
    if (!config.force && target.mode !== 'replace' && res.sha256) {
      const prev = await withClient(ctx.pool, (c) =>
        alreadyLoaded(c, target.schema, target.oid, res.sha256!),
      );
      if (prev) {
        throw new SkipError(
          'ALREADY_LOADED',
          `already loaded into ${target.sql} by run ${prev.runId} at ${prev.finishedAt.toISOString()} (use --force to load again)`,
        );
      }
    }
    const sources = prep.sources ?? batchSources(path, prep);
    const fileColumns = prep.columns.map((c) => c.stagingName);
    // reject-rows: CSV records PostgreSQL refuses are set aside; their order in staging maps merge errors back.
    const rejecting = config.onError === 'reject-rows' && !prep.sources;
    const rejects = new Rejects(path, config.maxRejects, prep.scan.records);
    const sent = new Map<number, number[]>();
    const quote = { quote: prep.dialect.quote.charCodeAt(0), escape: prep.dialect.escape.charCodeAt(0) };
    const onRetry = (err: Error, attempt: number): void => {
      res.retries++;
      log.warn(
        { file: path, attempt, err: redact(err.message, config.secrets) },
        'transient error, retrying',
      );
    };
    // Staging buys parallel sub-batches at the price of a second pass (INSERT ... SELECT); an append with one
    // sub-batch, one stream (--internal-concurrency 1) or --direct goes straight into the target instead.
    const direct =
      target.mode === 'append' &&
      prep.columns.every((c) => c.target) &&
      (prep.scan.batches.length <= 1 || ctx.internalConcurrency === 1 || config.direct);
    if (direct) {
      // Append without staging: the sub-batches are COPYed one after another straight into the target inside the
      // file's one transaction (one connection, so no internal parallelism; no second pass on the server).
      const copy = copySql(target.sql, fileColumns, prep.dialect);
      await withRetry(
        (attempt) =>
          withClient(ctx.pool, async (client) => {
            if (attempt > 1 && (await auditExists(client, target.schema, loadId))) return; // the COMMIT had landed
            await inTransaction(client, async () => {
              let counted = 0;
              for (const source of sources) {
                await source.load?.();
                if (rejecting) {
                  rejects.resetBatch(source.batch.index);
                  const buf = await source.bytes();
                  const r = await copyRejecting(client, {
                    sql: copy,
                    batch: source.batch,
                    buf,
                    quote,
                    rejects,
                    savepoints: true,
                    signal,
                  });
                  counted += r.rows;
                } else {
                  counted += await copyOn(
                    client,
                    { sql: copy, source, retries: 0, signal, onRetry },
                    false,
                  ).catch(async (err) => {
                    throw await describeCopyError(err, source, {
                      file: path,
                      dialect: prep.dialect,
                      columns: fileColumns,
                    });
                  });
                }
                source.release?.();
              }
              res.rowsRejected = rejects.size;
              res.rowsRead = counted + res.rowsRejected;
              res.rowsInserted = counted;
              res.subBatches = sources.length;
              await ensureUnchanged(path, prep.detected);
              res.status = 'succeeded';
              await insertAudit(client, target.schema, audit('succeeded'));
            });
          }),
        { retries: config.maxRetries, signal, onRetry },
      );
      await writeRejects(ctx, path, rejects, prep.headerBytes);
      log.info({ file: path, rows: res.rowsInserted, rejected: res.rowsRejected }, 'loaded');
      return { result: finish(res, started) };
    }

    // Staging path: create, COPY sub-batches in parallel, verify, merge + audit in one transaction.
    let startTime = '';
    await withClient(ctx.pool, async (c) => {
      await c.query(stagingDdl(stagingSql, prep.columns));
      stagingCreated = true;
      startTime =
        (await c.query<{ t: string }>(`SELECT pg_postmaster_start_time()::text AS t`)).rows[0]?.t ?? '';
    });
    const copy = copySql(stagingSql, fileColumns, prep.dialect);
    const counts = new Map<number, number>();
    const copyOne = async (source: BatchSource): Promise<void> => {
      try {
        await source.load?.();
        const n = rejecting
          ? await withRetry(
              (attempt) =>
                withClient(ctx.pool, async (client) => {
                  await tagBatch(client, stagingSql, source.batch.index, attempt > 1);
                  rejects.resetBatch(source.batch.index);
                  const buf = await source.bytes();
                  const r = await copyRejecting(client, {
                    sql: copy,
                    batch: source.batch,
                    buf,
                    quote,
                    rejects,
                    savepoints: false,
                    signal,
                  });
                  sent.set(source.batch.index, r.sent);
                  return r.rows;
                }),
              { retries: config.maxRetries, signal, onRetry },
            )
          : await copyBatch({
              pool: ctx.pool,
              sql: copy,
              staging: stagingSql,
              source,
              retries: config.maxRetries,
              signal,
              onRetry,
            });
        counts.set(source.batch.index, n);
        source.release?.();
      } catch (err) {
        throw await describeCopyError(err, source, {
          file: path,
          dialect: prep.dialect,
          columns: fileColumns,
          relation: { actual: stagingName, shown: target.table },
        });
      }
    };
    await runBounded(sources, ctx.internalConcurrency, fileAbort, copyOne);
    res.subBatches = sources.length;
    res.rowsRejected = rejects.size;
    res.rowsRead = [...counts.values()].reduce((a, b) => a + b, 0) + res.rowsRejected;

    if (target.mode === 'replace') {
      res.status = 'succeeded';
      return {
        result: res,
        staged: { result: res, audit: audit('succeeded'), stagingSql, columns: prep.columns },
      };
    }

    await ctx.mergeTurn(index);
    const merge = mergeSql(target, stagingSql, prep.columns, target.mode);
    for (let round = 0; ; round++) {
      const lost = await withRetry(
        (attempt) =>
          withClient(ctx.pool, async (client) => {
            if (attempt > 1 && (await auditExists(client, target.schema, loadId))) return []; // COMMIT had landed
            return inTransaction(client, async () => {
              // Crash recovery empties UNLOGGED tables: after a restart or any retry, check every sub-batch is whole.
              const now = (await client.query<{ t: string }>(`SELECT pg_postmaster_start_time()::text AS t`))
                .rows[0]?.t;
              if (now !== startTime || res.retries > 0) {
                const missing = await incompleteBatches(client, stagingSql, counts);
                if (missing.length > 0) return missing;
              }
              const merged = await mergeOrBisect(client, merge, {
                target,
                stagingSql,
                columns: prep.columns,
                mode: target.mode,
                rejects,
                quote,
                // Without CSV bytes to point at (Parquet), a constraint error fails the file as the server said.
                firstOnly: !rejecting,
                bisect: !prep.sources,
                batchOf: async (b) => {
                  const source = sources.find((x) => x.batch.index === b)!;
                  const buf = await source.bytes();
                  return { batch: source.batch, buf, sent: sent.get(b) ?? identity(source.batch.records) };
                },
              });
              res.rowsInserted = merged.inserted;
              res.rowsUpdated = merged.updated;
              res.rowsRejected = rejects.size;
              res.rowsSkipped = res.rowsRead - res.rowsInserted - res.rowsUpdated - res.rowsRejected;
              await ensureUnchanged(path, prep.detected);
              res.status = 'succeeded';
              await insertAudit(client, target.schema, audit('succeeded'));
              await client.query(`DROP TABLE ${stagingSql}`);
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
      if (!(await stagingExists(ctx.pool, stagingSql))) {
        await withClient(ctx.pool, (c) => c.query(stagingDdl(stagingSql, prep.columns)));
      }
      await runBounded(
        sources.filter((s) => lost.includes(s.batch.index)),
        ctx.internalConcurrency,
        fileAbort,
        copyOne,
      );
    }
    await writeRejects(ctx, path, rejects, prep.headerBytes);
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
    return { result: finish(res, started) };
  } catch (caught) {
    if (caught instanceof SkipError) {
      res.status = 'skipped';
      res.rowsRead = res.rowsInserted = res.rowsUpdated = res.rowsSkipped = res.subBatches = 0;
      res.error = { code: caught.reason, message: caught.message };
      log.info({ file: path, code: caught.reason }, `skipped ${path}: ${caught.message}`);
      await withClient(ctx.pool, (c) =>
        insertAudit(c, target.schema, {
          ...audit('skipped'),
          errorCode: caught.reason,
          errorMessage: caught.message,
        }),
      ).catch((e: Error) =>
        log.error({ file: path }, `could not write the audit row: ${redact(e.message, config.secrets)}`),
      );
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
    await withClient(ctx.pool, (c) =>
      insertAudit(c, target.schema, {
        ...audit(res.status),
        errorCode: res.error!.code,
        errorMessage: res.error!.message,
      }),
    ).catch((e: Error) =>
      log.error({ file: path }, `could not write the audit row: ${redact(e.message, config.secrets)}`),
    );
    return { result: finish(res, started) };
  } finally {
    ctx.signal.removeEventListener('abort', onRunAbort);
    if (claimed) await ctx.claims.releaseFile(target.oid, claimed);
    if (stagingCreated && target.mode !== 'replace') await dropStaging(ctx.pool, stagingSql);
    if (stagingCreated && target.mode === 'replace' && res.status !== 'succeeded')
      await dropStaging(ctx.pool, stagingSql);
  }
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

function identity(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

async function writeRejects(
  ctx: RunContext,
  path: string,
  rejects: Rejects,
  header: Buffer | undefined,
): Promise<void> {
  if (rejects.size === 0) return;
  const out = await rejects.write(ctx.config.rejectsDir, header);
  ctx.log.warn(
    { file: path, rejected: rejects.size, ...out },
    `${path}: ${rejects.size} rows rejected, written to ${out?.csv}`,
  );
}

/** The merge; on a constraint error, bisection finds the row: set aside (reject-rows) or named (abort-file). */
async function mergeOrBisect(
  client: pg.ClientBase,
  merge: string,
  job: MergeRejectingJob & { bisect: boolean },
): Promise<{ inserted: number; updated: number }> {
  await client.query('SAVEPOINT loader_whole');
  try {
    const { rows } = await client.query<{ inserted: string; updated: string }>(merge);
    await client.query('RELEASE SAVEPOINT loader_whole');
    return { inserted: Number(rows[0]?.inserted ?? 0), updated: Number(rows[0]?.updated ?? 0) };
  } catch (err) {
    if (!job.bisect || classifyError(err) !== 'reject') throw err;
    await client.query('ROLLBACK TO SAVEPOINT loader_whole');
    return mergeRejecting(client, job);
  }
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
  return new LoaderError(
    sqlState ? 'DATABASE' : 'INTERNAL',
    e.message ?? String(err),
    { sqlState },
    { cause: err },
  );
}

export async function dropStaging(pool: pg.Pool, stagingSql: string): Promise<void> {
  await withClient(pool, (c) => c.query(`DROP TABLE IF EXISTS ${stagingSql}`)).catch(() => {});
}

async function stagingExists(pool: pg.Pool, stagingSql: string): Promise<boolean> {
  return withClient(
    pool,
    async (c) =>
      (await c.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [stagingSql])).rows[0]?.ok === true,
  );
}

async function incompleteBatches(
  client: pg.ClientBase,
  stagingSql: string,
  counts: Map<number, number>,
): Promise<number[]> {
  const { rows } = await client.query<{ b: number; n: string }>(
    `SELECT ${quoteIdent(BATCH_COL)} AS b, count(*) AS n FROM ${stagingSql} GROUP BY 1`,
  );
  const have = new Map(rows.map((r) => [r.b, Number(r.n)]));
  return [...counts].filter(([b, n]) => (have.get(b) ?? 0) !== n).map(([b]) => b);
}

/** Detect, sniff, plan in a worker, parse the header and map columns. */
async function prepare(
  ctx: RunContext,
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

function batchSources(path: string, prep: Prepared): BatchSource[] {
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

/** Runs fn over items with at most `limit` in flight; the first failure aborts the rest and is the one thrown. */
export async function runBounded<T>(
  items: T[],
  limit: number,
  abort: AbortController,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let first: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && first === undefined && !abort.signal.aborted) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        if (first === undefined) {
          first = err;
          abort.abort(err);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (first !== undefined) throw first;
  if (abort.signal.aborted) throw abort.signal.reason;
}
