import { describe, expect, it, vi } from 'vitest';
import {
  applyEvent,
  byteShares,
  FileProgress,
  formatDuration,
  initialState,
  progressLine,
  renderProgress,
  type ProgressEvent,
} from '../../src/progress.js';
import { colorEnabled, startProgress } from '../../src/progress-view.js';
import type { FileResult } from '../../src/file.js';
import type { SubBatchRange } from '../../src/scan.js';

const batch = (index: number, start: number, end: number, records: number): SubBatchRange => ({
  index,
  start,
  end,
  records,
  firstLine: 1,
});

const result = (path: string, bytes: number, status: FileResult['status'] = 'succeeded'): FileResult => ({
  path,
  status,
  format: 'csv',
  sha256: null,
  bytes,
  rowsRead: 10,
  rowsInserted: 10,
  rowsUpdated: 0,
  rowsSkipped: 0,
  rowsRejected: 0,
  subBatches: 1,
  retries: 0,
  durationMs: 5,
});

describe('byteShares', () => {
  it('splits a file by byte ranges into whole bytes that add up to its size (gzip ranges scaled)', () => {
    const shares = byteShares([batch(0, 10, 40, 3), batch(1, 40, 70, 3), batch(2, 70, 80, 1)], 33);
    expect([...shares.values()].reduce((a, b) => a + b, 0)).toBe(33);
    expect(shares.get(0)).toBeGreaterThan(shares.get(2)!);
  });

  it('splits by records when there are no ranges (Parquet)', () => {
    const shares = byteShares([batch(0, 0, 0, 100), batch(1, 0, 0, 300)], 1000);
    expect(shares.get(0)).toBe(250);
    expect(shares.get(1)).toBe(750);
  });

  it('gives an empty plan nothing and a zero-weight plan all bytes to its last sub-batch', () => {
    expect(byteShares([], 50).size).toBe(0);
    expect([...byteShares([batch(0, 0, 0, 0), batch(1, 0, 0, 0)], 50).values()]).toEqual([0, 50]);
  });
});

describe('FileProgress', () => {
  it('emits once per sub-batch (a retried or re-copied sub-batch counts once), with running totals', () => {
    const events: ProgressEvent[] = [];
    const batches = [batch(0, 0, 50, 5), batch(1, 50, 100, 5)];
    const p = new FileProgress((e) => events.push(e), 3, 'a.csv', batches, 100);
    p.done(batches[1]!);
    p.done(batches[1]!);
    p.done(batches[0]!);
    expect(events).toHaveLength(2);
    expect(events.at(-1)).toMatchObject({ type: 'file-progress', index: 3, rowsDone: 10, bytesDone: 100 });
  });

  it('counts sub-batches that arrive as the scan cuts them by their byte ranges, the rest at finish()', () => {
    const events: ProgressEvent[] = [];
    // a 12-byte header, two ranges, 3 trailing bytes after the last record
    const p = new FileProgress((e) => events.push(e), 0, 'a.csv', undefined, 115);
    p.done(batch(1, 62, 112, 5));
    p.done(batch(0, 12, 62, 5));
    p.finish();
    expect(events.map((e) => e.type === 'file-progress' && [e.rows, e.bytes])).toEqual([
      [5, 50],
      [5, 62],
      [0, 3],
    ]);
    // gzip: ranges are decompressed bytes; the file's bytes on disk all come at finish()
    const gz: ProgressEvent[] = [];
    const g = new FileProgress((e) => gz.push(e), 0, 'a.csv.gz', undefined, 40, { gzip: true });
    g.done(batch(0, 12, 62, 5));
    g.finish();
    g.finish();
    expect(gz.map((e) => e.type === 'file-progress' && [e.rows, e.bytes])).toEqual([
      [5, 0],
      [0, 40],
    ]);
  });
});

describe('progress state and rendering', () => {
  const run = (): ReturnType<typeof initialState> => {
    const s = initialState(0);
    applyEvent(s, { type: 'run-started', runId: 'r', target: 't', mode: 'append', files: 3, bytes: 3000 }, 0);
    applyEvent(s, { type: 'file-started', index: 0, path: '/data/a.csv', bytes: 1000 }, 0);
    applyEvent(s, { type: 'file-started', index: 1, path: '/data/b.csv', bytes: 1000 }, 0);
    applyEvent(
      s,
      { type: 'file-finished', index: 0, path: '/data/a.csv', result: result('/data/a.csv', 1000) },
      1000,
    );
    applyEvent(
      s,
      {
        type: 'file-progress',
        index: 1,
        path: '/data/b.csv',
        rows: 20,
        bytes: 500,
        rowsDone: 20,
        bytesDone: 500,
      },
      1500,
    );
    return s;
  };

  it('counts finished and active bytes, and estimates the time left by bytes', () => {
    const line = progressLine(run(), 3000);
    // 1500 of 3000 bytes in 3 s: 500 B/s, 1500 left: 3 s
    expect(line).toBe(
      'progress: 1/3 files, 1.5 kB of 3.0 kB (50%), 30 rows, 10 rows/s, 1 active, elapsed 3s, ETA 3s',
    );
    expect(line).not.toContain('\x1b');
  });

  it('draws a line per active file and an overall bar, within the width, coloured only when asked', () => {
    const plain = renderProgress(run(), 3000, { width: 100, color: false });
    expect(plain).toHaveLength(2);
    expect(plain[0]).toContain('/data/b.csv');
    expect(plain[0]).toMatch(/20 rows +500 B|20 rows +0\.5 kB/);
    expect(plain[1]).toMatch(/^\[#+-+\] {2}50% 1\.5 kB\/3\.0 kB 1\/3 files .* ETA 3s$/);
    for (const l of plain) expect(l.length).toBeLessThanOrEqual(100);
    expect(plain.join('')).not.toContain('\x1b');
    expect(renderProgress(run(), 3000, { width: 100, color: true }).join('')).toContain('\x1b[32m');
    const narrow = renderProgress(run(), 3000, { width: 30, color: false });
    for (const l of narrow) expect(l.length).toBeLessThanOrEqual(30);
  });

  it('shows a failed file and an unknown ETA before anything is done', () => {
    const s = initialState(0);
    applyEvent(s, { type: 'run-started', runId: 'r', target: 't', mode: 'append', files: 2, bytes: 10 }, 0);
    expect(renderProgress(s, 10, { width: 80, color: false }).at(-1)).toContain('ETA ?');
    applyEvent(s, { type: 'file-finished', index: 0, path: 'x', result: result('x', 5, 'failed') }, 10);
    expect(progressLine(s, 20)).toContain('1 failed');
  });

  it('formats durations', () => {
    expect(formatDuration(59.4)).toBe('59s');
    expect(formatDuration(125)).toBe('2m05s');
    expect(formatDuration(3 * 3600 + 7 * 60)).toBe('3h07m');
  });
});

describe('colorEnabled', () => {
  it('follows --no-color, FORCE_COLOR, NO_COLOR, then the terminal', () => {
    expect(colorEnabled({}, true)).toBe(true);
    expect(colorEnabled({}, false)).toBe(false);
    expect(colorEnabled({}, true, false)).toBe(false);
    expect(colorEnabled({ NO_COLOR: '1' }, true)).toBe(false);
    expect(colorEnabled({ NO_COLOR: '' }, true)).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '1' }, false)).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '0' }, true)).toBe(false);
    expect(colorEnabled({ FORCE_COLOR: '1', NO_COLOR: '1' }, false)).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '1' }, true, false)).toBe(false);
  });
});

describe('startProgress on a terminal (the thin adapter)', () => {
  it('redraws in place, clears itself around a log line, and erases the display when stopped', () => {
    vi.useFakeTimers();
    try {
      let out = '';
      const stream = { isTTY: true, columns: 100, write: (s: string) => ((out += s), true) };
      const view = startProgress({
        stream: stream as unknown as NodeJS.WriteStream,
        color: false,
        intervalS: 30,
        log: () => {
          throw new Error('no log lines on a terminal');
        },
        now: () => 1000,
      });
      vi.advanceTimersByTime(1000);
      expect(out).toBe(''); // nothing before the run starts
      view.listener({ type: 'run-started', runId: 'r', target: 't', mode: 'append', files: 1, bytes: 10 });
      view.listener({ type: 'file-started', index: 0, path: 'a.csv', bytes: 10 });
      vi.advanceTimersByTime(200);
      expect(out).toMatch(/^ {2}a\.csv .*\n\[-+\] +0% .*\n$/);
      out = '';
      vi.advanceTimersByTime(200);
      expect(out.startsWith('\x1b[2F\x1b[J')).toBe(true); // back up over the two lines drawn, then clear
      out = '';
      view.destination!.write('a log line\n');
      expect(out.startsWith('\x1b[2F\x1b[Ja log line\n  a.csv')).toBe(true);
      out = '';
      view.stop();
      expect(out).toBe('\x1b[2F\x1b[J');
      out = '';
      vi.advanceTimersByTime(1000);
      expect(out).toBe('');
    } finally {
      vi.useRealTimers();
    }
  });
});
