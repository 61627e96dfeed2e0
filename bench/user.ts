// The user's side of the tuner: their table (as regclass text, its primary key), their files' header and record
// counts. Read-only: nothing here writes to their database or their files.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import type pg from 'pg';
import { RecordScanner } from '../src/scan.js';

/** The user's table as regclass text (quoted as PostgreSQL prints it). */
export async function userTable(c: pg.Client, table: string): Promise<string> {
  const r = await c.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table]);
  const t = r.rows[0]?.t;
  if (!t) throw new Error(`table ${table} not found`);
  return t;
}

export async function keyColumns(c: pg.Client, tbl: string): Promise<string[]> {
  const r = await c.query<{ a: string }>(
    `SELECT quote_ident(a.attname) AS a FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid
     AND a.attnum = ANY (i.indkey) WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY a.attnum`,
    [tbl],
  );
  return r.rows.map((x) => x.a);
}

export async function headerColumns(file: string, delimiter: string): Promise<string[]> {
  const fh = await open(file);
  const head = Buffer.alloc(65536);
  const { bytesRead } = await fh.read(head, 0, head.length, 0).finally(() => fh.close());
  const raw = file.endsWith('.gz') ? await gunzipHead(file) : head.subarray(0, bytesRead);
  const text = raw.toString('utf8').replace(/^\uFEFF/, '');
  const rec = (parse(text, { delimiter, to_line: 1, relax_column_count: true }) as string[][])[0];
  if (!rec) throw new Error(`${file}: no header`);
  return rec.map((c) => `"${c.replaceAll('"', '""')}"`);
}

async function gunzipHead(file: string): Promise<Buffer> {
  for await (const c of createReadStream(file).pipe(createGunzip())) return c as Buffer;
  return Buffer.alloc(0);
}

export async function countRecords(file: string): Promise<number> {
  const s = new RecordScanner({ quote: 34, escape: 34, batchSize: 1e9, header: true });
  const read = createReadStream(file, { highWaterMark: 1 << 20 });
  for await (const c of file.endsWith('.gz') ? read.pipe(createGunzip()) : read) s.push(c as Buffer);
  return s.finish().records;
}
