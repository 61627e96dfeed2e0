// The end-of-run report for people and cron: one summary line, then one line per failed file naming the file,
// line, column and reason; and the stable JSON report (--json, --report) built from one LoadResult per job.
import type { FileResult } from './file.js';
import { worstExit } from './jobs.js';
import type { LoadResult } from './load.js';

export function summaryLines(r: LoadResult): string[] {
  const t = r.totals;
  const secs = (r.durationMs / 1000).toFixed(1);
  const parts = [`${t.succeeded} loaded`, `${t.failed} failed`, `${t.skipped} skipped`];
  if (t.cancelled > 0) parts.push(`${t.cancelled} cancelled`);
  const lines = [
    `loader: ${t.files} file${t.files === 1 ? '' : 's'} into ${r.target} (${r.mode}): ${parts.join(', ')}; ` +
      `${t.rowsInserted} rows inserted, ${t.rowsUpdated} updated, ${t.rowsSkipped} skipped in ${secs}s`,
  ];
  for (const f of r.files) {
    if (f.status === 'failed' || f.status === 'cancelled') {
      lines.push(
        `  ${f.status.toUpperCase()} ${f.path}: ${f.error?.message ?? 'unknown error'} [${f.error?.code ?? '?'}]`,
      );
    }
  }
  return lines;
}

/** The version of the JSON report's shape. Fields are only ever added within a version; a rename, a removal or a
 * change of meaning bumps it. */
export const REPORT_VERSION = 1;

export interface FileReport {
  path: string;
  sha256: string | null;
  format: FileResult['format'];
  status: FileResult['status'];
  bytes: number;
  rowsRead: number;
  rowsInserted: number;
  rowsUpdated: number;
  rowsSkipped: number;
  rowsRejected: number;
  subBatches: number;
  /** CSV: sub-batches sent as COPY BINARY (converted by workers); the others went as CSV */
  binarySubBatches: number;
  /** staging path: merged sub-batch by sub-batch as they landed, not in one statement at the end */
  mergedAsLanded: boolean;
  /** merged as landed: by MERGE or by INSERT (... ON CONFLICT); null otherwise */
  mergedBy: 'MERGE' | 'INSERT' | null;
  retries: number;
  durationMs: number;
  /** why it failed or was skipped; null when it loaded */
  error: { code: string; message: string; line: number | null; column: string | null } | null;
}

export interface ReportTotals {
  files: number;
  succeeded: number;
  failed: number;
  skipped: number;
  cancelled: number;
  bytes: number;
  rowsRead: number;
  rowsInserted: number;
  rowsUpdated: number;
  rowsSkipped: number;
  rowsRejected: number;
}

export interface JobReport {
  runId: string;
  target: string;
  mode: string;
  exitCode: number;
  durationMs: number;
  unmatched: string[];
  totals: ReportTotals;
  files: FileReport[];
}

export interface Report {
  version: typeof REPORT_VERSION;
  loaderVersion: string;
  /** the process's exit code */
  exitCode: number;
  finishedAt: string;
  durationMs: number;
  /** set when the run could not start (exit 2 or 3): no job ran */
  error: { code: string; message: string } | null;
  totals: ReportTotals;
  jobs: JobReport[];
}

function fileReport(f: FileResult): FileReport {
  return {
    path: f.path,
    sha256: f.sha256,
    format: f.format,
    status: f.status,
    bytes: f.bytes,
    rowsRead: f.rowsRead,
    rowsInserted: f.rowsInserted,
    rowsUpdated: f.rowsUpdated,
    rowsSkipped: f.rowsSkipped,
    rowsRejected: f.rowsRejected,
    subBatches: f.subBatches,
    binarySubBatches: f.binarySubBatches ?? 0,
    mergedAsLanded: f.mergedAsLanded === true,
    mergedBy: f.mergedBy ?? null,
    retries: f.retries,
    durationMs: f.durationMs,
    error: f.error
      ? {
          code: f.error.code,
          message: f.error.message,
          line: f.error.line ?? null,
          column: f.error.column ?? null,
        }
      : null,
  };
}

function sumTotals(files: readonly FileReport[]): ReportTotals {
  const t: ReportTotals = {
    files: files.length,
    succeeded: 0,
    failed: 0,
    skipped: 0,
    cancelled: 0,
    bytes: 0,
    rowsRead: 0,
    rowsInserted: 0,
    rowsUpdated: 0,
    rowsSkipped: 0,
    rowsRejected: 0,
  };
  for (const f of files) {
    t[f.status]++;
    t.bytes += f.bytes;
    t.rowsRead += f.rowsRead;
    t.rowsInserted += f.rowsInserted;
    t.rowsUpdated += f.rowsUpdated;
    t.rowsSkipped += f.rowsSkipped;
    t.rowsRejected += f.rowsRejected;
  }
  return t;
}

/** The stable JSON report of a run: one job per LoadResult (one for a plain run; several when a run loads several
 * jobs), with totals over all of them. Pure: `now` and the exit code come in. */
export function buildReport(
  results: readonly LoadResult[],
  o: {
    exitCode?: number;
    error?: { code: string; message: string };
    now?: Date;
    durationMs?: number;
    loaderVersion: string;
  },
): Report {
  const jobs = results.map((r): JobReport => {
    const files = r.files.map(fileReport);
    return {
      runId: r.runId,
      target: r.target,
      mode: r.mode,
      exitCode: r.exitCode,
      durationMs: r.durationMs,
      unmatched: [...r.unmatched],
      totals: sumTotals(files),
      files,
    };
  });
  return {
    version: REPORT_VERSION,
    loaderVersion: o.loaderVersion,
    exitCode: o.exitCode ?? worstExit(results.map((r) => r.exitCode)),
    finishedAt: (o.now ?? new Date()).toISOString(),
    durationMs: o.durationMs ?? results.reduce((a, r) => a + r.durationMs, 0),
    error: o.error ?? null,
    totals: sumTotals(jobs.flatMap((j) => j.files)),
    jobs,
  };
}
