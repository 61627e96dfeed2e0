// SQL for the staging table and the merge from staging into the target, one builder per mode. Pure: catalog
// facts in, SQL text out. Staging rows carry their sub-batch number (a default read from a session setting set
// before each COPY) and their order within it (an identity: one COPY inserts in file order), so "the last
// occurrence in the file" is ORDER BY batch DESC, ord DESC whatever order the sub-batches finished in. A sub-batch
// converted to COPY BINARY writes both itself (the record's ordinal in the sub-batch as ord): the server then
// evaluates no default per row.
import type { Column, Target } from './catalog.js';
import type { Mode } from './config.js';
import { quoteIdent, quoteLiteral } from './sql.js';

export const BATCH_COL = '__loader_batch';
export const ORD_COL = '__loader_ord';
export const BATCH_SETTING = 'loader.batch';

/** A file column: where it goes in the target, or nowhere (an extra column kept in staging as text). */
export interface FileColumn {
  /** the name in the file's header (or its position) */
  source: string;
  /** the target column, or undefined when ignored */
  target: Column | undefined;
  /** the column's name in staging and in the COPY column list */
  stagingName: string;
}

type Loaded = FileColumn & { target: Column };

/** The file columns that go into the target. */
function loadedColumns(columns: FileColumn[]): Loaded[] {
  return columns.filter((c): c is Loaded => c.target !== undefined);
}

/** The quoted staging name of target column `name`, which the file loads. */
function stagedName(loaded: Loaded[], name: string): string {
  return quoteIdent(loaded.find((c) => c.target.name === name)!.stagingName);
}

export function stagingDdl(stagingSql: string, columns: FileColumn[]): string {
  const defs = columns.map((c) =>
    c.target
      ? `${quoteIdent(c.stagingName)} ${c.target.type}${c.target.notNull ? ' NOT NULL' : ''}`
      : `${quoteIdent(c.stagingName)} text`,
  );
  defs.push(
    `${quoteIdent(BATCH_COL)} integer NOT NULL DEFAULT current_setting(${quoteLiteral(BATCH_SETTING)})::integer`,
  );
  defs.push(`${quoteIdent(ORD_COL)} bigint GENERATED ALWAYS AS IDENTITY`);
  return `CREATE UNLOGGED TABLE ${stagingSql} (${defs.join(', ')}) WITH (autovacuum_enabled = false)`;
}

/** Sub-batch k's own staging table, a child of the file's (INHERITS: reading the file's staging reads it too),
 * which only its rows may enter; its ordinals an identity of its own (a child does not inherit the parent's). Made
 * before the sub-batch's COPY when the file merges as its sub-batches land (src/landed.ts): that merge reads each
 * sub-batch alone, a whole small table, with no index to keep up during the COPYs. */
export function batchTableDdl(stagingSql: string, batchSql: string, k: number): string {
  return (
    `CREATE UNLOGGED TABLE IF NOT EXISTS ${batchSql} (${quoteIdent(ORD_COL)} bigint GENERATED ALWAYS AS IDENTITY, ` +
    `CHECK (${quoteIdent(BATCH_COL)} = ${batchNumber(k)})) INHERITS (${stagingSql}) WITH (autovacuum_enabled = false)`
  );
}

/** Drops a file's staging table and its sub-batches' tables. */
export function dropStagingSql(stagingSql: string): string {
  return `DROP TABLE IF EXISTS ${stagingSql} CASCADE`;
}

export interface CopyDialect {
  delimiter: string;
  quote: string;
  escape: string;
  null: string;
  encoding: string;
  /** 'binary': COPY BINARY (Parquet's encoder); the other fields are then unused. Default csv. */
  format?: 'csv' | 'binary';
}

export function copySql(tableSql: string, columnNames: string[], d: CopyDialect): string {
  const cols = columnNames.map(quoteIdent).join(', ');
  if (d.format === 'binary') return `COPY ${tableSql} (${cols}) FROM STDIN WITH (FORMAT binary)`;
  return (
    `COPY ${tableSql} (${cols}) FROM STDIN WITH (FORMAT csv, HEADER false, ` +
    `DELIMITER ${quoteLiteral(d.delimiter)}, QUOTE ${quoteLiteral(d.quote)}, ESCAPE ${quoteLiteral(d.escape)}, ` +
    `NULL ${quoteLiteral(d.null)}, ENCODING ${quoteLiteral(d.encoding)})`
  );
}

/** Staging rows from (batch, ord) to (batch, ord), both included: a slice for finding a bad row by bisection. */
export interface StagingRange {
  from: readonly [number, number];
  to: readonly [number, number];
}

/** A sub-batch number or ordinal, checked, as SQL text. */
export function batchNumber(x: number): string {
  if (!Number.isSafeInteger(x)) throw new RangeError(`not an integer: ${x}`);
  return String(x);
}

export function rangeFilter(r: StagingRange): string {
  const n = batchNumber;
  const row = `(${quoteIdent(BATCH_COL)}, ${quoteIdent(ORD_COL)})`;
  return `${row} >= (${n(r.from[0])}, ${n(r.from[1])}) AND ${row} <= (${n(r.to[0])}, ${n(r.to[1])})`;
}

/** The merge statement of one file's staging into the target, or of a range of its rows, or of one sub-batch (a
 * number: src/landed.ts). `replace` merges like upsert when there is a key (the later file wins) and like append
 * otherwise, after the run has emptied the target. */
export function mergeSql(
  target: Target,
  stagingSql: string,
  columns: FileColumn[],
  mode: Mode,
  range?: StagingRange | number,
  /** rising: the rows' keys rise strictly as they lie (src/keyrange.ts): no key twice, no sort needed */
  opts: { rising?: boolean } = {},
): string {
  const from =
    range === undefined
      ? stagingSql
      : typeof range === 'number'
        ? `${stagingSql} WHERE ${quoteIdent(BATCH_COL)} = ${batchNumber(range)}`
        : `${stagingSql} WHERE ${rangeFilter(range)}`;
  const loaded = loadedColumns(columns);
  // An empty file (0 bytes: no header, no records) has no columns and nothing to merge, whatever the mode.
  if (loaded.length === 0) return `SELECT 0::int8 AS inserted, 0::int8 AS updated`;
  const names = loaded.map((c) => quoteIdent(c.target.name));
  const select = loaded.map((c) => quoteIdent(c.stagingName));
  const overriding = loaded.some((c) => c.target.identity === 'a') ? ' OVERRIDING SYSTEM VALUE' : '';
  const insert = `INSERT INTO ${target.sql} AS t (${names.join(', ')})${overriding}`;
  const key = mode === 'append' || (mode === 'replace' && !target.key) ? undefined : target.key;
  if (!key) {
    return `WITH m AS (${insert} SELECT ${select.join(', ')} FROM ${from} RETURNING 1)
            SELECT count(*)::int8 AS inserted, 0::int8 AS updated FROM m`;
  }
  const stagingKey = key.map((k) => stagedName(loaded, k));
  const latest = opts.rising
    ? `SELECT ${select.join(', ')} FROM ${from}`
    : `SELECT DISTINCT ON (${stagingKey.join(', ')}) ${select.join(', ')} FROM ${from} ` +
      `ORDER BY ${stagingKey.join(', ')}, ${quoteIdent(BATCH_COL)} DESC, ${quoteIdent(ORD_COL)} DESC`;
  const conflict = `ON CONFLICT (${key.map(quoteIdent).join(', ')})`;
  const updatable = updatableColumns(key, loaded);
  if (mode === 'insert-only' || updatable.length === 0) {
    return `WITH m AS (${insert} ${latest} ${conflict} DO NOTHING RETURNING 1)
            SELECT count(*)::int8 AS inserted, 0::int8 AS updated FROM m`;
  }
  const set = updatable.map((c) => `${quoteIdent(c.target.name)} = EXCLUDED.${quoteIdent(c.target.name)}`);
  if (target.partitioned) {
    // A partitioned table cannot return the system column xmax ("cannot retrieve a system column in this
    // context"): count the keys already present in the statement's snapshot instead; every other row is new.
    const match = key.map((k, i) => `p.${quoteIdent(k)} = s.${stagingKey[i]!}`).join(' AND ');
    return `WITH s AS (${latest}),
            pre AS (SELECT count(*)::int8 AS n FROM s WHERE EXISTS (SELECT 1 FROM ${target.sql} p WHERE ${match})),
            m AS (${insert} SELECT * FROM s ${conflict} DO UPDATE SET ${set.join(', ')} RETURNING 1)
            SELECT (SELECT count(*) FROM m)::int8 - pre.n AS inserted, pre.n AS updated FROM pre`;
  }
  // xmax = 0 on the returned row version means it was inserted, not updated.
  return `WITH m AS (${insert} ${latest} ${conflict} DO UPDATE SET ${set.join(', ')} RETURNING (t.xmax = 0) AS ins)
          SELECT count(*) FILTER (WHERE ins)::int8 AS inserted, count(*) FILTER (WHERE NOT ins)::int8 AS updated FROM m`;
}

/** Whether a file's upsert merged as it lands goes by landedUpsertSql: the target allows it, and there is a column
 * to update (else ON CONFLICT DO NOTHING it is). */
export function upsertsByMerge(target: Target, columns: FileColumn[], mode: Mode): boolean {
  const loaded = loadedColumns(columns);
  return (
    mode === 'upsert' && target.mergeable && !!target.key && updatableColumns(target.key, loaded).length > 0
  );
}

/** The loaded columns an upsert updates: all but the key and GENERATED ALWAYS identities. */
function updatableColumns(key: string[], loaded: Loaded[]): Loaded[] {
  const keySet = new Set(key);
  return loaded.filter((c) => !keySet.has(c.target.name) && c.target.identity !== 'a');
}

/** The upsert of sub-batch k (src/landed.ts) by MERGE, when upsertsByMerge. MERGE joins the sub-batch's latest rows
 * to the target on the key and updates or inserts each; INSERT ... ON CONFLICT DO UPDATE instead inserts
 * speculatively and then confirms, or locks the row it met and then updates it (a WAL record more per row): for the
 * bench's upsert in sub-batches of 50,000 on PostgreSQL 18 (`npm run bench:merges`), 9% less WAL, and 1 to 13% less
 * of the server's CPU by run (medians of 5 turns; single turns spread wider). The settings around it (one round
 * trip: SET LOCAL, the statement, RESET) keep the join probing the key's index row by row, as ON CONFLICT does,
 * where the planner would rather walk the target's whole index for each sub-batch (slower, more so as it grows). */
export function landedUpsertSql(
  target: Target,
  batchSql: string,
  columns: FileColumn[],
  k: number,
  /** the sub-batch's keys rise strictly as its rows lie (src/keyrange.ts): read as they are, no DISTINCT ON */
  rising = false,
): string {
  const loaded = loadedColumns(columns);
  const key = target.key!;
  const updatable = updatableColumns(key, loaded);
  const stagingKey = key.map((k) => stagedName(loaded, k));
  const cols = loaded.map((c) => quoteIdent(c.stagingName)).join(', ');
  const from = `FROM ${batchSql} WHERE ${quoteIdent(BATCH_COL)} = ${batchNumber(k)}`;
  const latest = rising
    ? `SELECT ${cols} ${from}`
    : `SELECT DISTINCT ON (${stagingKey.join(', ')}) ${cols} ${from} ` +
      `ORDER BY ${stagingKey.join(', ')}, ${quoteIdent(ORD_COL)} DESC`;
  const on = key.map((name, i) => `t.${quoteIdent(name)} = s.${stagingKey[i]!}`).join(' AND ');
  const set = updatable.map((c) => `${quoteIdent(c.target.name)} = s.${quoteIdent(c.stagingName)}`);
  const overriding = loaded.some((c) => c.target.identity === 'a') ? ' OVERRIDING SYSTEM VALUE' : '';
  const names = loaded.map((c) => quoteIdent(c.target.name));
  const values = loaded.map((c) => `s.${quoteIdent(c.stagingName)}`);
  return (
    `SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; ` +
    `WITH m AS (MERGE INTO ${target.sql} AS t USING (${latest}) AS s ON ${on} ` +
    `WHEN MATCHED THEN UPDATE SET ${set.join(', ')} ` +
    `WHEN NOT MATCHED THEN INSERT (${names.join(', ')})${overriding} VALUES (${values.join(', ')}) ` +
    `RETURNING merge_action() AS action) ` +
    `SELECT count(*) FILTER (WHERE action = 'INSERT')::int8 AS inserted, ` +
    `count(*) FILTER (WHERE action = 'UPDATE')::int8 AS updated FROM m; ` +
    `RESET enable_hashjoin; RESET enable_mergejoin`
  );
}
