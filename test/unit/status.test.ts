import { describe, expect, it } from 'vitest';
import { formatTable, parseDuration, statusLines, type StatusRow } from '../../src/status.js';

describe('parseDuration', () => {
  it.each([
    ['30m', 30 * 60e3],
    ['24h', 24 * 3600e3],
    ['7d', 7 * 86400e3],
    ['2w', 14 * 86400e3],
    ['90s', 90e3],
    ['1d12h', 36 * 3600e3],
  ])('%s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '24', 'h', '1y', '-1h', '1.5h', '24 h x'])('refuses %j', (text) =>
    expect(parseDuration(text)).toBeUndefined(),
  );
});

describe('formatTable', () => {
  it('pads columns to the widest cell and right-aligns the numeric ones', () => {
    expect(
      formatTable(
        ['NAME', 'N'],
        [
          ['a', '1'],
          ['bbb', '1,000'],
        ],
        new Set([1]),
      ),
    ).toEqual(['NAME      N', 'a         1', 'bbb   1,000']);
  });
});

describe('statusLines', () => {
  const row = (o: Partial<StatusRow>): StatusRow => ({
    finishedAt: '2026-12-01T10:00:00.123Z',
    status: 'succeeded',
    target: 'public.events',
    path: '/data/a.csv',
    format: 'csv',
    bytes: 2_500_000,
    rowsRead: 1000,
    rowsInserted: 1000,
    rowsUpdated: 0,
    rowsSkipped: 0,
    rowsRejected: 0,
    retries: 0,
    durationMs: 1200,
    errorCode: null,
    errorMessage: null,
    runId: 'r',
    host: 'h',
    ...o,
  });

  it('prints one aligned line per file and a count by status', () => {
    const lines = statusLines(
      [
        row({}),
        row({
          status: 'failed',
          path: '/data/b.csv',
          rowsInserted: 0,
          errorCode: 'DATA',
          errorMessage: 'line 3:\nbad',
        }),
      ],
      new Date('2026-11-30T10:00:00Z'),
    );
    expect(lines[0]).toMatch(/^FINISHED \(UTC\) +STATUS +TABLE +FILE +INSERTED/);
    expect(lines[1]).toMatch(/^2026-12-01 10:00:00Z +succeeded +public\.events +\/data\/a\.csv +1,000 /);
    expect(lines[2]).toContain('DATA: line 3: bad');
    // columns line up: STATUS starts at the same place on every line
    const at = lines[0]!.indexOf('STATUS');
    expect(lines[1]!.slice(at)).toMatch(/^succeeded/);
    expect(lines[2]!.slice(at)).toMatch(/^failed/);
    expect(lines.at(-1)).toBe('2 files since 2026-11-30T10:00:00.000Z: 1 succeeded, 1 failed');
  });

  it('says so when there is nothing', () => {
    expect(statusLines([], new Date('2026-11-30T10:00:00Z'))).toEqual([
      'no loads since 2026-11-30T10:00:00.000Z',
    ]);
  });
});
