// After the run: --analyze (only when rows landed), --archive-dir and --error-dir moves.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditRows } from '../helpers.js';
import { csv, useEnv } from './support.js';

const env = useEnv('settle');

async function analyzeCount(table: string): Promise<number> {
  for (let i = 0; ; i++) {
    await env.db.query('SELECT pg_stat_clear_snapshot()');
    const n = await env.num(
      `SELECT analyze_count FROM pg_stat_user_tables WHERE relid = '${table}'::regclass`,
    );
    if (n > 0 || i >= 50) return n;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('--analyze', () => {
  it('analyzes the table after a run that wrote rows, not after one that loaded nothing', async () => {
    await env.db.query('CREATE TABLE an (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false)');
    const f = await env.dir.write(
      'an/a.csv',
      csv('id,v', [
        [1, 'a'],
        [2, 'b'],
      ]),
    );
    const r = await env.load('an', [f], { analyze: true });
    expect(r.exitCode).toBe(0);
    expect(await env.num('SELECT count(*) FROM an')).toBe(2);
    expect(await analyzeCount('an')).toBe(1);
    const again = await env.load('an', [f], { analyze: true });
    expect(again.totals.skipped).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(await analyzeCount('an')).toBe(1);
    const without = await env.load('an', [await env.dir.write('an/b.csv', csv('id,v', [[3, 'c']]))]);
    expect(without.totals.succeeded).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(await analyzeCount('an')).toBe(1);
  });
});

describe('--archive-dir and --error-dir', () => {
  it('moves loaded files to the archive keeping their place, failed ones to the error folder', async () => {
    await env.db.query('CREATE TABLE ar (id int PRIMARY KEY, amount numeric)');
    const jan = await env.dir.write('in/2026/01/a.csv', csv('id,amount', [[1, 1]]));
    const feb = await env.dir.write('in/2026/02/a.csv', csv('id,amount', [[2, 2]]));
    const bad = await env.dir.write('in/bad.csv', csv('id,amount', [[3, 'x']]));
    const archive = join(env.dir.path, 'archive');
    const errors = join(env.dir.path, 'errors');
    const r = await env.load('ar', [join(env.dir.path, 'in/**/*.csv')], {
      archiveDir: archive,
      errorDir: errors,
    });
    expect(r.exitCode).toBe(1);
    expect(await env.num('SELECT count(*) FROM ar')).toBe(2);
    for (const f of [jan, feb, bad]) expect(existsSync(f)).toBe(false);
    expect(existsSync(join(archive, '2026/01/a.csv'))).toBe(true);
    expect(existsSync(join(archive, '2026/02/a.csv'))).toBe(true);
    expect(existsSync(join(errors, 'bad.csv'))).toBe(true);
    expect(r.files.find((f) => f.path === bad)?.movedTo).toBe(join(errors, 'bad.csv'));
    const audit = (await auditRows(env.db)).filter(
      (a) => (a as { target_table?: string }).target_table === 'ar',
    );
    expect(audit.filter((a) => a.status === 'succeeded')).toHaveLength(2);
    expect(audit.filter((a) => a.status === 'failed' && a.error_code === 'DATA')).toHaveLength(1);

    // The same content again (a run that crashed before moving it, say): skipped, and archived beside the first.
    const again = await env.dir.write('in/2026/01/a.csv', csv('id,amount', [[1, 1]]));
    const r2 = await env.load('ar', [join(env.dir.path, 'in/**/*.csv')], {
      archiveDir: archive,
      errorDir: errors,
    });
    expect(r2.files[0]?.error?.code).toBe('ALREADY_LOADED');
    expect(existsSync(again)).toBe(false);
    expect(existsSync(join(archive, '2026/01/a.1.csv'))).toBe(true);
    expect(await env.num('SELECT count(*) FROM ar')).toBe(2);
  });

  it('never moves a cancelled file', async () => {
    await env.db.query('CREATE TABLE ca (id int)');
    const f = await env.dir.write('cancel/a.csv', csv('id', [[1]]));
    const archive = join(env.dir.path, 'archive-c');
    const errors = join(env.dir.path, 'errors-c');
    const r = await env.load('ca', [f], {
      archiveDir: archive,
      errorDir: errors,
      signal: AbortSignal.abort(),
    });
    expect(r.files[0]?.status).toBe('cancelled');
    expect(existsSync(f)).toBe(true);
    expect(existsSync(archive)).toBe(false);
    expect(existsSync(errors)).toBe(false);
    expect(await env.num('SELECT count(*) FROM ca')).toBe(0);
  });
});
