// The COPY text fallback, pure: Arrow columns in, CSV bytes out (no header; NULL is an unquoted empty field, every
// other value is quoted), for files whose target has a type the binary encoder cannot write (enums, inet,
// interval, domains, ...) or a string column headed for a non-text type: PostgreSQL's text input parses them.
import type { Data } from 'apache-arrow';
import { EncodeError } from './binary.js';
import type { ColumnPlan, FieldInfo, TargetType } from './mapping.js';
import {
  dateString,
  decimalString,
  floatString,
  hex,
  jsonText,
  reader,
  targetMicros,
  timeString,
  timestampString,
  uuidString,
  type Reader,
  type Value,
} from './values.js';

/** The dialect the fallback writes; COPY reads it with these options. */
export const TEXT_DIALECT = { delimiter: ',', quote: '"', escape: '"', null: '', encoding: 'UTF8' } as const;

/** A non-null value as the target type's text input reads it. */
export function textValue(v: Value, f: FieldInfo, t: TargetType, zone: string): string {
  if (t.elem || (t.cat === 'other' && f.kind === 'list' && t.sql.endsWith('[]'))) {
    if (f.kind !== 'list') return v as string;
    const elem = t.elem ?? { sql: t.sql.slice(0, -2), cat: 'other' as const };
    return arrayLiteral(v as Value[], f.children![0]!, elem, zone);
  }
  switch (f.kind) {
    case 'bool':
      return v ? 't' : 'f';
    case 'int':
      return String(v);
    case 'float':
      return floatString(v as number);
    case 'decimal':
      return decimalString(v as bigint, f.scale ?? 0);
    case 'string':
      return v as string;
    case 'binary':
      return `\\x${hex(v as Uint8Array)}`;
    case 'fixed':
      return t.cat === 'uuid' || t.cat === 'text'
        ? uuidString(v as Uint8Array)
        : `\\x${hex(v as Uint8Array)}`;
    case 'date':
      if (t.cat === 'timestamp' || t.cat === 'timestamptz') break;
      return dateString(v as number);
    case 'time':
      return timeString(v as number);
    case 'timestamp':
      break;
    default:
      return jsonText(v, f);
  }
  // Timestamps (and dates into timestamps): the same instant the binary path would write, with an explicit
  // offset for timestamptz so that the session's TimeZone cannot shift it again.
  const tz = t.cat === 'timestamptz' || (t.cat !== 'timestamp' && f.kind === 'timestamp' && !!f.tz);
  const us = targetMicros(v, f, tz, zone);
  return tz ? `${timestampString(us)}+00` : timestampString(us);
}

/** PostgreSQL's array literal: {a,"b c",NULL}; every element quoted, `"` and `\` escaped. */
function arrayLiteral(items: Value[], f: FieldInfo, t: TargetType, zone: string): string {
  const parts = items.map((x) =>
    x === null ? 'NULL' : `"${textValue(x, f, t, zone).replace(/[\\"]/g, (c) => `\\${c}`)}"`,
  );
  return `{${parts.join(',')}}`;
}

/** Encodes record batches as CSV records. With `rejecting`, a row whose value cannot be written is left out and
 * kept in `rejected` (reject-rows); otherwise its EncodeError is thrown. */
export class CsvEncoder {
  private readonly chunks: string[] = [];
  rows = 0;
  readonly rejected: EncodeError[] = [];
  constructor(
    private readonly plans: ColumnPlan[],
    private readonly zone: string,
    private readonly rejecting = false,
  ) {}
  add(columns: (Data | undefined)[], n: number, firstRow: number): void {
    const readers = this.readers(columns);
    for (let i = 0; i < n; i++) {
      try {
        this.chunks.push(this.record(readers, i, firstRow, false));
        this.rows++;
      } catch (err) {
        if (!this.rejecting || !(err instanceof EncodeError)) throw err;
        this.rejected.push(err);
      }
    }
  }
  /** Rows `indexes` of the columns as CSV records, for the rejects file: a value that cannot be written is left
   * empty rather than failing the rendering. */
  render(columns: (Data | undefined)[], indexes: number[]): string[] {
    const readers = this.readers(columns);
    return indexes.map((i) => this.record(readers, i, 0, true));
  }
  private readers(columns: (Data | undefined)[]): (Reader | undefined)[] {
    return this.plans.map((p, k) => {
      const d = columns[k];
      return d && p.info ? reader(d, p.info) : undefined;
    });
  }
  private record(readers: (Reader | undefined)[], i: number, firstRow: number, lenient: boolean): string {
    const fields: string[] = new Array(this.plans.length);
    for (let k = 0; k < this.plans.length; k++) {
      const r = readers[k];
      const p = this.plans[k]!;
      const v = r && p.target ? r(i) : null;
      if (v === null) {
        fields[k] = '';
        continue;
      }
      let s: string;
      try {
        s = textValue(v, p.info!, p.target!, this.zone);
      } catch (err) {
        if (lenient) {
          fields[k] = '';
          continue;
        }
        throw new EncodeError((err as Error).message, firstRow + i, p.column);
      }
      fields[k] = `"${s.replaceAll('"', '""')}"`;
    }
    return fields.join(',') + '\n';
  }
  finish(): Uint8Array {
    const b = Buffer.from(this.chunks.join(''), 'utf8');
    const out = new Uint8Array(new ArrayBuffer(b.length));
    out.set(b);
    return out;
  }
}
