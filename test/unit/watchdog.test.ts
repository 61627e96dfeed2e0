import { describe, expect, it } from 'vitest';
import { judge } from '../../src/watchdog.js';

describe('the stall watchdog judges a silent backend by what pg_stat_activity says', () => {
  it('a backend that is gone or idle while loader waits for it is stalled (the statement or answer was lost)', () => {
    expect(judge(undefined, undefined)).toBe('stalled');
    expect(judge({ state: 'idle', wait_event: 'ClientRead' }, undefined)).toBe('stalled');
    expect(judge({ state: 'idle in transaction', wait_event: 'ClientRead' }, undefined)).toBe('stalled');
  });

  it('a backend running the statement (a long merge, a lock wait, I/O) is working', () => {
    expect(judge({ state: 'active', wait_event: null }, undefined)).toBe('working');
    expect(judge({ state: 'active', wait_event: 'relation' }, undefined)).toBe('working');
    expect(judge({ state: 'active', wait_event: 'DataFileRead' }, undefined)).toBe('working');
  });

  it('a COPY backend waiting for bytes: working while loader is still producing, stalled once loader sent them', () => {
    expect(judge({ state: 'active', wait_event: 'ClientRead' }, { producing: true })).toBe('working');
    expect(judge({ state: 'active', wait_event: 'ClientRead' }, { producing: false })).toBe('stalled');
    expect(judge({ state: 'active', wait_event: 'ClientRead' }, undefined)).toBe('stalled');
  });
});
