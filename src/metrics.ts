// --metrics-file: the run's figures in the Prometheus text exposition format, for node_exporter's textfile
// collector. loader_last_success_timestamp_seconds moves only when a table's job had no failed or cancelled file;
// otherwise the value of the previous file is kept, so an alert on its age fires. Written atomically.
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { JobReport, Report } from './report.js';
import { parseTableName } from './sql.js';

const LAST_SUCCESS = 'loader_last_success_timestamp_seconds';

/** The `table` label of a target: `schema.table` without SQL quoting (`"public"."events"` -> `public.events`). */
export function tableLabel(target: string): string {
  try {
    const t = parseTableName(target);
    return t.schema !== undefined ? `${t.schema}.${t.table}` : t.table;
  } catch {
    return target;
  }
}

const escapeLabel = (v: string): string =>
  v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
const unescapeLabel = (v: string): string => v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));

/** The last-success timestamps of an earlier metrics file, by table label. */
export function parseLastSuccess(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = new RegExp(`^${LAST_SUCCESS}\\{table="((?:[^"\\\\]|\\\\.)*)"\\} (\\S+)`, 'gm');
  for (const m of text.matchAll(re)) {
    const v = Number(m[2]);
    if (Number.isFinite(v)) out.set(unescapeLabel(m[1]!), v);
  }
  return out;
}

/** The exposition text. `tables` names the targets when no job ran (the run could not start), so their exit
 * code is still exported; `previous` holds the last-success values to keep. */
export function metricsText(
  report: Report,
  previous: ReadonlyMap<string, number>,
  o: { nowS: number; tables?: readonly string[] },
): string {
  const byTable = new Map<string, JobReport | undefined>();
  for (const j of report.jobs) byTable.set(tableLabel(j.target), j);
  for (const t of o.tables ?? []) if (!byTable.has(tableLabel(t))) byTable.set(tableLabel(t), undefined);
  const out: string[] = [];
  const metric = (name: string, type: string, help: string, samples: [string, number][]): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) out.push(`${name}{${labels}} ${v}`);
  };
  const each = (
    f: (label: string, j: JobReport | undefined, table: string) => [string, number][],
  ): [string, number][] => [...byTable].flatMap(([t, j]) => f(`table="${escapeLabel(t)}"`, j, t));
  metric(
    LAST_SUCCESS,
    'gauge',
    'Unix time of the last run of this table with no failed or cancelled file.',
    each((l, j, t) => {
      const v = j && j.exitCode === 0 ? o.nowS : previous.get(t);
      return v === undefined ? [] : [[l, v]];
    }),
  );
  metric(
    'loader_last_run_timestamp_seconds',
    'gauge',
    'Unix time the last run of this table finished.',
    each((l) => [[l, o.nowS]]),
  );
  metric(
    'loader_last_run_exit_code',
    'gauge',
    'Exit code of the last run (0 ok, 1 a file failed, 3 could not start, 130/143 interrupted).',
    each((l, j) => [[l, j ? (report.jobs.length === 1 ? report.exitCode : j.exitCode) : report.exitCode]]),
  );
  const kinds = ['read', 'inserted', 'updated', 'skipped', 'rejected'] as const;
  const key = {
    read: 'rowsRead',
    inserted: 'rowsInserted',
    updated: 'rowsUpdated',
    skipped: 'rowsSkipped',
    rejected: 'rowsRejected',
  } as const;
  metric(
    'loader_last_run_rows',
    'gauge',
    'Rows of the last run by kind.',
    each((l, j) => kinds.map((k): [string, number] => [`${l},kind="${k}"`, j ? j.totals[key[k]] : 0])),
  );
  const statuses = ['succeeded', 'failed', 'skipped', 'cancelled'] as const;
  metric(
    'loader_last_run_files',
    'gauge',
    'Files of the last run by status.',
    each((l, j) => statuses.map((s): [string, number] => [`${l},status="${s}"`, j ? j.totals[s] : 0])),
  );
  metric(
    'loader_last_run_bytes',
    'gauge',
    'Bytes of the files of the last run.',
    each((l, j) => [[l, j ? j.totals.bytes : 0]]),
  );
  metric(
    'loader_last_run_duration_seconds',
    'gauge',
    'Wall time of the last run.',
    each((l, j) => [[l, (j ? j.durationMs : report.durationMs) / 1000]]),
  );
  return out.join('\n') + '\n';
}

/** Writes the metrics file atomically: a temp file in the same folder, then rename (the collector never reads a
 * half-written file). The previous file's last-success values are read first and kept where not advanced. */
export async function writeMetricsFile(
  path: string,
  report: Report,
  o: { nowS?: number; tables?: readonly string[] } = {},
): Promise<void> {
  const old = await readFile(path, 'utf8').catch(() => '');
  const text = metricsText(report, parseLastSuccess(old), {
    nowS: o.nowS ?? Math.round(Date.now() / 1000),
    tables: o.tables,
  });
  await writeAtomic(path, text);
}

/** Writes a file by a temp file in the same folder and a rename: a reader never sees half of it. */
export async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, text);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
