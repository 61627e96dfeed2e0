import { describe, expect, it } from 'vitest';
import type { FileResult } from '../../src/file.js';
import type { LoadResult } from '../../src/load.js';
import { metricsText, parseLastSuccess, tableLabel } from '../../src/metrics.js';
import { buildReport, REPORT_VERSION } from '../../src/report.js';

const file = (path: string, status: FileResult['status'], o: Partial<FileResult> = {}): FileResult => ({
  path,
  status,
  format: 'csv',
  sha256: 'ab'.repeat(32),
  bytes: 100,
  rowsRead: 10,
  rowsInserted: status === 'succeeded' ? 8 : 0,
  rowsUpdated: status === 'succeeded' ? 2 : 0,
  rowsSkipped: 0,
  rowsRejected: 0,
  subBatches: 1,
  retries: 0,
  durationMs: 7,
  ...o,
});

const job = (target: string, files: FileResult[], exitCode: number): LoadResult => ({
  runId: '00000000-0000-0000-0000-000000000001',
  target,
  mode: 'upsert',
  files,
  totals: {} as LoadResult['totals'], // the report computes its own totals
  durationMs: 1500,
  exitCode,
  unmatched: [],
});

const failed = file('b.csv', 'failed', {
  rowsRead: 0,
  error: { code: 'DATA', message: 'line 3, column "x": bad', line: 3, column: 'x' },
});

describe('buildReport', () => {
  it('has a version, one job per LoadResult, per-file fields, totals over all jobs and the exit code', () => {
    const r = buildReport(
      [
        job(
          '"public"."events"',
          [file('a.csv', 'succeeded', { rowsRejected: 1, mergedAsLanded: true, mergedBy: 'MERGE' }), failed],
          1,
        ),
        job('"s"."t"', [file('c.csv', 'skipped', { rowsRead: 0 })], 0),
      ],
      { loaderVersion: '9.9.9', now: new Date('2026-01-02T03:04:05Z') },
    );
    expect(r.version).toBe(REPORT_VERSION);
    expect(r.exitCode).toBe(1);
    expect(r.finishedAt).toBe('2026-01-02T03:04:05.000Z');
    expect(r.error).toBeNull();
    expect(r.jobs).toHaveLength(2);
    expect(r.jobs[0]!.files[1]).toEqual({
      path: 'b.csv',
      sha256: 'ab'.repeat(32),
      format: 'csv',
      status: 'failed',
      bytes: 100,
      rowsRead: 0,
      rowsInserted: 0,
      rowsUpdated: 0,
      rowsSkipped: 0,
      rowsRejected: 0,
      subBatches: 1,
      binarySubBatches: 0,
      mergedAsLanded: false,
      mergedBy: null,
      retries: 0,
      durationMs: 7,
      error: { code: 'DATA', message: 'line 3, column "x": bad', line: 3, column: 'x' },
    });
    expect(r.jobs[0]!.files[0]!.error).toBeNull();
    expect([r.jobs[0]!.files[0]!.mergedAsLanded, r.jobs[0]!.files[0]!.mergedBy]).toEqual([true, 'MERGE']);
    expect(r.jobs[0]!.totals).toMatchObject({
      files: 2,
      succeeded: 1,
      failed: 1,
      rowsInserted: 8,
      rowsRejected: 1,
    });
    expect(r.totals).toMatchObject({
      files: 3,
      succeeded: 1,
      failed: 1,
      skipped: 1,
      bytes: 300,
      rowsRead: 10,
      rowsInserted: 8,
      rowsUpdated: 2,
    });
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });

  it('reports a run that could not start: no jobs, the error, its exit code', () => {
    const r = buildReport([], {
      loaderVersion: '1',
      exitCode: 3,
      error: { code: 'CONNECTION', message: 'no' },
    });
    expect(r).toMatchObject({ exitCode: 3, jobs: [], error: { code: 'CONNECTION' }, totals: { files: 0 } });
  });

  it('combines exit codes when none is given: interrupted wins, then failure', () => {
    const code = (...results: ReturnType<typeof job>[]) =>
      buildReport(results, { loaderVersion: '1' }).exitCode;
    expect(code(job('t', [], 0), job('u', [], 0))).toBe(0);
    expect(code(job('t', [], 0), job('u', [], 1))).toBe(1);
    expect(code(job('t', [], 1), job('u', [], 130))).toBe(130);
  });
});

describe('metrics', () => {
  const report = (exitCode: number) =>
    buildReport(
      [job('"public"."events"', exitCode === 0 ? [file('a.csv', 'succeeded')] : [failed], exitCode)],
      {
        loaderVersion: '1',
      },
    );

  it('writes HELP and TYPE lines and samples labelled with the table', () => {
    const text = metricsText(report(0), new Map(), { nowS: 1000 });
    expect(text).toContain('# HELP loader_last_success_timestamp_seconds ');
    expect(text).toContain('# TYPE loader_last_success_timestamp_seconds gauge');
    expect(text).toContain('loader_last_success_timestamp_seconds{table="public.events"} 1000\n');
    expect(text).toContain('loader_last_run_rows{table="public.events",kind="inserted"} 8\n');
    expect(text).toContain('loader_last_run_rows{table="public.events",kind="updated"} 2\n');
    expect(text).toContain('loader_last_run_files{table="public.events",status="succeeded"} 1\n');
    expect(text).toContain('loader_last_run_files{table="public.events",status="failed"} 0\n');
    expect(text).toContain('loader_last_run_duration_seconds{table="public.events"} 1.5\n');
    expect(text).toContain('loader_last_run_exit_code{table="public.events"} 0\n');
    // every sample line is `name{labels} number`
    for (const l of text
      .trimEnd()
      .split('\n')
      .filter((x) => !x.startsWith('#'))) {
      expect(l).toMatch(/^[a-z_]+\{[^}]*\} -?[0-9.e+]+$/);
    }
  });

  it('keeps the previous last success when a file failed, and has none when there never was one', () => {
    const before = metricsText(report(0), new Map(), { nowS: 1000 });
    const prev = parseLastSuccess(before);
    expect(prev.get('public.events')).toBe(1000);
    const after = metricsText(report(1), prev, { nowS: 2000 });
    expect(after).toContain('loader_last_success_timestamp_seconds{table="public.events"} 1000\n');
    expect(after).toContain('loader_last_run_timestamp_seconds{table="public.events"} 2000\n');
    expect(after).toContain('loader_last_run_files{table="public.events",status="failed"} 1\n');
    expect(metricsText(report(1), new Map(), { nowS: 2000 })).not.toMatch(/^loader_last_success/m);
  });

  it('names the tables of a run that could not start, with its exit code', () => {
    const r = buildReport([], {
      loaderVersion: '1',
      exitCode: 3,
      error: { code: 'CONNECTION', message: 'x' },
    });
    const text = metricsText(r, new Map([['events', 5]]), { nowS: 9, tables: ['events'] });
    expect(text).toContain('loader_last_run_exit_code{table="events"} 3\n');
    expect(text).toContain('loader_last_success_timestamp_seconds{table="events"} 5\n');
  });

  it('escapes label values and reads them back', () => {
    expect(tableLabel('"we""ird\\\\"."t"')).toBe('we"ird\\\\.t');
    const r = buildReport([job('"a\\b"."q""t"', [file('a.csv', 'succeeded')], 0)], { loaderVersion: '1' });
    const text = metricsText(r, new Map(), { nowS: 7 });
    expect(text).toContain('{table="a\\\\b.q\\"t"}');
    expect(parseLastSuccess(text).get('a\\b.q"t')).toBe(7);
  });
});
