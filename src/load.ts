// The run: resolve config, read the target once, fit the pool to the server, discover files, schedule them up to
// --concurrency at once (in sorted path order, so merges can commit in that order), and, for replace, swap the
// table's contents in one transaction at the end. Returns a typed result; never throws on bad input.
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type pg from 'pg';
import { Piscina } from 'piscina';
import { ensureAuditTable, insertAudit } from './audit.js';
import { readTarget, type Target } from './catalog.js';
import { Claims, runKey } from './claim.js';
import { BufferPool } from './csvbin/source.js';
import { redact, resolveConfig, type Config, type LoadOptions } from './config.js';
import { ensureTarget, type Created } from './createtable.js';
import {
  availableConnections,
  connectFirst,
  createPool,
  endPool,
  endWithin,
  inTransaction,
  planPool,
  withClient,
  type PoolPlan,
} from './db.js';
import { dryRun, type RunPlan } from './dryrun.js';
import { withRetry } from './retry.js';
import { discover } from './discover.js';
import { LoaderError, adviceFor, sqlStateOf } from './errors.js';
import {
  auditRow,
  loadFile,
  newResult,
  toLoaderError,
  type FileResult,
  type RunContext,
  type StagedFile,
} from './file.js';
import { silentLogger, type Logger } from './log.js';
import { ParquetPool } from './parquet/pool.js';
import type { ProgressEvent, ProgressListener } from './progress.js';
import { analyzeTarget, moveFiles } from './settle.js';
import { dropStaging } from './staging.js';
import { mergeSql } from './merge.js';
import { VERSION } from './version.js';

export interface LoadResult {
  runId: string;
  target: string;
  mode: string;
  files: FileResult[];
  totals: {
    files: number;
    succeeded: number;
    failed: number;
    skipped: number;
    cancelled: number;
    rowsInserted: number;
    rowsUpdated: number;
    rowsSkipped: number;
    bytes: number;
  };
  durationMs: number;
  /** 0 all loaded or skipped; 1 some file failed; 130 cancelled */
  exitCode: number;
  /** patterns that matched no file */
  unmatched: string[];
  /** --dry-run: what the run would do (files is then empty: nothing was done) */
  plan?: RunPlan;
}

export interface LoadHooks {
  logger?: Logger;
  /** progress events, called on the main thread: run started, file started, one per sub-batch COPYed, file
   * finished (see src/progress.ts). A listener that throws is logged and dropped, never fails the run. */
  onProgress?: (event: ProgressEvent) => void;
}

/** The listener guarded: the first throw disconnects it (the load goes on). */
function progressEmitter(listener: ProgressListener | undefined, log: Logger): ProgressListener | undefined {
  if (!listener) return undefined;
  let on = true;
  return (e) => {
    if (!on) return;
    try {
      listener(e);
    } catch (err) {
      on = false;
      log.warn({ err: (err as Error).message }, 'the progress listener threw: progress events stopped');
    }
  };
}

const workerUrl = new URL('../workers/plan.js', import.meta.url);
const parquetWorkerUrl = new URL('../workers/parquet.js', import.meta.url);

export async function load(options: LoadOptions, hooks: LoadHooks = {}): Promise<LoadResult> {
  let config = resolveConfig(options, process.env, VERSION);
  const log = hooks.logger ?? silentLogger;
  const started = Date.now();
  const runId = randomUUID();
  const signal = options.signal ?? new AbortController().signal;

  const { files, unmatched } = await discover(config.patterns);
  for (const p of unmatched) log.warn({ pattern: p }, `no file matches ${p}`);
  if (files.length === 0) {
    log.warn('no files to load');
    return summarize(runId, config.tableText, config.mode ?? 'append', [], unmatched, started, false);
  }

  let target!: Target;
  let plan!: PoolPlan;
  let serverVersion = 0;
  let available = Number.POSITIVE_INFINITY;
  let created: Created | undefined;
  if (config.connection.warning) log.warn(config.connection.warning);
  // The set-up is retried like the rest (a server restarting or full as the run starts): nothing is written
  // before ensureAuditTable, whose DDL is idempotent (as is --create-table's CREATE TABLE IF NOT EXISTS).
  const retry = {
    retries: config.maxRetries,
    // Not the run's signal: a run cancelled before it starts still reads the target, so that every file gets its
    // `cancelled` audit row (p-retry gives up at once on an aborted signal). The set-up is a few short queries.
    signal: new AbortController().signal,
    onRetry: (err: Error, attempt: number) =>
      log.warn({ attempt, err: redact(err.message, config.secrets) }, 'transient error at start, retrying'),
  };
  try {
    await withRetry(async () => {
      let setup: pg.Client | undefined;
      try {
        // The first session settles TLS for sslmode prefer/allow; every later connection of the run does the same.
        let connection;
        ({ client: setup, serverVersion, connection } = await connectFirst(config));
        config = Object.freeze({ ...config, connection });
        created = config.createTable ? await ensureTarget(setup, config, files[0]!) : undefined;
        if (created && !config.dryRun) log.info({ sql: created.sql }, `created ${config.tableText}`);
        target = created?.planned ?? (await readTarget(setup, config));
        const free = await availableConnections(setup);
        available = free.available;
        // One connection of the budget is the run's claim session (advisory locks), outside the pool.
        plan = planPool(config.concurrency, config.internalConcurrency, available - 1);
        if (
          plan.concurrency !== config.concurrency ||
          plan.internalConcurrency !== config.internalConcurrency
        ) {
          log.warn(
            {
              wanted: config.concurrency * config.internalConcurrency + 5,
              available,
              detail: free.detail,
              ...plan,
            },
            `the server allows ${available} more connections: concurrency lowered to ${plan.concurrency} x ${plan.internalConcurrency}`,
          );
        }
        if (!config.dryRun) await ensureAuditTable(setup, target.schema);
      } finally {
        if (setup) await endWithin(setup, config.connectTimeoutMs);
      }
    }, retry);
  } catch (err) {
    const e =
      err instanceof LoaderError
        ? err
        : new LoaderError('CONNECTION', withAdvice(err as Error), {}, { cause: err });
    throw new LoaderError(e.code, redact(e.message, config.secrets), e.context, { cause: err });
  }
  log.info(
    {
      runId,
      target: target.sql,
      mode: target.mode,
      key: target.key,
      files: files.length,
      pool: plan.poolSize,
    },
    'run starting',
  );

  if (config.dryRun) {
    const runPlan = await dryRun(
      { config, target, internalConcurrency: plan.internalConcurrency },
      files,
      signal,
      {
        pool: { ...plan, available },
        ...(created ? { createTable: created.sql } : {}),
        start: () => startWorkers(config, plan),
      },
    );
    const r = summarize(runId, target.sql, target.mode, [], unmatched, started, signal.aborted);
    return {
      ...r,
      plan: runPlan,
      exitCode: r.exitCode || (runPlan.files.some((f) => f.action === 'fail') ? 1 : 0),
    };
  }
  const claims = await withRetry(() => Claims.open(config, runKey(runId), serverVersion), retry).catch(
    (err: Error) => {
      throw new LoaderError('CONNECTION', redact(err.message, config.secrets), {}, { cause: err });
    },
  );
  const dropped = await claims.dropLeftoverStaging(target.schema, runKey(runId)).catch(() => 0);
  if (dropped > 0) log.info({ dropped }, `dropped ${dropped} staging tables left by crashed runs`);
  const pool = createPool(config, plan.poolSize, serverVersion);
  pool.on('error', (err) => log.warn({ err: redact(err.message, config.secrets) }, 'idle connection failed'));
  const { workers, parquetWorkers } = startWorkers(config, plan, files);
  const results: FileResult[] = new Array(files.length);
  const progress = progressEmitter(hooks.onProgress, log);
  // sizes on disk for the overall progress (only when someone listens): a file gone meanwhile counts 0 and fails later
  const sizeOf = (f: string): Promise<number> =>
    stat(f).then(
      (st) => st.size,
      () => 0,
    );
  const sizes = progress ? await Promise.all(files.map(sizeOf)) : [];
  progress?.({
    type: 'run-started',
    runId,
    target: target.sql,
    mode: target.mode,
    files: files.length,
    bytes: sizes.reduce((a, b) => a + b, 0),
  });
  const finished = (i: number): void => {
    const result = results[i];
    if (result) progress?.({ type: 'file-finished', index: i, path: files[i]!, result });
  };
  const staged: StagedFile[] = [];
  // Merge order: file i merges after files 0..i-1 have finished, so the later file in path order wins a key.
  const done = files.map(() => {
    let resolve!: () => void;
    const p = new Promise<void>((r) => (resolve = r));
    return { p, resolve };
  });
  const ordered = target.mode === 'upsert' || target.mode === 'insert-only';
  const ctx: RunContext = {
    config,
    pool,
    workers,
    parquetWorkers,
    target,
    runId,
    log,
    internalConcurrency: plan.internalConcurrency,
    signal,
    claims,
    progress,
    buffers: new BufferPool(plan.concurrency * (plan.internalConcurrency + 1)),
    mergeTurn: async (i) => {
      if (ordered) await Promise.all(done.slice(0, i).map((d) => d.p));
    },
  };
  try {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < files.length) {
        const i = next++;
        const path = files[i]!;
        try {
          if (signal.aborted) {
            results[i] = await cancelled(ctx, path);
            continue;
          }
          progress?.({ type: 'file-started', index: i, path, bytes: sizes[i] ?? 0 });
          const out = await loadFile(ctx, path, i);
          results[i] = out.result;
          if (out.staged) staged.push(out.staged);
        } finally {
          done[i]!.resolve();
          if (target.mode !== 'replace') finished(i); // replace: final once the run's transaction is done
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(plan.concurrency, files.length) }, lane));
    if (target.mode === 'replace') {
      await replaceAll(ctx, staged, results);
      files.forEach((_, i) => finished(i));
    }
    if (config.analyze && !signal.aborted) {
      await analyzeTarget(pool, target.sql, results, log).catch((e: Error) =>
        log.error(`ANALYZE ${target.sql} failed: ${redact(e.message, config.secrets)}`),
      );
    }
  } finally {
    await workers.destroy();
    await parquetWorkers.destroy();
    await endPool(pool, config.connectTimeoutMs);
    await claims.close();
  }
  await moveFiles(config, results, log);
  return summarize(runId, target.sql, target.mode, results, unmatched, started, signal.aborted);
}

/** The worker pools: CSV planning (hash + record scan) and Parquet decoding. */
/** Whether every file of the run is read as Parquet: --file-type parquet, or (auto) each named .parquet, which
 * detect() never reads as CSV. */
function allParquet(config: Config, files: readonly string[]): boolean {
  if (config.fileType === 'parquet') return true;
  return (
    config.fileType === 'auto' && files.length > 0 && files.every((f) => f.toLowerCase().endsWith('.parquet'))
  );
}

function startWorkers(
  config: Config,
  plan: PoolPlan,
  files: readonly string[] = [],
): { workers: Piscina; parquetWorkers: ParquetPool } {
  const workers = new Piscina({
    filename: workerUrl.href,
    // a file's record scan holds a thread while its sub-batches are converted to binary on others
    maxThreads: Math.max(
      1,
      Math.min(availableParallelism(), plan.concurrency * (1 + plan.internalConcurrency)),
    ),
    // one thread from the start, ready for the first hash; none for a run of Parquet files only (its start-up, about
    // 40 ms of CPU, went to the Parquet thread's own at the same moment)
    minThreads: allParquet(config, files) ? 0 : 1,
    idleTimeout: 5_000,
  });
  // Parquet row groups decode on their own pool, one thread per core at most: decoding is CPU-bound, and each
  // extra thread costs start-up (0.5-1 s of modules and wasm on a busy 2-core machine), a cold JIT and a wasm heap
  // that never shrinks (measured: 4 threads on 2 cores made a 98k-row file about 2x slower than 2). The
  // --internal-concurrency sub-batches of a file still COPY at once. No thread starts before a file needs one.
  const parquetWorkers = new ParquetPool({
    filename: parquetWorkerUrl.href,
    maxThreads: Math.max(1, Math.min(availableParallelism(), plan.concurrency * plan.internalConcurrency)),
    memoryLimitBytes: config.memoryLimitBytes,
    wasmMemoryMarkBytes: config.wasmMemoryMarkBytes,
  });
  return { workers, parquetWorkers };
}

async function cancelled(ctx: RunContext, path: string): Promise<FileResult> {
  const res = newResult(path, 'cancelled');
  res.error = { code: 'CANCELLED', message: 'cancelled before it started' };
  await withClient(ctx.pool, (c) =>
    insertAudit(c, ctx.target.schema, auditRow(ctx, res, randomUUID(), new Date())),
  ).catch(() => {});
  return res;
}

/** replace: the run's files together replace the table's contents in one transaction, or nothing changes. */
async function replaceAll(ctx: RunContext, staged: StagedFile[], results: FileResult[]): Promise<void> {
  const { target, log } = ctx;
  const failed = results.some((r) => r.status !== 'succeeded');
  staged.sort((a, b) => (a.result.path < b.result.path ? -1 : 1));
  try {
    if (failed || ctx.signal.aborted) {
      throw new LoaderError('REPLACE_ABORTED', 'not replaced: another file of this replace run failed');
    }
    await withClient(ctx.pool, (client) =>
      inTransaction(client, async () => {
        // TRUNCATE is fast but fails when foreign keys reference the table; DELETE works there.
        await client.query(target.referenced ? `DELETE FROM ${target.sql}` : `TRUNCATE ${target.sql}`);
        for (const s of staged) {
          const { rows } = await client.query<{ inserted: string; updated: string }>(
            mergeSql(target, s.stagingSql, s.columns, 'replace'),
          );
          s.result.rowsInserted = Number(rows[0]?.inserted ?? 0);
          s.result.rowsUpdated = Number(rows[0]?.updated ?? 0);
          s.result.rowsSkipped = s.result.rowsRead - s.result.rowsInserted - s.result.rowsUpdated;
          await insertAudit(client, target.schema, {
            ...s.audit,
            rowsInserted: s.result.rowsInserted,
            rowsUpdated: s.result.rowsUpdated,
            rowsSkipped: s.result.rowsSkipped,
            finishedAt: new Date(),
          });
        }
      }),
    );
    log.info({ files: staged.length }, `replaced the contents of ${target.sql}`);
    for (const s of staged) await s.writeRejects();
  } catch (caught) {
    const err = toLoaderError(caught, ctx.signal.aborted);
    const code = err.code === 'CANCELLED' ? 'CANCELLED' : err.code;
    for (const s of staged) {
      s.result.status = code === 'CANCELLED' ? 'cancelled' : 'failed';
      s.result.rowsInserted = s.result.rowsUpdated = s.result.rowsSkipped = 0;
      s.result.error = { code, message: redact(err.message, ctx.config.secrets) };
      await withClient(ctx.pool, (c) =>
        insertAudit(c, target.schema, {
          ...s.audit,
          status: s.result.status,
          errorCode: code,
          errorMessage: s.result.error!.message,
          finishedAt: new Date(),
        }),
      ).catch(() => {});
    }
    if (!failed) log.error({ code }, `replace failed: ${redact(err.message, ctx.config.secrets)}`);
  } finally {
    for (const s of staged) await dropStaging(ctx.pool, s.stagingSql);
  }
}

function withAdvice(err: Error): string {
  const advice = adviceFor(sqlStateOf(err));
  return advice ? `${err.message} (${advice})` : err.message;
}

function summarize(
  runId: string,
  target: string,
  mode: string,
  files: FileResult[],
  unmatched: string[],
  started: number,
  aborted: boolean,
): LoadResult {
  const count = (s: FileResult['status']): number => files.filter((f) => f.status === s).length;
  const sum = (k: 'rowsInserted' | 'rowsUpdated' | 'rowsSkipped' | 'bytes'): number =>
    files.reduce((a, f) => a + f[k], 0);
  const totals = {
    files: files.length,
    succeeded: count('succeeded'),
    failed: count('failed'),
    skipped: count('skipped'),
    cancelled: count('cancelled'),
    rowsInserted: sum('rowsInserted'),
    rowsUpdated: sum('rowsUpdated'),
    rowsSkipped: sum('rowsSkipped'),
    bytes: sum('bytes'),
  };
  const exitCode = aborted ? 130 : totals.failed > 0 || totals.cancelled > 0 ? 1 : 0;
  return { runId, target, mode, files, totals, durationMs: Date.now() - started, exitCode, unmatched };
}
