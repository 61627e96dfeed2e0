// The end-of-run report for people and cron: one summary line, then one line per failed file naming the file,
// line, column and reason.
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
