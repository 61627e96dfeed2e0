import { describe, it, expect } from 'vitest';
import type { Column, Target } from '../../src/catalog.js';
import {
  BATCH_COL,
  ORD_COL,
  batchTableDdl,
  copySql,
  dropStagingSql,
  mergeSql,
  stagingDdl,
  type FileColumn,
  landedUpsertSql,
  upsertsByMerge,
} from '../../src/merge.js';
import { boundsSql, mergesAsLanded } from '../../src/landed.js';

function col(name: string, extra: Partial<Column> = {}): Column {
  return { name, type: 'text', notNull: false, hasDefault: false, generated: false, identity: '', ...extra };
}

function target(columns: Column[], key: string[] | undefined, extra: Partial<Target> = {}): Target {
  return {
    oid: 1,
    schema: 'public',
    table: 'T',
    sql: '"public"."T"',
    partitioned: false,
    columns,
    uniqueKeys: key ? [key] : [],
    primaryKey: key,
    referenced: false,
    mode: key ? 'upsert' : 'append',
    key,
    mergeable: key !== undefined,
    ...extra,
  };
}

const id = col('id', { type: 'integer', notNull: true });
const name = col('Full "Name"', { type: 'character varying(20)' });
const amount = col('amount', { type: 'numeric(10,2)' });
const fc = (c: Column): FileColumn => ({ source: c.name, target: c, stagingName: c.name });
const extra: FileColumn = { source: 'junk', target: undefined, stagingName: '__loader_extra_4' };
const STG = '"loader_stage"."s_1"';
const oneLine = (s: string): string => s.replace(/\s+/g, ' ');

describe('stagingDdl', () => {
  const ddl = stagingDdl(STG, [fc(id), fc(name), extra]);

  it('creates an unlogged table without autovacuum', () => {
    expect(ddl.startsWith(`CREATE UNLOGGED TABLE ${STG} (`)).toBe(true);
    expect(ddl).toContain('WITH (autovacuum_enabled = false)');
  });

  it('copies the target types and NOT NULL, quoting names', () => {
    expect(ddl).toContain('"id" integer NOT NULL,');
    expect(ddl).toContain('"Full ""Name""" character varying(20),');
  });

  it('keeps extra columns as text', () => {
    expect(ddl).toContain('"__loader_extra_4" text,');
  });

  it('adds the batch number from the session setting and an ordinal identity', () => {
    expect(ddl).toContain(`"${BATCH_COL}" integer NOT NULL DEFAULT current_setting('loader.batch')::integer`);
    expect(ddl).toContain(`"${ORD_COL}" bigint GENERATED ALWAYS AS IDENTITY`);
  });
});

describe('copySql', () => {
  it('names the columns and the whole dialect, quoted', () => {
    const sql = copySql(STG, ['id', 'Full "Name"'], {
      delimiter: ';',
      quote: "'",
      escape: '\\',
      null: 'NULL',
      encoding: 'LATIN1',
    });
    expect(sql).toContain(`COPY ${STG} ("id", "Full ""Name""") FROM STDIN WITH (FORMAT csv, HEADER false`);
    expect(sql).toContain("DELIMITER ';'");
    expect(sql).toContain("QUOTE ''''");
    expect(sql).toContain("ESCAPE '\\'");
    expect(sql).toContain("NULL 'NULL'");
    expect(sql).toContain("ENCODING 'LATIN1'");
  });

  it('a tab delimiter and an empty NULL string', () => {
    const sql = copySql(STG, ['a'], { delimiter: '\t', quote: '"', escape: '"', null: '', encoding: 'UTF8' });
    expect(sql).toContain("DELIMITER '\t'");
    expect(sql).toContain(`QUOTE '"', ESCAPE '"'`);
    expect(sql).toContain("NULL ''");
  });
});

describe('mergeSql', () => {
  const cols = [fc(id), fc(name), fc(amount), extra];

  it('append: a plain INSERT ... SELECT of the loaded columns, counting inserts', () => {
    const sql = oneLine(mergeSql(target([id, name, amount], ['id']), STG, cols, 'append'));
    expect(sql).toContain(
      `INSERT INTO "public"."T" AS t ("id", "Full ""Name""", "amount") SELECT "id", "Full ""Name""", "amount" FROM ${STG} RETURNING 1`,
    );
    expect(sql).not.toContain('ON CONFLICT');
    expect(sql).not.toContain('DISTINCT ON');
    expect(sql).not.toContain('__loader_extra_4');
    expect(sql).toContain('0::int8 AS updated');
  });

  it('upsert: the last occurrence of each key wins, updating the non-key columns', () => {
    const sql = oneLine(mergeSql(target([id, name, amount], ['id']), STG, cols, 'upsert'));
    expect(sql).toContain(
      `SELECT DISTINCT ON ("id") "id", "Full ""Name""", "amount" FROM ${STG} ORDER BY "id", "${BATCH_COL}" DESC, "${ORD_COL}" DESC`,
    );
    expect(sql).toContain('ON CONFLICT ("id") DO UPDATE SET');
    expect(sql).toContain('"Full ""Name""" = EXCLUDED."Full ""Name"""');
    expect(sql).toContain('"amount" = EXCLUDED."amount"');
    expect(sql).not.toContain('"id" = EXCLUDED');
    expect(sql).toContain('RETURNING (t.xmax = 0) AS ins');
    expect(sql).toContain('count(*) FILTER (WHERE NOT ins)::int8 AS updated');
    expect(sql).not.toContain('__loader_extra_4');
  });

  it('upsert with a composite key', () => {
    const day = col('day', { type: 'date' });
    const sql = oneLine(
      mergeSql(target([id, day, amount], ['id', 'day']), STG, [fc(id), fc(day), fc(amount)], 'upsert'),
    );
    expect(sql).toContain('DISTINCT ON ("id", "day")');
    expect(sql).toContain('ORDER BY "id", "day", "__loader_batch" DESC');
    expect(sql).toContain('ON CONFLICT ("id", "day") DO UPDATE SET "amount" = EXCLUDED."amount"');
  });

  it('upsert reads the key from its staging name', () => {
    const renamed: FileColumn = { source: 'ID', target: id, stagingName: 'id_stage' };
    const sql = oneLine(mergeSql(target([id, amount], ['id']), STG, [renamed, fc(amount)], 'upsert'));
    expect(sql).toContain('DISTINCT ON ("id_stage") "id_stage", "amount"');
    expect(sql).toContain('INSERT INTO "public"."T" AS t ("id", "amount")');
    expect(sql).toContain('ON CONFLICT ("id")');
  });

  it('upsert with only key columns loaded does nothing on conflict', () => {
    const sql = oneLine(mergeSql(target([id, amount], ['id']), STG, [fc(id)], 'upsert'));
    expect(sql).toContain('ON CONFLICT ("id") DO NOTHING');
    expect(sql).not.toContain('DO UPDATE');
  });

  it('insert-only: last occurrence, DO NOTHING on conflict', () => {
    const sql = oneLine(mergeSql(target([id, name, amount], ['id']), STG, cols, 'insert-only'));
    expect(sql).toContain('DISTINCT ON ("id")');
    expect(sql).toContain('ON CONFLICT ("id") DO NOTHING RETURNING 1');
    expect(sql).not.toContain('DO UPDATE');
    expect(sql).toContain('0::int8 AS updated');
  });

  it('replace with a key merges like upsert', () => {
    const sql = oneLine(mergeSql(target([id, name, amount], ['id']), STG, cols, 'replace'));
    expect(sql).toContain('ON CONFLICT ("id") DO UPDATE SET');
    expect(sql).toContain('DISTINCT ON ("id")');
  });

  it('replace without a key appends', () => {
    const sql = oneLine(mergeSql(target([id, name, amount], undefined), STG, cols, 'replace'));
    expect(sql).toContain(`INSERT INTO "public"."T" AS t ("id", "Full ""Name""", "amount") SELECT`);
    expect(sql).not.toContain('ON CONFLICT');
    expect(sql).not.toContain('DISTINCT ON');
  });

  it('adds OVERRIDING SYSTEM VALUE when an identity-always column is loaded, and never updates it', () => {
    const ident = col('id', { type: 'bigint', notNull: true, identity: 'a' });
    const seq = col('seq', { type: 'bigint', identity: 'a' });
    const t = target([ident, seq, amount], ['id']);
    const upsert = oneLine(mergeSql(t, STG, [fc(ident), fc(seq), fc(amount)], 'upsert'));
    expect(upsert).toContain(
      'INSERT INTO "public"."T" AS t ("id", "seq", "amount") OVERRIDING SYSTEM VALUE SELECT',
    );
    expect(upsert).toContain('DO UPDATE SET "amount" = EXCLUDED."amount" RETURNING');
    expect(upsert).not.toContain('"seq" = EXCLUDED');
    const append = oneLine(mergeSql(t, STG, [fc(ident), fc(amount)], 'append'));
    expect(append).toContain('("id", "amount") OVERRIDING SYSTEM VALUE SELECT "id", "amount"');
  });

  it('no OVERRIDING SYSTEM VALUE for identity-by-default or when the identity column is not loaded', () => {
    const byDefault = col('id', { type: 'bigint', identity: 'd' });
    expect(
      mergeSql(target([byDefault, amount], ['id']), STG, [fc(byDefault), fc(amount)], 'upsert'),
    ).not.toContain('OVERRIDING');
    const always = col('rid', { type: 'bigint', identity: 'a' });
    expect(mergeSql(target([always, amount], undefined), STG, [fc(amount)], 'append')).not.toContain(
      'OVERRIDING',
    );
  });
  it('no loaded column (an empty file): merges nothing, whatever the mode', () => {
    for (const mode of ['append', 'upsert', 'insert-only', 'replace'] as const) {
      const sql = mergeSql(target([id, amount], ['id']), STG, [extra], mode);
      expect(sql).toBe('SELECT 0::int8 AS inserted, 0::int8 AS updated');
    }
  });

  it('upsert into a partitioned table counts updates without xmax', () => {
    const t = target([id, name, amount], ['id'], { partitioned: true });
    const sql = oneLine(mergeSql(t, STG, cols, 'upsert'));
    expect(sql).not.toContain('xmax');
    expect(sql).toContain('EXISTS (SELECT 1 FROM "public"."T" p WHERE p."id" = s."id")');
    expect(sql).toContain('ON CONFLICT ("id") DO UPDATE SET');
    expect(sql).toContain('DISTINCT ON ("id")');
    expect(sql).toContain('AS inserted');
    expect(sql).toContain('AS updated');
  });
});

describe('the merge as sub-batches land (src/landed.ts)', () => {
  const t = target([id, name, amount], ['id']);
  const cols = [fc(id), fc(name), fc(amount)];

  it('merges one sub-batch by its number, the same statement otherwise', () => {
    const one = oneLine(mergeSql(t, STG, cols, 'upsert', 7));
    expect(one).toContain(`FROM ${STG} WHERE "${BATCH_COL}" = 7 ORDER BY "id", "${BATCH_COL}" DESC`);
    expect(one.replace(` WHERE "${BATCH_COL}" = 7`, '')).toBe(oneLine(mergeSql(t, STG, cols, 'upsert')));
    expect(() => mergeSql(t, STG, cols, 'upsert', 1.5)).toThrow(RangeError);
  });

  it('goes on for append and a one-column key the file loads; never for replace', () => {
    expect(mergesAsLanded(t, cols, 'upsert')).toBe(true);
    expect(mergesAsLanded(t, cols, 'insert-only')).toBe(true);
    expect(mergesAsLanded(t, cols, 'replace')).toBe(false);
    expect(mergesAsLanded(target([id, name], undefined), [fc(id)], 'append')).toBe(true);
    expect(mergesAsLanded(target([id, name], ['id', 'Full "Name"']), cols, 'upsert')).toBe(false);
    expect(mergesAsLanded(target([id, name], ['Full "Name"']), [fc(id)], 'upsert')).toBe(false);
  });

  it('checks the smallest key of a sub-batch against the largest merged, on the server, in the key type', () => {
    const sql = boundsSql(STG, 'Full "Name"', 'character varying(20)', 3);
    expect(sql).toContain(`min("Full ""Name""") > CAST($1::text AS character varying(20))`);
    expect(sql).toContain(`COALESCE(max("Full ""Name""")::text, $1::text) AS hi`);
    expect(sql).toContain(`WHERE "${BATCH_COL}" = 3`);
  });

  it("makes a sub-batch's own staging table under the file's, only its rows allowed in, and drops them all", () => {
    const child = '"s"."loader_stg_0123456789ab_3_7"';
    expect(batchTableDdl(STG, child, 7)).toBe(
      `CREATE UNLOGGED TABLE IF NOT EXISTS ${child} ("${ORD_COL}" bigint GENERATED ALWAYS AS IDENTITY, ` +
        `CHECK ("${BATCH_COL}" = 7)) INHERITS (${STG}) WITH (autovacuum_enabled = false)`,
    );
    expect(() => batchTableDdl(STG, child, 1.5)).toThrow(RangeError);
    expect(dropStagingSql(STG)).toBe(`DROP TABLE IF EXISTS ${STG} CASCADE`);
  });
  it('upserts a sub-batch by MERGE only in upsert mode, on a mergeable target, with a column to update', () => {
    const t = target([id, name, amount], ['id']);
    expect(upsertsByMerge(t, [fc(id), fc(name)], 'upsert')).toBe(true);
    expect(upsertsByMerge(t, [fc(id), fc(name)], 'insert-only')).toBe(false);
    expect(upsertsByMerge(t, [fc(id), extra], 'upsert')).toBe(false); // nothing to update
    expect(upsertsByMerge({ ...t, mergeable: false }, [fc(id), fc(name)], 'upsert')).toBe(false);
  });

  it('MERGEs one sub-batch on the key, its latest rows, quoted, counting inserted and updated', () => {
    const always = col('id', { type: 'bigint', notNull: true, identity: 'a' });
    const t = target([always, name, amount], ['id']);
    const sql = landedUpsertSql(t, `ONLY ${STG}`, [fc(always), fc(name), extra], 40);
    expect(sql).toMatch(
      /^SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; WITH m AS \(MERGE /,
    );
    expect(sql).toContain(
      `MERGE INTO "public"."T" AS t USING (SELECT DISTINCT ON ("id") "id", "Full ""Name""" FROM ONLY ${STG} ` +
        `WHERE "${BATCH_COL}" = 40 ORDER BY "id", "${ORD_COL}" DESC) AS s ON t."id" = s."id" `,
    );
    expect(sql).toContain(
      `WHEN MATCHED THEN UPDATE SET "Full ""Name""" = s."Full ""Name""" WHEN NOT MATCHED`,
    );
    expect(sql).toContain(
      `INSERT ("id", "Full ""Name""") OVERRIDING SYSTEM VALUE VALUES (s."id", s."Full ""Name""") RETURNING merge_action()`,
    );
    expect(sql).toContain(`count(*) FILTER (WHERE action = 'UPDATE')::int8 AS updated`);
    expect(sql).toMatch(/; RESET enable_hashjoin; RESET enable_mergejoin$/);
    expect(sql).not.toContain('junk');
  });

  it('reads a sub-batch whose keys rise strictly as it lies: no DISTINCT ON, no sort, the same merge otherwise', () => {
    const sorted = landedUpsertSql(t, `ONLY ${STG}`, cols, 40, true);
    expect(sorted).toContain(
      `USING (SELECT "id", "Full ""Name""", "amount" FROM ONLY ${STG} WHERE "${BATCH_COL}" = 40) AS s ON`,
    );
    expect(sorted).not.toContain('DISTINCT');
    expect(sorted).not.toContain('ORDER BY');
    expect(
      sorted
        .replace(`USING (SELECT "id"`, `USING (SELECT DISTINCT ON ("id") "id"`)
        .replace(`= 40) AS s`, `= 40 ORDER BY "id", "${ORD_COL}" DESC) AS s`),
    ).toBe(landedUpsertSql(t, `ONLY ${STG}`, cols, 40));
    const sortedIns = oneLine(mergeSql(t, STG, cols, 'insert-only', 7, { rising: true }));
    expect(sortedIns).toContain(
      `SELECT "id", "Full ""Name""", "amount" FROM ${STG} WHERE "${BATCH_COL}" = 7 ON CONFLICT`,
    );
    expect(sortedIns).not.toContain('DISTINCT');
    const sortedUp = oneLine(mergeSql(t, STG, cols, 'upsert', 7, { rising: true }));
    expect(
      sortedUp
        .replace(`SELECT "id"`, `SELECT DISTINCT ON ("id") "id"`)
        .replace(` ON CONFLICT`, ` ORDER BY "id", "${BATCH_COL}" DESC, "${ORD_COL}" DESC ON CONFLICT`),
    ).toBe(oneLine(mergeSql(t, STG, cols, 'upsert', 7)));
  });
});
