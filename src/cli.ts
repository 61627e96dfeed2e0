#!/usr/bin/env node
// The command line: a thin layer over load(). Parses options (commander), wires signals to an AbortSignal,
// prints one summary on stdout and exits 0 (all loaded or skipped), 1 (a file failed), 2 (usage), 3 (the run could
// not start), 130/143 (interrupted).
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { checkCommand } from './check.js';
import { LoaderError } from './errors.js';
import { readJobsFile, resolveJobs, worstExit, type Job } from './jobs.js';
import { load, type LoadResult } from './load.js';
import { summaryLines } from './report.js';
import { planLines } from './dryrun.js';
import { operatorHelp } from './cli-help.js';
import { operatorOutput, writeOutputs } from './outputs.js';
import { statusCommand } from './status.js';
import { redact, secretsOf, type LoadOptions } from './config.js';
import { VERSION } from './version.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, setup: 3, sigint: 130, sigterm: 143 } as const;

function int(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} takes a whole number`);
    return Number(v);
  };
}

/** Subcommands besides the default load (`loader check`, `loader status`) live in their own modules. Each is a
 * factory returning a commander Command whose action resolves to the exit code through `exit`. `loader <files...>`
 * stays the main job: argv[0] is only taken as a subcommand when it names one. */
export interface Subcommand {
  name: string;
  make(exit: (code: Promise<number>) => void): Command;
}
const SUBCOMMANDS: Subcommand[] = [statusCommand, checkCommand];

function usageExit(err: unknown): number {
  if (err instanceof CommanderError) {
    return err.code === 'commander.helpDisplayed' ||
      err.code === 'commander.version' ||
      err.code === 'commander.help'
      ? EXIT.ok
      : EXIT.usage;
  }
  throw err;
}

async function runSubcommand(sub: Subcommand, argv: string[]): Promise<number> {
  let code: Promise<number> | undefined;
  const cmd = sub
    .make((c) => {
      code = c;
    })
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    await cmd.parseAsync(argv, { from: 'user' });
  } catch (err) {
    return usageExit(err);
  }
  return (await code) ?? EXIT.ok;
}

function program(): Command {
  return new Command('loader')
    .description(
      'Load CSV (plain or gzip) and Parquet files into a PostgreSQL table, exactly once per file, with an audit row each.',
    )
    .version(VERSION, '-V, --version')
    .argument('[files...]', 'files and glob patterns (quoted patterns are expanded too); none with --config')
    .addOption(new Option('--dsn <url>', 'postgres://user:pass@host:port/db').env('DATABASE_URL'))
    .option('-t, --table <[schema.]table>', 'the target table')
    .option('--config <file>', 'a JSON file of jobs (files, table, options each) run one after another')
    .option(
      '--mode <mode>',
      'upsert | append | insert-only | replace (default: upsert with a key, else append)',
    )
    .option(
      '--key <cols>',
      'key columns, comma-separated; must match a unique index (default: the primary key)',
    )
    .option('-c, --concurrency <n>', 'files loaded at once', int('--concurrency'), 4)
    .option('--internal-concurrency <n>', 'sub-batches in flight per file', int('--internal-concurrency'), 2)
    .option(
      '--disable-internal-parallelism',
      'one sub-batch at a time per file (same as --internal-concurrency 1)',
    )
    .option('--batch-size <n>', 'rows per sub-batch', int('--batch-size'), 50000)
    .addOption(new Option('--file-type <type>', 'skip detection').choices(['csv', 'parquet']))
    .option('--max-retries <n>', 'retries of a transient failure', int('--max-retries'), 3)
    .option('--ignore-extra-columns', 'skip file columns the table lacks instead of failing the file')
    .option('--delimiter <c>', 'field delimiter (default: sniffed among , ; TAB |)')
    .option('--quote <c>', 'quote character (default: sniffed, usually ")')
    .option('--escape <c>', 'escape character inside quotes (default: the quote, doubled)')
    .option('--null <s>', 'the string that means NULL (default: an unquoted empty field)')
    .option('--header', 'the first record is a header (default: sniffed)')
    .option('--no-header', 'there is no header: fields map to columns by position')
    .option('--encoding <name>', "the files' encoding, as PostgreSQL names it", 'UTF8')
    .option('--timezone <tz>', 'time zone for timestamps without an offset', 'UTC')
    .option('--force', 'load files again even if already loaded into this table')
    .option(
      '--min-age <s>',
      'skip files modified less than this many seconds ago (still being written)',
      int('--min-age'),
      0,
    )
    .addOption(
      new Option(
        '--on-error <policy>',
        'abort-file: a bad row fails its file; reject-rows: set bad rows aside',
      )
        .choices(['abort-file', 'reject-rows'])
        .default('abort-file'),
    )
    .option('--rejects-dir <dir>', 'reject-rows: where <file>.rejects.csv and .rejects.log go', 'rejects')
    .option(
      '--max-rejects <n|n%>',
      'reject-rows: fail the file past this many rejected rows (default: no limit)',
    )
    .option('--direct', 'append: COPY straight into the table, one stream per file, no staging (the default)')
    .option(
      '--no-direct',
      'append through a staging table: --internal-concurrency sub-batches of a file COPY at once, merged by INSERT ... SELECT as they land',
    )
    .addOption(
      new Option(
        '--copy-format <f>',
        'CSV: binary converts rows to COPY BINARY in workers (the server parses it ~2x faster); text sends the ' +
          "CSV bytes; auto: binary when every column's type allows, else text",
      )
        .choices(['auto', 'binary', 'text'])
        .default('auto'),
    )
    .option(
      '--create-table',
      'create a missing table from the first file (Parquet schema, CSV types inferred)',
    )
    .option('--dry-run', 'show what would be done (formats, dialects, columns, skips); write nothing')
    .option('--analyze', 'ANALYZE the table after the run when rows landed')
    .option('--archive-dir <dir>', 'move each loaded (or already loaded) file here after the run')
    .option('--error-dir <dir>', 'move each failed file here after the run')
    .option(
      '--connect-timeout <s>',
      "seconds to wait for a connection (default: the DSN's connect_timeout, else PGCONNECT_TIMEOUT, else 30)",
      int('--connect-timeout'),
    )
    .option(
      '--stall-timeout <s>',
      'seconds without a byte moving before a statement is checked on, and dropped if stalled (0: off)',
      int('--stall-timeout'),
      60,
    )
    .option(
      '--memory-limit <size>',
      'Parquet: row-group bytes (uncompressed) decoded and in flight at once, e.g. 512MB, 2GB',
      '1GB',
    )
    .addOption(
      new Option('--log-level <level>', 'log level on stderr')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'silent'])
        .default('info')
        .env('LOADER_LOG_LEVEL'),
    )
    .option('-q, --quiet', 'print nothing on success; failures still reach stderr')
    .option('--json', 'print the JSON report on stdout (the summary goes to stderr)')
    .option('--report <file>', 'write the JSON report to this file')
    .option('--metrics-file <file>', 'write Prometheus metrics here (node_exporter textfile collector)')
    .option(
      '--progress-interval <s>',
      'off a terminal: a progress line every s seconds, 0: none',
      (v: string) => {
        if (!/^\d+(\.\d+)?$/.test(v)) throw new InvalidArgumentError('--progress-interval takes seconds');
        return Number(v);
      },
      30,
    )
    .option('--no-progress', 'no progress display')
    .option('--no-color', 'no colours on the terminal (also NO_COLOR=1)')
    .addHelpText(
      'after',
      `
Exit codes: 0 all files loaded or skipped, 1 a file failed, 2 usage error, 3 the run could not start
(connection, target table), 130/143 interrupted by SIGINT/SIGTERM.

Connection: --dsn (a postgres:// URL or key=value words), else DATABASE_URL; what it leaves out comes from
libpq's PGHOST, PGPORT, PGUSER, PGPASSWORD (else ~/.pgpass or PGPASSFILE), PGDATABASE, PGAPPNAME, PGSSLMODE,
PGSSLROOTCERT, PGCONNECT_TIMEOUT. sslmode as in libpq: disable, allow, prefer (default), require (encrypted, not
verified), verify-ca, verify-full.

Before a first load: loader check --dsn URL --table T [--mode M] reports the grants the role lacks.

Cron example:
  15 2 * * *  loader --dsn "$DSN" --table public.events '/data/exports/*.csv' -q
Several tables in one run: loader --config loader.json (jobs of files, table and options; flags given here win)`,
    );
}

/** The load options of one run (or one --config job) from option values as commander converts them. */
function loadOptions(o: Record<string, unknown>, files: string[]): LoadOptions {
  return {
    dsn: o.dsn as string | undefined,
    table: o.table as string,
    files,
    concurrency: o.concurrency as number,
    internalConcurrency: o.disableInternalParallelism ? 1 : (o.internalConcurrency as number),
    batchSize: o.batchSize as number,
    fileType: (o.fileType as 'csv' | 'parquet' | undefined) ?? 'auto',
    maxRetries: o.maxRetries as number,
    mode: o.mode as never,
    key: typeof o.key === 'string' ? o.key.split(',') : undefined,
    ignoreExtraColumns: o.ignoreExtraColumns === true,
    delimiter: o.delimiter as string | undefined,
    quote: o.quote as string | undefined,
    escape: o.escape as string | undefined,
    null: o.null as string | undefined,
    header: o.header as boolean | undefined,
    encoding: o.encoding as string,
    timezone: o.timezone as string,
    force: o.force === true,
    direct: o.direct as boolean | undefined,
    copyFormat: o.copyFormat as 'auto' | 'binary' | 'text',
    minAgeSeconds: o.minAge as number,
    onError: o.onError as 'abort-file' | 'reject-rows',
    rejectsDir: o.rejectsDir as string,
    maxRejects: o.maxRejects as string | undefined,
    connectTimeoutMs: o.connectTimeout === undefined ? undefined : (o.connectTimeout as number) * 1000,
    stallTimeoutMs: o.stallTimeout === undefined ? undefined : (o.stallTimeout as number) * 1000,
    memoryLimit: o.memoryLimit as string,
    dryRun: o.dryRun === true,
    createTable: o.createTable === true,
    analyze: o.analyze === true,
    archiveDir: o.archiveDir as string | undefined,
    errorDir: o.errorDir as string | undefined,
  };
}

/** The runs to make: the command line's one, or the jobs of --config FILE (flags given on the command line win
 * over the file). */
async function jobsOf(cmd: Command, o: Record<string, unknown>): Promise<Job[]> {
  if (typeof o.config !== 'string') {
    if (typeof o.table !== 'string')
      cmd.error("error: required option '-t, --table <[schema.]table>' not specified");
    if (cmd.args.length === 0) cmd.error("error: missing required argument 'files'");
    return [{ name: o.table as string, values: o, files: cmd.args }];
  }
  if (o.table !== undefined || cmd.args.length > 0) {
    cmd.error('error: --config names the files and tables in its jobs: give no files and no --table with it');
  }
  const explicit: Record<string, unknown> = {};
  const fallback: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k !== 'config') (cmd.getOptionValueSource(k) === 'cli' ? explicit : fallback)[k] = v;
  }
  return resolveJobs(o.config, await readJobsFile(o.config), cmd.options, explicit, fallback);
}

export async function main(argv: string[]): Promise<number> {
  const sub = SUBCOMMANDS.find((s) => s.name === argv[0]);
  if (sub) return runSubcommand(sub, argv.slice(1));
  const cmd = operatorHelp(program());
  cmd.exitOverride();
  cmd.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (err) {
    return usageExit(err);
  }
  const o = cmd.opts<Record<string, unknown>>();
  // -q keeps cron mail empty on success: only errors reach stderr unless --log-level says otherwise.
  const quietLevel = o.quiet && cmd.getOptionValueSource('logLevel') === 'default' ? 'error' : undefined;
  const { log, view, outputs } = operatorOutput(o, quietLevel ?? String(o.logLevel ?? 'info'));
  const started = Date.now();
  let jobs: Job[];
  try {
    jobs = await jobsOf(cmd, o);
  } catch (err) {
    if (!(err instanceof LoaderError)) return usageExit(err);
    view?.stop();
    process.stderr.write(`loader: ${err.message} [${err.code}]\n`);
    await writeOutputs(outputs, [], EXIT.usage, { code: err.code, message: err.message }, started);
    return EXIT.usage;
  }
  const configured = typeof o.config === 'string';
  const abort = new AbortController();
  let signals = 0;
  let exitSignal: number = EXIT.sigint;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    exitSignal = sig === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint;
    if (signals > 1) {
      process.stderr.write(`loader: ${sig} again, exiting now\n`);
      process.exit(exitSignal);
    }
    (view?.destination ?? process.stderr).write(
      `loader: ${sig}: rolling back files in flight (again to exit at once)\n`,
    );
    abort.abort(new LoaderError('CANCELLED', `interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // One LoadResult per job (one for a plain run), in order: the run's report is made from this list.
  const results: LoadResult[] = [];
  const codes: number[] = [];
  let firstError: { code: string; message: string } | undefined;
  const runJob = async (job: Job): Promise<number> => {
    const secrets = secretsOf(job.values.dsn as string | undefined, process.env);
    const prefix = configured ? `loader: job ${job.name}: ` : 'loader: ';
    try {
      const result = await load(
        { ...loadOptions(job.values, job.files), signal: abort.signal },
        { logger: log, onProgress: view?.listener },
      );
      results.push(result);
      const lines = result.plan ? planLines(result.plan) : summaryLines(result);
      if (configured) lines[0] = lines[0]!.replace(/^loader: /, prefix);
      const failed = result.exitCode !== 0;
      if (!o.quiet || failed) (o.json ? process.stderr : process.stdout).write(lines.join('\n') + '\n');
      return result.exitCode;
    } catch (err) {
      const msg = redact(err instanceof Error ? err.message : String(err), secrets);
      const known = err instanceof LoaderError;
      process.stderr.write(`${prefix}${msg}${known ? ` [${err.code}]` : ''}\n`);
      firstError ??= { code: known ? err.code : 'INTERNAL', message: msg };
      return known && err.code === 'USAGE' ? EXIT.usage : EXIT.setup;
    }
  };
  try {
    // Jobs run one after another; a job that cannot start does not stop the next.
    for (const job of jobs) {
      if (abort.signal.aborted) break;
      codes.push(await runJob(job));
    }
    view?.stop();
    const code = abort.signal.aborted ? exitSignal : worstExit(codes);
    await writeOutputs(outputs, results, code, firstError, started);
    return code;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

// A reader that went away (`loader --help | head`) is not an error of the run.
for (const out of [process.stdout, process.stderr]) {
  out.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`loader: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = EXIT.setup;
  },
);
