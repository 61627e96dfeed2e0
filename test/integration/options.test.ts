// Options not covered elsewhere, each against the database: --timezone for timestamps without an offset,
// --file-type csv on a file whose name says otherwise, --disable-internal-parallelism through the CLI.
import { describe, expect, it } from 'vitest';
import { auditRows, runCli } from '../helpers.js';
import { useEnv } from './support.js';

const env = useEnv('options');

describe('options', () => {
  it('--timezone interprets timestamps without an offset; explicit offsets win', async () => {
    await env.db.query('CREATE TABLE tz (id int, at timestamptz, plain timestamp)');
    const f = await env.dir.write(
      'tz.csv',
      'id,at,plain\n1,2026-06-01 12:00:00,2026-06-01 12:00:00\n2,2026-06-01 12:00:00+00,2026-01-01 00:00:00\n',
    );
    const r = await env.load('tz', [f], { timezone: 'America/New_York' });
    expect(r.exitCode).toBe(0);
    const rows = await env.rows<{ id: number; utc: string; plain: string }>(
      `SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS utc, plain::text AS plain FROM tz ORDER BY id`,
    );
    expect(rows).toEqual([
      { id: 1, utc: '2026-06-01 16:00', plain: '2026-06-01 12:00:00' }, // EDT is UTC-4
      { id: 2, utc: '2026-06-01 12:00', plain: '2026-01-01 00:00:00' },
    ]);
    const r2 = await env.load('tz', [await env.dir.write('tz2.csv', 'id,at\n3,2026-06-01 12:00:00\n')]);
    expect(r2.exitCode).toBe(0);
    expect(
      await env.rows(`SELECT to_char(at AT TIME ZONE 'UTC', 'HH24:MI') AS utc FROM tz WHERE id = 3`),
    ).toEqual([
      { utc: '12:00' }, // default UTC
    ]);
  });

  it('--file-type csv loads a CSV named .parquet; without it the name alone does not make it Parquet', async () => {
    await env.db.query('CREATE TABLE ft (id int, v text)');
    const f = await env.dir.write('export.parquet', 'id,v\n1,a\n');
    const auto = await env.load('ft', [f]);
    expect(auto.files[0]?.error?.code).toBe('DETECT');
    const forced = await env.load('ft', [f], { fileType: 'csv' });
    expect(forced.exitCode).toBe(0);
    expect(await env.num('SELECT count(*) FROM ft')).toBe(1);
  });

  it('--disable-internal-parallelism and --file-type through the CLI', async () => {
    await env.db.query('CREATE TABLE cli_opts (id int PRIMARY KEY, v text)');
    const body = 'id,v\n' + Array.from({ length: 2000 }, (_, i) => `${i},v${i}`).join('\n') + '\n';
    const f = await env.dir.write('cli.dat', body);
    const r = await runCli([
      '--dsn',
      env.db.dsn,
      '--table',
      'cli_opts',
      '--file-type',
      'csv',
      '--batch-size',
      '300',
      '--disable-internal-parallelism',
      f,
    ]);
    expect(r.code).toBe(0);
    expect(await env.num('SELECT count(*) FROM cli_opts')).toBe(2000);
    const [a] = (await auditRows(env.db)).filter((x) => x.file_path === f);
    expect([a?.status, a?.sub_batches]).toEqual(['succeeded', 7]);
  });
});
