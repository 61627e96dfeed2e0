// The command line's operator notes: options that also come from LOADER_* environment variables (shown in --help
// as "env: ..."), the subcommands and cron examples after the option list.
import type { EventEmitter } from 'node:events';
import type { Command } from 'commander';

/** Options that also come from the environment (flags win), e.g. in a container or a crontab's variables. */
export const OPTION_ENV: Record<string, string> = {
  '--table': 'LOADER_TABLE',
  '--mode': 'LOADER_MODE',
  '--concurrency': 'LOADER_CONCURRENCY',
  '--internal-concurrency': 'LOADER_INTERNAL_CONCURRENCY',
  '--batch-size': 'LOADER_BATCH_SIZE',
  '--max-retries': 'LOADER_MAX_RETRIES',
  '--timezone': 'LOADER_TIMEZONE',
  '--min-age': 'LOADER_MIN_AGE',
  '--on-error': 'LOADER_ON_ERROR',
  '--copy-format': 'LOADER_COPY_FORMAT',
  '--rejects-dir': 'LOADER_REJECTS_DIR',
  '--max-rejects': 'LOADER_MAX_REJECTS',
  '--connect-timeout': 'LOADER_CONNECT_TIMEOUT',
  '--memory-limit': 'LOADER_MEMORY_LIMIT',
  '--report': 'LOADER_REPORT',
  '--metrics-file': 'LOADER_METRICS_FILE',
  '--progress-interval': 'LOADER_PROGRESS_INTERVAL',
};

/** The environment variables of OPTION_ENV, and the help's operator notes (subcommands, cron). */
export function operatorHelp(cmd: Command): Command {
  for (const opt of cmd.options) {
    const name = opt.long && OPTION_ENV[opt.long];
    if (!name) continue;
    // commander listens for an option's variable only when the option is added with it: hand the value over to
    // the option's own parser (same validation, flags still win: commander emits this only when no flag was given)
    opt.env(name);
    const events = cmd as unknown as EventEmitter;
    events.on(`optionEnv:${opt.name()}`, (v: string) => events.emit(`option:${opt.name()}`, v));
  }
  return cmd.addHelpText(
    'after',
    `
Colours: --no-color or NO_COLOR=1 turn them off; FORCE_COLOR=1 or FORCE_COLOR=0 decides over NO_COLOR.

Commands:
  loader status [--table T] [--since 24h] [--json]   recent loads from the audit table (see loader status --help)
  loader check --table T [--mode M]                  the grants the role lacks, before any data moves (loader check --help)

More cron examples (one line each):
  # a JSON report per night, and metrics for node_exporter's textfile collector (alert on the last success's age)
  15 2 * * *  loader --table public.events -q --report /var/log/loader/events.json --metrics-file /var/lib/node_exporter/loader_events.prom '/data/exports/*.csv'
  # a daily report of the failed files
  0 7 * * *   loader status --since 24h --status failed`,
  );
}
