// Where a finished run's report goes: the JSON report on stdout (--json) and in a file (--report), the Prometheus
// metrics file (--metrics-file). Takes one LoadResult per job, so a run of several jobs reports them together.
import type { LoadResult } from './load.js';
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

/** Writes what was asked; returns the problems met (one line each) instead of throwing: the run's exit code
 * stands, the caller prints them. */
export async function writeOutputs(
  o: OutputOptions,
  results: readonly LoadResult[],
  exitCode: number,
  error?: { code: string; message: string },
  started?: number,
): Promise<string[]> {
  if (!o.json && !o.report && !o.metricsFile) return [];
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
  return problems;
}
