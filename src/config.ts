// Options are resolved once, here: explicit values > environment > defaults, validated with messages that name
// the option, then frozen. Nothing downstream applies defaults again.
import { hostname } from 'node:os';
import { parseSize } from './budget.js';
import { LoaderError } from './errors.js';
import { resolveConnection, type Connection } from './connection.js';
import { parseMaxRejects, type RejectLimit } from './reject.js';
import { parseTableName, type TableName } from './sql.js';

export const MODES = ['upsert', 'append', 'insert-only', 'replace'] as const;
export type Mode = (typeof MODES)[number];
export const FILE_TYPES = ['auto', 'csv', 'parquet'] as const;
export type FileType = (typeof FILE_TYPES)[number];
export const ON_ERROR = ['abort-file', 'reject-rows'] as const;
export type OnError = (typeof ON_ERROR)[number];
export const COPY_FORMATS = ['auto', 'binary', 'text'] as const;
/** how CSV rows travel to the server: converted to COPY BINARY by workers, or as the file's CSV bytes */
export type CopyFormat = (typeof COPY_FORMATS)[number];

/** Whether an --encoding names UTF-8 (what the CSV-to-binary conversion needs). */
export function isUtf8(encoding: string): boolean {
  return /^utf-?8$/i.test(encoding);
}

export interface LoadOptions {
  /** postgres://user:pass@host:port/db; else DATABASE_URL; else libpq's PG* variables */
  dsn?: string;
  /** [schema.]table */
  table: string;
  /** file paths and glob patterns */
  files: string[];
  /** files loaded at once (default 4) */
  concurrency?: number;
  /** sub-batches in flight per file (default 2) */
  internalConcurrency?: number;
  /** rows per sub-batch (default 50000) */
  batchSize?: number;
  fileType?: FileType;
  /** retries of a transient failure per sub-batch or merge (default 3) */
  maxRetries?: number;
  /** default: upsert when the target has a primary key or key is given, else append */
  mode?: Mode;
  key?: string[];
  ignoreExtraColumns?: boolean;
  delimiter?: string;
  quote?: string;
  escape?: string;
  null?: string;
  /** undefined: sniffed per file */
  header?: boolean;
  /** the files' encoding, as PostgreSQL names it (default UTF8) */
  encoding?: string;
  /** for timestamps without an offset (default UTC) */
  timezone?: string;
  /** load files again even when already loaded */
  force?: boolean;
  /** append: COPY straight into the target, one stream per file, no staging (default true; false: through staging,
   * --internal-concurrency sub-batches COPYed at once, then INSERT ... SELECT) */
  direct?: boolean;
  /** CSV: auto (default), binary or text (src/csvbin/source.ts) */
  copyFormat?: CopyFormat;
  /** skip files modified less than this many seconds ago (still being written); default 0 */
  minAgeSeconds?: number;
  /** abort-file (default): a bad row fails its file; reject-rows: bad rows go to the rejects dir, the rest loads */
  onError?: OnError;
  /** where reject-rows writes <file>.rejects.csv and .rejects.log (default ./rejects) */
  rejectsDir?: string;
  /** reject-rows: fail the file past this many rejected rows, "N" or "N%" (default: no limit) */
  maxRejects?: string | number;
  /** milliseconds to wait for a connection (default: the DSN's connect_timeout, else PGCONNECT_TIMEOUT, else 30 s) */
  connectTimeoutMs?: number;
  /** milliseconds a statement may go without a byte moving before its backend is checked on (default 60000; 0
   * turns the watchdog off) */
  stallTimeoutMs?: number;
  /** bytes of Parquet row groups (uncompressed, from the footer) decoded and in flight at once, over the whole run:
   * a number of bytes or a size such as "512MB", "2GB" (default 1GB). A row group larger than this loads alone. */
  memoryLimit?: number | string;
  /** a Parquet worker thread whose wasm memory (which never shrinks) passed this many bytes is replaced after its
   * task (default: --memory-limit divided by the Parquet threads, at least 64 MiB) */
  wasmMemoryMarkBytes?: number;
  /** plan only: detect, map and check every file, write nothing (LoadResult.plan says what a run would do) */
  dryRun?: boolean;
  /** create a missing target from the first file's columns (Parquet schema or CSV type inference) */
  createTable?: boolean;
  /** ANALYZE the target after the run when rows landed */
  analyze?: boolean;
  /** move each loaded (or already-loaded) file here, keeping its place below the pattern's fixed part */
  archiveDir?: string;
  /** move each failed file here */
  errorDir?: string;
  signal?: AbortSignal;
}

export interface Config {
  /** host, port, user, database, sslmode, ... resolved as libpq does (src/connection.ts) */
  readonly connection: Connection;
  readonly target: TableName;
  readonly tableText: string;
  readonly patterns: readonly string[];
  readonly concurrency: number;
  readonly internalConcurrency: number;
  readonly batchSize: number;
  readonly fileType: FileType;
  readonly maxRetries: number;
  readonly mode: Mode | undefined;
  readonly key: readonly string[] | undefined;
  readonly ignoreExtraColumns: boolean;
  readonly delimiter: string | undefined;
  readonly quote: string | undefined;
  readonly escape: string | undefined;
  readonly null: string;
  readonly header: boolean | undefined;
  readonly encoding: string;
  readonly timezone: string;
  readonly force: boolean;
  readonly direct: boolean;
  readonly copyFormat: CopyFormat;
  readonly minAgeSeconds: number;
  readonly onError: OnError;
  readonly rejectsDir: string;
  readonly maxRejects: RejectLimit;
  readonly connectTimeoutMs: number;
  readonly stallTimeoutMs: number;
  readonly memoryLimitBytes: number;
  /** undefined: derived from memoryLimitBytes and the thread count when the pool is made */
  readonly wasmMemoryMarkBytes: number | undefined;
  readonly dryRun: boolean;
  readonly createTable: boolean;
  readonly analyze: boolean;
  readonly archiveDir: string | undefined;
  readonly errorDir: string | undefined;
  readonly host: string;
  readonly version: string;
  /** strings that must never be printed (passwords) */
  readonly secrets: readonly string[];
}

function usage(message: string): LoaderError {
  return new LoaderError('USAGE', message);
}

function positiveInt(name: string, value: number | undefined, dflt: number, max = 1_000_000_000): number {
  if (value === undefined) return dflt;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw usage(`${name} must be a whole number from 1 to ${max}, got ${String(value)}`);
  }
  return value;
}

function nonNegative(name: string, value: number | undefined): number {
  if (value === undefined) return 0;
  if (!Number.isFinite(value) || value < 0)
    throw usage(`${name} must be a number of seconds, 0 or more, got ${String(value)}`);
  return value;
}

function byteSize(name: string, value: number | string | undefined, dflt: number): number {
  if (value === undefined) return dflt;
  const n = typeof value === 'number' ? value : parseSize(value);
  if (n === undefined || !Number.isFinite(n) || n < 1 || !Number.isInteger(n)) {
    throw usage(
      `${name} must be a size such as 512MB or 2GB (or a whole number of bytes), got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

function singleChar(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value === '\\t' || value.toLowerCase() === 'tab' ? '\t' : value;
  if (v.length !== 1 || v === '\n' || v === '\r')
    throw usage(`${name} must be one character, got ${JSON.stringify(value)}`);
  return v;
}

export function secretsOf(connectionString: string | undefined, env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  if (connectionString) {
    try {
      const u = new URL(connectionString);
      if (u.password) out.push(u.password, decodeURIComponent(u.password));
      const p = u.searchParams.get('password');
      if (p) out.push(p);
    } catch {
      // a key=value DSN: take password=... out of it
      const m = /(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/.exec(connectionString);
      if (m?.[1]) out.push(m[1].replace(/^'|'$/g, ''));
    }
  }
  if (env.PGPASSWORD) out.push(env.PGPASSWORD);
  return [...new Set(out.filter((s) => s.length > 0))];
}

/** Replaces every secret, and the password part of any URL, with ***. */
export function redact(text: string, secrets: readonly string[]): string {
  // Secrets first: a password holding an unencoded @ would otherwise be cut at its first @ and leak the rest.
  let out = text;
  for (const s of secrets) out = out.split(s).join('***');
  return out.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@');
}

export function resolveConfig(
  opts: LoadOptions,
  env: NodeJS.ProcessEnv = process.env,
  version = '0.0.0',
): Config {
  const source = opts.dsn ? 'option' : env.DATABASE_URL ? 'DATABASE_URL' : 'PG*';
  const connection = resolveConnection(
    opts.dsn || env.DATABASE_URL || undefined,
    source,
    env,
    opts.connectTimeoutMs === undefined
      ? undefined
      : positiveInt('--connect-timeout', opts.connectTimeoutMs, 30_000, 3_600_000),
  );

  if (!opts.table) throw usage('--table is required');
  let target: TableName;
  try {
    target = parseTableName(opts.table);
  } catch (err) {
    throw usage(`--table: ${(err as Error).message}`);
  }
  if (!opts.files || opts.files.length === 0) throw usage('no files given');
  if (opts.mode !== undefined && !MODES.includes(opts.mode)) {
    throw usage(`--mode must be one of ${MODES.join(', ')}, got ${JSON.stringify(opts.mode)}`);
  }
  const fileType = opts.fileType ?? 'auto';
  if (!FILE_TYPES.includes(fileType)) {
    throw usage(`--file-type must be one of csv, parquet, got ${JSON.stringify(opts.fileType)}`);
  }
  const key = opts.key?.map((k) => k.trim()).filter((k) => k.length > 0);
  if (opts.key && (!key || key.length === 0)) throw usage('--key needs at least one column name');
  const maxRetries = opts.maxRetries ?? 3;
  if (!Number.isInteger(maxRetries) || maxRetries < 0 || maxRetries > 100) {
    throw usage(`--max-retries must be a whole number from 0 to 100, got ${String(opts.maxRetries)}`);
  }
  const timezone = opts.timezone ?? 'UTC';
  if (!/^[A-Za-z0-9_+\-/:.]+$/.test(timezone))
    throw usage(`--timezone ${JSON.stringify(timezone)} is not a time zone name`);
  const encoding = (opts.encoding ?? 'UTF8').trim();
  if (!/^[A-Za-z0-9_-]+$/.test(encoding))
    throw usage(`--encoding ${JSON.stringify(encoding)} is not an encoding name`);
  const nul = opts.null ?? '';
  if (/[\r\n]/.test(nul)) throw usage('--null cannot contain a line break');

  const copyFormat = opts.copyFormat ?? 'auto';
  if (!COPY_FORMATS.includes(copyFormat))
    throw usage(`--copy-format must be auto, binary or text, got ${JSON.stringify(opts.copyFormat)}`);
  const onError = opts.onError ?? 'abort-file';
  if (!ON_ERROR.includes(onError)) {
    throw usage(`--on-error must be abort-file or reject-rows, got ${JSON.stringify(opts.onError)}`);
  }
  if (copyFormat === 'binary' && onError === 'reject-rows')
    throw usage(
      '--copy-format binary cannot be used with --on-error reject-rows (which finds bad rows by CSV line)',
    );
  if (copyFormat === 'binary' && !isUtf8(encoding))
    throw usage(`--copy-format binary needs UTF8 files, not --encoding ${encoding}`);
  let maxRejects: RejectLimit = {};
  if (opts.maxRejects !== undefined) {
    try {
      maxRejects = parseMaxRejects(String(opts.maxRejects));
    } catch (err) {
      throw usage((err as Error).message);
    }
  }
  const config: Config = {
    connection,
    target,
    tableText: opts.table,
    patterns: [...opts.files],
    concurrency: positiveInt('--concurrency', opts.concurrency, 4, 1000),
    internalConcurrency: positiveInt('--internal-concurrency', opts.internalConcurrency, 2, 1000),
    batchSize: positiveInt('--batch-size', opts.batchSize, 50_000),
    fileType,
    maxRetries,
    mode: opts.mode,
    key: key && key.length > 0 ? key : undefined,
    ignoreExtraColumns: opts.ignoreExtraColumns ?? false,
    delimiter: singleChar('--delimiter', opts.delimiter),
    quote: singleChar('--quote', opts.quote),
    escape: singleChar('--escape', opts.escape),
    null: nul,
    header: opts.header,
    encoding,
    timezone,
    force: opts.force ?? false,
    direct: opts.direct ?? true,
    copyFormat,
    minAgeSeconds: nonNegative('--min-age', opts.minAgeSeconds),
    onError,
    rejectsDir: opts.rejectsDir ?? 'rejects',
    maxRejects,
    connectTimeoutMs: connection.connectTimeoutMs,
    stallTimeoutMs:
      opts.stallTimeoutMs === 0 ? 0 : positiveInt('--stall-timeout', opts.stallTimeoutMs, 60_000, 86_400_000),
    memoryLimitBytes: byteSize('--memory-limit', opts.memoryLimit, 2 ** 30),
    wasmMemoryMarkBytes:
      opts.wasmMemoryMarkBytes === undefined
        ? undefined
        : byteSize('wasmMemoryMarkBytes', opts.wasmMemoryMarkBytes, 0),
    dryRun: opts.dryRun ?? false,
    createTable: opts.createTable ?? false,
    analyze: opts.analyze ?? false,
    archiveDir: opts.archiveDir || undefined,
    errorDir: opts.errorDir || undefined,
    host: hostname(),
    version,
    secrets: [...new Set([...secretsOf(connection.connectionString, env), connection.password ?? ''])].filter(
      (x) => x.length > 0,
    ),
  };
  return Object.freeze(config);
}
