// --dry-run: what a run would do, with nothing written. Each file is detected, sniffed, hashed and planned by the
// same code as a load (prepare), its columns mapped onto the target; the audit table is read (if it exists) to
// tell which files would be skipped as already loaded, and pg_locks (never a lock of our own) which ones another
// run holds now. No table, staging, audit row, lock or file move is made.
import type pg from 'pg';
import { alreadyLoaded, auditTable } from './audit.js';
import { redact, type Mode } from './config.js';
import { newClient } from './connection.js';
import type { PoolPlan } from './db.js';
import { goesDirect, newResult, toLoaderError, type RunContext } from './file.js';
import { prepare, SkipError } from './prepare.js';

export interface FilePlan {
  path: string;
  /** what the run would do with the file */
  action: 'load' | 'skip' | 'fail';
  /** why it would be skipped or fail */
  reason?: { code: string; message: string };
  format: 'csv' | 'parquet' | 'unknown';
  gzip?: boolean;
  bytes: number;
  sha256: string | null;
  rows: number;
  subBatches?: number;
  /** CSV: the dialect COPY would get */
  dialect?: {
    delimiter: string;
    quote: string;
    escape: string;
    null: string;
    encoding: string;
    header: boolean;
  };
  /** Parquet: COPY BINARY, or text when a target type needs it. CSV: binary when the sub-batches are converted to
   * COPY BINARY where their values allow (--copy-format), else text */
  encoding?: 'binary' | 'text';
  /** file column -> table column (absent: ignored extra column) */
  columns?: { source: string; target?: string; type?: string }[];
  /** 'direct': one COPY into the table; 'staging': parallel COPY into staging, then the merge */
  route?: 'direct' | 'staging';
}

export interface RunPlan {
  target: string;
  mode: Mode;
  key: string[] | undefined;
  /** --create-table: the statement the run would execute (the table is missing) */
  createTable?: string;
  pool: PoolPlan & { available: number };
  /** whether loader_audit exists in the target's schema (a run creates it when missing) */
  auditTable: boolean;
  files: FilePlan[];
}

type PlanContext = Pick<
  RunContext,
  'config' | 'target' | 'workers' | 'parquetWorkers' | 'internalConcurrency'
>;

/** Whether another session holds the advisory lock a run would take for this file (read from pg_locks). */
async function heldElsewhere(client: pg.ClientBase, key: string): Promise<boolean> {
  const { rows } = await client.query<{ held: boolean }>(
    `WITH k AS (SELECT hashtextextended($1, 0) AS h)
     SELECT EXISTS (SELECT 1 FROM pg_locks l, k
                     WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
                       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                       AND l.classid::bigint = (k.h >> 32) & 4294967295
                       AND l.objid::bigint = k.h & 4294967295) AS held`,
    [key],
  );
  return rows[0]?.held ?? false;
}

/** The plan of each file, in the run's (sorted) order. Never throws on a file: a bad one is action 'fail'. */
export async function planFiles(
  ctx: PlanContext,
  files: string[],
  client: pg.ClientBase,
  signal: AbortSignal,
): Promise<{ files: FilePlan[]; auditTable: boolean }> {
  const { config, target } = ctx;
  const audit =
    (
      await client.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [
        auditTable(target.schema),
      ])
    ).rows[0]?.ok ?? false;
  const seen = new Set<string>();
  const out: FilePlan[] = [];
  for (const path of files) {
    const res = newResult(path);
    const plan: FilePlan = { path, action: 'load', format: 'unknown', bytes: 0, sha256: null, rows: 0 };
    try {
      const prep = await prepare(ctx, path, res, signal);
      // A CSV file's record scan runs alongside its COPYs in a load; a dry run waits for it (the same worker).
      if (prep.feed) res.rowsRead = (await prep.feed.end()).records;
      Object.assign(plan, {
        format: prep.detected.format,
        gzip: prep.detected.gzip,
        subBatches: prep.feed ? prep.feed.sources.length : prep.scan.batches.length,
        columns: prep.columns.map((c) => ({
          source: c.source,
          ...(c.target ? { target: c.target.name, type: c.target.type } : {}),
        })),
        route: goesDirect(
          target,
          prep.columns,
          prep.feed ? prep.feed.singleBatch : prep.scan.batches.length <= 1,
          ctx.internalConcurrency,
          config,
        )
          ? 'direct'
          : 'staging',
      });
      if (prep.detected.format === 'csv') {
        plan.dialect = {
          delimiter: prep.dialect.delimiter,
          quote: prep.dialect.quote,
          escape: prep.dialect.escape,
          null: prep.dialect.null,
          encoding: prep.dialect.encoding,
          header: prep.headerBytes !== undefined,
        };
        plan.encoding = prep.copyFormat ?? 'text';
      } else plan.encoding = prep.dialect.format === 'binary' ? 'binary' : 'text';
      const sha = res.sha256;
      if (target.mode !== 'replace' && sha) {
        if (seen.has(sha)) throw new SkipError('DUPLICATE', 'a file with the same content is in this run');
        seen.add(sha);
        if (target.oid > 0 && (await heldElsewhere(client, `loader_file:${target.oid}:${sha}`)))
          throw new SkipError('IN_PROGRESS', 'another run is loading this content now');
        const prev =
          !config.force && audit && target.oid > 0
            ? await alreadyLoaded(client, target.schema, target.oid, sha)
            : undefined;
        if (prev) {
          throw new SkipError(
            'ALREADY_LOADED',
            `already loaded into ${target.sql} by run ${prev.runId} at ${prev.finishedAt.toISOString()}`,
          );
        }
      }
    } catch (caught) {
      if (caught instanceof SkipError) {
        plan.action = 'skip';
        plan.reason = { code: caught.reason, message: caught.message };
      } else {
        const err = toLoaderError(caught, signal.aborted, signal.reason);
        plan.action = 'fail';
        plan.reason = { code: err.code, message: redact(err.message, config.secrets) };
      }
    }
    plan.format = res.format === 'unknown' ? plan.format : res.format;
    plan.bytes = res.bytes;
    plan.sha256 = res.sha256;
    plan.rows = res.rowsRead;
    out.push(plan);
  }
  return { files: out, auditTable: audit };
}

const show = (c: string): string => (c === '\t' ? 'TAB' : JSON.stringify(c));

/** The plan for people: the run, then one block per file. */
export function planLines(p: RunPlan): string[] {
  const count = (a: FilePlan['action']): number => p.files.filter((f) => f.action === a).length;
  const lines = [
    `loader: dry run, nothing written. ${p.files.length} file${p.files.length === 1 ? '' : 's'} into ${p.target} ` +
      `(${p.mode}${p.key ? `, key ${p.key.join(', ')}` : ''}): ${count('load')} would load, ${count('skip')} ` +
      `would be skipped, ${count('fail')} would fail`,
    `  connections: ${p.pool.poolSize} (concurrency ${p.pool.concurrency} x internal ${p.pool.internalConcurrency} + 5, ` +
      `the server allows ${Number.isFinite(p.pool.available) ? p.pool.available : 'any number'})` +
      (p.auditTable ? '' : '; loader_audit would be created'),
  ];
  if (p.createTable) lines.push(`  would create the table: ${p.createTable}`);
  for (const f of p.files) {
    const head = `  ${f.action.toUpperCase()} ${f.path}`;
    if (f.action !== 'load') {
      lines.push(`${head}: ${f.reason?.message ?? ''} [${f.reason?.code ?? '?'}]`);
      continue;
    }
    const what =
      f.format === 'csv' && f.dialect
        ? `CSV${f.gzip ? ' (gzip)' : ''}, delimiter ${show(f.dialect.delimiter)}, quote ${show(f.dialect.quote)}` +
          `${f.dialect.escape !== f.dialect.quote ? `, escape ${show(f.dialect.escape)}` : ''}, ` +
          `${f.dialect.header ? 'header' : 'no header'}, ${f.dialect.encoding}, ` +
          (f.encoding === 'binary' ? 'COPY binary (converted)' : 'COPY text')
        : `Parquet, COPY ${f.encoding ?? 'binary'}`;
    lines.push(
      `${head}: ${what}; ${f.rows} rows in ${f.subBatches ?? 0} sub-batch${f.subBatches === 1 ? '' : 'es'}, ` +
        `${f.route === 'direct' ? 'COPY straight into the table' : 'via staging'}`,
    );
    const cols = (f.columns ?? []).map((c) =>
      c.target ? `${c.source} -> ${c.target} ${c.type}` : `${c.source} (ignored)`,
    );
    if (cols.length > 0) lines.push(`       columns: ${cols.join(', ')}`);
  }
  return lines;
}

/** The whole dry run: its own read-only session and worker pools, the plan of every file. */
export async function dryRun(
  ctx: Pick<RunContext, 'config' | 'target' | 'internalConcurrency'>,
  files: string[],
  signal: AbortSignal,
  run: {
    pool: RunPlan['pool'];
    createTable?: string;
    start: () => {
      workers: RunContext['workers'];
      parquetWorkers: NonNullable<RunContext['parquetWorkers']>;
    };
  },
): Promise<RunPlan> {
  const { config, target } = ctx;
  const client = newClient(config.connection);
  client.on('error', () => {});
  const { workers, parquetWorkers } = run.start();
  try {
    await client.connect();
    const planned = await planFiles({ ...ctx, workers, parquetWorkers }, files, client, signal);
    return {
      target: target.sql,
      mode: target.mode,
      key: target.key,
      ...(run.createTable ? { createTable: run.createTable } : {}),
      pool: run.pool,
      auditTable: planned.auditTable,
      files: planned.files,
    };
  } finally {
    await workers.destroy();
    await parquetWorkers.destroy();
    await client.end().catch(() => {});
  }
}
