// `loader status`: the recent audit rows, newest first, as an aligned table or JSON. With --table, the rows of that
// table from the loader_audit of its schema; without, every loader_audit table of the database (one per schema
// loaded into). The text formatting and the duration parsing are pure, tested without a database.
import { Command, InvalidArgumentError, Option } from 'commander';
import type pg from 'pg';
import type { Subcommand } from './cli.js';
import { AUDIT_TABLE, auditTable } from './audit.js';
import { redact, secretsOf } from './config.js';
import { connectFirst, resolveConnection } from './connection.js';
import { formatBytes, formatDuration } from './progress.js';
import { parseTableName } from './sql.js';

const UNITS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

/** `30m`, `24h`, `7d`, `2w`, `90s` (or several: `1d12h`) in milliseconds; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (!/^(\d+[smhdw])+$/.test(t)) return undefined;
  let ms = 0;
  for (const m of t.matchAll(/(\d+)([smhdw])/g)) ms += Number(m[1]) * UNITS[m[2]!]!;
  return ms;
}

export interface StatusRow {
  finishedAt: string;
  status: string;
  target: string;
  path: string;
  format: string;
  bytes: number;
  rowsRead: number;
  rowsInserted: number;
  rowsUpdated: number;
  rowsSkipped: number;
  rowsRejected: number;
  retries: number;
  durationMs: number;
  errorCode: string | null;
  errorMessage: string | null;
  runId: string;
  host: string;
}

/** Columns padded to their widest cell; numbers right-aligned. */
export function formatTable(headers: string[], rows: string[][], right: ReadonlySet<number>): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

const num = (n: number): string => n.toLocaleString('en-US');
const cut = (s: string, n: number): string => (s.length > n ? s.slice(0, n - 1) + '…' : s);

/** The text output: one line per file, then a count by status. */
export function statusLines(rows: readonly StatusRow[], since: Date): string[] {
  if (rows.length === 0) return [`no loads since ${since.toISOString()}`];
  const headers = ['FINISHED (UTC)', 'STATUS', 'TABLE', 'FILE', 'INSERTED', 'UPDATED', 'SKIPPED', 'REJECTED'];
  headers.push('SIZE', 'TIME', 'ERROR');
  const body = rows.map((r) => [
    r.finishedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    r.status,
    r.target,
    r.path,
    num(r.rowsInserted),
    num(r.rowsUpdated),
    num(r.rowsSkipped),
    num(r.rowsRejected),
    formatBytes(r.bytes),
    formatDuration(r.durationMs / 1000),
    r.errorCode ? cut(`${r.errorCode}: ${(r.errorMessage ?? '').replace(/\s+/g, ' ')}`, 100) : '',
  ]);
  const by = new Map<string, number>();
  for (const r of rows) by.set(r.status, (by.get(r.status) ?? 0) + 1);
  const counts = ['succeeded', 'failed', 'skipped', 'cancelled']
    .filter((s) => by.has(s))
    .map((s) => `${by.get(s)} ${s}`);
  return [
    ...formatTable(headers, body, new Set([4, 5, 6, 7, 8, 9])),
    `${rows.length} file${rows.length === 1 ? '' : 's'} since ${since.toISOString()}: ${counts.join(', ')}`,
  ];
}

const COLUMNS = `finished_at, status, target_schema, target_table, file_path, format, file_bytes, rows_read,
  rows_inserted, rows_updated, rows_skipped, rows_rejected, retries, duration_ms, error_code, error_message,
  run_id, host`;

interface DbRow {
  finished_at: Date;
  status: string;
  target_schema: string;
  target_table: string;
  file_path: string;
  format: string;
  file_bytes: string;
  rows_read: string;
  rows_inserted: string;
  rows_updated: string;
  rows_skipped: string;
  rows_rejected: string;
  retries: number;
  duration_ms: string;
  error_code: string | null;
  error_message: string | null;
  run_id: string;
  host: string;
}

export interface StatusQuery {
  table?: string;
  since: Date;
  limit: number;
  status?: string;
  /** every schema: one whose loader_audit this role may not read is left out, said here (else the error throws) */
  onDenied?: (schema: string, message: string) => void;
}

/** The audit rows asked for, newest first. */
export async function readStatus(client: pg.ClientBase, q: StatusQuery): Promise<StatusRow[]> {
  let sources: { schema: string; where: string; params: unknown[] }[];
  if (q.table) {
    const t = parseTableName(q.table);
    // An unqualified table is found like psql finds it (search_path); a dropped one in the current schema.
    const schema =
      t.schema ??
      (
        await client.query<{ s: string }>(
          `SELECT coalesce((SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.oid = to_regclass($1)), current_schema()) AS s`,
          [`"${t.table.replaceAll('"', '""')}"`],
        )
      ).rows[0]!.s;
    sources = [{ schema, where: 'AND target_schema = $3 AND target_table = $4', params: [schema, t.table] }];
  } else {
    const { rows } = await client.query<{ s: string }>(
      `SELECT n.nspname AS s FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relname = $1 AND c.relkind IN ('r', 'p') ORDER BY 1`,
      [AUDIT_TABLE],
    );
    sources = rows.map((r) => ({ schema: r.s, where: '', params: [] }));
  }
  const out: StatusRow[] = [];
  for (const src of sources) {
    // one table's schema may have no audit table yet (the listed ones exist)
    if (q.table) {
      const exists = await client.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [auditTable(src.schema)]);
      if (!exists.rows[0]?.ok) continue;
    }
    const statusParam = `$${3 + src.params.length}`;
    const { rows } = await client
      .query<DbRow>(
        `SELECT ${COLUMNS} FROM ${auditTable(src.schema)}
          WHERE finished_at >= $1 ${src.where} ${q.status ? `AND status = ${statusParam}` : ''}
          ORDER BY finished_at DESC, id DESC LIMIT $2`,
        [q.since, q.limit, ...src.params, ...(q.status ? [q.status] : [])],
      )
      .catch((err: Error & { code?: string }) => {
        if (q.table || err.code !== '42501' || !q.onDenied) throw err;
        q.onDenied(src.schema, err.message);
        return { rows: [] as DbRow[] };
      });
    for (const r of rows) {
      out.push({
        finishedAt: r.finished_at.toISOString(),
        status: r.status,
        target: `${r.target_schema}.${r.target_table}`,
        path: r.file_path,
        format: r.format,
        bytes: Number(r.file_bytes),
        rowsRead: Number(r.rows_read),
        rowsInserted: Number(r.rows_inserted),
        rowsUpdated: Number(r.rows_updated),
        rowsSkipped: Number(r.rows_skipped),
        rowsRejected: Number(r.rows_rejected),
        retries: r.retries,
        durationMs: Number(r.duration_ms),
        errorCode: r.error_code,
        errorMessage: r.error_message,
        runId: r.run_id,
        host: r.host,
      });
    }
  }
  out.sort((a, b) => (a.finishedAt < b.finishedAt ? 1 : a.finishedAt > b.finishedAt ? -1 : 0));
  return out.slice(0, q.limit);
}

function duration(v: string): number {
  const ms = parseDuration(v);
  if (ms === undefined) throw new InvalidArgumentError('--since takes a duration such as 30m, 24h, 7d');
  return ms;
}

function whole(v: string): number {
  if (!/^[1-9]\d*$/.test(v)) throw new InvalidArgumentError('--limit takes a whole number from 1');
  return Number(v);
}

async function run(o: Record<string, unknown>): Promise<number> {
  const dsn = o.dsn as string | undefined;
  const secrets = secretsOf(dsn, process.env);
  const since = new Date(Date.now() - (o.since as number));
  let client: pg.Client | undefined;
  let rows: StatusRow[];
  try {
    // The same connection rules as a load: libpq's DSN words, PG* variables, ~/.pgpass, sslmode.
    const conn = resolveConnection(
      dsn,
      dsn ? 'option' : 'PG*',
      process.env,
      (o.connectTimeout as number) * 1000,
    );
    if (conn.password) secrets.push(conn.password); // also one read from ~/.pgpass
    client = (await connectFirst(conn)).client;
    rows = await readStatus(client, {
      table: o.table as string | undefined,
      since,
      limit: o.limit as number,
      status: o.status as string | undefined,
      onDenied: (schema, message) =>
        process.stderr.write(`loader status: schema ${schema} left out: ${message}\n`),
    });
  } catch (err) {
    process.stderr.write(`loader status: ${redact((err as Error).message, secrets)}\n`);
    return 3;
  } finally {
    await client?.end().catch(() => {});
  }
  if (o.json)
    process.stdout.write(JSON.stringify({ version: 1, since: since.toISOString(), rows }, null, 2) + '\n');
  else process.stdout.write(statusLines(rows, since).join('\n') + '\n');
  return 0;
}

export const statusCommand: Subcommand = {
  name: 'status',
  make: (exit) =>
    new Command('loader status')
      .description('the recent loads from the audit table (loader_audit), newest first')
      .addOption(new Option('--dsn <url>', 'postgres://user:pass@host:port/db').env('DATABASE_URL'))
      .option(
        '-t, --table <[schema.]table>',
        "only this table's loads (default: every schema's loader_audit in the database)",
      )
      .addOption(
        new Option('--since <duration>', 'how far back: 30m, 24h, 7d, 2w')
          .argParser(duration)
          .default(86400e3, '24h'),
      )
      .addOption(
        new Option('--status <status>', 'only files with this status').choices([
          'succeeded',
          'failed',
          'skipped',
          'cancelled',
        ]),
      )
      .option('--limit <n>', 'at most this many rows', whole, 100)
      .option('--connect-timeout <s>', 'seconds to wait for a connection', whole, 30)
      .option('--json', 'the rows as JSON on stdout')
      .addHelpText(
        'after',
        `
Exit codes: 0 shown, 2 usage error, 3 no connection or no audit table readable.

Examples:
  loader status --since 7d --status failed
  loader status --table public.events --since 30m --json`,
      )
      .action((_args, cmd: Command) => exit(run(cmd.opts()))),
};
