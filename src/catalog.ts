// What the loader reads from the catalog, once per run: the target's identity (oid, schema, name, kind), its
// columns with their types and flags, and its unique keys. Also decides the mode and key from the options.
import type pg from 'pg';
import type { Config, Mode } from './config.js';
import { LoaderError } from './errors.js';
import { quoteIdent } from './sql.js';

export interface Column {
  name: string;
  /** format_type(): the type as SQL spells it, schema-qualified where needed */
  type: string;
  notNull: boolean;
  hasDefault: boolean;
  /** 's': a stored generated column, which cannot be loaded */
  generated: boolean;
  /** 'a': GENERATED ALWAYS AS IDENTITY (needs OVERRIDING SYSTEM VALUE), 'd': BY DEFAULT, '': none */
  identity: '' | 'a' | 'd';
}

export interface Target {
  oid: number;
  schema: string;
  table: string;
  /** schema-qualified, quoted */
  sql: string;
  partitioned: boolean;
  columns: Column[];
  /** unique, non-partial, column-only indexes (the primary key first), as column-name lists */
  uniqueKeys: string[][];
  primaryKey: string[] | undefined;
  /** tables whose foreign keys reference the target (TRUNCATE would fail) */
  referenced: boolean;
  mode: Mode;
  key: string[] | undefined;
  /** MERGE may upsert into it (src/landed.ts) with the result INSERT ... ON CONFLICT DO UPDATE would give: the server
   * has MERGE ... RETURNING merge_action() (PostgreSQL 17), the table is not partitioned and has no triggers of its
   * own (MERGE fires INSERT triggers only for new rows), no rules and no row security, and every unique index on
   * the key's columns compares them as their `=` does (the default operator classes, the columns' collations) and
   * is not deferrable (ON CONFLICT refuses those). */
  mergeable: boolean;
}

export async function readTarget(client: pg.ClientBase, config: Config): Promise<Target> {
  const name = config.target.schema
    ? `${quoteIdent(config.target.schema)}.${quoteIdent(config.target.table)}`
    : quoteIdent(config.target.table);
  const rel = await client.query<{ oid: number; schema: string; table: string; kind: string }>(
    `SELECT c.oid::int8::float8 AS oid, n.nspname AS schema, c.relname AS table, c.relkind AS kind
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = to_regclass($1)`,
    [name],
  );
  const r = rel.rows[0];
  if (!r)
    throw new LoaderError(
      'TARGET',
      `table ${config.tableText} does not exist (or is not visible to this role)`,
    );
  if (r.kind !== 'r' && r.kind !== 'p') {
    throw new LoaderError('TARGET', `${config.tableText} is not a table (relkind ${r.kind})`);
  }
  const cols = await client.query<{
    name: string;
    type: string;
    notnull: boolean;
    hasdef: boolean;
    generated: string;
    identity: string;
  }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS notnull,
            atthasdef AS hasdef, attgenerated AS generated, attidentity AS identity
       FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [r.oid],
  );
  const idx = await client.query<{ cols: string[]; primary: boolean; plain: boolean }>(
    `SELECT array_agg(a.attname::text ORDER BY k.ord) AS cols, i.indisprimary AS primary,
            i.indimmediate AND
              COALESCE(bool_and(o.opcdefault AND i.indcollation[(k.ord - 1)::int] = a.attcollation), false) AS plain
       FROM pg_index i
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
       LEFT JOIN pg_opclass o ON o.oid = i.indclass[(k.ord - 1)::int]
      WHERE i.indrelid = $1 AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
        AND k.ord <= i.indnkeyatts
      GROUP BY i.indexrelid, i.indisprimary, i.indimmediate
      ORDER BY i.indisprimary DESC, i.indexrelid`,
    [r.oid],
  );
  const facts = await client.query<{ v17: boolean; extra: boolean }>(
    `SELECT current_setting('server_version_num')::int >= 170000 AS v17,
            c.relhasrules OR c.relrowsecurity
              OR EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal) AS extra
       FROM pg_class c WHERE c.oid = $1`,
    [r.oid],
  );
  const fk = await client.query(
    `SELECT 1 FROM pg_constraint WHERE confrelid = $1 AND contype = 'f' LIMIT 1`,
    [r.oid],
  );
  const columns: Column[] = cols.rows.map((c) => ({
    name: c.name,
    type: c.type,
    notNull: c.notnull,
    hasDefault: c.hasdef,
    generated: c.generated !== '',
    identity: (c.identity as Column['identity']) || '',
  }));
  const uniqueKeys = idx.rows.map((x) => x.cols);
  const primaryKey = idx.rows.find((x) => x.primary)?.cols;
  const { mode, key } = chooseMode(config, uniqueKeys, primaryKey, columns);
  const arbiters = key ? idx.rows.filter((x) => columnSet(x.cols) === columnSet(key)) : [];
  const f = facts.rows[0];
  return {
    oid: r.oid,
    schema: r.schema,
    table: r.table,
    sql: `${quoteIdent(r.schema)}.${quoteIdent(r.table)}`,
    partitioned: r.kind === 'p',
    columns,
    uniqueKeys,
    primaryKey,
    referenced: fk.rowCount !== null && fk.rowCount > 0,
    mode,
    key,
    mergeable:
      f?.v17 === true && !f.extra && r.kind === 'r' && arbiters.length > 0 && arbiters.every((x) => x.plain),
  };
}

/** Column names in any order, as one comparable string. */
function columnSet(names: readonly string[]): string {
  return [...names].sort().join('\0');
}

/** The mode and key: --key must name a unique index's columns (in any order); upsert is the default when there is
 * a key, append otherwise. */
export function chooseMode(
  config: Pick<Config, 'mode' | 'key' | 'tableText'>,
  uniqueKeys: string[][],
  primaryKey: string[] | undefined,
  columns: Column[],
): { mode: Mode; key: string[] | undefined } {
  let key: string[] | undefined;
  if (config.key) {
    const names = new Set(columns.map((c) => c.name));
    const resolved = config.key.map((k) => {
      if (names.has(k)) return k;
      const ci = columns.filter((c) => c.name.toLowerCase() === k.toLowerCase());
      if (ci.length === 1) return ci[0]!.name;
      throw new LoaderError(
        'TARGET',
        `--key column ${JSON.stringify(k)} is not a column of ${config.tableText}`,
      );
    });
    const want = columnSet([...new Set(resolved)]);
    if (!uniqueKeys.some((u) => columnSet(u) === want)) {
      throw new LoaderError(
        'TARGET',
        `--key (${resolved.join(', ')}) matches no unique index or primary key of ${config.tableText}; ` +
          `upsert needs one: CREATE UNIQUE INDEX ON ${config.tableText} (${resolved.map(quoteIdent).join(', ')})`,
      );
    }
    key = resolved;
  } else {
    key = primaryKey;
  }
  const mode = config.mode ?? (key ? 'upsert' : 'append');
  if ((mode === 'upsert' || mode === 'insert-only') && !key) {
    throw new LoaderError(
      'TARGET',
      `--mode ${mode} needs a key: ${config.tableText} has no primary key, so name a unique index's columns with --key`,
    );
  }
  return { mode, key: mode === 'append' ? undefined : key };
}
