// CSV column types for --create-table, inferred from a sample of records. Pure. Each value is classified, the
// classes of a column are joined (integer widens to bigint, then numeric, then double precision; a date joins a
// timestamp as timestamptz; anything else mixed is text), and NULLs (null here: the --null marker) say nothing.
// Types are spelled as format_type() spells them, so the loader's own type mapping reads them back unchanged.

export type Inferred =
  | 'integer'
  | 'bigint'
  | 'numeric'
  | 'double precision'
  | 'boolean'
  | 'date'
  | 'timestamp with time zone'
  | 'uuid'
  | 'jsonb'
  | 'text';

const NUMERIC_ORDER: Inferred[] = ['integer', 'bigint', 'numeric', 'double precision'];
const BOOL = new Set(['true', 'false', 't', 'f', 'yes', 'no', 'y', 'n', 'on', 'off']);
const INT4 = 2n ** 31n;
const INT8 = 2n ** 63n;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$/i;

function validDate(y: string, m: string, d: string): boolean {
  const dt = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)));
  return (
    dt.getUTCFullYear() === Number(y) && dt.getUTCMonth() === Number(m) - 1 && dt.getUTCDate() === Number(d)
  );
}

/** The narrowest type that reads this one value. */
export function classify(v: string): Inferred {
  if (/^[+-]?\d+$/.test(v)) {
    const n = BigInt(v);
    if (n >= -INT4 && n < INT4) return 'integer';
    if (n >= -INT8 && n < INT8) return 'bigint';
    return 'numeric';
  }
  if (/^[+-]?(\d+\.\d*|\.\d+)$/.test(v)) return 'numeric';
  if (/^[+-]?(\d+\.?\d*|\.\d+)e[+-]?\d+$/i.test(v)) return 'double precision';
  if (BOOL.has(v.toLowerCase())) return 'boolean';
  let m = DATE.exec(v);
  if (m) return validDate(m[1]!, m[2]!, m[3]!) ? 'date' : 'text';
  m = TIMESTAMP.exec(v);
  if (m) {
    const ok =
      validDate(m[1]!, m[2]!, m[3]!) && Number(m[4]) < 24 && Number(m[5]) < 60 && Number(m[6] ?? 0) < 60;
    return ok ? 'timestamp with time zone' : 'text';
  }
  if (UUID.test(v)) return 'uuid';
  if ((v.startsWith('{') && v.endsWith('}')) || (v.startsWith('[') && v.endsWith(']'))) {
    try {
      JSON.parse(v);
      return 'jsonb';
    } catch {
      return 'text';
    }
  }
  return 'text';
}

/** The type reading both: numbers widen, a date and a timestamp make timestamptz, anything else is text. */
export function join(a: Inferred | undefined, b: Inferred): Inferred {
  if (a === undefined || a === b) return b;
  const ia = NUMERIC_ORDER.indexOf(a);
  const ib = NUMERIC_ORDER.indexOf(b);
  if (ia >= 0 && ib >= 0) return NUMERIC_ORDER[Math.max(ia, ib)]!;
  const dates = new Set<Inferred>(['date', 'timestamp with time zone']);
  if (dates.has(a) && dates.has(b)) return 'timestamp with time zone';
  return 'text';
}

/** One type per column over the records (null: NULL; a column with no value at all is text). */
export function inferTypes(records: readonly (readonly (string | null)[])[], width: number): Inferred[] {
  const out: (Inferred | undefined)[] = new Array(width).fill(undefined);
  for (const r of records) {
    for (let i = 0; i < width; i++) {
      const v = r[i];
      if (v === null || v === undefined || out[i] === 'text') continue;
      out[i] = join(out[i], classify(v));
    }
  }
  return out.map((t) => t ?? 'text');
}

/** Whether a first record looks like a header: no field empty, none a number, date, boolean or uuid. */
export function looksLikeHeader(first: readonly (string | null)[]): boolean {
  return (
    first.length > 0 && first.every((f) => f !== null && f.trim() !== '' && classify(f.trim()) === 'text')
  );
}

/** Column names from header fields: trimmed; empty ones become colN; repeats get _2, _3, ... */
export function columnNames(header: readonly (string | null)[] | undefined, width: number): string[] {
  const used = new Set<string>();
  const out: string[] = [];
  for (let i = 0; i < width; i++) {
    const base = header?.[i]?.trim() || `col${i + 1}`;
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${base}_${n}`;
    used.add(name);
    out.push(name);
  }
  return out;
}
