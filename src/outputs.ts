// Where a finished run's report goes: the JSON report on stdout (--json) and in a file (--report), the Prometheus
// metrics file (--metrics-file). Takes one LoadResult per job, so a run of several jobs reports them together.
import type { LoadResult } from './load.js';
import { createLogger, type Logger } from './log.js';
import { colorEnabled, startProgress, type ProgressView } from './progress-view.js';
import { writeAtomic, writeMetricsFile } from './metrics.js';
import { buildReport } from './report.js';
import { VERSION } from './version.js';

export interface OutputOptions {
  json?: boolean;
  report?: string;
  metricsFile?: string;
  /** targets named on the command line: the metrics of a run that could not start still name them */
  tables?: string[];
}

/** The command line's stderr and outputs from its options: colours (--no-color, NO_COLOR, FORCE_COLOR), the
 * progress view (none under -q or --no-progress; off a terminal, lines only with a --progress-interval), the
 * logger drawing around it, and where the report goes. */
export function operatorOutput(
  o: Record<string, unknown>,
  level: string,
): { log: Logger; view?: ProgressView; outputs: OutputOptions } {
  const tty = process.stderr.isTTY === true;
  const color = colorEnabled(process.env, tty, o.color as boolean | undefined);
  const interval = o.progressInterval as number;
  const view =
    !o.quiet && o.progress !== false && (tty || interval > 0)
      ? startProgress({ stream: process.stderr, color, intervalS: interval, log: () => log })
      : undefined;
  const log = createLogger(level, { color, destination: view?.destination });
  const outputs = {
    json: o.json === true,
    report: o.report as string | undefined,
    metricsFile: o.metricsFile as string | undefined,
    tables: typeof o.table === 'string' ? [o.table] : [],
  };
  return { log, view, outputs };
}

/** Writes what was asked. A write that fails prints one line on stderr and does not throw: the run's exit code
 * stands. */
export async function writeOutputs(
  o: OutputOptions,
  results: readonly LoadResult[],
  exitCode: number,
  error?: { code: string; message: string },
  started?: number,
): Promise<void> {
  if (!o.json && !o.report && !o.metricsFile) return;
  const report = buildReport(results, {
    exitCode,
    error,
    loaderVersion: VERSION,
    durationMs: started !== undefined ? Date.now() - started : undefined,
  });
  const problems: string[] = [];
  const text = JSON.stringify(report, null, 2) + '\n';
  if (o.json) process.stdout.write(text);
  if (o.report) {
    await writeAtomic(o.report, text).catch((e: Error) =>
      problems.push(`cannot write --report ${o.report}: ${e.message}`),
    );
  }
  if (o.metricsFile) {
    await writeMetricsFile(o.metricsFile, report, { tables: o.tables }).catch((e: Error) =>
      problems.push(`cannot write --metrics-file ${o.metricsFile}: ${e.message}`),
    );
  }
  for (const p of problems) process.stderr.write(`loader: ${p}\n`);
}
