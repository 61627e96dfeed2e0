// --create-table: a missing target is created once per run, before the run reads it, from the first file in
// sorted order: a Parquet file's schema (its Arrow types mapped as the loader maps them), or a CSV file's header
// and the types inferred over its first MiB of records. --key becomes the primary key. Two runs racing to create
// it are serialized by a transaction-scoped advisory lock around CREATE TABLE IF NOT EXISTS.
import { parse } from 'csv-parse/sync';
import type pg from 'pg';
import type { ParquetPlanResult } from '../workers/parquet.js';
import { chooseMode, type Column, type Target } from './catalog.js';
import type { Config } from './config.js';
import { inTransaction } from './db.js';
import { detect, gunzipHead, readHead } from './detect.js';
import { LoaderError } from './errors.js';
import { columnNames, inferTypes, looksLikeHeader } from './infer.js';
import { createType } from './parquet/mapping.js';
import { ParquetPool } from './parquet/pool.js';
import { RecordScanner } from './scan.js';
import { decoderName, sniff } from './sniff.js';
import { quoteIdent } from './sql.js';

const SAMPLE = 1 << 20;
const parquetWorkerUrl = new URL('../workers/parquet.js', import.meta.url);

export interface NewColumn {
  name: string;
  type: string;
}

/** The columns of a CSV file: header names (or col1..colN) and the types its first MiB of records read as. */
export async function csvColumns(path: string, config: Config): Promise<NewColumn[]> {
  const d = await detect(path, 'csv');
  const head = d.gzip ? (await gunzipHead(path, SAMPLE)).sample : await readHead(path, SAMPLE);
  const whole = d.gzip ? head.length < SAMPLE : head.length >= d.bytes;
  const s = sniff(d.sample, {
    delimiter: config.delimiter,
    quote: config.quote,
    escape: config.escape,
    header: config.header,
    encoding: decoderName(config.encoding),
    columns: [],
  });
  const body = s.bom ? head.subarray(3) : head;
  const escape = config.escape ?? s.quote;
  const scanner = new RecordScanner({
    quote: s.quote.charCodeAt(0),
    escape: escape.charCodeAt(0),
    batchSize: 1,
    header: false,
  });
  scanner.push(body);
  const end = whole ? body.length : (scanner.completed().at(-1)?.end ?? 0);
  const nul = config.null;
  const records = parse(body.subarray(0, end).toString(decoderName(config.encoding)), {
    delimiter: s.delimiter,
    quote: s.quote,
    escape,
    relax_column_count: true,
    skip_empty_lines: true,
    // an unquoted field equal to --null (default: empty) is NULL; a quoted one is a value
    cast: (value, ctx) => (!ctx.quoting && value === nul ? null : value),
  }) as (string | null)[][];
  if (records.length === 0)
    throw new LoaderError('COLUMNS', 'the file is empty: no columns to create the table from');
  const header = config.header ?? looksLikeHeader(records[0]!);
  const data = header ? records.slice(1) : records;
  const width = Math.max(...records.map((r) => r.length));
  const names = columnNames(header ? records[0] : undefined, width);
  const types = inferTypes(data, width);
  return names.map((name, i) => ({ name, type: types[i]! }));
}

/** The columns of a Parquet file, from its footer (read by a worker: parquet-wasm lives in workers only). */
export async function parquetColumns(path: string, config: Config): Promise<NewColumn[]> {
  const pool = new ParquetPool({
    filename: parquetWorkerUrl.href,
    maxThreads: 1,
    memoryLimitBytes: config.memoryLimitBytes,
    wasmMemoryMarkBytes: config.wasmMemoryMarkBytes,
  });
  try {
    const r = (await pool.run({ path }, { name: 'plan' })) as ParquetPlanResult;
    if (!r.ok) throw new LoaderError('READ', r.message, { file: path });
    return r.footer.fields.map((f) => {
      const type = createType(f);
      if (!type)
        throw new LoaderError(
          'COLUMNS',
          `column ${JSON.stringify(f.name)}: no column type for Parquet ${f.arrow}`,
          {
            column: f.name,
          },
        );
      return { name: f.name, type };
    });
  } finally {
    await pool.destroy();
  }
}

/** The target as written (unqualified: the first schema of the search path, as to_regclass reads it). */
function nameOf(config: Config): string {
  const { schema, table } = config.target;
  return schema ? `${quoteIdent(schema)}.${quoteIdent(table)}` : quoteIdent(table);
}

/** --key as columns of the file: exactly, else case-insensitively. */
function keyColumns(config: Config, columns: NewColumn[]): string[] {
  return (config.key ?? []).map((k) => {
    const hit =
      columns.find((c) => c.name === k) ?? columns.find((c) => c.name.toLowerCase() === k.toLowerCase());
    if (!hit)
      throw new LoaderError('TARGET', `--key column ${JSON.stringify(k)} is not a column of the first file`);
    return hit.name;
  });
}

/** The statement creating the table, --key as its primary key. */
export function createTableSql(config: Config, columns: NewColumn[]): string {
  const name = nameOf(config);
  const key = keyColumns(config, columns);
  const cols = columns.map((c) => `${quoteIdent(c.name)} ${c.type}`);
  if (key.length > 0) cols.push(`PRIMARY KEY (${key.map(quoteIdent).join(', ')})`);
  return `CREATE TABLE IF NOT EXISTS ${name} (${cols.join(', ')})`;
}

export interface Created {
  /** the statement run (or, in a dry run, that would run) */
  sql: string;
  /** dry run: the target as it would be, for planning the files */
  planned?: Target;
}

/** Creates the target from files[0] when it is missing; undefined when it exists. A dry run only plans it. */
export async function ensureTarget(
  client: pg.ClientBase,
  config: Config,
  first: string,
): Promise<Created | undefined> {
  const { schema } = config.target;
  const name = nameOf(config);
  const exists = await client.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [name]);
  if (exists.rows[0]?.ok) return undefined;
  let columns: NewColumn[];
  try {
    const d = await detect(first, config.fileType);
    columns = d.format === 'parquet' ? await parquetColumns(first, config) : await csvColumns(first, config);
  } catch (err) {
    const e =
      err instanceof LoaderError ? err : new LoaderError('READ', (err as Error).message, {}, { cause: err });
    throw new LoaderError(
      'TARGET',
      `--create-table from ${first}: ${e.message}`,
      { file: first },
      { cause: err },
    );
  }
  const sql = createTableSql(config, columns);
  if (config.dryRun) {
    const current =
      (await client.query<{ s: string }>(`SELECT current_schema() AS s`)).rows[0]?.s ?? 'public';
    return { sql, planned: plannedTarget(config, schema ?? current, columns) };
  }
  await inTransaction(client, async () => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`loader_create:${name}`]);
    await client.query(sql);
  });
  return { sql };
}

function plannedTarget(config: Config, schema: string, cols: NewColumn[]): Target {
  const columns: Column[] = cols.map((c) => ({
    name: c.name,
    type: c.type,
    notNull: false,
    hasDefault: false,
    generated: false,
    identity: '',
  }));
  const named = keyColumns(config, cols);
  const key = named.length > 0 ? named : undefined;
  const { mode, key: chosen } = chooseMode(config, key ? [key] : [], key, columns);
  return {
    oid: 0,
    schema,
    table: config.target.table,
    sql: `${quoteIdent(schema)}.${quoteIdent(config.target.table)}`,
    partitioned: false,
    columns,
    uniqueKeys: key ? [key] : [],
    primaryKey: key,
    referenced: false,
    mode,
    key: chosen,
    mergeable: false,
  };
}
